"""The conformance checks: one function per property, each ``check(component)`` raising
``AssertionError`` with a message that names the component and what it got wrong.

What each kind must do (see :mod:`zoo.contracts`):

* ``head``: maps ``(batch, in_features)`` to ``(batch, num_classes)``, every parameter trains,
  gradients reach all of them, and the same torch seed builds the same weights.
* ``freezing``: leaves exactly the parameters its report names trainable and counts them
  right, keeps the head trainable, does not depend on the flags it starts from, and does not
  touch parameter values. Run on two reference models (Hugging Face BERT names and
  ``torch.nn.TransformerEncoder`` names).
* ``compression``: run through the pipeline on zoo's tiny BERT encoder under a linear head, it
  returns a :class:`zoo.contracts.PassResult`, the compressed model's outputs stay closer to the
  original's than those of an independently initialized model (a bound the kit measures), and it
  takes no more tensor storage than before (measured by the kit). A pass with
  ``needs_data = True`` (it trains on task data) is skipped.
* ``evaluator``: scikit-learn conventions (constructor arguments = options, ``get_params``,
  ``set_params``, ``clone``, ``fit`` returns self and only sets ``*_`` attributes, ``predict``,
  ``score``, ``predict_proba`` consistent with ``predict``, ``NotFittedError`` before ``fit``,
  pickling), deterministic under a fixed ``seed``/``random_state``, and it learns (scores well
  above chance on scikit-learn's digits).
* every kind: one-line summary, a valid options schema whose defaults construct.

torch and scikit-learn are imported inside the checks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from typing import Any, Callable, Iterator

from ..plugins._options import check_schema

__all__ = ["CHECKS", "checks_for", "check_component", "single_threaded"]

Check = Callable[[Any], None]


@contextlib.contextmanager
def single_threaded(*, torch: bool = False, blas: bool = False) -> Iterator[None]:
    """Run torch and/or BLAS/OpenMP (numpy, scipy, scikit-learn) on one thread inside the block.

    The checks use tiny inputs, where extra threads only add overhead, and on a busy machine
    spinning BLAS threads can make a 10 ms fit take seconds.
    """
    with contextlib.ExitStack() as stack:
        if torch:
            import torch as _torch

            previous = _torch.get_num_threads()
            _torch.set_num_threads(1)
            stack.callback(_torch.set_num_threads, previous)
        if blas:
            import numpy  # noqa: F401  load the libraries first: threadpoolctl limits loaded ones
            import scipy.linalg  # noqa: F401
            import sklearn.utils._openmp_helpers  # noqa: F401
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=1))
        yield


def _threads(**which: bool) -> Callable[[Check], Check]:
    def decorate(check: Check) -> Check:
        @functools.wraps(check)
        def run(component: Any) -> None:
            with single_threaded(**which):
                check(component)

        return run

    return decorate


def _label(component: Any) -> str:
    return f"{component.kind} {component.name!r} (plugin {component.plugin!r})"


def _fail(component: Any, message: str) -> AssertionError:
    return AssertionError(f"{_label(component)}: {message}")


# --- every kind -------------------------------------------------------------------------


def check_metadata(component: Any) -> None:
    """One-line summary; options schema valid (types, defaults, help) and default-constructible."""
    if not component.summary.strip() or "\n" in component.summary:
        raise _fail(component, f"summary must be one non-empty line, got {component.summary!r}")
    if component.options is not None:
        try:
            check_schema(component.options)
            component.options()
        except Exception as exc:
            raise _fail(component, f"options schema is not usable: {exc}") from exc


# --- heads -------------------------------------------------------------------------------


def _build_head(component: Any, in_features: int, num_classes: int) -> Any:
    from torch import nn

    head = component.obj(in_features, num_classes, component.defaults())
    if not isinstance(head, nn.Module):
        raise _fail(component, f"build() must return a torch.nn.Module, got {type(head).__name__}")
    return head


@_threads(torch=True)
def check_head_output_shape(component: Any) -> None:
    """(batch, in_features) -> (batch, num_classes), for several sizes and for a batch of 1."""
    import torch

    for in_features, num_classes, batch in [(16, 5, 4), (8, 1, 3), (32, 10, 1)]:
        head = _build_head(component, in_features, num_classes).eval()
        with torch.no_grad():
            out = head(torch.randn(batch, in_features))
        if tuple(out.shape) != (batch, num_classes):
            raise _fail(component, f"in_features={in_features}, num_classes={num_classes}: input "
                                   f"({batch}, {in_features}) gave output {tuple(out.shape)}, expected ({batch}, {num_classes})")


@_threads(torch=True)
def check_head_trains(component: Any) -> None:
    """Every parameter of a new head requires grad, and a backward pass reaches all of them."""
    import torch

    head = _build_head(component, 16, 5).train()
    params = list(head.named_parameters())
    if not params:
        raise _fail(component, "the head has no parameters to train")
    frozen = [n for n, p in params if not p.requires_grad]
    if frozen:
        raise _fail(component, f"a new head must be trainable; frozen: {frozen}")
    torch.nn.functional.cross_entropy(head(torch.randn(8, 16)), torch.arange(8) % 5).backward()
    missing = [n for n, p in params if p.grad is None]
    if missing:
        raise _fail(component, f"no gradient reached {missing}")


@_threads(torch=True)
def check_head_seeded(component: Any) -> None:
    """The same torch seed builds identical weights."""
    import torch

    states = []
    for _ in range(2):
        torch.manual_seed(1234)
        states.append(_build_head(component, 16, 5).state_dict())
    for key, value in states[0].items():
        if not torch.equal(value, states[1][key]):
            raise _fail(component, f"two builds under torch.manual_seed(1234) differ in {key!r}")


# --- freezing policies -------------------------------------------------------------------


def _reference_models() -> list[tuple[str, Any]]:
    from .models import tiny_bert, tiny_torch_encoder

    return [("tiny_bert", tiny_bert()), ("tiny_torch_encoder", tiny_torch_encoder())]


def _apply_policy(component: Any, model: Any) -> Any:
    from ..contracts import FreezeReport

    report = component.obj(model, component.defaults(), head_prefix="head")
    if not isinstance(report, FreezeReport):
        raise _fail(component, f"apply() must return a zoo.contracts.FreezeReport, got {type(report).__name__}")
    return report


@_threads(torch=True)
def check_freezing_report(component: Any) -> None:
    """The report names exactly the trainable parameters, in order, and counts them right."""
    from ..contracts import FreezeReport

    for label, model in _reference_models():
        report = _apply_policy(component, model)
        actual = FreezeReport.from_model(model)
        if report.trainable != actual.trainable:
            extra = sorted(set(report.trainable) - set(actual.trainable))
            missing = sorted(set(actual.trainable) - set(report.trainable))
            raise _fail(component, f"on {label}, the report's trainable names differ from the model's "
                                   f"requires_grad flags (claimed but frozen: {extra}; trainable but not "
                                   f"claimed: {missing}; or a different order)")
        for attr in ("frozen_count", "trainable_params", "frozen_params"):
            if getattr(report, attr) != getattr(actual, attr):
                raise _fail(component, f"on {label}, report.{attr}={getattr(report, attr)} but the model has "
                                       f"{getattr(actual, attr)}")


@_threads(torch=True)
def check_freezing_head_trainable(component: Any) -> None:
    """Every ``head.*`` parameter stays trainable."""
    for label, model in _reference_models():
        _apply_policy(component, model)
        frozen = [n for n, p in model.named_parameters() if n.startswith("head.") and not p.requires_grad]
        if frozen:
            raise _fail(component, f"on {label}, froze head parameters {frozen}; the head must stay trainable")


@_threads(torch=True)
def check_freezing_absolute(component: Any) -> None:
    """The result does not depend on the requires_grad flags the model had before."""
    import torch

    for label, model in _reference_models():
        reports = []
        for start in ("all-trainable", "all-frozen", "random"):
            g = torch.Generator().manual_seed(0)
            for p in model.parameters():
                flag = {"all-trainable": True, "all-frozen": False}.get(start)
                p.requires_grad_(bool(torch.rand(1, generator=g) < 0.5) if flag is None else flag)
            reports.append((start, _apply_policy(component, model)))
        for start, report in reports[1:]:
            if report != reports[0][1]:
                raise _fail(component, f"on {label}, starting from {start} parameters gives a different result "
                                       f"than starting from all-trainable; set requires_grad on every parameter")


@_threads(torch=True)
def check_freezing_keeps_values(component: Any) -> None:
    """Parameter values and the set of parameters are unchanged."""
    import torch

    for label, model in _reference_models():
        before = {k: v.clone() for k, v in model.state_dict().items()}
        _apply_policy(component, model)
        after = model.state_dict()
        if set(before) != set(after) or any(not torch.equal(before[k], after[k]) for k in before):
            raise _fail(component, f"on {label}, applying the policy changed parameter values or names")


@_threads(torch=True)
def check_freezing_trains(component: Any) -> None:
    """After the policy, a training step moves only the trainable parameters."""
    import torch

    from .models import token_batch

    for label, model in _reference_models():
        report = _apply_policy(component, model)
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        torch.nn.functional.cross_entropy(model(token_batch()), torch.tensor([0, 1, 2, 0])).backward()
        with torch.no_grad():  # one plain SGD step on whatever has a gradient
            for p in model.parameters():
                if p.grad is not None:
                    p -= 0.1 * p.grad
        moved = {n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])}
        wrongly = sorted(moved - set(report.trainable))
        if wrongly:
            raise _fail(component, f"on {label}, frozen parameters changed during training: {wrongly}")


# --- compression passes ------------------------------------------------------------------


UNRELATED_SEEDS = (1, 2, 3)
"""Seeds of the independently initialized reference models that set the compression bound."""


def _reference_model(component: Any, seed: int = 0) -> tuple[Any, Any]:
    """The model and inputs a pass runs on: zoo's tiny BERT, or its tiny CIFAR ResNet for passes
    that declare ``modalities = ("image",)`` (convolutional passes); ``seed`` draws the weights."""
    from .models import image_batch, tiny_resnet, tiny_zoo_bert, token_batch

    if "image" in getattr(component.obj, "modalities", ()):
        return tiny_resnet(seed=seed), image_batch(16, 32, seed=1)
    return tiny_zoo_bert(seed=seed).eval(), token_batch(16, 8, seed=1)


def _compress(component: Any) -> tuple[Any, Any, Any, int]:
    """Run the pass on the reference model through the pipeline, which measures sizes and output
    change itself: (report, inputs, expected outputs, original bytes)."""
    import copy

    import torch

    from ..compress.pipeline import _bytes, apply_spec
    from ..contracts import CompressionReport

    if getattr(component.obj, "needs_data", False):
        _skip(component, "the pass trains on task data (needs_data=True); the kit has none to give it")
    model, inputs = _reference_model(component)
    with torch.no_grad():
        expected = model(inputs)
    original_size = _bytes(model)
    try:
        report = apply_spec(component.obj, copy.deepcopy(model), component.defaults(), example_inputs=(inputs,))
    except Exception as exc:  # noqa: BLE001 - any failure on the reference model fails the check
        raise _fail(component, f"failed on the reference model: {type(exc).__name__}: {exc}") from exc
    assert isinstance(report, CompressionReport)
    return report, inputs, expected, original_size


def _skip(component: Any, reason: str) -> None:
    try:
        import pytest
    except ImportError:  # pragma: no cover
        return
    pytest.skip(f"{_label(component)}: {reason}")


@_threads(torch=True)
def check_compression_tolerance(component: Any) -> None:
    """The compressed model stays closer to the original than an unrelated model does.

    The bound is measured here: the smallest RMS distance between the reference model's outputs and
    those of the same architecture with independently drawn weights (:data:`UNRELATED_SEEDS`). A
    pass whose outputs move further has thrown away what the weights knew (on the reference
    model, the builtin passes move 0.3% (half) to 57% (50% magnitude pruning) of that distance; a
    pass that shuffles the weights, 135%).
    """
    import torch

    report, inputs, expected, _ = _compress(component)
    report.model.eval()
    with torch.no_grad():
        got = report.model(inputs).float()
        bound = min(float((_reference_model(component, seed)[0].eval()(inputs) - expected).pow(2).mean().sqrt())
                    for seed in UNRELATED_SEEDS)
    if got.shape != expected.shape:
        raise _fail(component, f"compressed output has shape {tuple(got.shape)}, expected {tuple(expected.shape)}")
    change = float((got - expected).pow(2).mean().sqrt())
    if not change < bound:
        raise _fail(component, f"outputs moved by {change:.3g} (RMS), {change / bound:.2f}x the distance to an "
                               f"unrelated model of the same architecture ({bound:.3g}, the bound)")


@_threads(torch=True)
def check_compression_size(component: Any) -> None:
    """The compressed model takes no more tensor storage than the original (measured here)."""
    from ..compress.pipeline import _bytes

    if getattr(component.obj, "external_runtime", False):
        _skip(component, "the pass hands the model to another runtime; its size is that runtime's file")
    report, _, _, original_size = _compress(component)
    after = _bytes(report.model)
    if after > original_size:
        raise _fail(component, f"the compressed model takes {after} bytes, more than the original's {original_size}")


# --- evaluators --------------------------------------------------------------------------


def _digits() -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return X[:900], y[:900], X[900:1300], y[900:1300]


def _new_estimator(component: Any, **overrides: Any) -> Any:
    params = dataclasses.asdict(component.defaults()) if component.options is not None else {}
    params.update(overrides)
    return component.obj(**params)


def _seed_param(estimator: Any) -> str | None:
    params = estimator.get_params(deep=False)
    return next((p for p in ("seed", "random_state") if p in params), None)


def _is_classifier(estimator: Any) -> bool:
    from sklearn.base import is_classifier

    return bool(is_classifier(estimator))


@_threads(blas=True)
def check_evaluator_params(component: Any) -> None:
    """Constructor arguments are the options; get_params/set_params/clone follow scikit-learn."""
    from sklearn.base import clone

    if not isinstance(component.obj, type):
        raise _fail(component, "an evaluator must be registered as an estimator class")
    defaults = dataclasses.asdict(component.defaults()) if component.options is not None else {}
    est = _new_estimator(component)
    params = est.get_params(deep=False)
    if params != defaults:
        raise _fail(component, f"get_params() returned {params}, expected the option defaults {defaults}")
    if defaults:
        key = next(iter(defaults))
        if est.set_params(**{key: defaults[key]}) is not est:
            raise _fail(component, "set_params() must return self")
    cloned = clone(est)
    if cloned is est or cloned.get_params(deep=False) != params:
        raise _fail(component, "sklearn.base.clone() did not reproduce the parameters")


@_threads(blas=True)
def check_evaluator_fit_predict_score(component: Any) -> None:
    """fit returns self and sets only ``*_`` attributes; predict gives known labels; a classifier's
    score is a mean accuracy in [0, 1]; NotFittedError before fit."""
    import numpy as np
    from sklearn.exceptions import NotFittedError

    Xtr, ytr, Xte, yte = _digits()
    est = _new_estimator(component)
    try:
        est.predict(Xte)
    except NotFittedError:
        pass
    else:
        raise _fail(component, "predict() before fit() must raise sklearn.exceptions.NotFittedError")
    before = set(vars(est))
    if est.fit(Xtr, ytr) is not est:
        raise _fail(component, "fit() must return self")
    new = sorted(a for a in set(vars(est)) - before if not a.endswith("_") and not a.startswith("_"))
    if new:
        raise _fail(component, f"fit() set attributes {new}; learned attributes must end with '_'")
    pred = np.asarray(est.predict(Xte))
    if pred.shape != (len(Xte),):
        raise _fail(component, f"predict() returned shape {pred.shape}, expected ({len(Xte)},)")
    score = est.score(Xte, yte)
    if not isinstance(score, (float, np.floating)):
        raise _fail(component, f"score() must return a float, got {type(score).__name__}")
    if _is_classifier(est):
        if not set(np.unique(pred)) <= set(np.unique(ytr)):
            raise _fail(component, "predict() returned labels never seen in fit()")
        if not 0.0 <= score <= 1.0:
            raise _fail(component, f"a classifier's score() is a mean accuracy in [0, 1], got {score}")
        if not hasattr(est, "classes_"):
            raise _fail(component, "a fitted classifier must have classes_")


@_threads(blas=True)
def check_evaluator_predict_proba(component: Any) -> None:
    """predict_proba (when present): one column per class, rows sum to 1, argmax agrees with predict."""
    import numpy as np

    Xtr, ytr, Xte, _ = _digits()
    est = _new_estimator(component)
    if not hasattr(est, "predict_proba"):
        return
    est.fit(Xtr, ytr)
    proba = np.asarray(est.predict_proba(Xte))
    if proba.shape != (len(Xte), len(est.classes_)):
        raise _fail(component, f"predict_proba() shape {proba.shape}, expected ({len(Xte)}, {len(est.classes_)})")
    if not np.allclose(proba.sum(axis=1), 1.0) or (proba < 0).any():
        raise _fail(component, "predict_proba() rows must be probabilities summing to 1")
    agree = np.mean(est.classes_[proba.argmax(axis=1)] == np.asarray(est.predict(Xte)))
    if agree < 0.99:
        raise _fail(component, f"argmax of predict_proba() agrees with predict() on only {agree:.1%} of samples")


@_threads(blas=True)
def check_evaluator_deterministic(component: Any) -> None:
    """Under a fixed seed, two fits (and a clone's fit) give identical predictions."""
    import numpy as np
    from sklearn.base import clone

    Xtr, ytr, Xte, _ = _digits()
    est = _new_estimator(component)
    seed = _seed_param(est)
    if seed is not None:
        est.set_params(**{seed: 0})
    runs = [est.fit(Xtr, ytr).predict(Xte), clone(est).fit(Xtr, ytr).predict(Xte)]
    if hasattr(est, "predict_proba"):
        runs += [est.predict_proba(Xte), clone(est).fit(Xtr, ytr).predict_proba(Xte)]
    for a, b in zip(runs[::2], runs[1::2]):
        if not np.array_equal(np.asarray(a), np.asarray(b)):
            where = f" with {seed}=0" if seed else ""
            raise _fail(component, f"two fits on the same data{where} gave different results")


@_threads(blas=True)
def check_evaluator_learns(component: Any) -> None:
    """A classifier scores well above chance on scikit-learn's digits (64 pixel features)."""
    Xtr, ytr, Xte, yte = _digits()
    est = _new_estimator(component)
    if not _is_classifier(est):
        return
    score = est.fit(Xtr, ytr).score(Xte, yte)
    if score < 0.5:
        raise _fail(component, f"accuracy {score:.3f} on digits (chance: 0.1); the probe does not learn")


@_threads(blas=True)
def check_evaluator_pickle(component: Any) -> None:
    """A fitted evaluator survives pickling with the same predictions."""
    import pickle

    import numpy as np

    Xtr, ytr, Xte, _ = _digits()
    est = _new_estimator(component).fit(Xtr, ytr)
    restored = pickle.loads(pickle.dumps(est))
    if not np.array_equal(np.asarray(est.predict(Xte)), np.asarray(restored.predict(Xte))):
        raise _fail(component, "a pickled and restored estimator predicts differently")


CHECKS: dict[str, tuple[Check, ...]] = {
    "head": (check_head_output_shape, check_head_trains, check_head_seeded),
    "freezing": (check_freezing_report, check_freezing_head_trainable, check_freezing_absolute,
                 check_freezing_keeps_values, check_freezing_trains),
    "compression": (check_compression_tolerance, check_compression_size),
    "evaluator": (check_evaluator_params, check_evaluator_fit_predict_score, check_evaluator_predict_proba,
                  check_evaluator_deterministic, check_evaluator_learns, check_evaluator_pickle),
}
"""The kind-specific checks; :func:`check_metadata` applies to every kind."""


def checks_for(component: Any) -> list[Check]:
    """Every check that applies to ``component``."""
    return [check_metadata, *CHECKS.get(component.kind, ())]


def check_component(component: Any) -> None:
    """Run every check on ``component``; raise the first ``AssertionError``."""
    for check in checks_for(component):
        check(component)
