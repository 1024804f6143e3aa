"""Quantization for CPU inference: dynamic int8, fp16/bf16 casting, weight-only int8.

- :func:`dynamic_int8` swaps every ``nn.Linear`` for PyTorch's dynamically quantized linear
  (``torch.ao.quantization.quantize_dynamic``): int8 weights, activations quantized per batch,
  int8 GEMM (fbgemm/onednn on x86). ``torch.ao.quantization`` is deprecated in favour of torchao,
  which is not installed here; the warnings it emits are silenced inside the pass.
- :func:`cast_half` casts floating-point parameters and buffers to bfloat16 or float16. On CPUs
  without native fp16 GEMM (most x86), float16 is much *slower* than float32; bfloat16 is fast
  where the CPU has AVX512-BF16/AMX.
- :func:`weight_int8` stores int8 weights with one float32 scale per output channel in
  :class:`WeightInt8Linear`. With ``compute_dtype="bfloat16"`` it runs PyTorch's CPU kernel
  ``aten._weight_int8pack_mm`` (activations in bf16); with ``"float32"`` it dequantizes the
  weight on every call, which saves memory and disk but costs time.
"""

from __future__ import annotations

import fnmatch
import warnings
from contextlib import contextmanager
from typing import Any, Iterator, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import CompressionPassError

__all__ = [
    "DYNAMIC_LINEAR_TYPES",
    "dynamic_int8",
    "cast_half",
    "weight_int8",
    "WeightInt8Linear",
    "has_int8pack_kernel",
    "quiet_ao",
    "quantized_conv_types",
]

HalfDtype = Literal["bfloat16", "float16"]
ComputeDtype = Literal["float32", "bfloat16"]


def _dynamic_linear_types() -> tuple[type, ...]:
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    return (DynamicLinear,)


DYNAMIC_LINEAR_TYPES: tuple[type, ...] = _dynamic_linear_types()
"""Module classes :func:`dynamic_int8` produces."""


@contextmanager
def quiet_ao() -> Iterator[None]:
    """Silence torch.ao's deprecation notices (torchao is the successor; it is not installed)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.ao.*")
        warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization is deprecated.*")
        warnings.filterwarnings("ignore", message=r".*quantize_per_(tensor|channel).*deprecated.*")
        yield


def _float_linears(model: nn.Module, skip: Sequence[str], *, dtype: torch.dtype | None = None) -> list[str]:
    """Names of plain float ``nn.Linear`` modules of ``model`` not matched by a ``skip`` glob pattern."""
    return [
        name for name, m in model.named_modules()
        if type(m) is nn.Linear and m.weight.is_floating_point() and (dtype is None or m.weight.dtype == dtype)
        and not any(fnmatch.fnmatchcase(name, pattern) for pattern in skip)
    ]


def dynamic_int8(model: nn.Module, *, per_channel: bool = True, skip: Sequence[str] = ()) -> dict[str, Any]:
    """Replace every float32 ``nn.Linear`` in ``model`` with a dynamically quantized int8 one, in place.

    ``per_channel`` uses one weight scale per output channel (more accurate, same speed).
    ``skip``: glob patterns of module names left in float32 (e.g. ``"*.layer.0.output.dense"``:
    the FFN output projections of the first layers are the most sensitive in MiniLM).
    Returns ``{"linears", "skipped", "engine", "per_channel"}``.

    Raises:
        CompressionPassError: nothing to quantize, or the platform has no quantized engine.
    """
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

    names = _float_linears(model, skip, dtype=torch.float32)
    if not names:
        raise CompressionPassError("the model has no float32 nn.Linear to quantize (or `skip` matches all of them)",
                                   pass_name="dynamic-int8")
    engine = torch.backends.quantized.engine
    if engine == "none":
        raise CompressionPassError(
            f"no quantized engine on this platform (supported: {torch.backends.quantized.supported_engines})",
            pass_name="dynamic-int8",
        )
    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    skipped = len(_float_linears(model, (), dtype=torch.float32)) - len(names)
    with quiet_ao():
        quantize_dynamic(model, {name: qconfig for name in names}, dtype=torch.qint8, inplace=True)
    return {"linears": len(names), "skipped": skipped, "engine": engine, "per_channel": per_channel}


def cast_half(model: nn.Module, *, dtype: HalfDtype = "bfloat16") -> dict[str, Any]:
    """Cast every floating-point parameter and buffer of ``model`` to ``dtype``, in place."""
    target = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(dtype)
    if target is None:
        raise CompressionPassError(f"dtype must be 'bfloat16' or 'float16', got {dtype!r}", pass_name="half")
    model.to(target)
    return {"dtype": dtype}


def has_int8pack_kernel() -> bool:
    """Whether this torch build has the CPU weight-only int8 GEMM (``aten._weight_int8pack_mm``)."""
    return hasattr(torch.ops.aten, "_weight_int8pack_mm")


class WeightInt8Linear(nn.Module):
    """A linear layer with int8 weights and one float32 scale per output channel (symmetric).

    ``weight ~= weight_int8 * weight_scale[:, None]``. ``compute_dtype="bfloat16"`` runs the
    CPU kernel ``aten._weight_int8pack_mm`` on bf16 activations (output cast back to the input
    dtype); ``"float32"`` dequantizes the weight on each call and runs a float GEMM.
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True,
                 compute_dtype: ComputeDtype = "float32"):
        super().__init__()
        if compute_dtype not in ("float32", "bfloat16"):
            raise CompressionPassError(f"compute_dtype must be 'float32' or 'bfloat16', got {compute_dtype!r}",
                                       pass_name="weight-int8")
        if compute_dtype == "bfloat16" and not has_int8pack_kernel():
            raise CompressionPassError("this torch build has no aten._weight_int8pack_mm; use compute_dtype "
                                       "'float32'", pass_name="weight-int8")
        self.in_features, self.out_features, self.compute_dtype = in_features, out_features, compute_dtype
        self.register_buffer("weight_int8", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.ones(out_features, dtype=torch.float32))
        self.bias = nn.Parameter(torch.zeros(out_features), requires_grad=False) if bias else None

    @classmethod
    def from_linear(cls, linear: nn.Linear, *, compute_dtype: ComputeDtype = "float32") -> "WeightInt8Linear":
        """Quantize ``linear``'s weight symmetrically per output channel (scale = max|w| / 127)."""
        weight = linear.weight.detach().float()
        scale = (weight.abs().amax(dim=1) / 127.0).clamp_min(1e-12)
        q = torch.round(weight / scale[:, None]).clamp_(-127, 127).to(torch.int8)
        new = cls(linear.in_features, linear.out_features, bias=linear.bias is not None, compute_dtype=compute_dtype)
        with torch.no_grad():
            new.weight_int8.copy_(q)
            new.weight_scale.copy_(scale)
            if linear.bias is not None:
                new.bias.copy_(linear.bias.detach().float())
        return new.to(weight.device)

    def dequantized_weight(self, dtype: torch.dtype = torch.float32) -> Tensor:
        return self.weight_int8.to(dtype) * self.weight_scale.to(dtype)[:, None]

    def forward(self, x: Tensor) -> Tensor:
        if self.compute_dtype == "bfloat16":
            flat = x.reshape(-1, self.in_features).to(torch.bfloat16)
            weight = self.weight_int8
            if weight.data_ptr() % 64 or not weight.is_contiguous():  # the kernel crashes on unaligned memory
                weight = weight.contiguous().clone()
            y = torch.ops.aten._weight_int8pack_mm(flat, weight, self.weight_scale.to(torch.bfloat16))
            y = y.to(x.dtype).reshape(*x.shape[:-1], self.out_features)
            return y + self.bias.to(x.dtype) if self.bias is not None else y
        bias = self.bias.to(x.dtype) if self.bias is not None else None
        return F.linear(x, self.dequantized_weight(x.dtype), bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, compute_dtype={self.compute_dtype}")


def _replace_modules(model: nn.Module, predicate: Any, build: Any) -> int:
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if predicate(child):
                setattr(parent, name, build(child))
                count += 1
    return count


def weight_int8(model: nn.Module, *, compute_dtype: ComputeDtype = "float32") -> dict[str, Any]:
    """Replace every floating-point ``nn.Linear`` with a :class:`WeightInt8Linear`, in place.

    Returns ``{"linears", "compute_dtype", "kernel"}`` (``kernel`` names what runs the GEMM).

    Raises:
        CompressionPassError: no float ``nn.Linear``, or ``compute_dtype="bfloat16"`` without the kernel.
    """
    if compute_dtype == "bfloat16" and not has_int8pack_kernel():
        raise CompressionPassError("this torch build has no aten._weight_int8pack_mm; use compute_dtype "
                                   "'float32'", pass_name="weight-int8")
    count = _replace_modules(
        model,
        lambda m: type(m) is nn.Linear and m.weight.is_floating_point(),
        lambda m: WeightInt8Linear.from_linear(m, compute_dtype=compute_dtype),
    )
    if not count:
        raise CompressionPassError("the model has no floating-point nn.Linear to quantize", pass_name="weight-int8")
    kernel = "aten._weight_int8pack_mm (bf16 activations)" if compute_dtype == "bfloat16" else "dequantize + F.linear"
    return {"linears": count, "compute_dtype": compute_dtype, "kernel": kernel}


def quantized_conv_types() -> tuple[type, ...]:
    """Statically quantized convolutions (their int8 weights are packed, as for dynamic Linear)."""
    from torch.ao.nn.quantized.modules.conv import _ConvNd

    return (_ConvNd,)
