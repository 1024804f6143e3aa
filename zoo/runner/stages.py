"""A run as named stages over one typed :class:`RunState`.

``prepare`` (determinism, run directory, the model) -> ``adapt`` (domain adaptation; empty for
now) -> ``features`` (frozen features, from the cache) -> ``train`` -> ``compress`` -> ``evaluate``
(the head, then each evaluator) -> ``record`` (record, weights, report). Each stage is a function
``stage(state) -> None`` that reads and writes the state only; plugins observe each one through the
``zoo_stage_start(run, stage)`` and ``zoo_stage_end(run, stage)`` hooks (``run`` is the state).
:func:`execute` runs them, then finalizes the run directory; a hook that raises in
``zoo_experiment_finish`` is reported after the run is saved (:class:`~zoo.errors.HookError`).
"""

from __future__ import annotations

import json
import sys
import time
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .assembly import Assembly
from .record import RunDirectory, RunRecord

__all__ = ["RunState", "STAGES", "execute"]


@dataclass
class RunState:
    """Everything a run knows, shared by its stages and handed to hooks as ``run``.

    Hooks may read ``run_id``, ``recipe``, ``run_dir``, ``seed``, ``device``, ``dataset``,
    ``backbone``, ``model``, ``history``, ``stage`` and the results so far.
    """

    assembly: Assembly
    directory: RunDirectory
    log: Callable[[str], None]
    progress: bool = True
    stage: str = ""
    started_at: str = ""
    t_start: float = 0.0
    determinism: Any = None
    cache: Any = None
    features: dict[str, Any] = field(default_factory=dict)
    pristine: bool = True
    history: list[dict[str, float]] = field(default_factory=list)
    train_result: Any = None
    trained_head: Any = None
    trained_backbone: dict[str, Any] = field(default_factory=dict)
    compression: dict[str, Any] = field(default_factory=dict)
    evaluations: dict[str, Any] = field(default_factory=dict)
    confusions: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    record: RunRecord | None = None
    adaptation: dict[str, Any] = field(default_factory=dict)
    scored: tuple[Any, str, Any] | None = None
    """(model, split, head logits) of the last model compression scored (after its last pass):
    the head's evaluation of that same final model reuses them instead of predicting again."""
    target_backbone: Any = None
    source_backbone: Any = None
    dist: Any = None
    """The ``torchrun`` context (:class:`zoo.distributed.DistContext`); rank 0 alone writes."""

    # the context ------------------------------------------------------------------------------
    @property
    def recipe(self) -> Any:
        return self.assembly.recipe

    @property
    def run_id(self) -> str:
        return self.directory.run_id

    @property
    def run_dir(self) -> Path:
        return self.directory.final if self.record is not None and self.directory.final.exists() \
            else self.directory.partial

    @property
    def seed(self) -> int:
        return self.assembly.recipe.seed

    @property
    def device(self) -> str:
        return self.assembly.device

    @property
    def batch_size(self) -> int:
        """Batch size for encoding and inference (``backbone.batch_size``)."""
        return self.assembly.recipe.backbone.batch_size

    @property
    def dataset(self) -> Any:
        return self.assembly.bundle

    @property
    def splits(self) -> dict[str, Any]:
        return self.assembly.splits

    @property
    def backbone(self) -> Any:
        return self.assembly.backbone

    @property
    def model(self) -> Any:
        return self.assembly.model

    def timed(self, name: str, t0: float) -> None:
        self.timings[name] = round(time.perf_counter() - t0, 3)

    def feats(self, split: str) -> Any:
        """Features of a split: from the feature cache while the backbone is unchanged, else encoded."""
        if split not in self.features:
            from .features import encode

            data, backbone = self.splits[split], self.model.backbone
            if self.pristine:
                from .features import weights_digest

                self.features[split] = self.cache.get_or_compute(
                    backbone, data.inputs, weights_sha256=weights_digest(self.backbone.resolved),
                    dataset_fingerprint=data.fingerprint, split=split, preprocessing=backbone.preprocessing(),
                    batch_size=self.batch_size)
            else:
                self.features[split] = encode(backbone, data.inputs, batch_size=self.batch_size)
        return self.features[split]


    def target_feats(self, kind: str, inputs: Any, fingerprint: str) -> Any:
        """Features of a target split (``adapt`` or ``test``) by the unadapted backbone, from the cache."""
        key = f"target.{kind}"
        if key not in self.features:
            from .features import weights_digest

            backbone = self.backbone
            self.features[key] = self.cache.get_or_compute(
                backbone, inputs, weights_sha256=weights_digest(backbone.resolved), dataset_fingerprint=fingerprint,
                split=key, preprocessing=backbone.preprocessing(), batch_size=self.batch_size)
        return self.features[key]


def _log(enabled: bool) -> Callable[[str], None]:
    def log(message: str) -> None:
        if enabled:
            print(message, file=sys.stderr, flush=True)

    return log


# --- the stages -------------------------------------------------------------------------------


def prepare(state: RunState) -> None:
    """Seed and fix determinism, open the ``.partial`` run directory, load the backbone, build the model."""
    from ..config import settings
    from .assembly import load_configured_backbone
    from .determinism import set_determinism
    from .features import FeatureCache
    from .record import utc_now

    a, recipe = state.assembly, state.recipe
    state.determinism = set_determinism(recipe.seed, device=a.device, threads=recipe.threads)
    state.started_at = utc_now()
    state.directory.create()
    state.directory.write_text("recipe.toml", recipe.to_toml())
    state.log(f"zoo run: {recipe.name} -> {state.directory.partial}")
    state.timings.update(a.extras.get("timings", {}))
    state.log("  data: " + ", ".join(f"{k} {len(v)}" for k, v in state.splits.items())
              + f", {a.bundle.num_classes} classes")
    t0 = time.perf_counter()
    if a.backbone is None:
        a.backbone = load_configured_backbone(recipe, a.device)
    a.build_model()
    state.timed("load_backbone", t0)
    f, b = a.freeze, a.backbone
    state.log(f"  backbone: {b.pretrained_cfg.name} ({b.resolved.repo_id}@{b.resolved.revision[:12]}), "
              f"trainable {f.trainable_params:,} of {f.total_params:,} parameters")
    state.cache = FeatureCache(settings().feature_cache)


def adapt(state: RunState) -> None:
    """Domain adaptation of a copy of the backbone on the unlabeled target split (model-level methods
    such as AdaBN); feature-level methods and TENT act when the target is scored (``evaluate``)."""
    from .adaptation import adapt_backbone

    adapt_backbone(state)


def features(state: RunState) -> None:
    """Frozen features of the splits the head trains on (from the cache when possible)."""
    if state.recipe.training.epochs == 0 or state.assembly.trains_backbone:
        return
    t0 = time.perf_counter()
    for split in ("train", "validation"):
        if split in state.splits:
            state.feats(split)
    state.timed("features_for_training", t0)


def train(state: RunState) -> None:
    """Train the head (on features) or fine-tune end to end; keep the trained weights."""
    from ..plugins import get_manager
    from .model import head_state
    from .train import finetune, train_head_on_features

    spec, splits, model = state.recipe.training, state.splits, state.model
    if spec.epochs == 0:
        return
    hooks = get_manager().hook

    def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
        state.history.append({"epoch": epoch, **metrics})
        shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k != "seconds")
        state.log(f"  epoch {epoch + 1}/{spec.epochs}: {shown} ({metrics['seconds']:.1f}s)")
        hooks.zoo_epoch_end(run=state, epoch=epoch, metrics=metrics)

    val, t0 = splits.get("validation"), time.perf_counter()
    common = dict(device=state.device, seed=state.seed, on_epoch=on_epoch, progress=state.progress, dist=state.dist)
    if not state.assembly.trains_backbone:
        state.train_result = train_head_on_features(
            model, spec, train=(state.feats("train"), splits["train"].labels),
            validation=(state.feats("validation"), val.labels) if val is not None else None, **common)
    else:
        state.pristine = False
        state.train_result = finetune(
            model, spec, train=(splits["train"].inputs, splits["train"].labels),
            validation=(val.inputs, val.labels) if val is not None else None,
            eval_batch_size=state.batch_size, **common)
    state.timed("train", t0)
    state.trained_head = head_state(model)  # taken before any compression pass changes their format
    if state.assembly.trains_backbone:
        params = dict(model.named_parameters())
        state.trained_backbone = {n: params[n].detach().cpu().contiguous()
                                  for n in state.assembly.freeze.trainable if n.startswith("backbone.") and n in params}


def compress(state: RunState) -> None:
    """Run the compression passes through :func:`zoo.compress.run_passes`, each step measured and
    (with a trained head) scored on the evaluation split; print and keep the trade-off table."""
    from ..compress import TrainingData, format_table, run_passes

    passes = state.assembly.roles("compression")
    if not passes:
        return
    t0, splits, model = time.perf_counter(), state.splits, state.model
    source = splits.get("validation") or splits["train"]
    batch = model.backbone.preprocess(list(source.inputs[:32]))
    target = _eval_split(state)
    score = None
    if state.train_result is not None and target is not None:
        def score(m: Any) -> float:
            return _head_accuracy(state, m, target)
    data = TrainingData(list(splits["train"].inputs), [int(x) for x in splits["train"].labels])
    texts = list(splits[target or ("validation" if "validation" in splits else "train")].inputs[:THROUGHPUT_TEXTS])
    result = run_passes([(p.component, p.options) for p in passes], model, evaluate=score,
                        example_inputs=(batch,), data=data, seed=state.seed, texts=texts,
                        run_texts=lambda m, chunk: _run_inputs(state, m, chunk))
    state.log(format_table(result.rows))
    if score is None or state.scored is None or state.scored[0] is not result.model \
            or result.rows[-1].metric != _score_of(state.scored[2], splits[target]):
        state.scored = None  # the last score was not of the final model: the head evaluation predicts
    state.assembly.model, state.pristine = result.model, False
    state.features.clear()
    state.compression = {"passes": _plain(result.record), "tradeoffs": [_plain(r.to_dict()) for r in result.rows],
                         "metric": "head accuracy on " + (target if score else "(no trained head)")}
    state.timed("compression", t0)


THROUGHPUT_TEXTS = 512
"""Real inputs (of the scored split) the trade-off table's throughput is measured on."""


def _run_inputs(state: RunState, m: Any, chunk: Any) -> Any:
    """What a user runs on raw inputs: preprocess, batch, encode, head (the throughput measured)."""
    from .train import predict

    backbone, size = getattr(m, "backbone", None), state.batch_size
    if backbone is not None and backbone is not m and hasattr(backbone, "encode") and hasattr(m, "head"):
        return m.head(backbone.encode(chunk, batch_size=size, convert_to_numpy=False))
    if hasattr(m, "encode"):  # e.g. an ONNX Runtime graph of the whole model
        return m.encode(chunk, batch_size=size)
    return predict(m, chunk, batch_size=size, device=state.device)


def _eval_split(state: RunState) -> str | None:
    return "test" if "test" in state.splits else ("validation" if "validation" in state.splits else None)


def _head_logits(state: RunState, model: Any, name: str, prefix: int = 0) -> Any:
    """Head logits of ``model`` on split ``name``."""
    from .train import predict

    return predict(model, list(state.splits[name].inputs), batch_size=state.batch_size, device=state.device,
                   precision=state.train_result.precision, prefix_layers=prefix)


def _score_of(logits: Any, split: Any) -> float:
    import numpy as np

    return float((logits.argmax(1) == np.asarray(split.labels)).mean())


def _head_accuracy(state: RunState, model: Any, name: str) -> float:
    logits = _head_logits(state, model, name)
    state.scored = (model, name, logits)
    return _score_of(logits, state.splits[name])


def evaluate(state: RunState) -> None:
    """The trained head's metrics on the evaluation split, then each evaluator on frozen features."""
    _evaluate_head(state)
    parts = state.assembly.roles("evaluator")
    if parts:
        t0 = time.perf_counter()
        xs = {name: state.feats(name) for name in state.splits}
        state.timed("features", t0)
        for i, part in enumerate(parts):
            _run_evaluator(state, i, part, xs)
    _evaluate_target(state)


def _evaluate_target(state: RunState) -> None:
    from .adaptation import evaluate_target

    evaluate_target(state)


def _evaluate_head(state: RunState) -> None:
    import numpy as np
    import torch

    from .metrics import classification_metrics, confusion_matrix

    name, result = _eval_split(state), state.train_result
    if result is None or name is None:
        return
    t0, target, model = time.perf_counter(), state.splits[name], state.model
    if not state.assembly.trains_backbone and state.pristine:
        with torch.no_grad():
            x = torch.as_tensor(state.feats(name)).to(state.device)
            logits = model.head.eval()(x).float().cpu().numpy()
    elif state.scored is not None and state.scored[0] is model and state.scored[1] == name:
        logits = state.scored[2]  # compression's last step scored this final model on this split
    else:
        logits = _head_logits(state, model, name, result.frozen_prefix_layers if not state.compression else 0)
    pred = logits.argmax(1)
    metrics = dict(classification_metrics(target.labels, pred, seed=state.seed))
    metrics["split"] = name
    if any("val_accuracy" in h for h in result.history):
        kept = result.best_epoch if result.best_epoch is not None else len(result.history) - 1
        metrics["val_accuracy"] = float(result.history[kept]["val_accuracy"])
    state.timed("evaluate.head", t0)
    state.evaluations["head"] = {"metrics": metrics, "details": {}, "seconds": state.timings["evaluate.head"]}
    state.confusions["head"] = np.asarray(confusion_matrix(target.labels, pred, state.dataset.num_classes)).tolist()


def _run_evaluator(state: RunState, i: int, part: Any, xs: dict[str, Any]) -> None:
    import numpy as np

    from .evaluate import evaluate as run_evaluator

    t0, splits = time.perf_counter(), state.splits
    key = part.name if part.name not in state.evaluations else f"{part.name}.{i}"
    pair = {name: (xs[name], splits[name].labels) for name in ("validation", "test") if name in xs}
    res = run_evaluator(part.component, part.options, train=(xs["train"], splits["train"].labels),
                        validation=pair.get("validation"), test=pair.get("test"), folds=state.recipe.data.folds,
                        seed=state.seed, label_names=state.dataset.label_names)
    state.evaluations[key] = {"metrics": _plain(res.metrics), "details": _plain(res.details),
                              "seconds": round(float(res.seconds), 3)}
    if res.confusion is not None:
        state.confusions[key] = np.asarray(res.confusion).tolist()
    state.timed(f"evaluate.{key}", t0)
    acc = res.metrics.get("accuracy")
    state.log(f"  {key}: accuracy {acc:.4f}" if isinstance(acc, float) else f"  {key}: {res.metrics}")


def record(state: RunState) -> None:
    """Write the trained weights, the confusion matrices, the typed record and the report."""
    from . import report as report_mod
    from .._hashing import sha256_file
    from ..weights import save_file_atomic

    d, recipe = state.directory, state.recipe
    if state.trained_head is not None:
        # one metadata key (safetensors writes a hash map, whose key order varies between processes)
        # and no run id or time in it: two runs of one recipe and seed give byte-identical files
        meta = {"zoo": json.dumps({"format": "zoo.head/1", "recipe": recipe.name, "seed": recipe.seed},
                                  sort_keys=True)}
        files = {"head.safetensors": state.trained_head, "backbone-trainable.safetensors": state.trained_backbone}
        for name, tensors in files.items():
            if tensors:
                state.artifacts[name] = sha256_file(save_file_atomic(tensors, d.path(name), metadata=meta))
    if state.confusions:
        d.write_json("confusion.json", {"label_names": list(state.dataset.label_names), "matrices": state.confusions})
    state.timings["total"] = round(time.perf_counter() - state.t_start, 3)
    state.record = build_record(state)
    d.write_json("record.json", state.record.to_dict())
    report_mod.write_report(d.partial, state.record.to_dict(), confusions=state.confusions,
                            label_names=state.dataset.label_names)


def build_record(state: RunState) -> RunRecord:
    """The :class:`RunRecord` of a run whose stages have all run."""
    from .. import __version__
    from .._hashing import sha256_file
    from .features import weights_digest
    from .record import RECORD_FORMAT, environment, plugin_versions, utc_now

    a, recipe, b = state.assembly, state.recipe, state.backbone
    f = a.freeze
    source = str(Path(recipe.source).resolve()) if recipe.source != "<recipe>" else recipe.source
    return RunRecord(
        format=RECORD_FORMAT, run_id=state.run_id, name=recipe.name, description=recipe.description,
        status="complete", started_at=state.started_at, finished_at=utc_now(),
        recipe={"source": source, "base_dir": str(recipe.base_dir), "overrides": list(recipe.overrides),
                "resolved": recipe.to_dict(), "sha256": sha256_file(state.directory.path("recipe.toml"))},
        options=_plain(recipe.resolved()), environment=environment(), plugins=plugin_versions(),
        components={r: p.to_record() for r, p in a.parts.items() if r != "architecture"},
        backbone={"name": b.pretrained_cfg.name, "repo_id": b.resolved.repo_id, "revision": b.resolved.revision,
                  "files": dict(sorted(b.resolved.sha256.items())), "weights_digest": weights_digest(b.resolved),
                  "preprocessing": b.preprocessing(), "modality": b.modality},
        dataset={**a.bundle.to_record(),
                 "used": {k: {"n": len(v), "fingerprint": v.fingerprint} for k, v in state.splits.items()}},
        seed=recipe.seed, device=a.device, determinism=state.determinism.to_dict(),
        freezing={"policy": recipe.freezing.name, "trainable_params": f.trainable_params,
                  "frozen_params": f.frozen_params, "trainable_tensors": len(f.trainable)},
        training=state.train_result.to_dict() if state.train_result is not None else None,
        compression=state.compression, metrics={k: v["metrics"] for k, v in state.evaluations.items()},
        evaluations=state.evaluations, feature_cache=_plain(state.cache.stats.__dict__), artifacts=state.artifacts,
        timings=state.timings, zoo_version=__version__, distributed=state.dist.to_record(),
        adaptation=_adaptation_record(state))


def _adaptation_record(state: RunState) -> dict[str, Any]:
    """What the record says of the target domain: method, options, criterion, and both scores."""
    a = state.assembly
    if a.target is None:
        return {}
    spec = a.recipe.adaptation
    out: dict[str, Any] = {"target": a.target.record}
    if spec is not None:
        out.update(method=spec.name, options=a.parts["adaptation"].options_dict(), criterion=spec.criterion,
                   source_data=spec.source_data,
                   needs=dataclasses.asdict(a.parts["adaptation"].component.obj.needs))
    return _plain({**out, **state.adaptation})


STAGES: tuple[tuple[str, Callable[[RunState], None]], ...] = (
    ("prepare", prepare), ("adapt", adapt), ("features", features), ("train", train), ("compress", compress),
    ("evaluate", evaluate), ("record", record),
)
"""The stages of every run, in order."""


def execute(assembly: Assembly, *, output_dir: Path | None = None, progress: bool = True,
            verbose: bool = True) -> RunState:
    """Run every stage on ``assembly`` and finalize the run directory; return the final state.

    Raises:
        HookError: a ``zoo_experiment_finish`` hook raised; the run is complete and saved anyway.
        ZooError: a stage failed; the run stays in its ``.partial`` directory.
    """
    import shutil
    import tempfile

    from ..distributed import init_distributed, shutdown
    from ..plugins import get_manager
    from .record import new_run_id

    recipe = assembly.recipe
    # under torchrun: join the process group; rank 0 alone writes, the others write to a scratch directory
    dist, assembly.device = init_distributed(assembly.device)
    scratch = None if dist.is_writer else Path(tempfile.mkdtemp(prefix=f"zoo-rank{dist.rank}-"))
    if scratch is not None:
        output_dir, progress, verbose = scratch, False, False
    directory = RunDirectory(Path(output_dir) if output_dir else recipe.output_dir, new_run_id(recipe.name))
    state = RunState(assembly, directory, _log(verbose), progress, t_start=time.perf_counter(), dist=dist)
    hooks = get_manager().hook
    for name, stage in STAGES:
        state.stage = name
        if name == "features":  # the run directory and the model exist from here on
            hooks.zoo_experiment_start(run=state)
        hooks.zoo_stage_start(run=state, stage=name)
        stage(state)
        hooks.zoo_stage_end(run=state, stage=name)
    shutdown(dist)
    try:
        _finish(state, hooks)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return state


def _finish(state: RunState, hooks: Any) -> None:
    """Call the observing ``zoo_experiment_finish`` hooks, finalize the run, then report a hook failure."""
    from ..errors import HookError

    failure: BaseException | None = None
    try:
        hooks.zoo_experiment_finish(run=state, record=state.record)
    except Exception as exc:  # noqa: BLE001 - an observer must not cost the user the run
        failure = exc
    final = state.directory.finalize()
    state.log(f"zoo run: done in {state.timings['total']:.1f}s -> {final}")
    if failure is not None:
        raise HookError(f"the run finished and is saved in {final}, but a plugin's zoo_experiment_finish hook "
                        f"raised {type(failure).__name__}: {failure}. Fix or disable that plugin "
                        "(ZOO_DISABLE_PLUGINS).", hook="zoo_experiment_finish", run_dir=str(final),
                        cause=failure) from failure


def _plain(value: Any) -> Any:
    """JSON-ready copy: numpy scalars and arrays become Python values."""
    return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))
