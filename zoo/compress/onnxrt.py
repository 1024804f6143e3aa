"""ONNX Runtime dynamic int8: the model exported to ONNX, its MatMul weights quantized, run by onnxruntime.

:func:`ort_dynamic_int8` traces the model as it is called (``model(batch_dict)`` for a
:class:`~zoo.runner.model.TransferModel`, ``model(input_ids, attention_mask, token_type_ids)``
for an encoder), quantizes it with ``onnxruntime.quantization.quantize_dynamic`` (int8 weights,
activations quantized per batch, like torch's ``dynamic-int8``) and returns an
:class:`OrtModule`: an ``nn.Module`` called like the original, whose forward runs the quantized
graph (a transfer model's graph also outputs the pooled ``embeddings``, which :meth:`OrtModule.encode`
returns). Its only tensor is the ONNX file itself (a uint8 buffer), so the size in the trade-off
table is the file's size. ONNX Runtime uses as many intra-op threads as torch is set to
(``torch.get_num_threads()`` at call time), so latency is measured under the same thread setting
as the torch rows.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from zoo.errors import CompressionPassError

__all__ = ["OrtModule", "ort_dynamic_int8"]

class OrtModule(nn.Module):
    """An ONNX graph run by ONNX Runtime, called like the torch module it was exported from.

    ``call`` is ``"mapping"`` (one dict of named tensors) or ``"positional"``; ``tokenize`` (when the
    source was a text model) gives the inputs for texts, so ``OrtModule.backbone.tokenize`` works
    where code expects a transfer model's backbone.
    """

    def __init__(self, data: bytes, *, input_names: Sequence[str], call: str, preprocess: Any = None):
        super().__init__()
        self.register_buffer("onnx_file", torch.frombuffer(bytearray(data), dtype=torch.uint8))
        self.input_names, self.call = tuple(input_names), call
        self.preprocessor = preprocess
        self._sessions: dict[int, Any] = {}

    @property
    def backbone(self) -> "OrtModule":
        return self

    def tokenize(self, texts: Sequence[str]) -> dict[str, Tensor]:
        if self.preprocessor is None:
            raise CompressionPassError("this graph was not exported from a text model; it cannot tokenize",
                                       pass_name="ort-dynamic-int8")
        return self.preprocessor.tokenize(texts)

    def preprocess(self, inputs: Sequence[str]) -> dict[str, Tensor]:
        """Raw texts to one batch (``zoo.contracts.Backbone.preprocess``): the exported model's tokenizer."""
        return self.tokenize(list(inputs))

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, **_: Any) -> np.ndarray:
        """Embeddings of ``texts`` (the pooled features of a transfer model, the output of an encoder)."""
        from zoo.onnxgraph import longest_first

        names = {o.name for o in self._session().get_outputs()}
        output = "embeddings" if "embeddings" in names else "output"

        def run(chunk: list[str]) -> np.ndarray:
            tok = self.tokenize(chunk)
            return self._run({k: tok[k] for k in self.input_names}, output)

        return longest_first(texts, batch_size, run)

    def _session(self) -> Any:
        from zoo.onnxgraph import session

        threads = torch.get_num_threads()
        if threads not in self._sessions:
            self._sessions[threads] = session(self.onnx_file.numpy().tobytes(), threads=threads)
        return self._sessions[threads]

    def forward(self, *args: Any) -> Tensor:
        if self.call == "mapping":
            batch: Mapping[str, Any] = args[0]
            feeds = {k: batch[k] for k in self.input_names}
        else:
            feeds = dict(zip(self.input_names, args))
        return torch.from_numpy(self._run(feeds, "output"))

    def _run(self, feeds: Mapping[str, Any], output: str) -> np.ndarray:
        feeds = {k: np.ascontiguousarray(v.detach().cpu().numpy()) for k, v in feeds.items() if v is not None}
        return self._session().run([output], feeds)[0]

    def onnx_weight_tensors(self) -> Iterator[Tensor]:
        """The graph's weights (int8 and float initializers; not the quantization scales and zero points)."""
        import onnx
        from onnx import numpy_helper

        model = onnx.load_from_string(self.onnx_file.numpy().tobytes())
        for init in model.graph.initializer:
            if init.name.endswith(("_scale", "_zero_point")):
                continue
            array = numpy_helper.to_array(init)
            if array.ndim >= 1 and array.size > 1:
                yield torch.from_numpy(np.array(array))

    def __getstate__(self) -> dict[str, Any]:  # sessions are not copyable; deepcopy makes new ones
        state = self.__dict__.copy()
        state["_sessions"] = {}
        return state

    def extra_repr(self) -> str:
        return f"onnx={self.onnx_file.numel() / 1e6:.1f} MB, inputs={list(self.input_names)}, call={self.call}"


def _example(model: nn.Module, example_inputs: tuple[Any, ...] | None) -> tuple[str, list[str], list[Tensor]]:
    if example_inputs:
        first = example_inputs[0]
        if isinstance(first, Mapping):
            names = list(first)
            return "mapping", names, [first[k].detach().cpu() for k in names]
        names = ["input_ids", "attention_mask", "token_type_ids"][: len(example_inputs)]
        return "positional", names, [t.detach().cpu() for t in example_inputs]
    tokenize = getattr(getattr(model, "backbone", model), "tokenize", None)
    if tokenize is None:
        raise CompressionPassError("needs example inputs to trace a model that cannot tokenize texts",
                                   pass_name="ort-dynamic-int8")
    from zoo.onnxgraph import EXAMPLE_TEXTS

    batch = {k: v.cpu() for k, v in tokenize(EXAMPLE_TEXTS).items()}
    call = "mapping" if hasattr(model, "backbone") else "positional"
    return call, list(batch), list(batch.values())


def ort_dynamic_int8(model: nn.Module, *, per_channel: bool = True, reduce_range: bool = False,
                     example_inputs: tuple[Any, ...] | None = None) -> tuple[OrtModule, dict[str, Any]]:
    """Export ``model`` to ONNX, quantize its MatMul weights to int8, and wrap the result.

    Returns ``(module, info)`` with info ``{"onnx_bytes_fp32", "onnx_bytes_int8", "per_channel",
    "reduce_range", "onnxruntime"}``.

    Raises:
        MissingExtraError: onnx/onnxruntime are not installed.
        CompressionPassError: the model is not float32 or cannot be traced.
    """
    from zoo.onnxgraph import TextPreprocessor, onnx_bytes, require_onnx

    _, ort = require_onnx("the ort-dynamic-int8 compression pass")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if any(p.dtype != torch.float32 for p in model.parameters()):
        raise CompressionPassError("needs float32 weights", pass_name="ort-dynamic-int8")
    call, names, tensors = _example(model.cpu(), example_inputs)

    # a transfer model also gives its pooled embeddings, so that evaluators after the pass see features
    two = call == "mapping" and hasattr(model, "embed") and hasattr(model, "head")

    class Positional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, *xs: Tensor) -> Any:
            if two:
                emb = self.inner.embed(dict(zip(names, xs)))
                return self.inner.head(emb), emb
            return self.inner(dict(zip(names, xs))) if call == "mapping" else self.inner(*xs)

    outputs = ["output", "embeddings"] if two else ["output"]
    axes = {n: ({0: "batch", 1: "sequence"} if t.dim() == 2 and not t.is_floating_point() else {0: "batch"})
            for n, t in zip(names, tensors)}
    axes.update({o: {0: "batch"} for o in outputs})
    try:
        data = onnx_bytes(Positional(), tensors, input_names=names, output_names=outputs, dynamic_axes=axes)
    except Exception as exc:
        raise CompressionPassError(f"torch.onnx.export failed: {exc}", pass_name="ort-dynamic-int8") from exc
    with tempfile.TemporaryDirectory(prefix="zoo-ort-") as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(data)
        import logging

        level = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic logs a pre-processing hint at WARNING
        try:
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=per_channel,
                             reduce_range=reduce_range, op_types_to_quantize=["MatMul"])
        finally:
            logging.getLogger().setLevel(level)
        quantized = dst.read_bytes()
    encoder = getattr(model, "backbone", model)
    preprocess = TextPreprocessor.of(encoder) if hasattr(encoder, "tokenizer") else None
    module = OrtModule(quantized, input_names=names, call=call, preprocess=preprocess)
    info = {"onnx_bytes_fp32": len(data), "onnx_bytes_int8": len(quantized), "per_channel": per_channel,
            "reduce_range": reduce_range, "onnxruntime": ort.__version__}
    return module, info
