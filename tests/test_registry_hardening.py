"""Registry inputs a user gets wrong, plugins overriding verified entries, and large registries."""

from __future__ import annotations

import pytest
from test_registry import GOOD, entry

import zoo
from zoo.cli.main import main
from zoo.errors import ConfigError, RegistryValidationError
from zoo.registry import build_registry, get_registry


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", ["../../../../../../.bashrc", "/etc/passwd", "a\\b.json", "a\x1bb.json",
                                  "sub/../x.json", "C:/x.json", "bad\udcff.json", ""])
def test_registry_refuses_file_names_that_leave_the_snapshot(name):
    with pytest.raises(RegistryValidationError) as exc:
        entry(files={"model.safetensors": "b" * 64, name: "c" * 64})
    assert exc.value.key == f"files.{name}" and exc.value.entry == "tiny" and "t.toml" in str(exc.value)


@pytest.mark.parametrize(
    "inp, key",
    [
        ({"image_size": [0, 224]}, "input.image_size"),
        ({"image_size": ["a", "b"]}, "input.image_size"),
        ({"image_size": [224]}, "input.image_size"),
        ({"image_size": [3, 224, 224, 1]}, "input.image_size"),
        ({"image_size": [224.5, 224]}, "input.image_size"),
        ({"image_size": [True, 224]}, "input.image_size"),
        ({"mean": ["x", 0, 0]}, "input.mean"),
        ({"std": [0.2, 0.0, 0.2]}, "input.std"),
        ({"mean": [0.5, 0.5]}, "input.mean"),
        ({"max_seq_length": 0}, "input.max_seq_length"),
    ],
)
def test_junk_input_values_are_refused(inp, key):
    with pytest.raises(RegistryValidationError) as exc:
        entry(modality="image", input=inp)
    assert exc.value.key == key


def test_good_image_input_parses():
    e = entry(modality="image", input={"image_size": [3, 224, 224], "mean": [0.485, 0.456, 0.406],
                                       "std": [0.229, 0.224, 0.225]})
    assert e.input.image_size == (3, 224, 224) and e.input.std == (0.229, 0.224, 0.225)


@pytest.mark.parametrize(
    "var, body, error",
    [
        ("ZOO_REGISTRY", b"schema = 1\n# caf\xe9\n", RegistryValidationError),
        ("ZOO_REGISTRY", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", RegistryValidationError),
        ("ZOO_CONFIG", b"registry = [\"a.toml\"]\n# \xff\xfe\n", ConfigError),
        ("ZOO_CONFIG", b"\x00\x00binary", ConfigError),
    ],
)
def test_non_utf8_or_binary_registry_or_config_is_a_one_line_error(tmp_path, monkeypatch, capsys, var, body, error):
    path = tmp_path / "file.toml"
    path.write_bytes(body)
    monkeypatch.setenv(var, str(path))
    with pytest.raises(error) as exc:
        get_registry(reload=True)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)
    code, _, err = cli(capsys, "list")
    assert code == 1 and str(path) in err and "Traceback" not in err


def test_registry_path_that_is_a_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path))
    with pytest.raises(RegistryValidationError, match="directory"):
        get_registry(reload=True)


# --- plugins may not silently replace verified entries ---------------------------------------


def _hijack():
    minilm = build_registry().entries["all-minilm-l6-v2"]
    return {"name": minilm.name, **GOOD, "repo_id": "evil/all-MiniLM-L6-v2", "integrity": "tofu",
            "files": {"model.safetensors": "tofu"}, "override": True}


def test_plugin_override_of_a_verified_entry_is_refused():
    with pytest.raises(RegistryValidationError) as exc:
        build_registry(plugin_tables=[("evilplugin", _hijack())])
    msg = str(exc.value)
    assert exc.value.entry == "all-minilm-l6-v2" and exc.value.key == "override"
    assert "plugin:evilplugin" in msg and "verified" in msg and "allow_plugin_override" in msg


def test_user_config_can_allow_a_plugin_override(tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text('allow_plugin_override = ["all-minilm-l6-v2"]\n')
    monkeypatch.setenv("ZOO_CONFIG", str(cfg))
    reg = build_registry(plugin_tables=[("evilplugin", _hijack())])
    assert reg.entries["all-minilm-l6-v2"].repo_id == "evil/all-MiniLM-L6-v2"


def test_plugin_may_still_override_an_unverified_entry():
    table = {**_hijack(), "name": "bge-small-en-v1.5"}
    assert build_registry(plugin_tables=[("p", table)]).entries["bge-small-en-v1.5"].repo_id.startswith("evil/")


# --- a large registry lists fast --------------------------------------------------------------


def _big_registry(path, n: int, start: int = 0) -> None:
    lines = ["schema = 1"]
    for i in range(start, start + n):
        lines.append(f'[backbone."gen-{i:05d}"]\narchitecture = "bert"\nrepo_id = "org/gen-{i}"\n'
                     f'revision = "{i:040x}"\nmodality = "text"\nlicense = "mit"\nnum_params = 1000\n'
                     f'embedding_dim = 8\nfiles = {{ "model.safetensors" = "{i:064x}" }}\n'
                     f'references = [{{ task = "t", metric = "m", value = 1.5, source = "s" }}]\n')
    path.write_text("\n".join(lines))


def test_parsed_registry_is_cached_by_content(tmp_path, monkeypatch):
    from zoo._toml import tomllib

    path = tmp_path / "big.toml"
    _big_registry(path, 300)
    monkeypatch.setenv("ZOO_REGISTRY", str(path))
    first = get_registry(reload=True)
    calls = []
    real = tomllib.loads
    monkeypatch.setattr(tomllib, "loads", lambda text: calls.append(1) or real(text))
    again = get_registry(reload=True)
    assert calls == [] and list(again.entries.values()) == list(first.entries.values())
    _big_registry(path, 300, start=1)  # new content: parsed again
    assert "gen-00300" in get_registry(reload=True) and calls == [1]


def test_a_corrupt_registry_cache_is_ignored(tmp_path, monkeypatch):
    path = tmp_path / "big.toml"
    _big_registry(path, 5)
    monkeypatch.setenv("ZOO_REGISTRY", str(path))
    first = get_registry(reload=True)
    caches = list((zoo.config.settings().zoo_home / "registry-cache").iterdir())
    assert caches
    for c in caches:
        c.write_bytes(b"\xff{ not json")
    assert list(get_registry(reload=True).entries.values()) == list(first.entries.values())


def test_listing_looks_the_registry_up_once(tmp_path, monkeypatch, capsys):
    from zoo import registry

    path = tmp_path / "big.toml"
    _big_registry(path, 200)
    monkeypatch.setenv("ZOO_REGISTRY", str(path))
    calls = []
    real = registry._cache_key
    monkeypatch.setattr(registry, "_cache_key", lambda: calls.append(1) or real())
    code, out, _ = cli(capsys, "list", "gen-*")
    assert code == 0 and out.count("\ngen-") == 200 and len(calls) <= 2
