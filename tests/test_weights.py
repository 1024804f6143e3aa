"""zoo.weights: safetensors-only loading, pickle refusal, load reports, atomic saves."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from zoo.errors import ArchitectureError, WeightsFormatError
from zoo.weights import LoadReport, load_into, load_state_dict, save_file_atomic


class TinyNet(nn.Module):
    """A body and a task head, the shape every transfer case has."""

    def __init__(self, classes: int = 3):
        super().__init__()
        self.body = nn.Linear(4, 4)
        self.head = nn.Linear(4, classes)


def _body_state(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: torch.randn_like(v) for k, v in net.state_dict().items() if k.startswith("body.")}


# --- pickle refusal -----------------------------------------------------------------------


def test_refuses_a_real_torch_save_file_and_says_how_to_convert(tmp_path: Path) -> None:
    path = tmp_path / "pytorch_model.bin"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(WeightsFormatError) as info:
        load_state_dict(path)
    message = str(info.value)
    assert str(path) in message
    for hint in ("weights_only=True", "safetensors.torch.save_file", "trust"):
        assert hint in message


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
def test_refuses_pickle_by_magic_bytes_whatever_the_suffix(tmp_path: Path, zipped: bool) -> None:
    path = tmp_path / "disguised.safetensors"
    torch.save({"w": torch.ones(2)}, path, _use_new_zipfile_serialization=zipped)
    with pytest.raises(WeightsFormatError, match="pickle checkpoint"):
        load_state_dict(path)


def test_refuses_plain_pickle_and_garbage(tmp_path: Path) -> None:
    pickled = tmp_path / "weights.safetensors"
    pickled.write_bytes(pickle.dumps({"w": [1.0]}, protocol=4))
    with pytest.raises(WeightsFormatError, match="pickle checkpoint"):
        load_state_dict(pickled)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00hello")
    with pytest.raises(WeightsFormatError, match="not a safetensors file"):
        load_state_dict(garbage)


def test_refuses_pickle_paths_in_load_into_and_save(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save(TinyNet().state_dict(), path)
    with pytest.raises(WeightsFormatError):
        load_into(TinyNet(), path)
    with pytest.raises(WeightsFormatError):
        save_file_atomic({"w": torch.ones(1)}, tmp_path / "out.pth")


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere.safetensors"):
        load_state_dict(tmp_path / "nowhere.safetensors")


# --- loading ------------------------------------------------------------------------------


def test_round_trip_keeps_values_dtypes_and_metadata_and_is_memory_mapped(tmp_path: Path) -> None:
    tensors = {
        "f32": torch.randn(3, 5),
        "f16": torch.randn(7).half(),
        "bf16": torch.randn(2, 2).bfloat16(),
        "i64": torch.arange(6).view(2, 3).t(),  # non-contiguous on purpose
    }
    path = save_file_atomic(tensors, tmp_path / "round.safetensors", metadata={"format": "pt", "step": 3})
    loaded = load_state_dict(path)
    assert loaded.keys() == tensors.keys()
    for key, value in tensors.items():
        assert loaded[key].dtype == value.dtype and torch.equal(loaded[key], value)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        assert fh.metadata() == {"format": "pt", "step": "3"}
    maps = Path("/proc/self/maps")
    if maps.exists():  # Linux: the file is mapped into memory, not read into a buffer
        assert str(path) in maps.read_text()


def test_load_report_lists_loaded_missing_unexpected(tmp_path: Path) -> None:
    net = TinyNet()
    state = _body_state(net) | {"extra.weight": torch.zeros(1)}
    path = save_file_atomic(state, tmp_path / "body.safetensors")
    report = load_into(net, str(path))
    assert report == LoadReport(
        loaded=("body.bias", "body.weight"),
        missing=("head.bias", "head.weight"),
        unexpected=("extra.weight",),
        reinitialized=(),
    )
    assert not report.ok
    assert torch.equal(net.body.weight, state["body.weight"])
    assert json.loads(json.dumps(report.to_dict()))["missing"] == ["head.bias", "head.weight"]
    assert "loaded 2" in report.summary() and "unexpected 1 (extra.weight)" in str(report)


def test_strict_mode_raises_listing_the_keys() -> None:
    net = TinyNet()
    before = net.body.weight.detach().clone()
    state = _body_state(net) | {"extra.weight": torch.zeros(1)}
    with pytest.raises(ArchitectureError) as info:
        load_into(net, state, strict=True)
    assert "head.weight" in str(info.value) and "extra.weight" in str(info.value)
    assert torch.equal(net.body.weight, before), "a failed strict load must not modify the module"


def test_reinit_skips_a_new_head_even_with_another_shape() -> None:
    pretrained = TinyNet(classes=10).state_dict()
    net = TinyNet(classes=3)
    head_before = net.head.weight.detach().clone()
    report = load_into(net, pretrained, strict=True, reinit=["head"])
    assert report.ok
    assert report.loaded == ("body.bias", "body.weight")
    assert report.reinitialized == ("head.bias", "head.weight")
    assert torch.equal(net.head.weight, head_before)
    assert torch.equal(net.body.weight, pretrained["body.weight"])


def test_shape_mismatch_and_unknown_reinit_prefix_raise() -> None:
    with pytest.raises(ArchitectureError, match=r"head.weight: checkpoint \(10, 4\) vs module \(3, 4\)"):
        load_into(TinyNet(classes=3), TinyNet(classes=10).state_dict())
    with pytest.raises(ArchitectureError, match="'haed'"):
        load_into(TinyNet(), {}, reinit=["haed"])


def test_key_map_renames_and_drops() -> None:
    net = TinyNet()
    state = {f"backbone.{k}": v for k, v in TinyNet().state_dict().items()} | {"backbone.ids": torch.zeros(1)}

    def key_map(key: str) -> str | None:
        return None if key.endswith(".ids") else key.removeprefix("backbone.")

    report = load_into(net, state, key_map=key_map, strict=True)
    assert report.loaded == ("body.bias", "body.weight", "head.bias", "head.weight")
    assert torch.equal(net.head.bias, state["backbone.head.bias"])
    with pytest.raises(ArchitectureError, match="two checkpoint keys"):
        load_into(net, state, key_map=lambda key: "body.weight")


# --- atomic save --------------------------------------------------------------------------


def test_atomic_save_replaces_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "heads" / "head.safetensors"
    save_file_atomic({"w": torch.zeros(2)}, target)
    save_file_atomic({"w": torch.ones(2)}, target)
    assert [p.name for p in target.parent.iterdir()] == ["head.safetensors"]
    assert torch.equal(load_state_dict(target)["w"], torch.ones(2))


def test_failed_atomic_save_keeps_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "head.safetensors"
    save_file_atomic({"w": torch.ones(2)}, target)
    shared = torch.zeros(3)
    with pytest.raises(RuntimeError, match="share memory"):
        save_file_atomic({"a": shared, "b": shared}, target)  # shared storage: safetensors refuses
    assert [p.name for p in tmp_path.iterdir()] == ["head.safetensors"]
    assert torch.equal(load_state_dict(target)["w"], torch.ones(2))


def test_header_length_with_low_byte_0x80_is_not_mistaken_for_pickle(tmp_path: Path) -> None:
    """A valid safetensors file whose header length starts with byte 0x80 loads."""
    import json
    import struct

    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    header += b" " * ((0x80 - len(header)) % 256 or 256)  # pad the JSON header to a length of 0x..80
    assert len(header) & 0xFF == 0x80
    path = tmp_path / "odd.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + struct.pack("<f", 1.5))
    assert load_state_dict(path)["w"].item() == 1.5
