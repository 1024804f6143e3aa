"""Knowledge distillation into a shallower BERT (Hinton et al. 2015; DistilBERT-style init).

The student is a copy of the teacher that keeps only some of its layers (every other one by
default: layers 0, 2, 4 of a 6-layer teacher), so it starts from the teacher's own weights.
It is then trained on the task texts with one of two objectives:

``logits``     the model's outputs are class scores: ``alpha * T^2 * KL(softmax(t/T) || softmax(s/T))
               + (1 - alpha) * cross_entropy(s, labels)`` (without labels: the KL term only)
``embedding``  the model's outputs are embeddings (a bare text encoder): the student matches
               the teacher's embeddings, ``1 - cos(s, t)`` (``loss="cosine"``) or squared error

The teacher's outputs are computed once, in eval mode; the student trains in train mode (with
dropout) with AdamW, a linear learning-rate decay and gradient clipping at 1.0, from a seeded
generator, so a run is reproducible on the same machine and torch version.

Texts become a batch ``{"input_ids", "attention_mask", "token_type_ids"}`` through the
``tokenize`` method of the model or of the first module inside it that has one
(:class:`zoo.models.text.TextEncoder` does). A model whose ``forward`` names ``input_ids`` is
called with those tensors as keywords (a text encoder); any other is called as ``model(batch)``
(the runner's ``TransferModel``).
"""

from __future__ import annotations

import copy
import inspect
import math
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.compress.spec import TrainingData
from zoo.compress.structure import require_berts
from zoo.errors import CompressionPassError

__all__ = ["make_student", "every_other_layer", "distill", "find_tokenize"]

Objective = Literal["auto", "logits", "embedding"]


def every_other_layer(num_layers: int, student_layers: int) -> list[int]:
    """Teacher layers a student of ``student_layers`` copies: evenly spaced, starting at 0.

    ``every_other_layer(6, 3) == [0, 2, 4]``; ``every_other_layer(12, 4) == [0, 3, 6, 9]``.
    """
    if not 1 <= student_layers <= num_layers:
        raise CompressionPassError(f"student_layers must be in [1, {num_layers}], got {student_layers}",
                                   pass_name="distill")
    step = num_layers / student_layers
    return [int(math.floor(i * step)) for i in range(student_layers)]


def make_student(teacher: nn.Module, *, layers: Sequence[int]) -> nn.Module:
    """A deep copy of ``teacher`` whose BERT encoders keep only ``layers`` (teacher indices, in order)."""
    import dataclasses

    student = copy.deepcopy(teacher)
    for _, bert in require_berts(student, "distill"):
        old = list(bert.encoder.layer)
        bad = [i for i in layers if not 0 <= i < len(old)]
        if bad or not layers or sorted(set(layers)) != list(layers):
            raise CompressionPassError(
                f"layers must be distinct, increasing indices of the teacher's {len(old)} layers; got {list(layers)}",
                pass_name="distill",
            )
        bert.encoder.layer = nn.ModuleList(old[i] for i in layers)
        bert.config = dataclasses.replace(bert.config, num_hidden_layers=len(layers))
    return student


def find_tokenize(model: nn.Module) -> Callable[[Sequence[str]], dict[str, Tensor]]:
    """The ``tokenize`` of ``model`` or of the first submodule that has one."""
    for module in model.modules():
        fn = getattr(module, "tokenize", None)
        if callable(fn):
            return fn
    raise CompressionPassError(
        f"{type(model).__name__} has no `tokenize(texts)` (nor does any module inside it); distillation "
        f"needs one to turn texts into input_ids/attention_mask/token_type_ids.", pass_name="distill"
    )


def _call(model: nn.Module, batch: dict[str, Tensor]) -> Any:
    """``model(input_ids=..., ...)`` when its forward names ``input_ids``, else ``model(batch)``."""
    params = inspect.signature(model.forward).parameters
    if "input_ids" in params:
        return model(**{k: v for k, v in batch.items() if k in params})
    return model(batch)


def _outputs(model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    out = _call(model, batch)
    if not isinstance(out, Tensor):
        raise CompressionPassError(f"the model returned {type(out).__name__}; distillation needs a tensor output",
                                   pass_name="distill")
    return out.float()


def _resolve_objective(objective: Objective, model: nn.Module, data: TrainingData) -> str:
    if objective != "auto":
        return objective
    from zoo.models.text import TextEncoder

    return "embedding" if isinstance(model, TextEncoder) or data.labels is None else "logits"


def _loss(student: Tensor, teacher: Tensor, labels: Tensor | None, *, objective: str, loss: str,
          temperature: float, alpha: float) -> Tensor:
    if objective == "embedding":
        if loss == "cosine":
            return (1.0 - F.cosine_similarity(student, teacher, dim=-1)).mean()
        return (student - teacher).pow(2).sum(-1).mean()
    t = temperature
    soft = F.kl_div(F.log_softmax(student / t, -1), F.log_softmax(teacher / t, -1), log_target=True,
                    reduction="batchmean") * (t * t)
    if labels is None:
        return soft
    return alpha * soft + (1.0 - alpha) * F.cross_entropy(student, labels)


@contextmanager
def _capture(module: nn.Module | None) -> Iterator[list[Tensor]]:
    """Collect the outputs of ``module`` (the encoder's last hidden states) while the block runs."""
    box: list[Tensor] = []
    if module is None:
        yield box
        return
    handle = module.register_forward_hook(lambda _m, _i, out: box.append(out))
    try:
        yield box
    finally:
        handle.remove()


@torch.no_grad()
def _teacher_outputs(teacher: nn.Module, tokenize: Callable, texts: Sequence[str], batch_size: int,
                     bert: nn.Module | None) -> tuple[Tensor, list[Tensor] | None]:
    """The teacher's outputs per text and, with ``bert``, its last hidden states per text (real tokens only)."""
    was = teacher.training
    teacher.eval()
    chunks, hidden = [], ([] if bert is not None else None)
    try:
        for i in range(0, len(texts), batch_size):
            batch = tokenize(texts[i : i + batch_size])
            with _capture(bert) as box:
                chunks.append(_outputs(teacher, batch))
            if hidden is not None:
                lengths = batch["attention_mask"].sum(1).tolist()
                hidden.extend(box[0][j, :n].float().clone() for j, n in enumerate(lengths))
    finally:
        teacher.train(was)
    return torch.cat(chunks), hidden


def _hidden_loss(student_hidden: Tensor, teacher_hidden: list[Tensor], mask: Tensor) -> Tensor:
    """Mean ``1 - cos`` between student and teacher token states over the real tokens."""
    lengths = mask.sum(1).tolist()
    s = torch.cat([student_hidden[j, :n] for j, n in enumerate(lengths)]).float()
    t = torch.cat(teacher_hidden)
    return (1.0 - F.cosine_similarity(s, t, dim=-1)).mean()


def distill(
    teacher: nn.Module,
    data: TrainingData,
    *,
    student_layers: int = 3,
    layers: Sequence[int] | None = None,
    objective: Objective = "auto",
    loss: Literal["cosine", "mse"] = "cosine",
    temperature: float = 2.0,
    alpha: float = 0.5,
    epochs: int = 2,
    batch_size: int = 32,
    lr: float = 5e-4,
    max_texts: int | None = None,
    freeze_embeddings: bool = True,
    hidden_weight: float = 0.0,
    seed: int = 0,
) -> tuple[nn.Module, dict[str, Any]]:
    """Train a shallower copy of ``teacher`` to reproduce its outputs; return ``(student, info)``.

    ``layers`` (teacher indices) overrides ``student_layers`` (evenly spaced from layer 0).
    ``max_texts`` caps the training texts (the first ones of a seeded shuffle).
    ``freeze_embeddings`` keeps the encoders' embedding tables at the teacher's values (on CPU
    most of a small BERT's parameters are its word embeddings: updating them costs more than
    the three layers do). ``hidden_weight`` adds that weight times a token-level ``1 - cos``
    between the student's and the teacher's last hidden states (DistilBERT's cosine loss),
    which gives far more signal per sentence than the pooled output alone. ``info`` has the
    objective, layers kept, steps, seconds, and the mean loss of the first and last epoch.

    Raises:
        CompressionPassError: no BERT encoder or tokenizer, bad options, or ``objective="logits"``
            with outputs that are not class scores for the labels.
    """
    if not data.texts:
        raise CompressionPassError("no training texts", pass_name="distill")
    if not (temperature > 0 and 0.0 <= alpha <= 1.0 and epochs >= 1 and batch_size >= 1 and lr > 0
            and hidden_weight >= 0):
        raise CompressionPassError(
            f"need temperature > 0, 0 <= alpha <= 1, epochs >= 1, batch_size >= 1, lr > 0, hidden_weight >= 0; got "
            f"temperature={temperature}, alpha={alpha}, epochs={epochs}, batch_size={batch_size}, lr={lr}, "
            f"hidden_weight={hidden_weight}", pass_name="distill")
    (_, bert), *_ = require_berts(teacher, "distill")
    keep = list(layers) if layers is not None else every_other_layer(len(bert.encoder.layer), student_layers)
    objective_used = _resolve_objective(objective, teacher, data)
    tokenize = find_tokenize(teacher)

    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(data.texts), generator=gen).tolist()
    if max_texts is not None:
        order = order[:max_texts]
    texts = [data.texts[i] for i in order]
    labels = torch.tensor([int(data.labels[i]) for i in order]) if data.labels is not None else None

    start = time.perf_counter()
    targets, hidden = _teacher_outputs(teacher, tokenize, texts, 64, bert if hidden_weight > 0 else None)
    if objective_used == "logits" and labels is not None and int(labels.max()) >= targets.shape[-1]:
        raise CompressionPassError(
            f"objective 'logits' needs class scores, but the model outputs {targets.shape[-1]} values and labels go "
            f"up to {int(labels.max())}; use objective='embedding' for an encoder.", pass_name="distill")

    student = make_student(teacher, layers=keep)
    student_bert = require_berts(student, "distill")[0][1] if hidden is not None else None
    frozen = {id(p) for _, b in require_berts(student, "distill") for p in b.embeddings.parameters()}
    params = [p for p in student.parameters()
              if p.is_floating_point() and not (freeze_embeddings and id(p) in frozen)]
    flags = [p.requires_grad for p in params]  # restored after training
    for p in params:
        p.requires_grad_(True)
    steps_per_epoch = math.ceil(len(texts) / batch_size)
    total = steps_per_epoch * epochs
    optim = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda step: max(0.0, 1.0 - step / total))
    epoch_loss: list[float] = []
    student.train()
    for _ in range(epochs):
        perm = torch.randperm(len(texts), generator=gen).tolist()
        running = 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * batch_size : (s + 1) * batch_size]
            batch = tokenize([texts[i] for i in idx])
            with _capture(student_bert) as box:
                out = _outputs(student, batch)
            value = _loss(out, targets[idx], labels[idx] if labels is not None else None, objective=objective_used,
                          loss=loss, temperature=temperature, alpha=alpha)
            if hidden is not None:
                states = [hidden[i] for i in idx]
                value = value + hidden_weight * _hidden_loss(box[0], states, batch["attention_mask"])
            optim.zero_grad(set_to_none=True)
            value.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optim.step()
            sched.step()
            running += float(value.detach())
        epoch_loss.append(running / steps_per_epoch)
    student.eval()
    for p, flag in zip(params, flags):
        p.requires_grad_(flag)
    info = {"objective": objective_used, "layers": keep, "texts": len(texts), "steps": total,
            "trained_params": sum(p.numel() for p in params),
            "seconds": round(time.perf_counter() - start, 1), "loss_first_epoch": epoch_loss[0],
            "loss_last_epoch": epoch_loss[-1]}
    return student, info
