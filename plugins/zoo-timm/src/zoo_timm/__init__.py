"""transferzoo plugin: ``architecture = "timm"`` builds any timm model as a zoo image backbone.

timm is imported when an entry is built, so ``zoo --help`` stays fast and a broken timm install
shows up as a clear :class:`zoo.errors.ArchitectureError` naming the import failure.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from zoo import hookimpl

__all__ = ["TimmBackbone", "build_timm", "groups_from_matcher", "register_architectures"]


def groups_from_matcher(names: Sequence[str], matcher: Mapping[str, Any], *, exclude: Sequence[str] = ()) -> list:
    """zoo ``LayerGroup`` s from a timm ``group_matcher`` dict, ordered input to output.

    ``matcher`` maps a group kind to a regex, or to a list of ``(regex, (ordinal,) | None)``
    pairs (timm's form); a regex's numeric groups order the matches, an explicit ordinal overrides
    them. Each parameter joins the first pattern it matches; names under ``exclude`` prefixes
    (the classifier) and unmatched names are left out.
    """
    from zoo.contracts import LayerGroup

    keyed: dict[tuple, list[str]] = {}
    for name in names:
        if any(name == p or name.startswith(p + ".") for p in exclude):
            continue
        key = None
        for kind_index, (kind, spec) in enumerate(matcher.items()):
            patterns = [(spec, None)] if isinstance(spec, str) else list(spec)
            for pattern, ordinal in patterns:
                match = re.match(pattern, name)
                if match:
                    nums = tuple(float(g) for g in match.groups() if g is not None and g.isdigit())
                    key = (kind_index, tuple(ordinal) if ordinal is not None else nums)
                    break
            if key is not None:
                break
        if key is not None:
            keyed.setdefault(key, []).append(name)
    groups = []
    kinds = list(matcher)
    for (kind_index, nums), params in sorted(keyed.items()):
        suffix = ".".join(str(int(v)) for v in nums)
        groups.append(LayerGroup(f"{kinds[kind_index]}.{suffix}" if suffix else kinds[kind_index], tuple(params)))
    return groups


def _module_base():
    import torch

    from zoo.models.image import ImageBackboneMixin

    class TimmBackbone(ImageBackboneMixin, torch.nn.Module):
        """A timm model behind the zoo backbone contract (parameters under ``model.``)."""

        def __init__(self, model: Any, config: Mapping[str, Any]):
            super().__init__()
            from zoo.models.image import ImageInput
            from zoo.models.vision import input_spec_from_config

            self.model = model
            self.timm_config = dict(config)
            self.init_image_backbone(input_spec_from_config(config, ImageInput()),
                                     tuple(config.get("label_names", ()) or ()))

        @property
        def config(self):  # what ImageBackboneMixin.preprocessing() records
            arch = self.timm_config.get("architecture")
            return type("TimmConfig", (), {"to_dict": lambda _self: {"architecture": "timm", "timm": arch}})()

        @property
        def embedding_dim(self) -> int:
            return int(getattr(self.model, "head_hidden_size", None) or self.model.num_features)

        def forward_features(self, batch):
            return self.model.forward_head(self.model.forward_features(batch), pre_logits=True)

        def forward_head(self, features):
            return self.model.get_classifier()(features)

        def classifier_prefix(self) -> str:
            return "model." + self.model.pretrained_cfg.get("classifier", "head")

        def group_matcher(self) -> list:
            from zoo.contracts import LayerGroup

            names = [n for n, _ in self.model.named_parameters()]
            head = self.model.pretrained_cfg.get("classifier", "head")
            groups = groups_from_matcher(names, self.model.group_matcher(coarse=True), exclude=(head,))
            return [LayerGroup(g.name, tuple("model." + n for n in g.params)) for g in groups]

    return TimmBackbone


def __getattr__(name: str) -> Any:
    if name == "TimmBackbone":
        return _module_base()
    raise AttributeError(name)


def build_timm(entry: Any, resolved: Any, *, device: str = "cpu") -> Any:
    """Build the entry's timm model from its verified snapshot and load its weights strictly."""
    from zoo.errors import ArchitectureError
    from zoo.models.vision import read_config
    from zoo.weights import load_into

    try:
        import timm
    except Exception as exc:  # noqa: BLE001 - timm's import chain fails in several ways (torchvision, CUDA libs)
        raise ArchitectureError(
            f"entry {entry.name!r} needs timm, which does not import here ({type(exc).__name__}: {exc}). "
            f"Install timm with a torchvision build matching your torch.") from exc
    config = read_config(resolved.snapshot_dir)
    arch = str(config.get("architecture", ""))
    # timm's save_for_hf repeats num_classes inside model_args: one keyword, config's top level first
    kwargs = {**dict(config.get("model_args", {}) or {}), "num_classes": int(config.get("num_classes", 1000))}
    model = timm.create_model(arch, pretrained=False, **kwargs)
    load_into(model, resolved.snapshot_dir / entry.weights_files[0].filename, strict=True)
    backbone = _module_base()(model, config)
    return backbone.to(device).eval()


@hookimpl
def register_architectures(register) -> None:
    register("timm", build_timm,
             summary="Any timm architecture (config.json 'architecture'), timm's own layer groups; needs timm.")
