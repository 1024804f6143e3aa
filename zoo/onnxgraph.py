"""ONNX Runtime as a deployment target: export a text model to one ``.onnx`` file and run it.

:func:`export_onnx` writes backbone (+ head) as an ONNX graph with dynamic batch and sequence
axes (``torch.onnx.export``), inputs ``input_ids``, ``attention_mask``, ``token_type_ids`` (int64),
outputs ``embeddings`` (pooled, normalized as the backbone declares) and, with a head,
``logits``. The file is self-contained: its ``metadata_props`` carry the tokenizer
(``zoo.tokenizer``, the ``tokenizer.json`` text with truncation and padding), what else turns a
text into inputs (``zoo.preprocessing``), the label names (``zoo.labels``), where the weights come
from (``zoo.source``) and the parity check (``zoo.parity``). :class:`OnnxModel` reads such a file
and embeds or classifies texts with ``onnxruntime``; nothing else from zoo is needed.

The graph is traced with the TorchScript exporter (``dynamo=False``): for these encoders it is
about four times faster than the dynamo exporter and writes one file instead of a graph plus an
external-data file, with the same numbers (max abs difference 2e-7 either way on MiniLM).

onnx and onnxruntime are the ``transferzoo[onnx]`` extra; without them every entry point raises
:class:`~zoo.errors.MissingExtraError` saying how to install it.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import ExportError, MissingExtraError

__all__ = [
    "FORMAT",
    "INPUTS",
    "TextPreprocessor",
    "ParityReport",
    "OnnxModel",
    "require_onnx",
    "EXAMPLE_TEXTS",
    "longest_first",
    "onnx_bytes",
    "add_metadata",
    "session",
    "export_onnx",
    "check_parity",
]

FORMAT = "zoo.onnx/1"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17


def require_onnx(feature: str = "ONNX export") -> tuple[Any, Any]:
    """``(onnx, onnxruntime)``, or :class:`MissingExtraError` naming the extra to install."""
    try:
        import onnx
    except ImportError:
        raise MissingExtraError(package="onnx", extra="onnx", feature=feature) from None
    try:
        import onnxruntime
    except ImportError:
        raise MissingExtraError(package="onnxruntime", extra="onnx", feature=feature) from None
    return onnx, onnxruntime


# --- text -> inputs -----------------------------------------------------------------------


@dataclass
class TextPreprocessor:
    """Texts to the model's int64 inputs, as :meth:`zoo.models.text.TextEncoder.tokenize` makes them."""

    tokenizer: Any
    text_prefix: str = ""
    do_lower_case: bool = False
    max_seq_length: int | None = None

    @classmethod
    def of(cls, encoder: Any) -> "TextPreprocessor":
        """The preprocessing of a :class:`~zoo.models.text.TextEncoder` (its tokenizer is copied)."""
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_str(encoder.tokenizer.to_str()), str(getattr(encoder, "text_prefix", "") or ""),
                   bool(encoder.preprocessing().get("do_lower_case", False)), getattr(encoder, "max_seq_length", None))

    @classmethod
    def from_metadata(cls, meta: Mapping[str, str]) -> "TextPreprocessor":
        from tokenizers import Tokenizer

        pre = json.loads(meta["zoo.preprocessing"])
        return cls(Tokenizer.from_str(meta["zoo.tokenizer"]), pre.get("text_prefix", ""),
                   bool(pre.get("do_lower_case", False)), pre.get("max_seq_length"))

    def metadata(self) -> dict[str, str]:
        return {"zoo.tokenizer": self.tokenizer.to_str(),
                "zoo.preprocessing": json.dumps({"text_prefix": self.text_prefix, "do_lower_case": self.do_lower_case,
                                                 "max_seq_length": self.max_seq_length}, sort_keys=True)}

    def __call__(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        texts = [self.text_prefix + t for t in texts] if self.text_prefix else list(texts)
        texts = [t.lower() for t in texts] if self.do_lower_case else texts
        enc = self.tokenizer.encode_batch(texts)
        return {"input_ids": np.asarray([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.asarray([e.attention_mask for e in enc], dtype=np.int64),
                "token_type_ids": np.asarray([e.type_ids for e in enc], dtype=np.int64)}

    def tokenize(self, texts: Sequence[str]) -> dict[str, Any]:
        """The same inputs as torch tensors (what the runner's ``predict`` feeds a model)."""
        import torch

        return {k: torch.from_numpy(v) for k, v in self(texts).items()}


# --- export -------------------------------------------------------------------------------


def _graph_module(model: Any) -> Any:
    """``(input_ids, attention_mask, token_type_ids) -> embeddings`` or ``-> (logits, embeddings)``."""
    from torch import nn

    encoder = getattr(model, "backbone", model)
    head = getattr(model, "head", None) if encoder is not model else None

    class Graph(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder, self.head = encoder, head

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            emb = self.encoder(input_ids, attention_mask, token_type_ids)
            return emb if self.head is None else (self.head(emb), emb)

    return Graph().eval()


def onnx_bytes(module: Any, example_inputs: Sequence[Any], *, input_names: Sequence[str],
               output_names: Sequence[str], dynamic_axes: Mapping[str, Mapping[int, str]],
               opset: int = OPSET) -> bytes:
    """Trace ``module(*example_inputs)`` to a serialized ONNX model (float32, eval mode)."""
    import io

    import torch

    require_onnx()
    buffer = io.BytesIO()
    was = module.training
    module.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # TracerWarnings on shape checks, the exporter's deprecation notice
            torch.onnx.export(module, tuple(example_inputs), buffer, input_names=list(input_names),
                              output_names=list(output_names), dynamic_axes={k: dict(v) for k, v in dynamic_axes.items()},
                              opset_version=opset, dynamo=False, do_constant_folding=True)
    finally:
        module.train(was)
    return buffer.getvalue()


def _with_metadata(data: bytes, meta: Mapping[str, str]) -> bytes:
    onnx, _ = require_onnx()
    model = onnx.load_from_string(data)
    kept = [p for p in model.metadata_props if p.key not in meta]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    return model.SerializeToString()


EXAMPLE_TEXTS = ["A short one.", "A somewhat longer example sentence, so that the batch has padding.",
                 "How do I get a refund for a payment I did not make?", "Das Wetter ist heute schön."]
"""Texts the export traces with, and the default check of a bare backbone (give real ones with check_texts)."""


def export_onnx(model: Any, path: str | Path, *, label_names: Sequence[str] | None = None,
                source: Mapping[str, Any] | None = None, opset: int = OPSET) -> Path:
    """Write ``model`` (a text encoder, or a ``TransferModel`` with ``backbone`` and ``head``) to ``path``.

    ``label_names`` go into the metadata (required with a head: ``zoo predict`` prints them);
    ``source`` is any JSON-able description of where the weights come from.

    Raises:
        MissingExtraError: onnx or onnxruntime is not installed.
        ExportError: the model is not a text model with a tokenizer, or labels do not match the head.
    """
    from ._atomic import write_bytes_atomic

    require_onnx()
    encoder = getattr(model, "backbone", model)
    if not hasattr(encoder, "tokenizer") or not hasattr(encoder, "tokenize"):
        raise ExportError(f"ONNX export takes text encoders (with a tokenizer); got {type(encoder).__name__}.")
    graph = _graph_module(model)
    has_head = graph.head is not None
    example = encoder.tokenize(EXAMPLE_TEXTS)
    example = {k: v.to("cpu") for k, v in example.items()}
    outputs = ["logits", "embeddings"] if has_head else ["embeddings"]
    if has_head:
        import torch

        with torch.no_grad():
            n = int(graph(*(example[k] for k in INPUTS))[0].shape[1])
        if label_names is None or len(label_names) != n:
            raise ExportError(f"the head has {n} classes; give as many label_names (got "
                              f"{None if label_names is None else len(label_names)}).")
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUTS}
    axes.update({name: {0: "batch"} for name in outputs})
    graph_cpu = graph.to("cpu")
    data = onnx_bytes(graph_cpu, [example[k] for k in INPUTS], input_names=INPUTS, output_names=outputs,
                      dynamic_axes=axes, opset=opset)
    from . import __version__

    meta = {"zoo.format": FORMAT, "zoo.version": __version__, **TextPreprocessor.of(encoder).metadata(),
            "zoo.embedding": json.dumps({"dim": int(encoder.embedding_dim), "pooling": getattr(encoder, "pooling", None),
                                         "normalize": bool(getattr(encoder, "normalize", False))}, sort_keys=True)}
    if has_head:
        meta["zoo.labels"] = json.dumps([str(x) for x in label_names or []])
    if source:
        meta["zoo.source"] = json.dumps(dict(source), sort_keys=True, default=str)
    path = Path(path)
    write_bytes_atomic(path, _with_metadata(data, meta))
    return path


def add_metadata(path: str | Path, meta: Mapping[str, str]) -> None:
    """Set ``metadata_props`` entries of an ONNX file in place (atomically)."""
    from ._atomic import write_bytes_atomic

    path = Path(path)
    write_bytes_atomic(path, _with_metadata(path.read_bytes(), meta))


# --- running ------------------------------------------------------------------------------


def longest_first(texts: Sequence[str], batch_size: int, run: Any) -> np.ndarray:
    """``run(batch_of_texts) -> (n, d)`` over batches taken longest first (less padding); rows in input order."""
    texts = list(texts)
    order = np.argsort([-len(t) for t in texts], kind="stable")
    out: np.ndarray | None = None
    for start in range(0, len(texts), batch_size):
        idx = order[start:start + batch_size]
        values = np.asarray(run([texts[i] for i in idx]))
        if out is None:
            out = np.empty((len(texts), values.shape[1]), dtype=np.float32)
        out[idx] = values
    return out if out is not None else np.empty((0, 0), dtype=np.float32)


def session(model: str | Path | bytes, *, threads: int | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` on the CPU; ``threads`` intra-op threads (None: ORT's default)."""
    _, ort = require_onnx("ONNX Runtime inference")
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    target = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(target, opts, providers=["CPUExecutionProvider"])


class OnnxModel:
    """A ``.onnx`` file written by :func:`export_onnx`, run with ONNX Runtime on the CPU.

    Raises (at construction):
        MissingExtraError: onnxruntime is not installed.
        ExportError: the file does not exist or was not written by zoo (no tokenizer metadata).
    """

    def __init__(self, path: str | Path, *, threads: int | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise ExportError("no such ONNX file; write one with `zoo export ... --format onnx`.", path=str(self.path))
        try:
            self.session = session(self.path, threads=threads)
        except MissingExtraError:
            raise
        except Exception as exc:  # onnxruntime raises its own exception types for invalid files
            raise ExportError(f"ONNX Runtime cannot load it: {exc}", path=str(self.path)) from None
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        if self.metadata.get("zoo.format") != FORMAT or "zoo.tokenizer" not in self.metadata:
            raise ExportError(f"not a zoo ONNX export (metadata zoo.format={self.metadata.get('zoo.format')!r}); "
                              f"export it with `zoo export`.", path=str(self.path))
        self.preprocess = TextPreprocessor.from_metadata(self.metadata)
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.label_names: tuple[str, ...] = tuple(json.loads(self.metadata.get("zoo.labels", "[]")))

    @property
    def has_head(self) -> bool:
        return "logits" in self.outputs

    def run(self, texts: Sequence[str], output: str, *, batch_size: int = 32) -> np.ndarray:
        """One output (``embeddings`` or ``logits``) for ``texts``, batched longest first, in input order."""
        if output not in self.outputs:
            raise ExportError(f"the graph has no output {output!r} (it has {self.outputs}); "
                              f"export a run directory to get logits.", path=str(self.path))
        return longest_first(texts, batch_size, lambda chunk: self.session.run([output], self.preprocess(chunk))[0])

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Pooled embeddings ``(N, dim)``, as the torch backbone's ``encode``."""
        return self.run(texts, "embeddings", batch_size=batch_size)

    def logits(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        return self.run(texts, "logits", batch_size=batch_size)

    def predict(self, texts: Sequence[str], *, batch_size: int = 32) -> list[str]:
        """The label of the top class of each text."""
        top = self.logits(texts, batch_size=batch_size).argmax(1)
        return [self.label_names[k] if k < len(self.label_names) else str(k) for k in top]


# --- parity -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParityReport:
    """Largest absolute differences between torch and ONNX Runtime on ``n`` texts (float32)."""

    n: int
    embeddings: float
    logits: float | None

    @property
    def max_abs_diff(self) -> float:
        return max(self.embeddings, self.logits or 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "embeddings_max_abs_diff": self.embeddings, "logits_max_abs_diff": self.logits}


def check_parity(model: Any, onnx_model: OnnxModel, texts: Sequence[str], *, batch_size: int = 32) -> ParityReport:
    """Run ``texts`` through the torch model and the ONNX graph in the same batches; compare outputs."""
    import torch

    graph = _graph_module(model).to("cpu")
    texts = list(texts)
    if not texts:
        raise ExportError("the parity check needs at least one text.")
    emb_diff, logit_diff = 0.0, None
    for start in range(0, len(texts), batch_size):
        chunk = texts[start:start + batch_size]
        tok = {k: v.to("cpu") for k, v in graph.encoder.tokenize(chunk).items()}
        batch = onnx_model.preprocess(chunk)
        differs = [k for k in INPUTS if not np.array_equal(tok[k].numpy(), batch[k])]
        if differs:
            raise ExportError(f"the file's tokenizer gives other {differs[0]} than the torch model's for "
                              f"{chunk!r}; re-export.", path=str(onnx_model.path))
        with torch.inference_mode():
            ref = graph(*(tok[k] for k in INPUTS))
        ref = ref if isinstance(ref, tuple) else (ref,)
        names = ["logits", "embeddings"] if len(ref) == 2 else ["embeddings"]
        got = onnx_model.session.run(names, batch)
        for name, r, g in zip(names, ref, got):
            d = float(np.abs(r.float().numpy() - g).max())
            if name == "embeddings":
                emb_diff = max(emb_diff, d)
            else:
                logit_diff = max(logit_diff or 0.0, d)
    return ParityReport(len(texts), emb_diff, logit_diff)
