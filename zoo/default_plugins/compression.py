"""Builtin compression passes: pruning, quantization and distillation.

==================== =========================================================== ==================
Pass                 What it does                                                 Needs
==================== =========================================================== ==================
``magnitude-prune``  zero the smallest weights of every Linear (global, permanent) float weights
``prune-heads``      remove the least important attention heads (BERT)            float weights
``prune-ffn``        remove the least important FFN neurons (BERT)                float weights
``dynamic-int8``     int8 Linear weights, activations quantized per batch (CPU)   float32 weights
``half``             cast to bfloat16 or float16                                  float weights
``weight-int8``      int8 Linear weights + per-channel scales                     float weights
``distill``          train a shallower student on the teacher's outputs           float32, task data
``ort-dynamic-int8`` export to ONNX, int8 MatMul weights, run by ONNX Runtime     float32, [onnx] extra
==================== =========================================================== ==================

Every pass is a :class:`zoo.compress.spec.PassSpec`, so ``zoo.compress.check_order`` refuses
orders that cannot work (pruning after quantization, distilling after unstructured pruning).
The pass functions import torch when they run; importing this module does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..compress.spec import PassSpec
from ..contracts import PassResult
from ..hookspecs import hookimpl

__all__ = [
    "MagnitudePruneOptions",
    "PruneHeadsOptions",
    "PruneFfnOptions",
    "DynamicInt8Options",
    "HalfOptions",
    "WeightInt8Options",
    "DistillOptions",
    "OrtDynamicInt8Options",
    "PASSES",
]

FLOAT = frozenset({"float-weights"})
FLOAT32 = frozenset({"float-weights", "float32"})


# --- options ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MagnitudePruneOptions:
    """Options of ``magnitude-prune``."""

    sparsity: float = field(default=0.5, metadata={"help": "fraction of Linear weights set to zero, in [0, 1)"})
    include_embeddings: bool = field(default=False, metadata={"help": "rank and prune embedding tables too"})
    scope: Literal["global", "layer"] = field(default="global", metadata={
        "help": "'global': rank all weights together; 'layer': every matrix pruned to `sparsity` on its own"})

    def __post_init__(self) -> None:
        if not 0.0 <= self.sparsity < 1.0:
            raise ValueError(f"sparsity must be in [0, 1), got {self.sparsity}")


def _check_amount(fraction: float | None, count: int | None) -> None:
    if fraction is not None and count is not None:
        raise ValueError("give `fraction` or `count`, not both")
    if fraction is not None and not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    if count is not None and count < 0:
        raise ValueError(f"count must be >= 0, got {count}")


@dataclass(frozen=True)
class PruneHeadsOptions:
    """Options of ``prune-heads``."""

    fraction: float | None = field(default=None, metadata={"help": "fraction of heads removed (0.25 when neither "
                                                                     "fraction nor count is given)"})
    count: int | None = field(default=None, metadata={"help": "heads removed: per layer (scope 'layer') or in "
                                                               "total (scope 'global')"})
    scope: Literal["layer", "global"] = field(default="layer", metadata={
        "help": "'layer': the same share in every layer; 'global': rank all heads together, one kept per layer"})

    def __post_init__(self) -> None:
        _check_amount(self.fraction, self.count)


@dataclass(frozen=True)
class PruneFfnOptions:
    """Options of ``prune-ffn``."""

    fraction: float | None = field(default=None, metadata={"help": "fraction of FFN neurons removed (0.5 when "
                                                                     "neither fraction nor count is given)"})
    count: int | None = field(default=None, metadata={"help": "neurons removed: per layer (scope 'layer') or in "
                                                               "total (scope 'global')"})
    scope: Literal["layer", "global"] = field(default="layer", metadata={
        "help": "'layer': the same share in every layer; 'global': rank all neurons together"})

    def __post_init__(self) -> None:
        _check_amount(self.fraction, self.count)


@dataclass(frozen=True)
class DynamicInt8Options:
    """Options of ``dynamic-int8``."""

    per_channel: bool = field(default=True, metadata={"help": "one weight scale per output channel "
                                                                "(False: one per tensor)"})
    skip: tuple[str, ...] = field(default=(), metadata={
        "help": "glob patterns of Linear module names kept in float32, e.g. '*.layer.0.output.dense'"})


@dataclass(frozen=True)
class HalfOptions:
    """Options of ``half``."""

    dtype: Literal["bfloat16", "float16"] = field(default="bfloat16", metadata={
        "help": "target dtype; float16 is slow on CPUs without native fp16 GEMM"})


@dataclass(frozen=True)
class WeightInt8Options:
    """Options of ``weight-int8``."""

    compute_dtype: Literal["float32", "bfloat16"] = field(default="float32", metadata={
        "help": "'float32': dequantize per call (exact float GEMM, slower); 'bfloat16': the int8 CPU kernel "
                "aten._weight_int8pack_mm on bf16 activations"})


@dataclass(frozen=True)
class DistillOptions:
    """Options of ``distill``."""

    student_layers: int = field(default=3, metadata={"help": "layers of the student, copied evenly spaced from "
                                                              "the teacher (3 of 6: layers 0, 2, 4)"})
    layers: tuple[int, ...] = field(default=(), metadata={"help": "teacher layers to copy, overriding "
                                                                   "student_layers (empty: evenly spaced)"})
    objective: Literal["auto", "logits", "embedding"] = field(default="auto", metadata={
        "help": "'logits': Hinton KD on class scores + hard labels; 'embedding': match the teacher's embeddings; "
                "'auto': embedding for a text encoder or unlabelled data, else logits"})
    loss: Literal["cosine", "mse"] = field(default="cosine", metadata={"help": "embedding objective's loss"})
    temperature: float = field(default=2.0, metadata={"help": "softmax temperature T of the logits objective"})
    alpha: float = field(default=0.5, metadata={"help": "weight of the soft (teacher) term; 1 - alpha weighs "
                                                         "the hard labels"})
    epochs: int = field(default=2, metadata={"help": "passes over the training texts"})
    batch_size: int = field(default=32, metadata={"help": "texts per step"})
    lr: float = field(default=5e-4, metadata={"help": "AdamW learning rate (linear decay to 0)"})
    max_texts: int | None = field(default=4000, metadata={"help": "train on at most this many texts (seeded "
                                                                    "sample); None: all"})
    freeze_embeddings: bool = field(default=True, metadata={"help": "keep the embedding tables at the teacher's "
                                                                     "values (much cheaper on CPU)"})
    hidden_weight: float = field(default=0.0, metadata={"help": "weight of a token-level 1 - cos loss between the "
                                                                 "student's and teacher's last hidden states"})

    def __post_init__(self) -> None:
        if self.student_layers < 1 or self.epochs < 1 or self.batch_size < 1:
            raise ValueError("student_layers, epochs and batch_size must be >= 1")
        if not (self.temperature > 0 and 0.0 <= self.alpha <= 1.0 and self.lr > 0 and self.hidden_weight >= 0):
            raise ValueError("need temperature > 0, 0 <= alpha <= 1, lr > 0 and hidden_weight >= 0")


@dataclass(frozen=True)
class OrtDynamicInt8Options:
    """Options of ``ort-dynamic-int8``."""

    per_channel: bool = field(default=True, metadata={"help": "one weight scale per output channel "
                                                                "(False: one per tensor)"})
    reduce_range: bool = field(default=False, metadata={"help": "7-bit weights, for CPUs without VNNI where "
                                                                  "8-bit products can saturate"})


# --- pass functions: (model, options, *, example_inputs, data) -> PassResult(model, info) ----


def _magnitude_prune(model: Any, options: MagnitudePruneOptions | None, **_: Any) -> PassResult:
    from zoo.compress.prune import magnitude_prune

    o = options or MagnitudePruneOptions()
    return PassResult(model, magnitude_prune(model, sparsity=o.sparsity, include_embeddings=o.include_embeddings,
                                              scope=o.scope))


def _prune_heads(model: Any, options: PruneHeadsOptions | None, **_: Any) -> PassResult:
    from zoo.compress.prune import prune_heads

    o = options or PruneHeadsOptions()
    fraction = 0.25 if o.fraction is None and o.count is None else o.fraction
    return PassResult(model, prune_heads(model, fraction=fraction, count=o.count, scope=o.scope))


def _prune_ffn(model: Any, options: PruneFfnOptions | None, **_: Any) -> PassResult:
    from zoo.compress.prune import prune_ffn

    o = options or PruneFfnOptions()
    fraction = 0.5 if o.fraction is None and o.count is None else o.fraction
    return PassResult(model, prune_ffn(model, fraction=fraction, count=o.count, scope=o.scope))


def _dynamic_int8(model: Any, options: DynamicInt8Options | None, **_: Any) -> PassResult:
    from zoo.compress.quantize import dynamic_int8

    o = options or DynamicInt8Options()
    return PassResult(model, dynamic_int8(model, per_channel=o.per_channel, skip=o.skip))


def _half(model: Any, options: HalfOptions | None, **_: Any) -> PassResult:
    from zoo.compress.quantize import cast_half

    return PassResult(model, cast_half(model, dtype=(options or HalfOptions()).dtype))


def _weight_int8(model: Any, options: WeightInt8Options | None, **_: Any) -> PassResult:
    from zoo.compress.quantize import weight_int8

    return PassResult(model, weight_int8(model, compute_dtype=(options or WeightInt8Options()).compute_dtype))


def _distill(model: Any, options: DistillOptions | None, *, data: Any = None, **_: Any) -> PassResult:
    import torch

    from zoo.compress.distill import distill

    o = options or DistillOptions()
    return PassResult(*distill(model, data, student_layers=o.student_layers, layers=o.layers or None, objective=o.objective,
                   loss=o.loss, temperature=o.temperature, alpha=o.alpha, epochs=o.epochs, batch_size=o.batch_size,
                   lr=o.lr, max_texts=o.max_texts, freeze_embeddings=o.freeze_embeddings,
                   hidden_weight=o.hidden_weight, seed=int(torch.initial_seed()) % 2**31))


def _ort_dynamic_int8(model: Any, options: OrtDynamicInt8Options | None, *, example_inputs: Any = None,
                      **_: Any) -> PassResult:
    from zoo.compress.onnxrt import ort_dynamic_int8

    o = options or OrtDynamicInt8Options()
    return PassResult(*ort_dynamic_int8(model, per_channel=o.per_channel, reduce_range=o.reduce_range,
                                        example_inputs=example_inputs))


@dataclass(frozen=True)
class RuntimePassSpec(PassSpec):
    """A pass that hands the model to another runtime (ONNX Runtime): its size is that runtime's
    file, with a fixed container overhead, not torch tensor storage (the kit's size check skips it)."""

    external_runtime = True


PASSES: tuple[tuple[PassSpec, type], ...] = (
    (PassSpec("magnitude-prune", _magnitude_prune, requires=FLOAT, adds=frozenset({"sparse"}),
              doc="Global unstructured magnitude pruning of Linear weights, made permanent (dense zeros: "
                  "no speed-up, same dense file size)."), MagnitudePruneOptions),
    (PassSpec("prune-heads", _prune_heads, requires=FLOAT, capabilities=frozenset({"attention-heads"}),
              doc="Remove the least important attention heads (L1 of q/k/v/out weights) from BERT encoders."),
     PruneHeadsOptions),
    (PassSpec("prune-ffn", _prune_ffn, requires=FLOAT, capabilities=frozenset({"transformer-ffn"}),
              doc="Remove the least important FFN neurons (L1 in x L1 out) from BERT encoders."), PruneFfnOptions),
    (PassSpec("dynamic-int8", _dynamic_int8, requires=FLOAT32, removes=FLOAT32, adds=frozenset({"quantized"}),
              doc="Dynamic int8 quantization of every Linear for CPU (torch.ao quantize_dynamic)."),
     DynamicInt8Options),
    (PassSpec("half", _half, requires=FLOAT, removes=frozenset({"float32"}), adds=frozenset({"half"}),
              doc="Cast the model to bfloat16 or float16."), HalfOptions),
    (PassSpec("weight-int8", _weight_int8, requires=FLOAT, removes=FLOAT32, adds=frozenset({"quantized"}),
              doc="Weight-only int8 Linear layers (int8 weights, per-channel scales)."), WeightInt8Options),
    (PassSpec("distill", _distill, requires=FLOAT32, forbids=frozenset({"sparse"}), needs_data=True,
              capabilities=frozenset({"transformer-layers"}),
              why_forbidden={"sparse": "distillation retrains every weight and would fill in the zeros that "
                                       "unstructured pruning made"},
              doc="Distill into a shallower student (DistilBERT-style layer copy; Hinton KD or embedding "
                  "matching)."), DistillOptions),
    (RuntimePassSpec("ort-dynamic-int8", _ort_dynamic_int8, requires=FLOAT32, removes=FLOAT32,
              adds=frozenset({"quantized", "onnx"}),
              doc="Export to ONNX and run with ONNX Runtime, MatMul weights dynamically quantized to int8 "
                  "(needs the transferzoo[onnx] extra)."), OrtDynamicInt8Options),
)
"""Every builtin pass with its options schema."""


@hookimpl
def register_compression_passes(register) -> None:
    for spec, options in PASSES:
        register(spec.name, spec, summary=spec.doc, options=options)
