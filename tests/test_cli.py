"""The registry and Hub commands, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hubserver import MINILM_COMMIT, MINILM_REPO_ID

from zoo.cli.main import main

MINILM_SHA = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_json_lists_the_registry(capsys):
    code, out, _ = run(capsys, "list", "--json")
    data = json.loads(out)
    assert code == 0 and {d["name"] for d in data} >= {"all-minilm-l6-v2", "bge-small-en-v1.5"}
    minilm = next(d for d in data if d["name"] == "all-minilm-l6-v2")
    assert minilm["files"]["model.safetensors"] == MINILM_SHA and minilm["revision"] == MINILM_COMMIT


def test_list_filters(capsys):
    code, out, _ = run(capsys, "list", "*minilm*", "--verified")
    assert code == 0 and "all-minilm-l6-v2" in out and "all-minilm-l12-v2" not in out


def test_info_shows_commit_and_hashes(capsys):
    code, out, _ = run(capsys, "info", "all-minilm-l6-v2")
    assert code == 0 and MINILM_COMMIT in out and MINILM_SHA in out and "80.04" in out


def test_unknown_name_is_a_clear_error(capsys):
    code, _, err = run(capsys, "info", "all-minilm-l6")
    assert code == 1 and "Did you mean: 'all-minilm-l6-v2'" in err


def test_import_then_verify_then_tamper(capsys, minilm_dir, tmp_path):
    code, out, _ = run(capsys, "hub", "import", str(minilm_dir), "--repo", MINILM_REPO_ID, "--revision", MINILM_COMMIT)
    assert code == 0 and "registry entry 'all-minilm-l6-v2'" in out
    code, out, _ = run(capsys, "verify", "all-minilm-l6-v2")
    assert code == 0 and out.count("OK") == 9
    from zoo.config import settings

    blob = (settings().hf_cache / "models--sentence-transformers--all-MiniLM-L6-v2" / "snapshots" / MINILM_COMMIT
            / "config.json").resolve()
    blob.write_text(blob.read_text().replace("384", "385"))
    code, out, err = run(capsys, "verify", "all-minilm-l6-v2")
    assert code == 1 and "MISMATCH" in out and "config.json" in out and "zoo pull" in err


def test_import_refuses_branch_names(capsys, minilm_dir):
    code, _, err = run(capsys, "hub", "import", str(minilm_dir), "--repo", MINILM_REPO_ID, "--revision", "main")
    assert code == 1 and "40-hex" in err


def test_pull_downloads_from_local_hub(capsys, hub_server, monkeypatch, minilm_dir):
    hub_server.add_repo_from_dir(MINILM_REPO_ID, minilm_dir, commit_sha=MINILM_COMMIT)
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    code, out, _ = run(capsys, "pull", "all-minilm-l6-v2")
    assert code == 0 and "downloaded 9 file(s)" in out and "9 file(s) verified" in out


def test_offline_pull_on_cold_cache_says_what_to_do(capsys, monkeypatch):
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    code, _, err = run(capsys, "pull", "all-minilm-l6-v2")
    assert code == 1 and "zoo hub import" in err and "zoo pull all-minilm-l6-v2" in err


@pytest.mark.parametrize("argv", [["--help"], ["list"], ["--version"]])
def test_help_and_list_do_not_import_torch(argv):
    code = (
        "import sys; from zoo.cli.main import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'numpy', 'sklearn', 'huggingface_hub') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_load_backbone_offline_end_to_end(warm_cache, monkeypatch, capsys):
    """The demo path: offline, warm cache, through the registry, the Hub cache and the native encoder."""
    import numpy as np

    import zoo

    monkeypatch.setenv("ZOO_OFFLINE", "1")
    model = zoo.load_backbone("all-minilm-l6-v2")
    assert model.pretrained_cfg.name == "all-minilm-l6-v2" and model.load_report.missing == ()
    assert model.resolved.sha256["model.safetensors"] == MINILM_SHA
    emb = model.encode(["I lost my card", "How do I top up?"])
    assert emb.shape == (2, 384) and np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    code, out, _ = run(capsys, "embed", "all-minilm-l6-v2", "hello world")
    assert code == 0 and MINILM_COMMIT in out and MINILM_SHA in out and "384-d" in out


def test_text_prefix_is_prepended(warm_cache, monkeypatch):
    import numpy as np

    import zoo

    monkeypatch.setenv("ZOO_OFFLINE", "1")
    model = zoo.load_backbone("all-minilm-l6-v2")
    plain = model.encode(["query: where is my card"])
    model.text_prefix = "query: "
    assert np.allclose(model.encode(["where is my card"]), plain, atol=1e-6)


# --- reporting commands: --json, what is cached, import by registry name ------------------


def test_list_shows_what_is_cached(capsys, warm_cache):
    code, out, _ = run(capsys, "list", "--json")
    cached = {d["name"]: d["cached"] for d in json.loads(out)}
    assert code == 0 and cached["all-minilm-l6-v2"] == "yes" and cached["bge-small-en-v1.5"] == "no"
    code, out, _ = run(capsys, "list", "all-minilm-l*")
    lines = out.splitlines()
    assert "cached" in lines[0].split()
    assert next(line for line in lines if line.startswith("all-minilm-l6-v2 ")).split()[7] == "yes"
    assert next(line for line in lines if line.startswith("all-minilm-l12-v2 ")).split()[7] == "no"


def test_hub_import_takes_repo_and_revision_from_the_registry_name(capsys, minilm_dir):
    code, out, _ = run(capsys, "hub", "import", str(minilm_dir), "all-minilm-l6-v2", "--json")
    report = json.loads(out)
    assert code == 0 and report["repo_id"] == MINILM_REPO_ID and report["revision"] == MINILM_COMMIT
    assert report["sha256"]["model.safetensors"] == MINILM_SHA and "all-minilm-l6-v2" in report["checked_against"]
    code, _, err = run(capsys, "hub", "import", str(minilm_dir))
    assert code == 2 and "NAME" in err
    code, _, err = run(capsys, "hub", "import", str(minilm_dir), "all-minilm-l6-v2", "--revision", "0" * 40)
    assert code == 2 and "differs from entry 'all-minilm-l6-v2'" in err


def test_pull_and_embed_report_as_json(capsys, hub_server, monkeypatch, minilm_dir):
    hub_server.add_repo_from_dir(MINILM_REPO_ID, minilm_dir, commit_sha=MINILM_COMMIT)
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    code, out, _ = run(capsys, "pull", "all-minilm-l6-v2", "--json")
    (pulled,) = json.loads(out)
    assert code == 0 and len(pulled["downloaded"]) == 9 and pulled["sha256"]["model.safetensors"] == MINILM_SHA
    code, out, _ = run(capsys, "embed", "all-minilm-l6-v2", "hello world", "--json")
    report = json.loads(out)
    (emb,) = report["embeddings"]
    assert code == 0 and report["revision"] == MINILM_COMMIT and emb["text"] == "hello world"
    assert len(emb["vector"]) == 384 and abs(sum(x * x for x in emb["vector"]) - 1.0) < 1e-4


def test_list_backbones_refuses_an_unknown_modality():
    import zoo
    from zoo.errors import RegistryFilterError

    with pytest.raises(RegistryFilterError, match="Did you mean: 'text'"):
        zoo.list_backbones(modality="txt")
    assert "all-minilm-l6-v2" in zoo.list_backbones(modality="text")


@pytest.mark.slow
def test_catalog_build_reports_as_json(capsys, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Hello\n\nOne guide page.\n")
    code, out, _ = run(capsys, "catalog", "build", "--out", str(tmp_path / "site"), "--runs", str(tmp_path / "none"),
                       "--docs", str(docs), "--no-api", "--json")
    report = json.loads(out)
    assert code == 0 and report["out"] == str(tmp_path / "site") and report["broken_links"] == []
    assert report["counts"]["docs"] == 1 and report["counts"]["backbones"] >= 6 and report["counts"]["runs"] == 0


def test_runs_last_prints_the_newest_finished_run_and_says_when_there_is_none(capsys, tmp_path):
    runs = tmp_path / "runs"
    for run_id, name, finished in (("a-1", "probe", "2026-01-02T10:00:00Z"), ("b-2", "finetune", "2026-01-03T09:00:00Z"),
                                   ("c-3", "probe", "2026-01-01T08:00:00Z")):
        (runs / run_id).mkdir(parents=True)
        (runs / run_id / "record.json").write_text(json.dumps({"run_id": run_id, "name": name,
                                                               "finished_at": finished}))
    for unfinished in ("d-4.partial", "e-5.pruned", "f-6"):  # interrupted, pruned, no record
        (runs / unfinished).mkdir()
    (runs / "d-4.partial" / "record.json").write_text(json.dumps({"name": "probe", "finished_at": "2027"}))
    (runs / "e-5.pruned" / "record.json").write_text(json.dumps({"name": "probe", "finished_at": "2027"}))

    code, out, _ = run(capsys, "runs", "last", str(runs))
    assert code == 0 and out.strip() == str(runs / "b-2")
    code, out, _ = run(capsys, "runs", "last", str(runs), "--name", "probe")
    assert code == 0 and out.strip() == str(runs / "a-1")
    code, out, err = run(capsys, "runs", "last", str(runs), "--name", "nope")
    assert code == 1 and out == "" and "no finished run of recipe 'nope'" in err and str(runs) in err
    code, _, err = run(capsys, "runs", "last", str(tmp_path / "missing"))
    assert code == 1 and "does not exist" in err and "Traceback" not in err
