"""Evaluation protocols: hyperparameters chosen on validation only, k-fold CV, the MTEB protocol."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass, field

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from zoo.errors import OptionsError
from zoo.plugins import Component, get_component, make_manager, validate_options
from zoo.probes.logistic import DEFAULT_C_GRID, REFINE_STEPS
from zoo.runner.evaluate import EvalResult, evaluate, search_space

# --- a spy estimator -------------------------------------------------------------------------


@dataclass(frozen=True)
class SpyOptions:
    C: float | None = field(default=None, metadata={"help": "the class to predict, as a float; None: sweep"})
    c_grid: tuple[float, ...] = field(default=(), metadata={"help": "values of C to sweep"})


CALLS: list[tuple[str, str, int]] = []  # (method, digest of X, rows)


def _digest(X) -> str:
    return hashlib.sha256(np.ascontiguousarray(X).tobytes()).hexdigest()[:16]


class ConstantSpy(ClassifierMixin, BaseEstimator):
    """Predicts the constant label ``int(C) % 3``; records every array it is given."""

    search_space = {"C": DEFAULT_C_GRID}  # declared like logistic-probe's
    search_refine = REFINE_STEPS

    def __init__(self, C=None, c_grid=()):
        self.C = C
        self.c_grid = c_grid

    def fit(self, X, y):
        CALLS.append(("fit", _digest(X), len(X)))
        self.classes_ = np.unique(y)
        self.label_ = int(round(np.log10(self.C))) % 3 if self.C and self.C > 0 else 0
        return self

    def predict(self, X):
        CALLS.append(("predict", _digest(X), len(X)))
        return np.full(len(X), self.label_)


SPY = Component("evaluator", "spy", ConstantSpy, "spy", SpyOptions, "tests")


@pytest.fixture(autouse=True)
def _clear_calls():
    CALLS.clear()
    yield
    CALLS.clear()


def _split(label: int, n: int, seed: int, majority: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = np.where(rng.random(n) < majority, label, rng.integers(0, 3, n))
    return X, y


# --- choosing on validation only ------------------------------------------------------------


def test_c_is_chosen_on_validation_and_test_never_reaches_selection():
    train, val, test = _split(0, 60, 1), _split(1, 30, 2), _split(2, 40, 3)
    grid = (1.0, 10.0, 100.0)  # -> constant labels 0, 1, 2: validation prefers 10, test would prefer 100
    res = evaluate(SPY, {"c_grid": list(grid)}, train=train, validation=val, test=test, seed=0)
    assert isinstance(res, EvalResult) and res.name == "spy"
    assert res.details["selected"] == {"C": 10.0}
    assert res.details["selected_on"] == "validation" and res.details["refit_on"] == "train+validation"
    assert [t["params"]["C"] for t in res.details["trials"]] == list(grid)
    # test labels are mostly 2, the model predicts 1: the test score is what C=10 earns, not C=100's
    assert res.metrics["accuracy"] == pytest.approx(np.mean(test[1] == 1))
    assert res.details["validation"]["accuracy"] == pytest.approx(np.mean(val[1] == 1))  # for [sweep]s

    test_digest, val_digest = _digest(test[0]), _digest(val[0])
    fits = [c for c in CALLS if c[0] == "fit"]
    predicts = [c for c in CALLS if c[0] == "predict"]
    assert all(d != test_digest for _, d, _ in fits), "test features were used to fit"
    assert [d for _, d, _ in predicts].count(test_digest) == 1 and predicts[-1][1] == test_digest
    assert CALLS.index(predicts[-1]) == len(CALLS) - 1, "test is scored once, after everything else"
    selection = CALLS[: 2 * len(grid)]
    assert [(m, d) for m, d, _ in selection[1::2]] == [("predict", val_digest)] * len(grid)
    assert fits[-1][2] == len(train[0]) + len(val[0]), "refit on train + validation"


def test_without_validation_c_is_chosen_on_an_inner_split_of_train():
    train, test = _split(1, 100, 1), _split(2, 40, 3)
    res = evaluate(SPY, {"c_grid": [1.0, 10.0, 100.0]}, train=train, validation=None, test=test, seed=0)
    assert res.details["selected"] == {"C": 10.0} and res.details["selected_on"].startswith("inner split")
    assert res.details["refit_on"] == "train"
    test_digest = _digest(test[0])
    assert [d for _, d, _ in CALLS].count(test_digest) == 1 and CALLS[-1][1] == test_digest
    inner_fits = [n for m, _, n in CALLS[:-2] if m == "fit"]
    assert inner_fits == [80] * 3  # 20% of train held out to choose C
    assert CALLS[-2] == ("fit", _digest(train[0]), 100)


def test_without_test_validation_is_scored_and_never_used_to_choose():
    train, val = _split(1, 100, 1), _split(2, 40, 2)
    res = evaluate(SPY, {"c_grid": [1.0, 10.0, 100.0]}, train=train, validation=val, test=None, seed=0)
    assert res.details["scored_split"] == "validation" and res.details["selected"] == {"C": 10.0}
    val_digest = _digest(val[0])
    assert [d for _, d, _ in CALLS].count(val_digest) == 1 and CALLS[-1][1] == val_digest


def test_default_c_grid_is_clip_coarse_sweep_then_refined():
    space = search_space(SPY, SpyOptions())
    assert space.grid == {"C": DEFAULT_C_GRID} and space.refine == REFINE_STEPS
    train, val, test = _split(1, 60, 1), _split(1, 30, 2), _split(1, 30, 3)
    res = evaluate(SPY, None, train=train, validation=val, test=test)
    assert len(res.details["trials"]) == len(DEFAULT_C_GRID) + 2 * REFINE_STEPS
    # constant label int(log10 C) % 3: 1e-2 is the first coarse value predicting validation's label 1,
    # then bisection in log10 steps of 1 and 0.5 around it (none beats it: ties keep the first)
    refined = [t["params"]["C"] for t in res.details["trials"][len(DEFAULT_C_GRID):]]
    assert refined == pytest.approx([1e-3, 1e-1, 10 ** -2.5, 10 ** -1.5])
    assert res.details["selected"] == {"C": 0.01}
    assert search_space(SPY, SpyOptions(C=3.0)).grid == {}  # an explicit value: no sweep


def test_search_space_from_the_estimator_class_and_errors():
    @dataclass(frozen=True)
    class Opts:
        alpha: str = field(default="auto", metadata={"help": "a"})

    class Est(ConstantSpy):
        search_space = {"alpha": ("x", "y")}

        def __init__(self, alpha="auto"):
            self.alpha = alpha

    comp = Component("evaluator", "est", Est, "est", Opts, "tests")
    assert search_space(comp).grid == {"alpha": ("x", "y")}
    assert search_space(comp, Opts(alpha="x")).grid == {}
    bare = Component("evaluator", "bare", ConstantSpy, "bare", Opts, "tests")
    with pytest.raises(ValueError, match="no grid is known"):
        search_space(bare)


def test_options_mapping_is_validated():
    train, test = _split(0, 30, 1), _split(0, 30, 2)
    with pytest.raises(OptionsError, match="Did you mean"):
        evaluate(SPY, {"c_gird": [1.0]}, train=train, validation=None, test=test)
    with pytest.raises(ValueError, match="nothing to score"):
        evaluate(SPY, {"C": 1.0}, train=train, validation=None, test=None)


# --- k-fold cross-validation ----------------------------------------------------------------


@pytest.fixture(scope="module")
def logistic_probe():
    return get_component("evaluator", "logistic-probe", manager=make_manager(builtins=("probes",), entry_points=False))


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X[:600] / 16.0).astype(np.float32), y[:600]


def test_kfold_is_deterministic_by_seed(logistic_probe, digits):
    opts = validate_options(logistic_probe, {"C": 0.5, "max_iter": 200})
    a = evaluate(logistic_probe, opts, train=digits, validation=None, test=None, folds=5, seed=0)
    b = evaluate(logistic_probe, opts, train=digits, validation=None, test=None, folds=5, seed=0)
    c = evaluate(logistic_probe, opts, train=digits, validation=None, test=None, folds=5, seed=1)
    assert a.metrics == b.metrics and a.details["folds"] == b.details["folds"] and a.confusion == b.confusion
    assert a.details["folds"] != c.details["folds"]
    m = a.metrics
    assert m["folds"] == 5 and len(a.details["folds"]) == 5
    assert m["accuracy"] == pytest.approx(np.mean([f["accuracy"] for f in a.details["folds"]]))
    assert m["accuracy_std"] == pytest.approx(np.std([f["accuracy"] for f in a.details["folds"]]))
    assert m["accuracy"] > 0.9 and m["accuracy_ci95"][0] < m["accuracy"] < m["accuracy_ci95"][1]
    assert sum(map(sum, a.confusion)) == len(digits[1]), "every example is scored once, out of fold"
    assert sum(f["n"] for f in a.details["folds"]) == len(digits[1])


def test_kfold_sweeps_on_an_inner_split_of_each_fold():
    X, y = _split(1, 100, 1)
    res = evaluate(SPY, {"c_grid": [1.0, 10.0]}, train=(X, y), validation=None, test=None, folds=4, seed=0)
    assert [f["selected"] for f in res.details["folds"]] == [{"C": 10.0}] * 4
    # per fold: 2 selection fits on 60 rows (75 in the fold's train part, 20% held out) and a refit on 75
    assert [n for m, _, n in CALLS if m == "fit"] == [60, 60, 75] * 4
    assert res.metrics["accuracy"] == pytest.approx(np.mean(y == 1), abs=0.02)


def test_folds_are_ignored_when_a_test_split_exists(logistic_probe, digits):
    X, y = digits
    res = evaluate(logistic_probe, None, train=(X[:400], y[:400]), validation=None, test=(X[400:], y[400:]),
                   folds=5, label_names=[str(i) for i in range(10)])
    assert res.details["protocol"] == "standard" and "folds_ignored" in res.details
    assert len(res.confusion) == 10 and res.details["blas_threads"] == 1


# --- the MTEB protocol ----------------------------------------------------------------------


def _mteb_reference_undersample(y, samples_per_label, n_experiments):
    """MTEB 1.x, transcribed: global numpy RNG re-seeded with 42 by each Evaluator, one idxs array."""
    from collections import defaultdict

    state = np.random.get_state()
    try:
        out, idxs = [], None
        for _ in range(n_experiments):
            np.random.seed(42)  # Evaluator.__init__ (and AbsTask.__init__ before the first experiment)
            if idxs is None:
                idxs = np.arange(len(y))
            np.random.shuffle(idxs)
            counter, kept = defaultdict(int), []
            for i in idxs:
                if counter[y[i]] < samples_per_label:
                    kept.append(i)
                    counter[y[i]] += 1
            out.append(np.array(kept))
        return out
    finally:
        np.random.set_state(state)


def test_mteb_sampling_matches_mteb():
    from zoo.probes.mteb import mteb_undersample

    y = np.random.default_rng(0).integers(0, 7, 500)
    ours = mteb_undersample(y, 8, 4, seed=42)
    ref = _mteb_reference_undersample(y, 8, 4)
    assert all(np.array_equal(a, b) for a, b in zip(ours, ref))
    assert all(np.bincount(y[idx], minlength=7).tolist() == [8] * 7 for idx in ours)
    assert not np.array_equal(ours[0], ours[1])


def test_mteb_component_is_registered_with_mteb_defaults():
    comp = get_component("evaluator", "mteb-classification",
                         manager=make_manager(builtins=("protocols",), entry_points=False))
    assert comp.plugin == "zoo.default_plugins.protocols"
    assert vars(comp.defaults()) == {"samples_per_label": 8, "n_experiments": 10, "max_iter": 100, "seed": 42}
    with pytest.raises(OptionsError, match="samples_per_label must be at least 1"):
        validate_options(comp, {"samples_per_label": 0})
    assert search_space(comp).grid == {}


def test_mteb_protocol_reports_mean_and_std_over_experiments(digits):
    comp = get_component("evaluator", "mteb-classification",
                         manager=make_manager(builtins=("protocols",), entry_points=False))
    X, y = digits
    res = evaluate(comp, {"n_experiments": 4}, train=(X[:400], y[:400]), validation=(X[400:500], y[400:500]),
                   test=(X[500:], y[500:]), label_names=[str(i) for i in range(10)])
    accs = res.details["experiments"]["accuracy"]
    assert len(accs) == 4 and res.metrics["n_experiments"] == 4
    assert res.metrics["accuracy"] == pytest.approx(np.mean(accs))
    assert res.metrics["accuracy_std"] == pytest.approx(np.std(accs))
    assert res.details["refit_on"] == "train" and res.details["n_fit"] == 400  # validation is not used to fit
    assert 0.5 < res.details["validation"]["accuracy"] <= 1.0
    assert sum(map(sum, res.confusion)) == 4 * 100  # summed over experiments


def test_plugin_modules_stay_light():
    code = ("import sys, zoo.default_plugins.protocols as p; "
            "heavy = [m for m in ('numpy', 'sklearn', 'torch') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": os.getcwd()})


# --- MTEB Banking77 on real all-MiniLM-L6-v2 features -----------------------------------------

PUBLISHED_ACCURACY = 80.04  # embeddings-benchmark/results, mteb 1.12.75 (see ../shared/data/banking77/SOURCE.md)
PUBLISHED_EXPERIMENTS = [79.805, 80.162, 81.299, 80.552, 79.188, 80.487, 79.091, 78.896, 80.909, 80.032]


@pytest.fixture(scope="session")
def banking77_mteb_features(request, tmp_path_factory, shared_data, minilm_dir):
    """Banking77 test features plus the train rows the 10 MTEB experiments use, from the real model.

    Encoded through ``zoo.load_backbone`` from a Hub cache seeded with the real files; stored in a
    FeatureCache under pytest's cache directory (content-addressed), so later sessions skip
    encoding. Train rows no experiment samples are left as zeros: they are never fitted on.
    """
    import torch

    from zoo.data import CsvOptions, load_csv
    from zoo.data.hashing import fingerprint
    from zoo.probes.mteb import mteb_undersample
    from zoo.runner.features import FeatureCache

    pytest_cache = getattr(request.config, "cache", None)
    cache_root = pytest_cache.mkdir("zoo-features") if pytest_cache is not None else tmp_path_factory.mktemp("features")
    bundle = load_csv(CsvOptions(train="train.csv", test="test.csv", label_column="category"),
                      base_dir=shared_data / "banking77", seed=0)
    needed = np.unique(np.concatenate(mteb_undersample(bundle.train.labels, 8, 10, seed=42)))
    base = tmp_path_factory.mktemp("mteb-env")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("ZOO_REGISTRY", "ZOO_LOCKFILE", "ZOO_CONFIG", "ZOO_LOAD_PLUGINS", "ZOO_DISABLE_PLUGINS"):
            mp.delenv(var, raising=False)
        mp.setenv("HF_HUB_CACHE", str(base / "hf" / "hub"))
        mp.setenv("ZOO_HOME", str(base / "zoo"))
        mp.setenv("ZOO_OFFLINE", "1")
        import zoo
        from zoo import registry
        from zoo.config import settings
        from zoo.hub import LockFile, import_directory

        registry._CACHE.clear()
        s = settings()
        entry = registry.build_registry().entries["all-minilm-l6-v2"]
        import_directory(minilm_dir, repo_id=entry.repo_id, revision=entry.revision, cache_dir=s.hf_cache,
                         lock=LockFile(s.lockfile), entry=entry)
        encoder = zoo.load_backbone("all-minilm-l6-v2")
        registry._CACHE.clear()
    cache = FeatureCache(cache_root)
    parts = dict(weights_sha256=fingerprint(dict(sorted(encoder.resolved.sha256.items()))),
                 preprocessing={"max_seq_length": encoder.max_seq_length, "pooling": encoder.pooling,
                                "normalize": encoder.normalize,
                                "text_prefix": getattr(encoder, "text_prefix", "")}, batch_size=32)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # fastest on a busy 2-core machine, and the same bits everywhere
    try:
        x_test = cache.get_or_compute(encoder, bundle.test.inputs, dataset_fingerprint=bundle.test.fingerprint,
                                      split="test", **parts)
        sub = bundle.train.subset(needed, name="train[mteb-8x10]")
        x_sub = cache.get_or_compute(encoder, sub.inputs, dataset_fingerprint=sub.fingerprint,
                                     split=sub.name, **parts)
    finally:
        torch.set_num_threads(previous)
    x_train = np.zeros((len(bundle.train), x_sub.shape[1]), dtype=np.float32)
    x_train[needed] = x_sub
    return {"train": (x_train, bundle.train.labels), "test": (x_test, bundle.test.labels),
            "label_names": bundle.label_names, "needed": needed}


@pytest.mark.slow
def test_mteb_banking77_matches_the_published_score(banking77_mteb_features):
    comp = get_component("evaluator", "mteb-classification")
    f = banking77_mteb_features
    res = evaluate(comp, None, train=f["train"], validation=None, test=f["test"], label_names=f["label_names"])
    acc = 100 * res.metrics["accuracy"]
    print(f"\nMTEB Banking77, all-MiniLM-L6-v2: {acc:.2f} +- {100 * res.metrics['accuracy_std']:.2f} "
          f"(published {PUBLISHED_ACCURACY}); macro-F1 {100 * res.metrics['macro_f1']:.2f}")
    assert abs(acc - PUBLISHED_ACCURACY) <= 1.5
    assert res.metrics["n"] == 3080 and res.metrics["n_experiments"] == 10
    ours = [100 * a for a in res.details["experiments"]["accuracy"]]
    assert ours == pytest.approx(PUBLISHED_EXPERIMENTS, abs=0.5)  # experiment by experiment
    assert len(res.confusion) == 77


def test_logistic_probe_c_grid_is_swept_on_validation():
    """The builtin probe's ``c_grid`` option turns on the CLIP-style sweep, chosen on validation only."""
    from sklearn.datasets import load_digits

    from zoo.plugins import get_component, make_manager, validate_options
    from zoo.runner.evaluate import evaluate

    X, y = load_digits(return_X_y=True)
    comp = get_component("evaluator", "logistic-probe", manager=make_manager(entry_points=False))
    opts = validate_options(comp, {"c_grid": [0.001, 0.1, 10.0], "max_iter": 200})
    res = evaluate(comp, opts, train=(X[:1000], y[:1000]), validation=(X[1000:1400], y[1000:1400]),
                   test=(X[1400:], y[1400:]), seed=0)
    assert res.details["search_space"] == {"C": [0.001, 0.1, 10.0]}
    assert res.metrics["accuracy"] > 0.9
