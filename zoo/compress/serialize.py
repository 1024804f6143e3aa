"""Saving and loading compressed models: safetensors plus a JSON record, replay as the fallback.

A compressed model directory holds:

``model.safetensors``  every tensor of the model as plain tensors, int8 weights as int8 (the
                       packed weights of dynamically quantized linears are unpacked to
                       ``NAME.weight_int8`` + ``NAME.weight_scale`` + ``NAME.weight_zero_point``)
``compression.json``   the passes (names, options, seed), the encoder shape per layer, the
                       special modules and their formats, the sha256 of the weights, versions

:func:`load_compressed` copies the base model (the uncompressed model the passes started from:
it supplies the tokenizer and everything the weights do not), gives the copy the recorded shape,
rebuilds the special modules, and loads the tensors strictly. When a model contains a module
whose state is not a plain tensor (a third-party pass), no weights are written and the passes
are re-applied to the base model on load, in order and with the recorded seed; passes that train
(``distill``) cannot be replayed, so such a model cannot be saved.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import torch
from torch import Tensor, nn

from zoo.compress.quantize import DYNAMIC_LINEAR_TYPES, WeightInt8Linear, quantized_conv_types, quiet_ao
from zoo.compress.structure import describe, reshape
from zoo._hashing import sha256_file
from zoo.errors import CompressionPassError

__all__ = [
    "FORMAT_VERSION",
    "RECORD_FILE",
    "WEIGHTS_FILE",
    "NotExportable",
    "weight_tensors",
    "export_tensors",
    "import_tensors",
    "save_compressed",
    "load_compressed",
    "write_weights",
]

FORMAT_VERSION = 1
RECORD_FILE = "compression.json"
WEIGHTS_FILE = "model.safetensors"
_PER_TENSOR = (torch.per_tensor_affine, torch.per_tensor_symmetric)


class NotExportable(Exception):
    """A module's state is not made of plain tensors (internal: triggers the replay fallback)."""


def _key(prefix: str, leaf: str) -> str:
    return f"{prefix}.{leaf}" if prefix else leaf


def weight_tensors(model: nn.Module) -> Iterator[Tensor]:
    """Every weight, bias and embedding of ``model`` once, int8 weights as their int8 values."""
    seen: set[int] = set()
    for module in model.modules():
        onnx_weights = getattr(module, "onnx_weight_tensors", None)
        if callable(onnx_weights):  # a graph run by ONNX Runtime (zoo.compress.onnxrt.OrtModule)
            yield from onnx_weights()
            continue
        if isinstance(module, DYNAMIC_LINEAR_TYPES):
            with quiet_ao():
                weight, bias = module.weight(), module.bias()
            yield weight.int_repr()
            if bias is not None:
                yield bias
            continue
        if isinstance(module, WeightInt8Linear):
            yield module.weight_int8
        if isinstance(module, quantized_conv_types()):  # static-int8 convolutions keep packed weights
            yield module.weight().int_repr()
            if module.bias() is not None:
                yield module.bias().detach()
            continue
        for param in module.parameters(recurse=False):
            if id(param) not in seen:
                seen.add(id(param))
                yield param.detach()


def _dynamic_entry(name: str, module: nn.Module, tensors: dict[str, Tensor]) -> dict[str, Any]:
    with quiet_ao():
        weight, bias = module.weight(), module.bias()
    tensors[_key(name, "weight_int8")] = weight.int_repr()
    if weight.qscheme() in _PER_TENSOR:
        scheme, axis = "per_tensor", None
        tensors[_key(name, "weight_scale")] = torch.tensor([weight.q_scale()], dtype=torch.float64)
        tensors[_key(name, "weight_zero_point")] = torch.tensor([weight.q_zero_point()], dtype=torch.int64)
    else:
        scheme, axis = "per_channel", int(weight.q_per_channel_axis())
        tensors[_key(name, "weight_scale")] = weight.q_per_channel_scales().to(torch.float64)
        tensors[_key(name, "weight_zero_point")] = weight.q_per_channel_zero_points().to(torch.int64)
    if bias is not None:
        tensors[_key(name, "bias")] = bias.detach()
    return {"format": "dynamic-int8", "in_features": int(module.in_features), "out_features": int(module.out_features),
            "bias": bias is not None, "qscheme": scheme, "axis": axis}


def export_tensors(model: nn.Module) -> tuple[dict[str, Tensor], dict[str, dict[str, Any]]]:
    """``(tensors, special modules)``: plain tensors for safetensors, and how to rebuild special modules.

    Raises:
        NotExportable: a module keeps state that is not a plain tensor.
    """
    tensors: dict[str, Tensor] = {}
    special: dict[str, dict[str, Any]] = {}
    for name, module in model.named_modules():
        if callable(getattr(module, "onnx_weight_tensors", None)):
            raise NotExportable(name or "<model>")  # an ONNX graph: saved as its passes, replayed on load
        if isinstance(module, DYNAMIC_LINEAR_TYPES):
            special[name] = _dynamic_entry(name, module, tensors)
        elif isinstance(module, WeightInt8Linear):
            special[name] = {"format": "weight-int8", "in_features": module.in_features,
                             "out_features": module.out_features, "bias": module.bias is not None,
                             "compute_dtype": module.compute_dtype}
    dynamic = [n for n, s in special.items() if s["format"] == "dynamic-int8"]
    for key, value in model.state_dict().items():
        if any(key.startswith(_key(p, "")) for p in dynamic):
            continue
        if not isinstance(value, Tensor) or value.is_quantized:
            raise NotExportable(key)
        tensors[key] = value.detach()
    return _unshare(tensors), special


def _unshare(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """safetensors refuses tensors that share memory: copy all but the first of each group."""
    seen: set[tuple[int, tuple[int, ...], tuple[int, ...]]] = set()
    out = {}
    for key, tensor in tensors.items():
        ident = (tensor.untyped_storage().data_ptr(), tuple(tensor.shape), tuple(tensor.stride()))
        out[key] = tensor.clone() if ident in seen or tensor.untyped_storage().nbytes() != tensor.nbytes else tensor
        seen.add(ident)
    return out


def _rebuild(spec: Mapping[str, Any], name: str, tensors: dict[str, Tensor]) -> nn.Module:
    fmt = spec["format"]
    if fmt == "weight-int8":
        return WeightInt8Linear(spec["in_features"], spec["out_features"], bias=spec["bias"],
                                compute_dtype=spec["compute_dtype"])
    if fmt != "dynamic-int8":
        raise CompressionPassError(f"saved module {name!r} has unknown format {fmt!r}; is zoo older than the file?")
    with quiet_ao():
        module = DYNAMIC_LINEAR_TYPES[0](spec["in_features"], spec["out_features"], bias_=spec["bias"],
                                         dtype=torch.qint8)
        int8 = tensors.pop(_key(name, "weight_int8"))
        scale = tensors.pop(_key(name, "weight_scale")).to(torch.float64)
        zero = tensors.pop(_key(name, "weight_zero_point")).to(torch.int64)
        if spec["qscheme"] == "per_tensor":
            weight = torch._make_per_tensor_quantized_tensor(int8, float(scale[0]), int(zero[0]))
        else:
            weight = torch._make_per_channel_quantized_tensor(int8, scale, zero, int(spec["axis"]))
        bias = tensors.pop(_key(name, "bias")) if spec["bias"] else None
        module.set_weight_bias(weight, bias.float() if bias is not None else None)
    return module


def _set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, leaf, module)


def import_tensors(model: nn.Module, tensors: Mapping[str, Tensor], special: Mapping[str, Mapping[str, Any]],
                   structure: Mapping[str, Mapping[str, Any]]) -> None:
    """Give ``model`` (in place) the recorded shape and special modules, then load ``tensors`` strictly.

    Raises:
        CompressionPassError: the tensors do not fit the reshaped model (keys or shapes differ).
    """
    tensors = dict(tensors)
    reshape(model, dict(structure))
    dynamic = {name: _rebuild(spec, name, tensors)
               for name, spec in special.items() if spec["format"] == "dynamic-int8"}
    for name, spec in special.items():
        if name not in dynamic:
            _set_module(model, name, _rebuild(spec, name, tensors))
    # dynamic-int8 modules load through set_weight_bias (above); the rest is plain tensors
    expected = {k: v for k, v in model.state_dict().items() if not any(k.startswith(_key(p, "")) for p in dynamic)}
    missing, unexpected = sorted(expected.keys() - tensors.keys()), sorted(tensors.keys() - expected.keys())
    bad_shape = [k for k in expected.keys() & tensors.keys() if tuple(expected[k].shape) != tuple(tensors[k].shape)]
    if missing or unexpected or bad_shape:
        raise CompressionPassError(
            f"the saved tensors do not fit the base model: missing {missing[:5]}, unexpected {unexpected[:5]}, "
            f"shape differs for {sorted(bad_shape)[:5]}. Load onto the model the passes started from."
        )
    # tensors read from a file may sit at any offset; some CPU kernels (aten._weight_int8pack_mm)
    # crash on memory that is not 64-byte aligned, so those are copied to fresh (aligned) memory
    tensors = {k: v.clone() if v.data_ptr() % 64 else v for k, v in tensors.items()}
    model.load_state_dict(tensors, strict=False, assign=True)
    for name, module in dynamic.items():
        _set_module(model, name, module)


# --- directories --------------------------------------------------------------------------


def write_weights(tensors: Mapping[str, Tensor], path: Path) -> Path:
    """Write ``tensors`` as safetensors, atomically.

    A safetensors file starts with its header length (little-endian u64); when its first byte
    is 0x80, ``zoo.weights`` mistakes the file for a pickle and refuses it. In that case the
    file is written again with padding in its metadata, which changes the header length.
    """
    from zoo.weights import save_file_atomic

    metadata = {"format": "zoo-compressed"}
    for pad in range(1, 8):
        save_file_atomic(tensors, path, metadata=metadata)
        with path.open("rb") as fh:
            if fh.read(1) != b"\x80":
                return path
        metadata = {"format": "zoo-compressed", "pad": " " * (8 * pad)}
    raise CompressionPassError(f"could not write {path} with a header zoo can read back")  # pragma: no cover


def _pass_entries(passes: Sequence[Any]) -> list[dict[str, Any]]:
    from zoo.compress.spec import resolve_passes

    out = []
    for item in passes:
        if isinstance(item, Mapping) and "pass" in item:  # already a record entry
            out.append({"pass": item["pass"], "options": dict(item.get("options") or {}),
                        "needs_data": bool(item.get("needs_data", False))})
            continue
        (resolved,) = resolve_passes([item])
        out.append({"pass": resolved.name, "options": resolved.options_dict(), "needs_data": resolved.spec_needs_data})
    return out


def save_compressed(model: nn.Module, passes: Sequence[Any], directory: str | Path, *, seed: int = 0) -> Path:
    """Write ``model`` (the result of ``passes``) to ``directory``; return the record file's path.

    ``passes`` is the ``record`` of :class:`~zoo.compress.CompressedResult`, or the list given
    to :func:`~zoo.compress.run_passes`. Tensors go to ``model.safetensors``; when the model has
    state that is not plain tensors, only the record is written and loading replays the passes.

    Raises:
        CompressionPassError: the model can only be replayed and a pass trains (needs data).
    """
    import zoo
    from zoo._atomic import write_text_atomic

    directory = Path(directory)
    entries = _pass_entries(passes)
    record: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "passes": entries,
        "seed": int(seed),
        "structure": describe(model),
        "versions": {"zoo": zoo.__version__, "torch": torch.__version__},
        "quantized_engine": torch.backends.quantized.engine,
    }
    try:
        tensors, special = export_tensors(model)
    except NotExportable as exc:
        trained = [e["pass"] for e in entries if e["needs_data"]]
        if trained:
            raise CompressionPassError(
                f"cannot save: tensor {exc} is not a plain tensor, so the model could only be rebuilt by "
                f"replaying its passes, and {trained} train on data and cannot be replayed."
            ) from None
        record.update(weights=None, modules={}, sha256=None)
    else:
        weights = write_weights(tensors, directory / WEIGHTS_FILE)
        record.update(weights=WEIGHTS_FILE, modules=special, sha256=sha256_file(weights))
    path = directory / RECORD_FILE
    write_text_atomic(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path


def load_compressed(directory: str | Path, base_model: nn.Module, *, manager: Any = None) -> nn.Module:
    """Rebuild the compressed model saved in ``directory`` on a copy of ``base_model`` (left unchanged).

    Returns the model in eval mode. ``manager`` is the plugin manager that provides the passes
    when they must be replayed (default: the process-wide one).

    Raises:
        FileNotFoundError: ``directory`` has no ``compression.json`` (or its weights file is gone).
        CompressionPassError: the record is from a newer format, the weights changed since they
            were saved, or they do not fit ``base_model``.
        WeightsFormatError: the weights file is not safetensors.
    """
    from zoo.weights import load_state_dict

    directory = Path(directory)
    path = directory / RECORD_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{directory} has no {RECORD_FILE}; it was not written by zoo.compress.save_compressed.")
    record = json.loads(path.read_text(encoding="utf-8"))
    if record.get("format") != FORMAT_VERSION:
        raise CompressionPassError(f"{path} has format {record.get('format')!r}; this zoo reads {FORMAT_VERSION}.")
    model = copy.deepcopy(base_model)
    if record["weights"] is None:
        from zoo.compress.apply import replay

        return replay(record["passes"], model, seed=record["seed"], manager=manager).eval()
    weights = directory / record["weights"]
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} is missing; {path} refers to it.")
    digest = sha256_file(weights)
    if digest != record["sha256"]:
        raise CompressionPassError(
            f"{weights} has sha256 {digest}, but {RECORD_FILE} recorded {record['sha256']}: the file changed "
            f"after it was saved. Save the model again."
        )
    import_tensors(model, load_state_dict(weights), record["modules"], record["structure"])
    return model.eval()
