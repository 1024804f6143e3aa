"""The orchestrator: one validated recipe in, one recorded run directory out.

Steps, in order: determinism settings; the run directory (``.partial``); the dataset (and any
subsets); the backbone (verified against the registry); head and freezing policy; training
(on cached features when the backbone is frozen, end to end otherwise); compression passes;
evaluators on the backbone's features; the head's own test metrics; the record, the head's
weights and the report; then the rename that marks the run complete.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .recipe import Recipe, load_recipe

__all__ = ["RunContext", "RunResult", "run_recipe", "run_file", "weights_digest", "preprocessing_of"]


@dataclass
class RunContext:
    """The ``run`` object lifecycle hooks receive. Read attributes with ``getattr(run, name, None)``."""

    run_id: str
    recipe: Recipe
    run_dir: Path
    seed: int
    device: str
    dataset: Any = None
    backbone: Any = None
    model: Any = None
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class RunResult:
    """A finished run: its id, directory, record and metrics."""

    run_id: str
    run_dir: Path
    record: Mapping[str, Any]

    @property
    def metrics(self) -> Mapping[str, Any]:
        return self.record["metrics"]

    @property
    def seconds(self) -> float:
        return self.record["timings"]["total"]


def weights_digest(resolved: Any) -> str:
    """One sha256 naming a backbone's weights: over each verified file's name and sha256."""
    from ..data.hashing import fingerprint

    return fingerprint({"repo": resolved.repo_id, "revision": resolved.revision, "files": dict(sorted(resolved.sha256.items()))})


def preprocessing_of(encoder: Any) -> dict[str, Any]:
    """What turns a text into features besides the weights: the feature-cache key's preprocessing part."""
    return {"max_seq_length": encoder.max_seq_length, "pooling": encoder.pooling, "normalize": encoder.normalize,
            "do_lower_case": bool(getattr(encoder, "_do_lower_case", False)),
            "text_prefix": str(getattr(encoder, "text_prefix", "") or ""), "dtype": "float32"}


def _subset(split: Any, limit: int | None, seed: int) -> Any:
    if split is None or limit is None or limit >= len(split):
        return split
    import numpy as np

    from ..data.splits import stratified_split
    from ..errors import DatasetError

    try:
        kept, _ = stratified_split(split.labels, fraction=1 - limit / len(split), seed=seed)
    except DatasetError:
        kept = np.sort(np.random.default_rng(seed).permutation(len(split))[:limit])
    return split.subset(kept, name=split.name)


class _Log:
    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, message: str) -> None:
        if self.enabled:
            print(message, file=sys.stderr, flush=True)


def run_recipe(recipe: Recipe, *, overrides: Sequence[str] = (), progress: bool = True,
               verbose: bool = True, output_dir: Path | None = None) -> RunResult:
    """Run one recipe (a sweep recipe runs as a single trial with its base values).

    Raises:
        RecipeError: an override does not validate.
        ZooError: a backbone, dataset or plugin problem (see :mod:`zoo.errors`).
    """
    import numpy as np
    import torch

    from .. import __version__
    from ..builder import load_backbone, resolve_device
    from ..config import settings
    from ..plugins import get_component, get_manager, validate_options
    from ..weights import save_file_atomic
    from . import report as report_mod
    from .evaluate import evaluate
    from .features import FeatureCache
    from .metrics import classification_metrics
    from .determinism import set_determinism
    from .model import TransferModel, head_state, set_max_seq_length
    from .record import RunDirectory, environment, new_run_id, plugin_versions, utc_now
    from .train import finetune, predict, train_head_on_features
    from ..distributed import init_distributed, shutdown

    if overrides:
        recipe = recipe.with_overrides(overrides)
    log = _Log(verbose)
    t_start, started_at = time.perf_counter(), utc_now()
    timings: dict[str, float] = {}

    def phase(name: str, t0: float) -> None:
        timings[name] = round(time.perf_counter() - t0, 3)

    # under torchrun: join the process group; rank 0 alone writes, the others write to a scratch directory
    dist_ctx, device = init_distributed(resolve_device(recipe.device))
    scratch = None if dist_ctx.is_writer else Path(tempfile.mkdtemp(prefix=f"zoo-rank{dist_ctx.rank}-"))
    if scratch is not None:
        output_dir, progress, log = scratch, False, _Log(False)
    determinism = set_determinism(recipe.seed, device=device, threads=recipe.threads)
    run_dir = RunDirectory(Path(output_dir) if output_dir else recipe.output_dir, new_run_id(recipe.name))
    run_dir.create()
    run_dir.write_text("recipe.toml", _recipe_toml(recipe))
    ctx = RunContext(run_dir.run_id, recipe, run_dir.partial, recipe.seed, device)
    log(f"zoo run: {recipe.name} -> {run_dir.partial}")
    pm = get_manager()
    components: dict[str, Any] = {}

    # data -----------------------------------------------------------------------------------
    t0 = time.perf_counter()
    loader = get_component("dataset", recipe.data.loader)
    components["dataset"] = loader
    bundle = loader.obj(validate_options(loader, recipe.data.options), base_dir=recipe.base_dir, seed=recipe.seed)
    splits = {
        "train": _subset(bundle.train, recipe.data.max_train, recipe.seed),
        "validation": _subset(bundle.validation, recipe.data.max_validation, recipe.seed),
        "test": _subset(bundle.test, recipe.data.max_test, recipe.seed),
    }
    splits = {k: v for k, v in splits.items() if v is not None}
    ctx.dataset = bundle
    phase("load_data", t0)
    log("  data: " + ", ".join(f"{k} {len(v)}" for k, v in splits.items()) + f", {bundle.num_classes} classes")

    # backbone, head, freezing -----------------------------------------------------------------
    t0 = time.perf_counter()
    encoder = load_backbone(recipe.backbone.name, device=device)
    if recipe.backbone.max_seq_length is not None:
        set_max_seq_length(encoder, recipe.backbone.max_seq_length)
    ctx.backbone = encoder
    phase("load_backbone", t0)
    head_c = components["head"] = get_component("head", recipe.head.name)
    freeze_c = components["freezing"] = get_component("freezing", recipe.freezing.name)
    torch.manual_seed(recipe.seed)  # the head's initialization depends on the seed only
    head = head_c.obj(encoder.embedding_dim, bundle.num_classes, validate_options(head_c, recipe.head.options))
    model = TransferModel(encoder, head).to(device)
    freeze = freeze_c.obj(model, validate_options(freeze_c, recipe.freezing.options), head_prefix="head")
    ctx.model = model
    trainable_backbone = [n for n in freeze.trainable if n.startswith("backbone.")]
    log(f"  backbone: {encoder.pretrained_cfg.name} ({encoder.resolved.repo_id}@{encoder.resolved.revision[:12]}), "
        f"trainable {freeze.trainable_params:,} of {freeze.total_params:,} parameters")

    cache = FeatureCache(settings().feature_cache)
    wdigest = weights_digest(encoder.resolved)
    pristine = {"backbone": True}
    features: dict[str, np.ndarray] = {}

    def feats(name: str) -> np.ndarray:
        if name not in features:
            split = splits[name]
            if pristine["backbone"]:
                features[name] = cache.get_or_compute(
                    encoder, split.inputs, weights_sha256=wdigest, dataset_fingerprint=split.fingerprint,
                    split=name, preprocessing=preprocessing_of(encoder), batch_size=recipe.backbone.batch_size)
            else:
                features[name] = encoder.encode(list(split.inputs), batch_size=recipe.backbone.batch_size)
        return features[name]

    pm.hook.zoo_experiment_start(run=ctx)

    # training -------------------------------------------------------------------------------
    train_result = None
    head_metrics: dict[str, Any] | None = None
    head_confusion = None
    spec = recipe.training
    if spec.epochs > 0:
        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            ctx.history.append({"epoch": epoch, **metrics})
            shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k != "seconds")
            log(f"  epoch {epoch + 1}/{spec.epochs}: {shown} ({metrics['seconds']:.1f}s)")
            pm.hook.zoo_epoch_end(run=ctx, epoch=epoch, metrics=metrics)

        val = splits.get("validation")
        if not trainable_backbone:
            t0 = time.perf_counter()
            xtr = feats("train")
            xval = feats("validation") if val is not None else None
            phase("features_for_training", t0)
            t0 = time.perf_counter()
            train_result = train_head_on_features(
                model, spec, train=(xtr, splits["train"].labels),
                validation=(xval, val.labels) if val is not None else None,
                device=device, seed=recipe.seed, on_epoch=on_epoch, progress=progress, dist=dist_ctx)
        else:
            t0 = time.perf_counter()
            pristine["backbone"] = False
            train_result = finetune(
                model, spec, train=(splits["train"].inputs, splits["train"].labels),
                validation=(val.inputs, val.labels) if val is not None else None, device=device,
                seed=recipe.seed, eval_batch_size=recipe.backbone.batch_size, on_epoch=on_epoch, progress=progress,
                dist=dist_ctx)
        phase("train", t0)

    # the trained weights, taken before any compression pass changes their format
    trained_head = head_state(model) if train_result is not None else None
    trained_backbone: dict[str, Any] = {}
    if train_result is not None and trainable_backbone:
        params = dict(model.named_parameters())
        trained_backbone = {n: params[n].detach().cpu().contiguous() for n in trainable_backbone if n in params}

    # compression ----------------------------------------------------------------------------
    compression_record: dict[str, Any] = {}
    if recipe.compression:
        t0 = time.perf_counter()
        model, compression_record = _compress(recipe, model, splits, device, components, train_result, log)
        ctx.model = model
        encoder = model.backbone
        pristine["backbone"] = False
        features.clear()
        phase("compression", t0)

    # the head's own metrics -------------------------------------------------------------------
    eval_split = "test" if "test" in splits else ("validation" if "validation" in splits else None)
    if train_result is not None and eval_split is not None:
        t0 = time.perf_counter()
        target = splits[eval_split]
        if not trainable_backbone and pristine["backbone"]:
            with torch.no_grad():
                logits = model.head.eval()(torch.as_tensor(feats(eval_split)).to(device)).float().cpu().numpy()
        else:
            prefix = train_result.frozen_prefix_layers if not recipe.compression else 0
            logits = predict(model, list(target.inputs), batch_size=recipe.backbone.batch_size, device=device,
                             precision=train_result.precision, prefix_layers=prefix)
        pred = logits.argmax(1)
        head_metrics = dict(classification_metrics(target.labels, pred, seed=recipe.seed))
        head_metrics["split"] = eval_split
        last_val = [h["val_accuracy"] for h in train_result.history if "val_accuracy" in h]
        if last_val:
            kept = train_result.best_epoch if train_result.best_epoch is not None else len(train_result.history) - 1
            head_metrics["val_accuracy"] = float(train_result.history[kept]["val_accuracy"])
        head_confusion = _confusion(target.labels, pred, bundle.num_classes)
        phase("evaluate.head", t0)

    # evaluators -----------------------------------------------------------------------------
    evaluations: dict[str, Any] = {}
    confusions: dict[str, Any] = {}
    if head_metrics is not None:
        evaluations["head"] = {"metrics": head_metrics, "details": {}, "seconds": timings.get("evaluate.head")}
        confusions["head"] = head_confusion
    if recipe.evaluators:
        t0 = time.perf_counter()
        xs = {name: feats(name) for name in splits}
        phase("features", t0)
        for i, espec in enumerate(recipe.evaluators):
            t0 = time.perf_counter()
            comp = components[f"evaluator.{i}"] = get_component("evaluator", espec.name)
            key = espec.name if espec.name not in evaluations else f"{espec.name}.{i}"
            res = evaluate(comp, validate_options(comp, espec.options),
                           train=(xs["train"], splits["train"].labels),
                           validation=(xs["validation"], splits["validation"].labels) if "validation" in xs else None,
                           test=(xs["test"], splits["test"].labels) if "test" in xs else None,
                           folds=recipe.data.folds, seed=recipe.seed, label_names=bundle.label_names)
            evaluations[key] = {"metrics": _plain(res.metrics), "details": _plain(res.details),
                                "seconds": round(float(res.seconds), 3)}
            if res.confusion is not None:
                confusions[key] = np.asarray(res.confusion).tolist()
            phase(f"evaluate.{key}", t0)
            acc = res.metrics.get("accuracy")
            log(f"  {key}: accuracy {acc:.4f}" if isinstance(acc, float) else f"  {key}: {res.metrics}")

    # outputs --------------------------------------------------------------------------------
    artifacts: dict[str, str] = {}
    if train_result is not None:
        # one metadata key (safetensors writes a hash map, whose key order varies between processes)
        # and no run id or time in it: two runs of one recipe and seed give byte-identical files
        meta = {"zoo": json.dumps({"format": "zoo.head/1", "recipe": recipe.name, "seed": recipe.seed}, sort_keys=True)}
        path = save_file_atomic(trained_head, run_dir.path("head.safetensors"), metadata=meta)
        artifacts["head.safetensors"] = _sha256(path)
        if trained_backbone:
            path = save_file_atomic(trained_backbone, run_dir.path("backbone-trainable.safetensors"), metadata=meta)
            artifacts["backbone-trainable.safetensors"] = _sha256(path)
    if confusions:
        run_dir.write_json("confusion.json", {"label_names": list(bundle.label_names), "matrices": confusions})

    timings["total"] = round(time.perf_counter() - t_start, 3)
    record = {
        "format": 1,
        "run_id": run_dir.run_id,
        "name": recipe.name,
        "description": recipe.description,
        "status": "complete",
        "started_at": started_at,
        "finished_at": utc_now(),
        "recipe": {"source": str(Path(recipe.source).resolve()) if recipe.source != "<recipe>" else recipe.source,
                   "base_dir": str(recipe.base_dir), "overrides": list(recipe.overrides),
                   "resolved": recipe.to_dict()},
        "environment": environment(),
        "plugins": plugin_versions(),
        "components": {k: {"name": c.name, "plugin": c.plugin, "distribution": c.distribution, "version": c.version}
                       for k, c in components.items()},
        "backbone": {
            "name": encoder.pretrained_cfg.name if hasattr(encoder, "pretrained_cfg") else recipe.backbone.name,
            "repo_id": ctx.backbone.resolved.repo_id,
            "revision": ctx.backbone.resolved.revision,
            "files": dict(sorted(ctx.backbone.resolved.sha256.items())),
            "weights_digest": wdigest,
            "preprocessing": preprocessing_of(ctx.backbone),
        },
        "dataset": {**bundle.to_record(),
                    "used": {k: {"n": len(v), "fingerprint": v.fingerprint} for k, v in splits.items()}},
        "seed": recipe.seed,
        "device": device,
        "determinism": determinism.to_dict(),
        "distributed": dist_ctx.to_record(),
        "freezing": {"policy": recipe.freezing.name, "trainable_params": freeze.trainable_params,
                     "frozen_params": freeze.frozen_params, "trainable_tensors": len(freeze.trainable)},
        "training": train_result.to_dict() if train_result is not None else None,
        "compression": compression_record,
        "metrics": {k: v["metrics"] for k, v in evaluations.items()},
        "evaluations": evaluations,
        "feature_cache": _cache_stats(cache),
        "artifacts": artifacts,
        "timings": timings,
        "zoo_version": __version__,
    }
    run_dir.write_json("record.json", record)
    report_mod.write_report(run_dir.partial, record, confusions=confusions, label_names=bundle.label_names)
    pm.hook.zoo_experiment_finish(run=ctx, record=record)
    final = run_dir.finalize()
    ctx.run_dir = final
    log(f"zoo run: done in {timings['total']:.1f}s -> {final}")
    shutdown(dist_ctx)
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
    return RunResult(run_dir.run_id, final, record)


THROUGHPUT_TEXTS = 512
"""Real sentences (of the scored split) the trade-off table's throughput is measured on."""


def _compress(recipe: Recipe, model: Any, splits: Mapping[str, Any], device: str, components: dict[str, Any],
              train_result: Any, log: Callable[[str], None]) -> tuple[Any, dict[str, Any]]:
    """Run the recipe's compression passes in order through :func:`zoo.compress.run_passes`.

    Each step is measured (parameters, non-zeros, size on disk, median CPU latency per batch,
    throughput) and, when a head was trained, scored with that head on the evaluation split;
    the trade-off table is printed and returned for the record.
    """
    import numpy as np

    from ..compress import TrainingData, format_table, run_passes
    from ..plugins import get_component
    from .train import predict

    for i, cspec in enumerate(recipe.compression):
        components[f"compression.{i}"] = get_component("compression", cspec.name)
    source = splits.get("validation") or splits["train"]
    batch = {k: v.to(device) for k, v in model.backbone.tokenize(list(source.inputs[:32])).items()}
    target = splits.get("test") or splits.get("validation")
    evaluate = None
    if train_result is not None and target is not None:
        def evaluate(m: Any) -> float:
            logits = predict(m, list(target.inputs), batch_size=recipe.backbone.batch_size, device=device)
            return float((logits.argmax(1) == np.asarray(target.labels)).mean())
    data = TrainingData(list(splits["train"].inputs), [int(x) for x in splits["train"].labels])
    texts = list((target or source).inputs[:THROUGHPUT_TEXTS])

    def run_texts(m: Any, chunk: Any) -> Any:  # what a user runs: tokenize, batch, encode, head
        backbone = getattr(m, "backbone", None)
        if backbone is not None and backbone is not m and hasattr(backbone, "encode") and hasattr(m, "head"):
            return m.head(backbone.encode(chunk, batch_size=recipe.backbone.batch_size, convert_to_numpy=False))
        if hasattr(m, "encode"):  # e.g. an ONNX Runtime graph of the whole model
            return m.encode(chunk, batch_size=recipe.backbone.batch_size)
        return predict(m, chunk, batch_size=recipe.backbone.batch_size, device=device)

    result = run_passes([(c.name, dict(c.options)) for c in recipe.compression], model, evaluate=evaluate,
                        example_inputs=(batch,), data=data, seed=recipe.seed, texts=texts, run_texts=run_texts)
    log(format_table(result.rows))
    return result.model, {"passes": _plain(result.record), "tradeoffs": [_plain(r.to_dict()) for r in result.rows],
                          "metric": "head accuracy on " + (target.name if evaluate else "(no trained head)")}


def run_file(path: str | Path, *, overrides: Sequence[str] = (), **kwargs: Any) -> RunResult:
    """Load, validate and run the recipe at ``path``."""
    return run_recipe(load_recipe(path, overrides=overrides), **kwargs)


def _recipe_toml(recipe: Recipe) -> str:

    header = (f"# resolved recipe of a zoo run: {recipe.source}\n"
              f"# overrides: {' '.join(recipe.overrides) or '(none)'}\n"
              f"# relative paths are relative to: {recipe.base_dir}\n")
    return header + _dumps_with_arrays(recipe.to_dict())


def _dumps_with_arrays(data: Mapping[str, Any]) -> str:
    """``_toml.dumps`` plus arrays of tables (``[[evaluators]]``)."""
    from .._toml import dumps

    plain = {k: v for k, v in data.items() if not (isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v))}
    out = dumps(plain)
    for key, items in data.items():
        if key in plain:
            continue
        for item in items:
            out += f"\n[[{key}]]\n" + dumps({k: v for k, v in item.items() if not isinstance(v, Mapping)})
            for sub, table in item.items():
                if isinstance(table, Mapping):
                    out += f"[{key}.{sub}]\n" + dumps(table)
    return out


def _confusion(y_true: Any, y_pred: Any, n: int) -> list[list[int]]:
    import numpy as np

    m = np.zeros((n, n), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return m.tolist()


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _cache_stats(cache: Any) -> dict[str, Any]:
    stats = getattr(cache, "stats", None)
    if callable(stats):
        stats = stats()
    if isinstance(stats, Mapping):
        return _plain(dict(stats))
    if stats is not None and hasattr(stats, "__dataclass_fields__"):
        import dataclasses

        return _plain(dataclasses.asdict(stats))
    return {"hits": getattr(cache, "hits", None), "misses": getattr(cache, "misses", None)}


def _plain(value: Any) -> Any:
    """JSON-ready copy: numpy scalars and arrays become Python values."""
    return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))
