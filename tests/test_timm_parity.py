"""Native image architectures against timm itself, and the zoo-timm plugin in a fresh venv.

timm does not import beside the project's CPU torch (PyPI torchvision's ``_C.so`` links CUDA
torch), so the timm side runs in a separate virtual environment with a torch/torchvision pair
that imports together (``torch==2.14.1 torchvision==0.29.1``, which pip takes from this machine's
disk). That environment is built once per machine by pip, into the test cache
(``$ZOO_TEST_CACHE``, default ``~/.cache/zoo-tests``), keyed by the pinned versions and zoo's
dependency list, and reused; it is built in a temporary folder and renamed into place, so a
half-built one is never reused. Where pip cannot install it (no wheels, no index), the tests are
skipped with pip's last error line.

Each test session then makes a *fresh* venv on top of it (a ``.pth`` adds the cached site-packages),
installs this checkout's zoo into it with pip (editable) and the plugin with ``zoo plugins install``.

* Parity: ``tests/timm_reference.py`` creates timm models with seeded random weights (BatchNorm and
  LayerNorm statistics and affine parameters randomized too), writes each with timm's own
  ``save_for_hf`` as a Hub repo, and records timm's logits on two scikit-image photographs; the
  repos are served by the loopback Hub, pinned with sha256 in a registry file, loaded with
  ``zoo.load_backbone`` (native code, this environment) and compared.
* The plugin: a timm architecture zoo has no native code for becomes a zoo backbone and runs a
  recipe (a logistic probe on scikit-learn digits) through the fresh venv's ``zoo run``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from image_support import skimage_image

import zoo
from zoo._hashing import sha256_file
from zoo._toml import dumps
from zoo.models.image import ImageInput, images_to_batch
from zoo.registry import get_registry

REPO = Path(__file__).resolve().parents[1]
REFERENCE_SCRIPT = Path(__file__).resolve().parent / "timm_reference.py"
PINS = {"torch": "2.14.1", "torchvision": "0.29.1", "timm": "1.0.31"}
#: timm architectures with native zoo code (zoo/default_plugins/image_models.py) -> zoo architecture
NATIVE = {"resnet18": "resnet", "resnet50": "resnet", "tf_efficientnet_lite0": "efficientnet",
          "vit_small_patch16_224": "vit"}
#: a timm architecture without native zoo code, for the plugin's recipe (recorded input size 64 px)
PLUGIN_ARCH, PLUGIN_SIZE = "mobilenetv3_small_050", 64
TOL = 1e-4

pytestmark = pytest.mark.slow


def _pip_failure(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in (proc.stderr or proc.stdout or "").splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {proc.returncode}"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"),
               **extra)
    return env


def _zoo_dependencies() -> list[str]:
    return list(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"])


def _cached_timm_env() -> Path:
    """The cached venv with torch, torchvision, timm and zoo's dependencies (built once by pip)."""
    deps = _zoo_dependencies()
    key = hashlib.sha256(json.dumps(deps).encode()).hexdigest()[:10]
    name = "timm-venv-" + "-".join(f"{k}{v}" for k, v in PINS.items()) + f"-deps{key}"
    cache = Path(os.environ.get("ZOO_TEST_CACHE") or Path.home() / ".cache" / "zoo-tests")
    venv = cache / name
    if (venv / "complete").is_file():
        return venv
    cache.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=name + ".building-", dir=cache))
    try:
        subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, capture_output=True)
        pins = [f"{k}=={v}" for k, v in PINS.items()]
        proc = subprocess.run([str(building / "bin" / "python"), "-m", "pip", "install", "--quiet", *pins,
                               "setuptools>=77", *deps], env=_clean_env(), capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"pip could not install {' '.join(pins)} into a venv: {_pip_failure(proc)}")
        (building / "complete").write_text(json.dumps({"pins": PINS, "dependencies": deps}))
        # the venv is used only through bin/python (a link to the base interpreter; the prefix comes
        # from pyvenv.cfg's location), never through its scripts, so renaming it keeps it working
        try:
            building.rename(venv)
        except OSError:  # another session finished first: use theirs
            if not (venv / "complete").is_file():
                raise
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)
    return venv


def _run(args: list[str], *, cwd: Path, timeout: int = 600, **env: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, env=_clean_env(**env), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def timm_venv(tmp_path_factory) -> Path:
    """A fresh venv on top of the cached one, with this checkout's zoo (pip, editable) and the
    zoo-timm plugin (``zoo plugins install``). Returns its ``bin`` folder."""
    base = _cached_timm_env()
    root = tmp_path_factory.mktemp("timm-venv")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root).stdout
    base_purelib = _run([str(base / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=root).stdout
    Path(purelib.strip(), "_zoo_timm_base.pth").write_text(f"import site; site.addsitedir({base_purelib.strip()!r})\n")
    # zoo's dependencies are in the cached venv: the editable install must find them all there
    _run([str(python), "-m", "pip", "install", "--quiet", "--no-index", "--no-build-isolation", "-e", str(REPO)],
         cwd=root)
    plugin = root / "zoo-timm"
    shutil.copytree(REPO / "plugins" / "zoo-timm", plugin, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                                            "__pycache__"))
    _run([str(venv / "bin" / "zoo"), "plugins", "install", "--no-index", "--no-build-isolation", "--no-cache-dir",
          str(plugin)], cwd=root)
    return venv / "bin"


@pytest.fixture(scope="module")
def timm_repos(timm_venv, tmp_path_factory) -> tuple[Path, dict[str, np.ndarray], torch.Tensor]:
    """timm's repos (random weights) and logits on two photographs: ``(folder, logits, inputs)``."""
    out = tmp_path_factory.mktemp("timm-repos")
    inputs = images_to_batch([skimage_image(n) for n in ("chelsea.png", "coffee.png")],
                             ImageInput(size=(224, 224), crop_pct=0.875))
    np.save(out / "inputs.npy", inputs.numpy())
    archs = [*NATIVE, f"{PLUGIN_ARCH}@{PLUGIN_SIZE}"]
    _run([str(timm_venv / "python"), str(REFERENCE_SCRIPT), str(out), str(out / "inputs.npy"), *archs], cwd=out)
    versions = json.loads((out / "versions.json").read_text())
    assert versions["timm"] == PINS["timm"] and versions["torch"].startswith(PINS["torch"])
    with np.load(out / "logits.npz") as data:
        logits = {k: data[k] for k in data.files}
    return out, logits, inputs


def _serve(hub, monkeypatch, tmp_path: Path, repos: Path, entries: dict[str, tuple[str, str]]) -> Path:
    """Serve each repo on the loopback Hub and write a registry file pinning it:
    ``entries`` maps entry name -> (timm architecture, zoo architecture)."""
    from safetensors.numpy import load_file

    backbones = {}
    for name, (arch, zoo_arch) in entries.items():
        folder = repos / arch
        commit = hub.add_repo_from_dir(f"timm-random/{arch}", folder)
        config = json.loads((folder / "config.json").read_text())
        tensors = load_file(folder / "model.safetensors")
        num_params = sum(t.size for k, t in tensors.items() if not k.endswith("num_batches_tracked"))
        backbones[name] = {
            "architecture": zoo_arch, "repo_id": f"timm-random/{arch}", "revision": commit, "modality": "image",
            "license": "apache-2.0", "num_params": int(num_params), "embedding_dim": int(config.get("num_features")),
            "files": {f: sha256_file(folder / f) for f in ("config.json", "model.safetensors")},
        }
    path = tmp_path / "timm-random.toml"
    path.write_text(dumps({"backbone": backbones}))
    monkeypatch.setenv("ZOO_REGISTRY", str(path))
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    get_registry(reload=True)
    return path


def test_native_architectures_match_timm_on_timm_checkpoints(timm_repos, hub_server, monkeypatch, tmp_path):
    repos, logits, inputs = timm_repos
    _serve(hub_server, monkeypatch, tmp_path, repos, {f"timm-random-{a}": (a, z) for a, z in NATIVE.items()})
    diffs = {}
    for arch in NATIVE:
        backbone = zoo.load_backbone(f"timm-random-{arch}")
        assert backbone.input_spec.size == (224, 224)
        with torch.no_grad():
            native = backbone(inputs).numpy()
        assert native.shape == logits[arch].shape == (2, 1000)
        diffs[arch] = float(np.abs(native - logits[arch]).max())
    print("max abs logit difference, native vs timm:", json.dumps(diffs))
    assert all(f"timm-random/{a}" in "".join(hub_server.downloads()) for a in NATIVE)  # served, not cached before
    assert {a for a, d in diffs.items() if not d <= TOL} == set(), diffs


RECIPE = """
name = "timm-plugin-digits"
description = "A timm architecture through the zoo-timm plugin: logistic probe on scikit-learn digits."
seed = 0
device = "cpu"
output_dir = "runs"

[backbone]
name = "timm-random-{arch}"
batch_size = 100

[data]
loader = "npz"

[data.options]
train = "digits.npz"
scale = 16.0
test_fraction = 0.5

[freezing]
name = "all-but-head"

[training]
epochs = 0

[[evaluators]]
name = "logistic-probe"
"""


def test_zoo_timm_plugin_runs_a_recipe_in_a_fresh_venv(timm_venv, timm_repos, hub_server, monkeypatch, tmp_path):
    from sklearn.datasets import load_digits

    repos, _, _ = timm_repos
    _serve(hub_server, monkeypatch, tmp_path, repos, {f"timm-random-{PLUGIN_ARCH}": (PLUGIN_ARCH, "timm")})
    digits = load_digits()
    np.savez(tmp_path / "digits.npz", x=digits.images[:400], y=digits.target[:400])
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(RECIPE.format(arch=PLUGIN_ARCH))
    proc = _run([str(timm_venv / "zoo"), "run", str(recipe), "--quiet", "--json"], cwd=tmp_path)
    record = json.loads(proc.stdout)
    plugins = {p["name"]: p for p in record["plugins"]}
    assert plugins["timm"]["distribution"] == "zoo-timm" and plugins["timm"]["version"] == "0.1.0"
    assert not plugins["timm"]["builtin"]
    assert any(f"timm-random/{PLUGIN_ARCH}" in d for d in hub_server.downloads())
    print("zoo-timm recipe record:", json.dumps({k: record[k] for k in ("backbone", "metrics") if k in record})[:2000])
