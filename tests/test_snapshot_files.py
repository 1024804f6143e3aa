"""A text backbone reads only the files its registry entry lists (and so hashes), and a snapshot
file that cannot be right (a trust-on-first-use config.json, a tokenizer.json) is a typed error."""

from __future__ import annotations

import json
import shutil
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo.config import settings
from zoo.errors import ArchitectureError
from zoo.hub import LockFile, import_directory, verify_cached
from zoo.models.text import build_text_encoder
from zoo.registry import get_registry

LITE_FILES = ("model.safetensors", "config.json", "tokenizer.json")
LONG_TEXT = " ".join(["the quick brown fox jumps over the lazy dog"] * 8)


def _user_entry(tmp_path: Path, monkeypatch, name: str, *, repo_id: str, revision: str, files, embedding_dim=384):
    minilm = get_registry().entries["all-minilm-l6-v2"]
    hashes = ", ".join(f'"{f}" = "{minilm.file(f).sha256}"' for f in files)
    path = tmp_path / "mine.toml"
    path.write_text(textwrap.dedent(f"""
        [backbone."{name}"]
        architecture = "bert"
        repo_id = "{repo_id}"
        revision = "{revision}"
        modality = "text"
        license = "apache-2.0"
        num_params = 22713728
        embedding_dim = {embedding_dim}
        files = {{ {hashes} }}
    """))
    monkeypatch.setenv("ZOO_REGISTRY", str(path))
    return get_registry(reload=True).entries[name], path


def test_unlisted_snapshot_files_are_never_read(tmp_path, monkeypatch, minilm_dir):
    entry, _ = _user_entry(tmp_path, monkeypatch, "minilm-lite", repo_id="org/minilm-lite", revision="e" * 40,
                           files=LITE_FILES)
    s = settings()
    report = import_directory(minilm_dir, repo_id=entry.repo_id, revision=entry.revision, cache_dir=s.hf_cache,
                              lock=LockFile(s.lockfile), entry=entry)
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    before = zoo.load_backbone("minilm-lite")
    expected = before.encode([LONG_TEXT])
    # a planted sentence-transformers set-up that would truncate every text to 8 tokens
    planted = {
        "sentence_bert_config.json": {"max_seq_length": 8, "do_lower_case": True},
        "tokenizer_config.json": {"model_max_length": 8},
        "modules.json": [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                         {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}],
        "1_Pooling/config.json": {"pooling_mode_cls_token": True},
    }
    for name, data in planted.items():
        (report.snapshot_dir / name).parent.mkdir(exist_ok=True)
        (report.snapshot_dir / name).write_text(json.dumps(data))
    checks = verify_cached([entry], cache_dir=s.hf_cache, lock=LockFile(s.lockfile))
    assert {c.status for c in checks} == {"ok"}
    after = zoo.load_backbone("minilm-lite")
    assert after.max_seq_length == before.max_seq_length == 512
    np.testing.assert_array_equal(after.encode([LONG_TEXT]), expected)


def test_an_entry_without_a_tokenizer_says_what_to_list(tmp_path, monkeypatch, minilm_dir):
    entry, path = _user_entry(tmp_path, monkeypatch, "minilm-notok", repo_id="org/minilm-notok",
                              revision="d" * 40, files=("model.safetensors", "config.json"))
    s = settings()
    import_directory(minilm_dir, repo_id=entry.repo_id, revision=entry.revision, cache_dir=s.hf_cache,
                     lock=LockFile(s.lockfile), entry=entry, files=[*LITE_FILES])
    with pytest.raises(ArchitectureError, match=r"tokenizer\.json") as exc:
        zoo.load_backbone("minilm-notok", offline=True)
    assert "minilm-notok" in str(exc.value) or "list" in str(exc.value)


def test_registry_embedding_dim_must_match_the_model(tmp_path, monkeypatch, warm_cache):
    minilm = get_registry().entries["all-minilm-l6-v2"]
    _, path = _user_entry(tmp_path, monkeypatch, "minilm-768", repo_id=minilm.repo_id, revision=minilm.revision,
                          files=[f.filename for f in minilm.files], embedding_dim=768)
    with pytest.raises(ArchitectureError) as exc:
        zoo.load_backbone("minilm-768", offline=True)
    msg = str(exc.value)
    assert "embedding_dim" in msg and "768" in msg and "384" in msg and str(path) in msg


# --- snapshot files that cannot be right ------------------------------------------------------


@pytest.fixture
def snapshot_copy(tmp_path, minilm_dir) -> Path:
    """The real MiniLM snapshot, linked file by file, so a test can replace one file."""
    out = tmp_path / "snap"
    out.mkdir()
    for name in ("model.safetensors", "config.json", "tokenizer.json", "vocab.txt"):
        (out / name).symlink_to(minilm_dir / name)
    return out


def _replace_config(snapshot: Path, change) -> None:
    config = json.loads((snapshot / "config.json").read_text())
    (snapshot / "config.json").unlink()
    (snapshot / "config.json").write_text(json.dumps(change(config)))


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda c: [c], "JSON object"),
        (lambda c: {**c, "hidden_size": "384"}, "hidden_size"),
        (lambda c: {**c, "num_attention_heads": 0}, "num_attention_heads"),
        (lambda c: {**c, "num_hidden_layers": -1}, "num_hidden_layers"),
        (lambda c: {**c, "layer_norm_eps": "tiny"}, "layer_norm_eps"),
        (lambda c: {**c, "hidden_act": ["gelu"]}, "hidden_act"),
        (lambda c: {**c, "vocab_size": 2 ** 40}, "vocab_size"),
        (lambda c: {**c, "intermediate_size": 1000}, "intermediate_size"),
    ],
)
def test_a_config_that_cannot_be_right_is_refused_before_building(snapshot_copy, change, words):
    _replace_config(snapshot_copy, change)
    start = time.perf_counter()
    with pytest.raises(ArchitectureError) as exc:
        build_text_encoder(snapshot_copy)
    assert words in str(exc.value) and "config.json" in str(exc.value)
    assert time.perf_counter() - start < 30  # nothing of the declared size was allocated


@pytest.mark.parametrize("body", ["{not json", '{"model": 5}', "[]", "\xff\xfe"])
def test_a_malformed_tokenizer_is_refused(snapshot_copy, body):
    (snapshot_copy / "tokenizer.json").unlink()
    (snapshot_copy / "tokenizer.json").write_bytes(body.encode("latin-1"))
    with pytest.raises(ArchitectureError, match=r"tokenizer\.json"):
        build_text_encoder(snapshot_copy)


@pytest.mark.parametrize("name, body", [("modules.json", '{"a": 1}'), ("modules.json", "[5]"),
                                        ("sentence_bert_config.json", "[1, 2]"),
                                        ("tokenizer_config.json", '"x"')])
def test_malformed_sentence_transformers_files_are_refused(snapshot_copy, name, body):
    (snapshot_copy / name).write_text(body)
    with pytest.raises(ArchitectureError, match=name.replace(".", r"\.")):
        build_text_encoder(snapshot_copy)


def test_a_module_path_that_leaves_the_snapshot_is_refused(snapshot_copy, tmp_path):
    outside = tmp_path / "evil"
    outside.mkdir()
    (outside / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    (snapshot_copy / "modules.json").write_text(json.dumps([{"path": "../evil", "type": "x.Pooling"}]))
    with pytest.raises(ArchitectureError, match="modules.json"):
        build_text_encoder(snapshot_copy)
    shutil.rmtree(outside)


def test_an_image_backbone_needs_its_config_listed(tmp_path):
    from zoo.default_plugins.image_models import build_image
    from zoo.hub import ResolvedBackbone
    from zoo.registry import parse_entry

    entry = parse_entry("img", {"architecture": "resnet", "repo_id": "org/img", "revision": "c" * 40,
                                "files": {"model.safetensors": "b" * 64}, "modality": "image", "license": "mit",
                                "num_params": 10, "embedding_dim": 4}, source="mine.toml")
    (tmp_path / "config.json").write_text("planted, never read")
    resolved = ResolvedBackbone(entry=entry, snapshot_dir=tmp_path, files={"model.safetensors": tmp_path / "m"},
                                sha256={"model.safetensors": "b" * 64})
    with pytest.raises(ArchitectureError, match=r"config\.json.*does not list"):
        build_image(entry, resolved)
