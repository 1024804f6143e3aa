"""`zoo convert`: weights_only reading, key mapping with a load report, reproducible repos whose
hashes are the registry's, and the path through `zoo hub import` to a loaded backbone."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
from image_support import preset_source

from zoo._hashing import sha256_file
from zoo.convert import content_revision, convert_checkpoint, read_checkpoint
from zoo.convert_presets import PRESETS
from zoo.errors import ArchitectureError, WeightsFormatError
from zoo._toml import tomllib
from zoo.registry import build_registry
from zoo.registry.parse import parse_registry


class _Payload:
    """Unpickling this calls os.system: what a malicious checkpoint does."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("legacy", [False, True])
def test_a_pickle_that_would_run_code_is_refused(tmp_path, legacy):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    payload = {"state_dict": {"conv1.weight": torch.zeros(1)}, "hook": _Payload(str(marker))}
    if legacy:  # the pre-1.6 format the akamaster checkpoints use
        torch.save(payload, evil, _use_new_zipfile_serialization=False)
    else:
        torch.save(payload, evil)
    with pytest.raises(WeightsFormatError, match="refused"):
        convert_checkpoint(evil, tmp_path / "out", config=PRESETS["resnet20-cifar10"].config())
    with open(evil, "wb") as fh:  # a bare pickle, not even a torch archive
        pickle.dump(_Payload(str(marker)), fh)
    with pytest.raises(WeightsFormatError, match="refused"):
        read_checkpoint(evil)
    assert not marker.exists(), "the payload ran"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_conversion_reproduces_the_registry_entry(name, converted):
    report = converted(name)
    entry = build_registry().entries[name]
    assert report.files == {f.filename: f.sha256 for f in entry.files}
    assert report.revision == entry.revision == content_revision(report.files)
    assert entry.lineage is not None and entry.lineage.source_sha256 == sha256_file(preset_source(name))
    assert entry.lineage.source.endswith(preset_source(name).name)
    assert report.num_params == entry.num_params and report.embedding_dim == entry.embedding_dim
    assert report.loaded == len(read_checkpoint(preset_source(name)))


def test_cifar_checkpoints_lack_batchnorm_counters_and_they_are_reported(converted):
    report = converted("resnet20-cifar10")
    assert len(report.filled) == 19 and all(k.endswith("num_batches_tracked") for k in report.filled)
    assert report.loaded == 97  # every tensor of the .th file


def test_load_report_errors_name_the_problem(tmp_path):
    src = preset_source("resnet32-cifar10")
    with pytest.raises(ArchitectureError, match=r"key map 'identity': missing \['bn1.bias'.*\(157\), unexpected \['module.bn1.bias'"):
        convert_checkpoint(src, tmp_path / "a", config=PRESETS["resnet32-cifar10"].config())  # no key map
    with pytest.raises(ArchitectureError, match=r"unexpected \['layer1.3.bn1.bias'"):
        convert_checkpoint(src, tmp_path / "b", config=PRESETS["resnet20-cifar10"].config(), key_map="akamaster")
    with pytest.raises(ArchitectureError, match="disagree on shapes"):
        cfg = PRESETS["resnet20-cifar10"].config()
        cfg["num_classes"] = 100
        convert_checkpoint(preset_source("resnet20-cifar10"), tmp_path / "c", config=cfg, key_map="akamaster")
    with pytest.raises(ArchitectureError, match="unknown key map"):
        convert_checkpoint(src, tmp_path / "d", config=PRESETS["resnet32-cifar10"].config(), key_map="nope")
    assert not any((tmp_path / d).exists() for d in "abcd")


def test_cli_convert_then_hub_import_then_load(tmp_path, capsys):
    from zoo.builder import load_backbone
    from zoo.cli.main import main

    out = tmp_path / "repo"
    assert main(["convert", str(preset_source("resnet20-cifar10")), str(out), "--preset", "resnet20-cifar10"]) == 0
    printed = capsys.readouterr().out
    entry = build_registry().entries["resnet20-cifar10"]
    assert f'revision = "{entry.revision}"' in printed and "sha256 12fca82f0bebc413" in printed
    assert entry.file("model.safetensors").sha256 in printed
    printed_entry = printed.split("# registry entry:\n", 1)[1].split("# place it in the Hub cache:", 1)[0]
    (parsed, _), = parse_registry(tomllib.loads(printed_entry), source="printed")
    assert parsed.files == entry.files and parsed.revision == entry.revision and parsed.lineage == entry.lineage
    assert parsed.input == entry.input and parsed.architecture == entry.architecture
    import_line = next(line for line in printed.splitlines() if line.startswith("zoo hub import"))
    assert main(import_line.split()[1:]) == 0
    model = load_backbone("resnet20-cifar10", offline=True)
    assert model.embedding_dim == 64 and model.input_spec.size == (32, 32)
    assert model.load_report.ok


def test_cli_convert_without_preset_needs_a_config(tmp_path, capsys):
    from zoo.cli.main import main

    rc = main(["convert", str(preset_source("resnet20-cifar10")), str(tmp_path / "x")])
    assert rc != 0
    assert "--config" in capsys.readouterr().err
