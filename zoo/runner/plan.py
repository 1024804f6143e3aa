"""``zoo plan RECIPE``: the composed pipeline, without running it.

Shows which plugin provides each part, the backbone's pinned source, the parameters the
freezing policy leaves trainable, the dataset's split sizes and what training will do. Builds
the model (from the local, verified files) and loads the dataset, but trains and encodes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .._text import text_table
from .recipe import Recipe

__all__ = ["Plan", "PlanPart", "plan"]


@dataclass(frozen=True)
class PlanPart:
    role: str
    name: str
    plugin: str
    version: str | None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """What a recipe composes: parts with their plugins, sizes and parameter counts."""

    recipe: Recipe
    parts: tuple[PlanPart, ...]
    backbone: dict[str, Any]
    splits: dict[str, int]
    num_classes: int
    trainable_params: int | None
    total_params: int | None
    trainable_tensors: tuple[str, ...]
    training_mode: str
    device: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe.name,
            "source": self.recipe.source,
            "device": self.device,
            "parts": [p.__dict__ for p in self.parts],
            "backbone": self.backbone,
            "splits": self.splits,
            "num_classes": self.num_classes,
            "trainable_params": self.trainable_params,
            "total_params": self.total_params,
            "training_mode": self.training_mode,
        }

    def format(self) -> str:
        r = self.recipe
        rows = [[p.role, p.name, p.plugin, p.version or "", ", ".join(f"{k}={v}" for k, v in p.options.items())]
                for p in self.parts]
        out = [f"recipe {r.name} ({r.source}), seed {r.seed}, device {self.device}", ""]
        out += [text_table(["part", "name", "plugin", "version", "options"], rows)]
        b = self.backbone
        out += ["", f"backbone: {b['name']}: {b['repo_id']}@{b['revision']} ({b['integrity']}), "
                    f"{b['embedding_dim']}-d, max_seq_length {b['max_seq_length']}"]
        out += ["data: " + ", ".join(f"{k} {n}" for k, n in self.splits.items()) + f"; {self.num_classes} classes"
                + (f"; {r.data.folds}-fold cross-validation over train" if r.data.folds else "")]
        if self.trainable_params is not None:
            pct = 100 * self.trainable_params / max(self.total_params or 1, 1)
            out += [f"parameters: {self.trainable_params:,} trainable of {self.total_params:,} ({pct:.2f}%) "
                    f"under freezing policy {r.freezing.name!r}"]
            shown = [n for n in self.trainable_tensors if n.startswith("backbone.")]
            if shown:
                out += [f"  trainable backbone tensors: {len(shown)} (first {shown[0]}, last {shown[-1]})"]
        t = r.training
        if t.epochs:
            out += [f"training: {self.training_mode}, {t.epochs} epoch(s), batch {t.batch_size}, lr {t.lr:g}"
                    + (f", backbone lr {t.backbone_lr:g}" if t.backbone_lr else "")
                    + f", {t.schedule} after {t.warmup_ratio:g} warm-up"
                    + (f", early stopping {t.early_stopping}" if t.early_stopping else "")
                    + (f", LLRD {t.layer_lr_decay:g}" if t.layer_lr_decay != 1 else "")
                    + (", gradual unfreezing" if t.gradual_unfreezing else "")]
        else:
            out += ["training: none (epochs = 0); evaluators run on frozen features"]
        out += [f"output: {r.output_dir}/<run id>/"]
        if r.sweep:
            out += [f"sweep: {r.sweep.method} over " + ", ".join(f"{k} {_dimension(v)}" for k, v in r.sweep.params.items())]
        return "\n".join(out)


def plan(recipe: Recipe, *, build_model: bool = True) -> Plan:
    """Describe ``recipe`` from its :func:`~zoo.runner.assembly.assemble` (the one ``zoo run``
    executes): plugins, backbone source, split sizes, trainable parameters.

    With ``build_model`` the backbone is loaded (from the verified local cache, or downloaded)
    to count parameters under the freezing policy.
    """
    from .assembly import assemble
    from .model import frozen_prefix_layers

    a = assemble(recipe, build_model=build_model)
    entry, arch = a.entry, a.parts["architecture"]
    parts = [PlanPart("backbone", entry.name, f"registry {entry.source}", None, {}),
             PlanPart("architecture", entry.architecture, arch.component.plugin, arch.component.version, {})]
    parts += [PlanPart(role.replace(".", "[") + ("]" if "." in role else ""), p.name, p.component.plugin,
                       p.component.version, p.options_dict())
              for role, p in a.parts.items() if role != "architecture"]
    trainable = total = None
    tensors: tuple[str, ...] = ()
    mode = "head on cached features"
    max_len = recipe.backbone.max_seq_length or entry.input.max_seq_length
    if a.model is not None:
        max_len = a.backbone.preprocessing().get("max_seq_length", max_len)
        report = a.freeze
        trainable, total, tensors = report.trainable_params, report.total_params, report.trainable
        if a.trains_backbone:
            k = frozen_prefix_layers(a.model)
            mode = "end-to-end fine-tuning" + (f" (frozen embeddings + {k} layers computed once per input)" if k else "")
    return Plan(recipe, tuple(parts),
                {"name": entry.name, "repo_id": entry.repo_id, "revision": entry.revision,
                 "integrity": entry.integrity, "embedding_dim": entry.embedding_dim, "max_seq_length": max_len},
                {k: len(s) for k, s in a.splits.items()}, a.bundle.num_classes, trainable, total, tensors, mode,
                a.device)


def _dimension(values: Any) -> str:
    """``[1, 2]`` for listed values; ``float [0.0001, 0.01] log`` for a range (``[sweep.params]``)."""
    if not isinstance(values, Mapping):
        return str(list(values))
    if values.get("type") == "categorical":
        return str(list(values["choices"]))
    step = f" step {values['step']}" if values.get("step") is not None else ""
    return f"{values['type']} [{values['low']}, {values['high']}]{' log' if values.get('log') else ''}{step}"
