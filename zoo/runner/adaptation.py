"""Domain adaptation in a run: the target data, the ``adapt`` stage and the target scores.

The target domain's loader gives a train split, used *without its labels* as the unlabeled
adaptation split (:class:`UnlabeledSplit` has no labels at all), and a test split, whose labels
are read once, by :func:`score_target`, after every prediction is made. Every run with a target
scores source-only and adapted models side by side on the same target test.
"""

from __future__ import annotations

import copy
import hashlib
import time
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["UnlabeledSplit", "TargetData", "load_target", "adapt_backbone", "evaluate_target"]


@dataclass(frozen=True, eq=False)
class UnlabeledSplit:
    """Inputs of a split with its labels left behind: what adaptation methods may see."""

    name: str
    inputs: Any
    modality: str
    fingerprint: str

    def __len__(self) -> int:
        return len(self.inputs)


@dataclass(frozen=True, eq=False)
class TargetData:
    """The target domain: ``adapt`` (unlabeled) and ``test`` (labeled, for the final scores only)."""

    adapt: UnlabeledSplit
    test: Any
    record: dict[str, Any]


def load_target(recipe: Any, part: Any, source_bundle: Any) -> TargetData:
    """Load ``[data.target]``: its train split without labels, its test split (subsets applied)."""
    import numpy as np

    from ..data.dataset import take_inputs
    from ..errors import DatasetError
    from ..data.splits import limit_split as subset

    spec = recipe.target
    bundle = part.component.obj(part.options, base_dir=recipe.base_dir, seed=recipe.seed)
    if bundle.test is None:
        raise DatasetError(f"{recipe.source}: [data.target] gives no test split to score on; set "
                           "data.target.options.test_fraction (e.g. 0.5) or give the loader a test file.")
    if tuple(bundle.label_names) != tuple(source_bundle.label_names):
        raise DatasetError(f"{recipe.source}: the target's classes {list(bundle.label_names)[:8]} differ from the "
                           f"source's {list(source_bundle.label_names)[:8]}; domain adaptation keeps the label set.")
    train = bundle.train
    keep = np.arange(len(train))
    if spec.max_adapt is not None and spec.max_adapt < len(train):  # a plain random subset: no label is read
        keep = np.sort(np.random.default_rng(recipe.seed).permutation(len(train))[: spec.max_adapt])
    digest = hashlib.sha256(keep.astype(np.int64).tobytes()).hexdigest()
    adapt = UnlabeledSplit("target.adapt", take_inputs(train.inputs, keep), train.modality,
                           hashlib.sha256(f"{train.fingerprint}:unlabeled:{digest}".encode()).hexdigest())
    test = subset(bundle.test, spec.max_test, recipe.seed)
    record = {**bundle.to_record(), "used": {"adapt": {"n": len(adapt), "fingerprint": adapt.fingerprint},
                                             "test": {"n": len(test), "fingerprint": test.fingerprint}}}
    return TargetData(adapt, test, record)


def _method(state: Any) -> tuple[Any, Any] | None:
    part = state.assembly.parts.get("adaptation")
    if part is None:
        return None
    return part, part.component.obj(part.options)


def _batches(backbone: Any, inputs: Any, batch_size: int) -> Callable[[int], Any]:
    from ..data.dataset import take_inputs

    def gen(bs: int = batch_size) -> Any:
        import numpy as np

        for i in range(0, len(inputs), bs):
            yield backbone.preprocess(take_inputs(inputs, np.arange(i, min(i + bs, len(inputs)))))

    return gen


def adapt_backbone(state: Any) -> None:
    """The ``adapt`` stage: a model-level method without a head (AdaBN) adapts a copy of the backbone."""
    found = _method(state)
    if found is None or state.assembly.target is None:
        return
    part, method = found
    if method.level != "model" or part.name == "tent":
        return
    t0 = time.perf_counter()
    adapted = copy.deepcopy(state.backbone)
    info = method.adapt(adapted, _batches(adapted, state.assembly.target.adapt.inputs, state.batch_size),
                        seed=state.seed)
    state.target_backbone = adapted
    if getattr(method, "per_domain", False) and state.recipe.adaptation.source_data:
        # AdaBN: the source side is normalized with its own statistics too (source-free: the pretrained ones)
        source = copy.deepcopy(state.backbone)
        method.adapt(source, _batches(source, state.splits["train"].inputs, state.batch_size), seed=state.seed)
        state.source_backbone = source
    state.adaptation["info"] = info
    state.timed("adapt", t0)
    state.log(f"  adapt: {part.name} on {len(state.assembly.target.adapt)} unlabeled target examples")


def _encode(backbone: Any, inputs: Any, batch_size: int) -> Any:
    from .features import encode

    return encode(backbone, inputs, batch_size=batch_size)


def evaluate_target(state: Any) -> None:
    """Source-only and adapted predictions on the target test, for each evaluator and the trained head.

    Every prediction is made before the target test labels are read (once, to score).
    """
    import numpy as np

    target = state.assembly.target
    if target is None:
        return
    t0, found, bs = time.perf_counter(), _method(state), state.batch_size
    x_test = state.target_feats("test", target.test.inputs, target.test.fingerprint)
    predictions: dict[str, dict[str, np.ndarray]] = {}
    for i, part in enumerate(state.assembly.roles("evaluator")):
        predictions[part.name if part.name not in predictions else f"{part.name}.{i}"] = \
            _evaluator_predictions(state, part, found, x_test)
    if state.train_result is not None and not state.assembly.trains_backbone:
        predictions["head"] = _head_predictions(state, found, x_test)
    labels = target.test.labels  # the only read of target labels
    from .metrics import classification_metrics

    scores = {key: {kind: dict(classification_metrics(labels, pred, seed=state.seed)) for kind, pred in preds.items()}
              for key, preds in predictions.items()}
    digests = {key: {kind: hashlib.sha256(np.ascontiguousarray(pred, dtype=np.int64).tobytes()).hexdigest()
                     for kind, pred in preds.items()} for key, preds in predictions.items()}
    state.adaptation.update({"scores": scores, "predictions_sha256": digests})
    state.timed("evaluate.target", t0)
    for key, s in scores.items():
        shown = ", ".join(f"{kind} {m['accuracy']:.4f}" for kind, m in s.items())
        state.log(f"  target test, {key}: {shown}")


def _evaluator_predictions(state: Any, part: Any, found: Any, x_test: Any) -> dict[str, Any]:
    from .evaluate import _fit_best, _params, search_space

    xs, ys = state.feats("train"), state.splits["train"].labels
    target, val = state.assembly.target, state.splits.get("validation")
    params = _params(part.options)
    space = search_space(part.component, part.options)
    if space:  # the evaluator's sweep (e.g. the probe's c_grid), chosen on labeled source data only
        validation = (state.feats("validation"), val.labels) if val is not None else None
        _, info = _fit_best(part.component.obj, params, space, xs, ys, validation, state.seed)
        params = {**params, **info["selected"]}
        state.adaptation.setdefault("evaluator_selection", {})[part.name] = {
            "selected": info["selected"], "selected_on": info["selected_on"]}

    def make() -> Any:
        return part.component.obj(**params)

    source = make().fit(xs, ys)
    out = {"source_only": source.predict(x_test)}
    if found is None:
        return out
    apart, method = found
    if method.level == "features":
        x_adapt = state.target_feats("adapt", target.adapt.inputs, target.adapt.fingerprint)
        adapted = method.fit(make, xs, ys, x_adapt, seed=state.seed)
        out["adapted"] = adapted.predict(x_test)
        x_val = state.feats("validation") if val is not None else None
    elif state.target_backbone is not None:
        adapted, x_val = source, state.feats("validation") if val is not None else None
        if state.source_backbone is not None:
            adapted = make().fit(_encode(state.source_backbone, state.splits["train"].inputs, state.batch_size), ys)
            x_val = _encode(state.source_backbone, val.inputs, state.batch_size) if val is not None else None
        x_adapt = _encode(state.target_backbone, target.adapt.inputs, state.batch_size)
        out["adapted"] = adapted.predict(_encode(state.target_backbone, target.test.inputs, state.batch_size))
    else:
        return out
    if "selection" not in state.adaptation:  # the first evaluator's adapted model is what a sweep chooses by
        _select_score(state, adapted, x_adapt, x_val, xs)
    return out


def _select_score(state: Any, adapted: Any, x_adapt: Any, x_val: Any, xs: Any) -> None:
    """The recipe's label-free criterion on the adapted model: what an adaptation sweep maximizes."""
    from ..adapt.criteria import score_candidate
    from ..errors import AdaptationError

    criterion = state.recipe.adaptation.criterion
    val = state.splits.get("validation")
    try:
        value = score_candidate(criterion, adapted, X_target=x_adapt, X_val=x_val,
                                y_val=val.labels if val is not None else None, X_source=xs, seed=state.seed)
    except AdaptationError as exc:
        state.log(f"  adaptation: no {criterion} score ({exc})")
        return
    state.adaptation["selection"] = {"criterion": criterion, "score": float(value)}


def _head_predictions(state: Any, found: Any, x_test: Any) -> dict[str, Any]:
    import torch

    head = state.model.head.eval()
    with torch.no_grad():
        out = {"source_only": head(torch.as_tensor(x_test).to(state.device)).argmax(1).cpu().numpy()}
    if found is None:
        return out
    apart, method = found
    target = state.assembly.target
    if apart.name == "tent":
        model = copy.deepcopy(state.model)
        gen = _batches(model.backbone, target.adapt.inputs, state.batch_size)
        info = method.adapt(model.backbone, gen, seed=state.seed,
                            logits=lambda batch: model.head(model.backbone.forward_features(batch)))
        state.adaptation["info"] = info
        feats = _encode(model.backbone, target.test.inputs, state.batch_size)
        with torch.no_grad():
            out["adapted"] = model.head.eval()(torch.as_tensor(feats).to(state.device)).argmax(1).cpu().numpy()
    return out  # a head trained under the pretrained statistics is not re-trained for AdaBN: evaluators only
