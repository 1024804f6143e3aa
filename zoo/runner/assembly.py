"""Assemble a validated recipe once: the components with their validated options, the data, the
backbone and the device. ``zoo plan`` prints an :class:`Assembly`; ``zoo run`` executes one
(:mod:`zoo.runner.stages`). Nothing downstream validates options again: :func:`assemble` takes them
from :attr:`Recipe.parts <zoo.runner.recipe.Recipe.parts>`, where recipe validation left them.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..data.splits import limit_split as subset
from .recipe import Recipe

__all__ = ["Part", "Assembly", "assemble", "subset"]


@dataclass(frozen=True)
class Part:
    """One component of a run: its role (``head``, ``compression.0``, ...), the registered
    component (name, plugin, version, object) and its validated options instance (or None)."""

    role: str
    component: Any
    options: Any

    @property
    def name(self) -> str:
        return self.component.name

    def options_dict(self) -> dict[str, Any]:
        """Every option with the value in effect (defaults included), JSON-ready."""
        if self.options is None or not dataclasses.is_dataclass(self.options):
            return {}
        return {f.name: _plain(getattr(self.options, f.name)) for f in dataclasses.fields(self.options) if f.init}

    def to_record(self) -> dict[str, Any]:
        c = self.component
        return {"name": c.name, "plugin": c.plugin, "distribution": c.distribution, "version": c.version}


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value




@dataclass
class Assembly:
    """Everything a run is made of, resolved once.

    ``parts``: role -> :class:`Part` (``dataset``, ``head``, ``freezing``, ``compression.N``,
    ``evaluator.N``, ``architecture``); ``bundle``: the loaded dataset; ``splits``: the splits a run
    uses (subsets applied); ``entry``: the backbone's registry entry; ``backbone``: the loaded,
    verified backbone (None when assembled without a model); ``device``. :meth:`build_model` puts
    the head on the backbone and applies the freezing policy.
    """

    recipe: Recipe
    parts: dict[str, Part]
    entry: Any
    bundle: Any
    splits: dict[str, Any]
    device: str
    backbone: Any = None
    model: Any = None
    freeze: Any = None
    extras: dict[str, Any] = field(default_factory=dict)
    target: Any = None
    """The target domain (:class:`zoo.runner.adaptation.TargetData`) when the recipe has ``[data.target]``."""

    def part(self, role: str) -> Part:
        return self.parts[role]

    def roles(self, prefix: str) -> list[Part]:
        """The parts ``prefix.0``, ``prefix.1``, ... in order."""
        return [p for r, p in self.parts.items() if r.startswith(prefix + ".")]

    @property
    def trains_backbone(self) -> bool:
        return self.freeze is not None and any(n.startswith("backbone.") for n in self.freeze.trainable)

    def build_model(self) -> Any:
        """The head (initialized from ``torch.manual_seed(recipe.seed)``) on the backbone, frozen by
        the policy; sets and returns :attr:`model` (its :class:`FreezeReport` in :attr:`freeze`)."""
        import torch

        from .model import TransferModel

        head_p, freeze_p = self.parts["head"], self.parts["freezing"]
        torch.manual_seed(self.recipe.seed)  # the head's initialization depends on the seed only
        head = head_p.component.obj(self.backbone.embedding_dim, self.bundle.num_classes, head_p.options)
        self.model = TransferModel(self.backbone, head).to(self.device)
        self.freeze = freeze_p.component.obj(self.model, freeze_p.options, head_prefix="head")
        return self.model


def assemble(recipe: Recipe, *, build_model: bool = True, device: str | None = None) -> Assembly:
    """Resolve ``recipe``: its components and validated options, its data, its backbone.

    With ``build_model`` the backbone is loaded (verified) and, for ``zoo plan``, the head and the
    freezing policy applied; a run loads the backbone and builds the model itself after seeding.

    Raises:
        ZooError: a dataset, backbone or plugin problem (see :mod:`zoo.errors`).
    """
    from ..builder import resolve_device
    from ..plugins import get_component
    from ..registry import backbone_info

    entry = backbone_info(recipe.backbone.name)
    parts = {role: Part(role, comp, opts) for role, (comp, opts) in recipe.parts.items()}
    parts["architecture"] = Part("architecture", get_component("architecture", entry.architecture), None)
    loader, t0 = parts["dataset"], time.perf_counter()
    bundle = loader.component.obj(loader.options, base_dir=recipe.base_dir, seed=recipe.seed)
    data = recipe.data
    limits = {"train": data.max_train, "validation": data.max_validation, "test": data.max_test}
    splits = {k: subset(s, limits[k], recipe.seed) for k, s in bundle.splits.items() if s is not None}
    _check_labels(recipe, splits)
    load_data = round(time.perf_counter() - t0, 3)  # before resolve_device, whose torch import is no data loading
    assembly = Assembly(recipe, parts, entry, bundle, splits, resolve_device(device or recipe.device),
                        extras={"timings": {"load_data": load_data}})
    if recipe.target is not None:
        from .adaptation import load_target

        assembly.target = load_target(recipe, parts["target"], bundle)
    if build_model:
        assembly.backbone = load_configured_backbone(recipe, assembly.device)
        assembly.build_model()
    return assembly


def _check_labels(recipe: Recipe, splits: Mapping[str, Any]) -> None:
    """Training and evaluators score labels: the splits they use must have them."""
    from ..errors import DatasetError

    unlabeled = [name for name, s in splits.items() if not s.labeled]
    if unlabeled and (recipe.training.epochs > 0 or recipe.evaluators):
        raise DatasetError(f"dataset loader {recipe.data.loader!r}: the {', '.join(unlabeled)} split(s) have no "
                           "labels, but training and evaluators need labeled train, validation and test splits "
                           "(unlabeled data is for the adapt stage).")


def load_configured_backbone(recipe: Recipe, device: str) -> Any:
    """The verified backbone of ``recipe`` on ``device``, with the recipe's ``max_seq_length``."""
    from ..builder import load_backbone
    from ..errors import RecipeError

    backbone = load_backbone(recipe.backbone.name, device=device)
    if recipe.backbone.max_seq_length is not None:
        setter = getattr(backbone, "set_max_seq_length", None)
        if not callable(setter):
            raise RecipeError(f"backbone {recipe.backbone.name!r} takes no max_seq_length (it is not a text "
                              "model); remove backbone.max_seq_length.", source=recipe.source,
                              key="backbone.max_seq_length")
        setter(recipe.backbone.max_seq_length)
    return backbone
