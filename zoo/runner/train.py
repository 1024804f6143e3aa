"""Training a transfer model: AdamW, warm-up then decay, early stopping, LLRD, gradual unfreezing.

Two modes share one loop:

* ``features``: the freezing policy leaves the whole backbone frozen, so the backbone's output
  never changes. The head is trained on pre-computed (cached) features; no forward pass through
  the backbone happens during training.
* ``finetune``: some backbone parameters train. Each batch is tokenized and run through the
  backbone (in train mode, so its dropout is active) and the head.

Determinism: batches are drawn from a ``torch.Generator`` seeded from the run seed, the head is
initialized after :func:`zoo.runner.determinism.set_determinism` seeded torch, and no op depends
on timing. Autocast (bf16/fp16) is used on CUDA only; on CPU training runs in fp32.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..distributed import SINGLE, DistContext, DistributedBatchSampler, agree, all_sum, share_loss, wrap
from .model import TransferModel, backbone_groups, frozen_prefix_layers, prefix_states, set_frozen_norms_eval, suffix_logits
from .recipe import TrainingSpec

__all__ = ["TrainResult", "train_head_on_features", "finetune", "predict", "param_groups", "lr_lambda"]


@dataclass(frozen=True)
class TrainResult:
    """What training did: per-epoch history, the epoch kept, and timings."""

    mode: str
    history: tuple[dict[str, float], ...]
    best_epoch: int | None
    stopped_early: bool
    steps: int
    seconds: float
    precision: str
    param_groups: tuple[dict[str, Any], ...] = field(default=())
    frozen_prefix_layers: int = 0
    prefix_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "history": list(self.history),
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "steps": self.steps,
            "seconds": round(self.seconds, 3),
            "precision": self.precision,
            "param_groups": list(self.param_groups),
            "frozen_prefix_layers": self.frozen_prefix_layers,
            "prefix_seconds": round(self.prefix_seconds, 3),
        }


# --- schedule and parameter groups ----------------------------------------------------------


def lr_lambda(spec: TrainingSpec, total_steps: int) -> Callable[[int], float]:
    """Multiplier of the peak LR at a step: linear warm-up, then cosine/linear decay to 0 (or constant)."""
    warmup = int(round(spec.warmup_ratio * total_steps))

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if spec.schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total_steps - warmup)
        progress = min(max(progress, 0.0), 1.0)
        if spec.schedule == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def _group_index(model: TransferModel) -> tuple[dict[str, int], set[str]]:
    """(parameter -> layer index, stem parameters) from the backbone's ``group_matcher()``.

    The first group is the stem (embeddings); the groups after it are layers 0..L-1.
    """
    groups = backbone_groups(model)
    if not groups:
        return {}, set()
    layers = {n: i for i, (_, names) in enumerate(groups[1:]) for n in names}
    return layers, set(groups[0][1])


def param_groups(model: TransferModel, spec: TrainingSpec) -> list[dict[str, Any]]:
    """AdamW parameter groups: head vs backbone, decay vs no-decay, and one per layer with LLRD.

    Layers come from the backbone's ``group_matcher()``: with ``layer_lr_decay = d`` and L layer
    groups after the stem, layer i gets ``backbone_lr * d**(L-1-i)`` (the top layer the full
    backbone LR), the stem (embeddings) ``backbone_lr * d**L``. Biases and other 1-d parameters
    (norms) get no weight decay.
    """
    backbone_lr = spec.backbone_lr if spec.backbone_lr is not None else spec.lr
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    layers, stem = _group_index(model) if any(n.startswith("backbone.") for n, _ in named) else ({}, set())
    count = max(layers.values()) + 1 if layers else 0
    groups: dict[tuple[str, float, float], dict[str, Any]] = {}
    for name, param in named:
        if name.startswith("head."):
            part, lr = "head", spec.lr
        elif name in layers:
            part, lr = f"layer{layers[name]}", backbone_lr * spec.layer_lr_decay ** (count - 1 - layers[name])
        elif name in stem:
            part, lr = "embeddings", backbone_lr * spec.layer_lr_decay ** count
        else:
            part, lr = "backbone", backbone_lr
        decay = 0.0 if param.ndim < 2 else spec.weight_decay
        key = (part, lr, decay)
        group = groups.setdefault(key, {"name": f"{part}{'' if decay else '/no_decay'}", "params": [], "names": [],
                                        "lr": lr, "weight_decay": decay})
        group["params"].append(param)
        group["names"].append(name)
    return list(groups.values())


def _unfreeze_units(model: TransferModel, trainable: set[str]) -> list[set[str]]:
    """ULMFiT units, top first: the head, then each trainable layer group from the top, then the rest."""
    names = [n for n, _ in model.named_parameters() if n in trainable]
    layers = {n: i for n, i in _group_index(model)[0].items() if n in trainable}
    head = {n for n in names if n.startswith("head.")}
    units = [head]
    for index in sorted(set(layers.values()), reverse=True):
        units.append({n for n, i in layers.items() if i == index})
    rest = set(names) - head - set(layers)
    if rest:
        units.append(rest)
    return units


# --- the loop -------------------------------------------------------------------------------


def _autocast(device: torch.device, precision: str):
    import contextlib

    if device.type == "cuda" and precision in ("bf16", "fp16"):
        return torch.autocast("cuda", dtype=torch.bfloat16 if precision == "bf16" else torch.float16)
    return contextlib.nullcontext()


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="batch", leave=False, disable=None if enabled else True)


def _fit(
    model: TransferModel,
    spec: TrainingSpec,
    *,
    mode: str,
    n_train: int,
    labels: Tensor,
    logits_of: Callable[[Tensor], Tensor],
    evaluate: Callable[[], tuple[float, float] | None],
    device: torch.device,
    seed: int,
    on_epoch: Callable[[int, dict[str, float]], None] | None,
    progress: bool,
    lengths: np.ndarray | None = None,
    dist: DistContext = SINGLE,
) -> TrainResult:
    start, precision = time.perf_counter(), (spec.precision if device.type == "cuda" else "fp32")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    groups, group_info, optimizer = _optimizer(model, spec)
    sampler = DistributedBatchSampler(n_train, spec.batch_size, seed=seed, rank=dist.rank, world_size=dist.world_size,
                                      lengths=lengths, bucket_batches=BUCKET_BATCHES)
    steps_per_epoch = len(sampler)
    total = steps_per_epoch * spec.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(spec, total))
    head_group = next((i for i, g in enumerate(groups) if g["name"].startswith("head")), 0)  # the LR logged
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    forward = wrap(model, logits_of, dist, device=str(device), find_unused_parameters=spec.gradual_unfreezing)
    units = _unfreeze_units(model, trainable) if spec.gradual_unfreezing else None
    params = dict(model.named_parameters())

    history: list[dict[str, float]] = []
    best: tuple[float, int, dict[str, Tensor]] | None = None
    stale, stopped, step = 0, False, 0
    for epoch in range(spec.epochs):
        t0 = time.perf_counter()
        _unfreeze_for_epoch(units, epoch, trainable, params)
        model.train()
        set_frozen_norms_eval(model)
        sampler.set_epoch(epoch)
        with _progress(steps_per_epoch, f"epoch {epoch + 1}/{spec.epochs}", progress) as bar:
            running, seen, steps = _epoch(model, spec, sampler, forward, labels, device, precision, dist, bar,
                                          lambda loss: _step(loss, model, spec, optimizer, scheduler, scaler))
        step += steps
        if dist.active:  # the mean over every rank's examples
            running, seen = all_sum(running, dist), int(all_sum(seen, dist))
        val = evaluate()
        metrics = _epoch_metrics(epoch, running / max(seen, 1), scheduler.get_last_lr()[head_group], val, t0)
        history.append(metrics)
        if on_epoch is not None:
            on_epoch(epoch, {k: float(v) for k, v in metrics.items() if k != "epoch"})
        if val is not None and spec.early_stopping is not None:
            best, stale = _keep_best(best, stale, val[1], epoch, params, trainable)
            if agree(stale >= spec.early_stopping, dist):  # every rank stops together
                stopped = True
                break
    for name in trainable:  # gradual unfreezing leaves every trainable parameter trainable again
        params[name].requires_grad_(True)
    best_epoch = _restore(params, best)
    model.eval()
    return TrainResult(mode, tuple(history), best_epoch, stopped, step, time.perf_counter() - start, precision, group_info)


def _unfreeze_for_epoch(units: list[set[str]] | None, epoch: int, trainable: set[str],
                        params: dict[str, Tensor]) -> None:
    """Gradual unfreezing: epoch e trains the units 0..e (all of them once they run out)."""
    if units is None:
        return
    active = set().union(*units[: epoch + 1]) if epoch + 1 < len(units) else trainable
    for name in trainable:
        params[name].requires_grad_(name in active)


def _epoch_metrics(epoch: int, train_loss: float, lr: float, val: tuple[float, float] | None,
                   t0: float) -> dict[str, float]:
    metrics = {"epoch": epoch, "train_loss": train_loss, "lr": lr}
    if val is not None:
        metrics["val_loss"], metrics["val_accuracy"] = val
    metrics["seconds"] = time.perf_counter() - t0
    return metrics


def _optimizer(model: TransferModel, spec: TrainingSpec) -> tuple[list[dict[str, Any]], tuple[dict[str, Any], ...], Any]:
    """AdamW over :func:`param_groups`: (groups, their description for the record, optimizer)."""
    groups = param_groups(model, spec)
    info = tuple({"name": g["name"], "lr": g["lr"], "weight_decay": g["weight_decay"],
                  "tensors": len(g["params"]), "params": int(sum(p.numel() for p in g["params"]))} for g in groups)
    optimizer = torch.optim.AdamW([{k: v for k, v in g.items() if k != "names"} for g in groups],
                                  lr=spec.lr, weight_decay=spec.weight_decay, foreach=False)
    return groups, info, optimizer


def _keep_best(best: Any, stale: int, score: float, epoch: int, params: dict[str, Tensor],
               trainable: set[str]) -> tuple[Any, int]:
    """Early stopping's bookkeeping: a copy of the trainable weights of the best epoch so far."""
    if best is None or score > best[0]:
        return (score, epoch, {n: params[n].detach().clone() for n in trainable}), 0
    return best, stale + 1


def _step(loss: Tensor, model: nn.Module, spec: TrainingSpec, optimizer: Any, scheduler: Any, scaler: Any) -> None:
    """Backward, clip, step the optimizer and the schedule, clear the gradients."""
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
    else:
        loss.backward()
    if spec.grad_clip is not None:
        nn.utils.clip_grad_norm_([p for p in model.parameters() if p.grad is not None], spec.grad_clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)


def _epoch(model: nn.Module, spec: TrainingSpec, sampler: Any, forward: Callable[[Tensor], Tensor], labels: Tensor,
           device: torch.device, precision: str, dist: DistContext, bar: Any,
           step: Callable[[Tensor], None]) -> tuple[float, int, int]:
    """One pass over this rank's batches: (summed loss, examples seen, steps)."""
    running, seen, steps = 0.0, 0, 0
    for idx, global_batch in sampler:
        target = labels[idx].to(device)
        with _autocast(device, precision):
            logits = forward(idx)
            if dist.active:  # DDP averages over ranks: the mean over the global batch
                loss = share_loss(F.cross_entropy(logits.float(), target, label_smoothing=spec.label_smoothing,
                                                  reduction="sum"), global_batch, dist)
            else:
                loss = F.cross_entropy(logits.float(), target, label_smoothing=spec.label_smoothing)
        step(loss)
        running += float(loss.detach()) * (global_batch / dist.world_size if dist.active else len(idx))
        seen += len(idx)
        steps += 1
        bar.update(1)
        bar.set_postfix(loss=f"{running / seen:.4f}")
    return running, seen, steps


def _restore(params: dict[str, Tensor], best: tuple[float, int, dict[str, Tensor]] | None) -> int | None:
    """Copy the best epoch's weights back (early stopping); return that epoch, or None."""
    if best is None:
        return None
    with torch.no_grad():
        for name, value in best[2].items():
            params[name].copy_(value)
    return best[1]


BUCKET_BATCHES = 50
"""With lengths, batches are formed within shuffled chunks of this many batches sorted by length
(see :class:`zoo.distributed.DistributedBatchSampler`, which draws every run's batches)."""


def _val_metrics(logits: Tensor, labels: Tensor) -> tuple[float, float]:
    loss = F.cross_entropy(logits.float(), labels).item()
    acc = (logits.argmax(1) == labels).float().mean().item()
    return loss, acc


def train_head_on_features(
    model: TransferModel,
    spec: TrainingSpec,
    *,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray] | None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    progress: bool = True,
    dist: DistContext = SINGLE,
) -> TrainResult:
    """Train ``model.head`` on fixed backbone features (the backbone must be frozen).

    ``dist``: with several ``torchrun`` processes, each takes its share of every batch under DDP.
    """
    device = torch.device(device)
    x = torch.from_numpy(np.array(train[0], dtype=np.float32)).to(device)  # a copy: cached features are read-only maps
    y = torch.tensor(np.asarray(train[1]), dtype=torch.long)
    xv = yv = None
    if validation is not None and len(validation[1]):
        xv = torch.from_numpy(np.array(validation[0], dtype=np.float32)).to(device)
        yv = torch.tensor(np.asarray(validation[1]), dtype=torch.long).to(device)

    def evaluate() -> tuple[float, float] | None:
        if xv is None:
            return None
        model.head.eval()
        with torch.no_grad():
            return _val_metrics(model.head(xv), yv)

    return _fit(model, spec, mode="features", n_train=len(y), labels=y, logits_of=lambda idx: model.head(x[idx.to(device)]),
                evaluate=evaluate, device=device, seed=seed, on_epoch=on_epoch, progress=progress, dist=dist)


def _lengths(inputs: Sequence[Any]) -> np.ndarray:
    """Sort keys that put similar inputs together: text length; 0 for anything else."""
    return np.array([len(x) if isinstance(x, str) else 0 for x in inputs])


def predict(model: TransferModel, texts: Sequence[Any], *, batch_size: int = 64,
            device: str | torch.device = "cpu", precision: str = "fp32", prefix_layers: int = 0) -> np.ndarray:
    """Logits of ``model`` on raw inputs (eval mode, texts batched longest first), float32 ``(N, C)``.

    ``prefix_layers > 0`` runs the frozen stem and first groups once per input, then the rest
    (the same computation, in two steps; see :func:`zoo.runner.model.prefix_states`).
    """
    device = torch.device(device)
    texts = list(texts)
    order = np.argsort(-_lengths(texts), kind="stable")
    out: Tensor | None = None
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            chunk = [texts[i] for i in idx]
            with _autocast(device, precision):
                if prefix_layers:
                    states = prefix_states(model, chunk, prefix_layers, batch_size=len(chunk))
                    logits = suffix_logits(model, states, prefix_layers).float().cpu()
                else:
                    logits = model(model.backbone.preprocess(chunk)).float().cpu()
            if out is None:
                out = torch.empty(len(texts), logits.shape[1])
            out[torch.from_numpy(idx)] = logits
    return (out if out is not None else torch.empty(0, 0)).numpy()


_Steps = tuple[Callable[[Tensor], Tensor], Callable[[], "tuple[float, float] | None"]]


def _prefix_steps(model: TransferModel, texts: list[str], validation: tuple[Sequence[str], np.ndarray] | None, *,
                  k: int, batch_size: int, device: torch.device, precision: str) -> _Steps:
    """(logits of a batch, validation metrics) over the frozen first k layers' states, computed once."""
    train_states = prefix_states(model, texts, k, batch_size=batch_size)
    val_states = (prefix_states(model, list(validation[0]), k, batch_size=batch_size)
                  if validation is not None and len(validation[1]) else None)

    def logits_of(idx: Tensor) -> Tensor:
        return suffix_logits(model, [train_states[i] for i in idx.tolist()], k)

    def evaluate() -> tuple[float, float] | None:
        if val_states is None:
            return None
        model.eval()
        chunks = []
        with torch.no_grad(), _autocast(device, precision):
            for start in range(0, len(val_states), batch_size):
                chunks.append(suffix_logits(model, val_states[start:start + batch_size], k).float().cpu())
        return _val_metrics(torch.cat(chunks), torch.tensor(np.asarray(validation[1]), dtype=torch.long))

    return logits_of, evaluate


def _full_steps(model: TransferModel, texts: list[str], validation: tuple[Sequence[str], np.ndarray] | None, *,
                k: int, batch_size: int, device: torch.device, precision: str) -> _Steps:
    """(logits of a batch, validation metrics) through the whole model."""

    def logits_of(idx: Tensor) -> Tensor:
        return model(model.backbone.preprocess([texts[i] for i in idx.tolist()]))

    def evaluate() -> tuple[float, float] | None:
        if validation is None or not len(validation[1]):
            return None
        logits = torch.from_numpy(predict(model, list(validation[0]), batch_size=batch_size,
                                          device=device, precision=precision))
        return _val_metrics(logits, torch.tensor(np.asarray(validation[1]), dtype=torch.long))

    return logits_of, evaluate


def finetune(
    model: TransferModel,
    spec: TrainingSpec,
    *,
    train: tuple[Sequence[str], np.ndarray],
    validation: tuple[Sequence[str], np.ndarray] | None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    eval_batch_size: int = 64,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    progress: bool = True,
    reuse_frozen_prefix: bool = True,
    dist: DistContext = SINGLE,
) -> TrainResult:
    """Train the head and the trainable backbone parameters end to end on texts.

    When the embeddings and the first k encoder layers are all frozen (``first-k``), their output
    is computed once per text in eval mode (no dropout in frozen layers) and each step runs only
    the remaining layers: the same gradients for a fraction of the compute. Gradual unfreezing
    never unfreezes those layers, so the shortcut holds throughout.
    """
    device = torch.device(device)
    texts = list(train[0])
    y = torch.tensor(np.asarray(train[1]), dtype=torch.long)
    k = frozen_prefix_layers(model) if reuse_frozen_prefix else 0
    precision = spec.precision if device.type == "cuda" else "fp32"
    build = _prefix_steps if k else _full_steps
    t0 = time.perf_counter()
    logits_of, evaluate = build(model, texts, validation, k=k, batch_size=eval_batch_size, device=device,
                                precision=precision)
    prefix_seconds = time.perf_counter() - t0 if k else 0.0
    result = _fit(model, spec, mode="finetune", n_train=len(y), labels=y, logits_of=logits_of,
                  evaluate=evaluate, device=device, seed=seed, on_epoch=on_epoch, progress=progress,
                  lengths=_lengths(texts) if any(isinstance(t, str) for t in texts[:1]) else None, dist=dist)
    return dataclasses.replace(result, frozen_prefix_layers=k, seconds=result.seconds + prefix_seconds,
                               prefix_seconds=prefix_seconds)
