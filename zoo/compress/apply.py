"""One pass at a time: the order check, applying a pass and measuring what it changed, replaying
recorded passes. :mod:`zoo.compress.pipeline` runs lists of passes on top of this; saved models
(:mod:`zoo.compress.serialize`) replay their passes through it.
"""

from __future__ import annotations

import math
import random
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from zoo.compress.spec import INITIAL_STATE, TAGS, PassSpec, TrainingData, resolve_passes
from zoo.contracts import CompressionReport, PassResult, module_size_bytes
from zoo.errors import CompressionOrderError, CompressionPassError

__all__ = ["check_order", "apply_spec", "replay"]


# --- order --------------------------------------------------------------------------------


def _order_error(message: str, *, step: int, name: str, blocker: str | None) -> CompressionOrderError:
    err = CompressionOrderError(message)
    err.step, err.pass_name, err.blocker = step, name, blocker
    return err


def check_order(passes: Sequence[Any], *, initial: frozenset[str] = INITIAL_STATE,
                manager: Any = None) -> list[frozenset[str]]:
    """Check that every pass finds the model in a state it can work on; return the state after each.

    Raises:
        CompressionOrderError: a pass needs something an earlier pass took away (pruning after
            quantization), or would undo an earlier pass (distillation after unstructured
            pruning). The message names both passes and the order that works; the error has
            ``step`` (1-based), ``pass_name`` and ``blocker`` attributes.
    """
    resolved = resolve_passes(passes, manager=manager)
    state, states = frozenset(initial), []
    changed_by: dict[str, tuple[int, str, Any]] = {}
    for step, rp in enumerate(resolved, start=1):
        spec = rp.spec
        missing = sorted(frozenset(getattr(spec, "requires", ())) - state)
        if missing:
            tag = missing[0]
            if tag in changed_by:
                at, blocker, other = changed_by[tag]
                problem = (f"compression pass {step} {rp.name!r} needs {TAGS.get(tag, tag)}, but pass {at} "
                           f"{blocker!r} before it took them away.")
                back = sorted(frozenset(getattr(other, "requires", ())) & frozenset(getattr(spec, "removes", ())))
                fix = (f" The other order fails too ({blocker!r} needs {TAGS.get(back[0], back[0])}, which "
                       f"{rp.name!r} takes away): keep only one of them." if back
                       else f" Put {rp.name!r} before {blocker!r} in the list.")
                raise _order_error(problem + fix, step=step, name=rp.name, blocker=blocker)
            raise _order_error(f"compression pass {step} {rp.name!r} needs {TAGS.get(tag, tag)}, which the model "
                               f"does not have at that point.", step=step, name=rp.name, blocker=None)
        clash = sorted(frozenset(getattr(spec, "forbids", ())) & state)
        if clash:
            tag = clash[0]
            at, blocker, _ = changed_by.get(tag, (0, "the input model", None))
            why = getattr(spec, "why_forbidden", {}).get(tag, f"it cannot work on {TAGS.get(tag, tag)}")
            raise _order_error(
                f"compression pass {step} {rp.name!r} cannot run after pass {at} {blocker!r}: {why}. "
                f"Put {rp.name!r} before {blocker!r} in the list.", step=step, name=rp.name, blocker=blocker)
        after = spec.after(state) if isinstance(spec, PassSpec) else state
        for tag in (state - after) | (after - state):
            changed_by[tag] = (step, rp.name, spec)
        state = after
        states.append(state)
    return states


# --- one pass -----------------------------------------------------------------------------


def _seed(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover
        pass


def _forward(model: nn.Module, inputs: tuple[Any, ...] | None) -> Any:
    if inputs is None:
        return None
    was = model.training
    model.eval()
    try:
        with torch.inference_mode():
            return model(*inputs)
    finally:
        model.train(was)


def _deviation(before: Any, after: Any) -> float:
    """Largest absolute output change, plus float32 rounding slack (inf when outputs are not comparable)."""
    if not (isinstance(before, torch.Tensor) and isinstance(after, torch.Tensor)) or before.shape != after.shape:
        return math.inf
    before, after = before.float(), after.float()
    slack = 1e-6 * max(1.0, float(before.abs().max())) if before.numel() else 0.0
    return float((before - after).abs().max()) + slack if before.numel() else 0.0


def _bytes(model: nn.Module) -> int:
    """Tensor storage: :func:`zoo.contracts.module_size_bytes` plus the packed int8 weights it cannot see."""
    from zoo.compress.quantize import DYNAMIC_LINEAR_TYPES, quantized_conv_types, quiet_ao

    packed = DYNAMIC_LINEAR_TYPES + quantized_conv_types()
    total = module_size_bytes(model)
    for module in model.modules():
        if isinstance(module, packed):
            with quiet_ao():
                weight, bias = module.weight(), module.bias()
            total += weight.numel() * weight.element_size() + (bias.numel() * bias.element_size() if bias is not None
                                                                 else 0)
    return total


def _apply(spec: Any, model: nn.Module, options: Any, *, example_inputs: tuple[Any, ...] | None,
           data: TrainingData | None) -> tuple[CompressionReport, dict[str, Any]]:
    name = getattr(spec, "name", type(spec).__name__)
    if getattr(spec, "needs_data", False) and data is None:
        raise CompressionPassError("trains on task data: pass data=TrainingData(texts, labels)", pass_name=name)
    original = _bytes(model)
    reference = _forward(model, example_inputs)
    fn = spec.fn if isinstance(spec, PassSpec) else spec  # a bare callable following CompressionPass
    result = fn(model, options, example_inputs=example_inputs, data=data)
    if not isinstance(result, PassResult):
        raise CompressionPassError(f"returned {type(result).__name__}; a pass returns zoo.contracts.PassResult("
                                   "model, info)", pass_name=name)
    new, info = result.model, dict(result.info or {})
    atol = _deviation(reference, _forward(new, example_inputs)) if example_inputs is not None else math.inf
    return CompressionReport(new, _bytes(new), original, atol, 0.0, info), info


def apply_spec(spec: PassSpec, model: nn.Module, options: Any = None, *, example_inputs: tuple[Any, ...] | None = None,
               data: TrainingData | None = None) -> CompressionReport:
    """Apply one pass and report sizes and the largest output change on ``example_inputs`` (``atol``)."""
    return _apply(spec, model, options, example_inputs=example_inputs, data=data)[0]


def replay(passes: Sequence[Mapping[str, Any]], model: nn.Module, *, seed: int = 0, manager: Any = None) -> nn.Module:
    """Re-apply recorded passes (``{"pass": name, "options": {...}}``) to ``model`` in place, as run_passes did.

    Raises:
        CompressionPassError: a recorded pass trains on data and cannot be replayed.
    """
    resolved = resolve_passes([(p["pass"], p.get("options") or {}) for p in passes], manager=manager)
    check_order(resolved)
    for step, rp in enumerate(resolved, start=1):
        if rp.spec_needs_data:
            raise CompressionPassError("trains on task data and cannot be replayed from a record", pass_name=rp.name)
        _seed(seed + step)
        model = _apply(rp.spec, model, rp.options, example_inputs=None, data=None)[0].model
    return model
