"""Registry parsing, validation errors, layering and the list/info API."""

from __future__ import annotations

import textwrap

import pytest

import zoo
from zoo.errors import RegistryCollisionError, RegistryValidationError, UnknownBackboneError
from zoo.registry import build_registry, get_registry, parse_entry

GOOD = {
    "architecture": "bert",
    "repo_id": "org/tiny",
    "revision": "a" * 40,
    "files": {"model.safetensors": "b" * 64},
    "modality": "text",
    "license": "mit",
    "num_params": 10,
    "embedding_dim": 4,
}


def entry(**changes):
    raw = {**GOOD, **changes}
    return parse_entry("tiny", {k: v for k, v in raw.items() if v is not None}, source="t.toml")


def test_builtin_registry_has_pinned_minilm():
    e = build_registry().entries["all-minilm-l6-v2"]
    assert e.revision == "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
    assert e.file("model.safetensors").sha256 == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    assert e.integrity == "verified" and e.embedding_dim == 384 and e.pooling == "mean" and e.normalize
    assert e.references[0].value == 80.04


def test_every_builtin_entry_is_pinned_and_hashed_or_tofu():
    for e in build_registry():
        assert len(e.revision) == 40
        assert e.weights_files, e.name
        if e.integrity == "verified":
            assert all(f.sha256 for f in e.files), e.name


@pytest.mark.parametrize(
    "changes, key, words",
    [
        ({"licence": "mit"}, "licence", "Did you mean: 'license'"),
        ({"num_params": "10"}, "num_params", "expected an integer"),
        ({"normalize": 1}, "normalize", "expected true or false"),
        ({"revision": "main"}, "revision", "not a full 40-hex commit"),
        ({"files": {"model.safetensors": ""}}, "files.model.safetensors", "missing sha256"),
        ({"files": {"model.safetensors": "xyz"}}, "files.model.safetensors", "not a sha256"),
        ({"files": {"pytorch_model.bin": "b" * 64}}, "files", "safetensors only"),
        ({"modality": "txt"}, "modality", "Did you mean: 'text'"),
        ({"license": None}, "license", "required key missing"),
        ({"repo_id": "tiny"}, "repo_id", "org/name"),
        ({"lineage": {"parent": "x", "comit": "a" * 40}}, "lineage.comit", "Did you mean: 'commit'"),
        ({"lineage": {"parent": "x", "commit": "main"}}, "lineage.commit", "40-hex commit"),
        ({"lineage": {"parent": "x", "recipe_digest": "abc"}}, "lineage.recipe_digest", "sha256"),
        ({"lineage": {"source": "x.pt", "source_sha256": 5}}, "lineage.source_sha256", "expected a string"),
        ({"lineage": {}}, "lineage", "empty lineage"),
    ],
)
def test_validation_errors_name_entry_key_and_fix(changes, key, words):
    with pytest.raises(RegistryValidationError) as exc:
        entry(**changes)
    assert exc.value.key == key and exc.value.entry == "tiny"
    assert "t.toml" in str(exc.value) and words in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_lineage_parses_and_round_trips_through_to_dict():
    lineage = {"parent": "all-minilm-l6-v2", "commit": "1" * 40, "run_id": "tiny-20260101T000000Z-abcdef",
               "recipe_digest": "2" * 64}
    e = entry(lineage=lineage)
    assert e.lineage is not None and e.lineage.parent == "all-minilm-l6-v2" and e.lineage.source == ""
    assert e.to_dict()["lineage"] == lineage
    assert entry().lineage is None and entry().to_dict()["lineage"] is None
    converted = entry(lineage={"source": "resnet20.th", "source_sha256": "3" * 64})
    assert converted.lineage.to_dict() == {"source": "resnet20.th", "source_sha256": "3" * 64}


def test_tofu_entry_allows_unhashed_files():
    e = entry(integrity="tofu", files={"model.safetensors": "tofu", "config.json": "c" * 64})
    assert e.file("model.safetensors").sha256 is None and e.file("config.json").sha256 == "c" * 64


def _write(path, body):
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


USER_LAYER = """
    [backbone."my-encoder"]
    architecture = "bert"
    repo_id = "me/encoder"
    revision = "0123456789abcdef0123456789abcdef01234567"
    files = {{ "model.safetensors" = "{sha}" }}
    modality = "text"
    license = "mit"
    num_params = 1000
    embedding_dim = 8
    {extra}
"""


def test_user_layer_via_env_and_collision(tmp_path, monkeypatch):
    mine = _write(tmp_path / "mine.toml", USER_LAYER.format(sha="d" * 64, extra=""))
    monkeypatch.setenv("ZOO_REGISTRY", str(mine))
    assert "my-encoder" in zoo.list_backbones() and "all-minilm-l6-v2" in zoo.list_backbones()
    assert zoo.backbone_info("my-encoder").source == str(mine)
    clash = _write(tmp_path / "clash.toml", USER_LAYER.format(sha="e" * 64, extra=""))
    monkeypatch.setenv("ZOO_REGISTRY", f"{mine}:{clash}")
    with pytest.raises(RegistryCollisionError) as exc:
        get_registry(reload=True)
    assert str(mine) in str(exc.value) and str(clash) in str(exc.value) and "override = true" in str(exc.value)


def test_override_replaces_on_purpose(tmp_path, monkeypatch):
    mine = _write(tmp_path / "mine.toml", USER_LAYER.format(sha="d" * 64, extra=""))
    over = _write(tmp_path / "over.toml", USER_LAYER.format(sha="e" * 64, extra="override = true"))
    monkeypatch.setenv("ZOO_REGISTRY", f"{mine}:{over}")
    assert zoo.backbone_info("my-encoder").file("model.safetensors").sha256 == "e" * 64


def test_config_file_layer(tmp_path, monkeypatch):
    _write(tmp_path / "mine.toml", USER_LAYER.format(sha="d" * 64, extra=""))
    cfg = _write(tmp_path / "config.toml", 'registry = ["mine.toml"]\n')
    monkeypatch.setenv("ZOO_CONFIG", str(cfg))
    assert "my-encoder" in zoo.list_backbones()


def test_config_file_can_leave_the_builtin_registry_out(tmp_path, monkeypatch):
    from zoo.errors import ConfigError

    _write(tmp_path / "mine.toml", USER_LAYER.format(sha="d" * 64, extra=""))
    cfg = _write(tmp_path / "config.toml", 'builtin_registry = false\nregistry = ["mine.toml"]\n')
    monkeypatch.setenv("ZOO_CONFIG", str(cfg))
    assert zoo.list_backbones() == ["my-encoder"]
    assert get_registry().layers == (str(tmp_path / "mine.toml"),)
    _write(cfg, 'builtin_registry = true\nregistry = ["mine.toml"]\n')  # the cached registry follows the file
    assert {"my-encoder", "all-minilm-l6-v2"} <= set(zoo.list_backbones())
    _write(cfg, 'builtin_registry = "no"\n')
    with pytest.raises(ConfigError, match=r"config\.toml, key 'builtin_registry': expected true or false, got 'no'"):
        get_registry()


def test_bad_toml_names_file_and_line(tmp_path, monkeypatch):
    bad = _write(tmp_path / "bad.toml", '[backbone."x"]\narchitecture = \n')
    monkeypatch.setenv("ZOO_REGISTRY", str(bad))
    with pytest.raises(RegistryValidationError, match=r"bad\.toml.*line 2"):
        get_registry(reload=True)


def test_missing_layer_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "nope.toml"))
    with pytest.raises(RegistryValidationError, match="ZOO_REGISTRY"):
        get_registry(reload=True)


def test_plugin_tables_layer_and_collision():
    table = {"name": "plug-enc", **GOOD}
    reg = build_registry(plugin_tables=[("myplugin", table)])
    assert reg.entries["plug-enc"].source == "plugin:myplugin"
    with pytest.raises(RegistryCollisionError, match="plugin:other"):
        build_registry(plugin_tables=[("myplugin", table), ("other", table)])


def test_list_filters_and_info():
    assert zoo.list_backbones("*minilm*") == ["all-minilm-l12-v2", "all-minilm-l6-v2"]
    assert zoo.list_backbones(license="MIT") == ["bge-small-en-v1.5", "e5-small-v2", "gte-small"]
    images = ["efficientnet-lite0", "efficientnet-lite2", "resnet20-cifar10", "resnet32-cifar10",
              "resnet44-cifar10", "resnet56-cifar10"]
    assert zoo.list_backbones(verified=True) == sorted(["all-minilm-l6-v2", *images])
    assert zoo.list_backbones(modality="image") == images
    assert zoo.backbone_info("efficientnet-lite0").input.crop_pct == 0.875
    assert zoo.backbone_info("e5-small-v2").input.text_prefix == "query: "


def test_unknown_name_suggests_closest():
    with pytest.raises(UnknownBackboneError) as exc:
        zoo.backbone_info("all-minilm-l6")
    assert "all-minilm-l6-v2" in str(exc.value) and isinstance(exc.value, KeyError)
