"""Recipes: a TOML file that composes one transfer experiment, validated before any work starts.

:func:`load_recipe` reads the file, applies ``-s key=value`` overrides, and checks everything it
can without loading a model or a dataset: unknown keys (with a did-you-mean), wrong types,
unknown component names (listing the installed ones), each component's options against its
schema, the dataset files, and the backbone name against the registry. Every problem is a
:class:`~zoo.errors.RecipeError` naming the file, the line of the key and the key.

The result is a frozen :class:`Recipe`; ``Recipe.to_dict()`` is the resolved recipe written into
each run directory. Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import Any, Iterable, Literal, Mapping, Sequence

from .._toml import tomllib
from ..errors import OptionsError, RecipeError, did_you_mean

__all__ = [
    "Recipe",
    "BackboneSpec",
    "DataSpec",
    "ComponentSpec",
    "TrainingSpec",
    "SweepSpec",
    "load_recipe",
    "recipe_from_dict",
    "parse_override",
    "apply_overrides",
    "key_lines",
]


def _opt(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


# --- the schema -----------------------------------------------------------------------------
# Section dataclasses double as option schemas (zoo.plugins.validate_options checks them), so
# every field has a supported type, a default and a help text. docs/recipes.md lists them.


@dataclass(frozen=True)
class BackboneSpec:
    """``[backbone]``: which registered backbone, and how it encodes."""

    name: str = _opt("", "registry name of the backbone (see `zoo list`)")
    batch_size: int = _opt(64, "batch size when encoding features for evaluators and the feature cache")
    max_seq_length: int | None = _opt(None, "truncate inputs to this many tokens (default: the backbone's own)")

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("backbone.name is required (a name from `zoo list`)")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.max_seq_length is not None and self.max_seq_length < 2:
            raise ValueError(f"max_seq_length must be at least 2, got {self.max_seq_length}")


@dataclass(frozen=True)
class DataSpec:
    """``[data]``: a dataset loader and its options, plus runner-side subsetting and k-fold CV."""

    loader: str = _opt("", "dataset loader (see `zoo plugins list`), e.g. csv, text-label-tsv, lines-per-label")
    max_train: int | None = _opt(None, "use at most this many training examples (a seeded random subset)")
    max_validation: int | None = _opt(None, "use at most this many validation examples (a seeded random subset)")
    max_test: int | None = _opt(None, "use at most this many test examples (a seeded random subset)")
    folds: int | None = _opt(None, "evaluate with stratified k-fold cross-validation over the train split (SentEval)")
    options: Mapping[str, Any] = field(default_factory=dict, metadata={"help": "the loader's options"})

    def __post_init__(self) -> None:
        if not self.loader:
            raise ValueError("data.loader is required (e.g. 'csv')")
        for name in ("max_train", "max_validation", "max_test"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.folds is not None and self.folds < 2:
            raise ValueError(f"folds must be at least 2, got {self.folds}")


@dataclass(frozen=True)
class TargetSpec:
    """``[data.target]``: the target domain of domain adaptation (same classes, shifted inputs).

    Its loader's train split is the *unlabeled* adaptation split (labels are dropped when it is
    loaded); its test split is the labeled target test, read only for the final scores.
    """

    loader: str = _opt("", "dataset loader of the target domain (see `zoo plugins list`)")
    max_adapt: int | None = _opt(None, "use at most this many unlabeled target examples (a seeded random subset)")
    max_test: int | None = _opt(None, "use at most this many target test examples (a seeded random subset)")
    options: Mapping[str, Any] = field(default_factory=dict, metadata={"help": "the target loader's options"})

    def __post_init__(self) -> None:
        if not self.loader:
            raise ValueError("data.target.loader is required (e.g. 'sklearn')")
        for name in ("max_adapt", "max_test"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")


@dataclass(frozen=True)
class AdaptationSpec:
    """``[adaptation]``: a domain-adaptation method, its options and the label-free selection criterion."""

    name: str = _opt("", "adaptation method (see `zoo plugins list`): coral, self-training, dann, adabn, tent")
    criterion: Literal["entropy", "source-validation", "importance-weighted"] = _opt(
        "entropy", "how sweeps over this method's options choose without target labels")
    source_data: bool = _opt(True, "the method may use the labeled source data while adapting; false: "
                                   "source-free adaptation (only the source-trained model and unlabeled target)")
    options: Mapping[str, Any] = field(default_factory=dict, metadata={"help": "the method's options"})

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("adaptation.name is required (e.g. 'self-training')")


@dataclass(frozen=True)
class ComponentSpec:
    """A component by name with its raw options (``[head]``, ``[freezing]``, entries of lists)."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingSpec:
    """``[training]``: how the new head (and any unfrozen backbone layers) are trained."""

    epochs: int = _opt(0, "training epochs; 0 trains nothing (evaluators only)")
    batch_size: int = _opt(32, "training batch size")
    lr: float = _opt(1e-3, "peak learning rate of the head")
    backbone_lr: float | None = _opt(None, "peak learning rate of trainable backbone parameters (default: lr)")
    weight_decay: float = _opt(0.01, "AdamW weight decay (not applied to biases and norm weights)")
    warmup_ratio: float = _opt(0.1, "fraction of the steps spent warming up linearly from 0")
    schedule: Literal["cosine", "linear", "constant"] = _opt("cosine", "decay after warm-up")
    grad_clip: float | None = _opt(1.0, "clip the global gradient norm to this value (none: no clipping)")
    early_stopping: int | None = _opt(None, "stop after this many epochs without a better validation accuracy; the best epoch is kept")
    layer_lr_decay: float = _opt(1.0, "layer-wise LR decay: layer i of L gets backbone_lr * decay**(L-1-i), the embeddings decay**L")
    gradual_unfreezing: bool = _opt(False, "ULMFiT: epoch e trains the head and the top e trainable layers")
    precision: Literal["fp32", "bf16", "fp16"] = _opt("fp32", "autocast precision on CUDA (CPU always runs fp32)")
    label_smoothing: float = _opt(0.0, "cross-entropy label smoothing")

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        for key in ("lr", "backbone_lr"):
            value = getattr(self, key)
            if value is not None and not 0 < value < math.inf:
                raise ValueError(f"{key} must be a positive finite number, got {value}")
        if not 0 <= self.weight_decay < math.inf:
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.grad_clip is not None and not 0 < self.grad_clip < math.inf:
            raise ValueError(f"grad_clip must be positive, got {self.grad_clip}")
        if self.early_stopping is not None and self.early_stopping < 1:
            raise ValueError(f"early_stopping must be at least 1, got {self.early_stopping}")
        if not 0 < self.layer_lr_decay <= 1:
            raise ValueError(f"layer_lr_decay must be in (0, 1], got {self.layer_lr_decay}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")


@dataclass(frozen=True)
class SweepSpec:
    """``[sweep]``: a grid, random or Optuna search over recipe keys; each trial is its own recorded run."""

    method: Literal["grid", "random", "optuna"] = _opt("grid", "grid: every combination; random: `trials` draws; optuna: TPE with pruning (see docs/search.md)")
    trials: int = _opt(8, "number of trials (method = 'random' or 'optuna')")
    seed: int = _opt(0, "seed of the random draws and of the Optuna sampler")
    metric: str = _opt("auto", "validation metric to maximize, e.g. 'head.val_accuracy' or 'logistic-probe.val_accuracy' (auto: the first available)")
    pruner: Literal["median", "hyperband", "none"] = _opt("median", "optuna: stop unpromising trials early on the per-epoch validation accuracy")
    startup_trials: int = _opt(4, "optuna: trials sampled at random before TPE models the results (also the median pruner's warm-up)")
    params: Mapping[str, Any] = field(default_factory=dict, metadata={"help": "dotted recipe key -> list of values, or a range table { low, high, log, step }"})

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise ValueError(f"trials must be at least 1, got {self.trials}")
        if self.startup_trials < 0:
            raise ValueError(f"startup_trials must be >= 0, got {self.startup_trials}")


MAX_NAME = 100
"""The longest recipe name (it starts every run directory's name)."""


@dataclass(frozen=True)
class TopSpec:
    """Top-level keys of a recipe."""

    name: str = _opt("", "experiment name (used in run ids)")
    description: str = _opt("", "free text, copied into the record")
    seed: int = _opt(0, "seed of everything: splits, initialization, shuffling, probes")
    device: str = _opt("auto", "'auto' (CUDA when present, else CPU), 'cpu', 'cuda' or 'cuda:N'")
    output_dir: str = _opt("runs", "where run directories go, relative to the recipe file")
    threads: int | None = _opt(None, "torch CPU threads (default: torch's); recorded, since it can change float results")

    def __post_init__(self) -> None:
        if not self.name or not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", self.name):
            raise ValueError(f"name must be letters, digits, '_', '.', '-' (got {self.name!r})")
        if len(self.name) > MAX_NAME:  # run directories are NAME-DATE-TIME-ID, and file names stop at 255 bytes
            raise ValueError(f"name is {len(self.name)} characters long; use at most {MAX_NAME}")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be in [0, 2**32) (numpy's range), got {self.seed}")
        if not re.match(r"^(auto|cpu|cuda(:\d+)?|mps)$", self.device):
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")


@dataclass(frozen=True)
class Recipe:
    """A validated recipe. ``base_dir`` is the recipe file's directory (relative paths start there)."""

    name: str
    seed: int
    device: str
    output_dir: Path
    backbone: BackboneSpec
    data: DataSpec
    head: ComponentSpec
    freezing: ComponentSpec
    training: TrainingSpec
    compression: tuple[ComponentSpec, ...]
    evaluators: tuple[ComponentSpec, ...]
    sweep: SweepSpec | None
    source: str
    base_dir: Path
    raw: Mapping[str, Any]
    overrides: tuple[str, ...] = ()
    description: str = ""
    threads: int | None = None
    target: TargetSpec | None = None
    adaptation: AdaptationSpec | None = None
    parts: Mapping[str, tuple[Any, Any]] = field(default_factory=dict, compare=False, repr=False)
    """role (``dataset``, ``head``, ``freezing``, ``compression.0``, ``evaluator.0``, ...) ->
    (component, validated options instance): validated once, here."""

    def to_dict(self) -> dict[str, Any]:
        """The resolved recipe (overrides applied) as plain data, ready for TOML."""
        return _thaw(self.raw)

    def to_toml(self) -> str:
        """The resolved recipe as a TOML file (written into each run directory as ``recipe.toml``)."""
        from .._toml import dumps

        header = (f"# resolved recipe of a zoo run: {self.source}\n"
                  f"# overrides: {' '.join(self.overrides) or '(none)'}\n"
                  f"# relative paths are relative to: {self.base_dir}\n")
        return header + dumps(self.to_dict())

    def resolved(self) -> dict[str, Any]:
        """Every option with its value in effect, defaults included: what a run records and
        ``zoo reproduce`` re-runs (so a default that changes later does not change a re-run)."""
        top = {f.name: getattr(self, f.name) for f in dataclasses.fields(TopSpec)}
        top["output_dir"] = str(self.raw.get("output_dir", top["output_dir"]))
        out: dict[str, Any] = {**top, "backbone": _fields(self.backbone)}
        out["data"] = {**_fields(self.data, skip=("options",)), "options": _fields(self.parts["dataset"][1])}
        if self.target is not None:
            out["data"]["target"] = {**_fields(self.target, skip=("options",)),
                                     "options": _fields(self.parts["target"][1])}
        if self.adaptation is not None:
            out["adaptation"] = {"name": self.adaptation.name, "criterion": self.adaptation.criterion,
                                 "source_data": self.adaptation.source_data,
                                 "options": _fields(self.parts["adaptation"][1])}
        for role in ("head", "freezing"):
            out[role] = {"name": getattr(self, role).name, "options": _fields(self.parts[role][1])}
        out["training"] = _fields(self.training)
        for key, role, specs in (("compression", "compression", self.compression),
                                 ("evaluators", "evaluator", self.evaluators)):
            out[key] = [{"name": spec.name, "options": _fields(self.parts[f"{role}.{i}"][1])}
                        for i, spec in enumerate(specs)]
        if "sweep" in self.raw:
            out["sweep"] = _thaw(self.raw["sweep"])
        return out

    def with_overrides(self, overrides: Sequence[str]) -> Recipe:
        """A new recipe with more ``key=value`` overrides applied (validated again)."""
        raw = apply_overrides(_thaw(self.raw), overrides, source=self.source)
        return recipe_from_dict(raw, source=self.source, base_dir=self.base_dir,
                                overrides=(*self.overrides, *overrides))


def _fields(options: Any, *, skip: Sequence[str] = ()) -> dict[str, Any]:
    """An options instance as plain data: every init field (defaults included); tuples as lists."""
    if options is None:
        return {}
    return {f.name: _thaw(getattr(options, f.name)) for f in dataclasses.fields(options)
            if f.init and f.name not in skip}


SECTIONS = ("backbone", "data", "head", "freezing", "training", "compression", "evaluators", "adaptation", "sweep")
_TOP_KEYS = tuple(f.name for f in dataclasses.fields(TopSpec))


# --- locating keys in the TOML text ---------------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEYLINE = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _split_key(text: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", text)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def key_lines(text: str) -> dict[str, int]:
    """Map dotted key paths to their 1-based line numbers by scanning the TOML text.

    Tables give their header line (``data.options``), keys their own line
    (``data.options.train``); entries of arrays of tables are numbered (``evaluators.0.name``).
    Multi-line strings and arrays are skipped. Good enough to point at a key; tomllib itself
    gives line numbers only for syntax errors.
    """
    lines: dict[str, int] = {}
    counts: dict[str, int] = {}
    prefix: list[str] = []
    in_string: str | None = None
    depth = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string:
            if in_string in line:
                in_string = None
            continue
        if depth > 0:
            depth += line.count("[") - line.count("]")
            continue
        header = _HEADER.match(line)
        if header and "=" not in line.split("#")[0]:
            path = _split_key(header.group(2))
            if header.group(1) == "[[":
                base = ".".join(path)
                index = counts.get(base, 0)
                counts[base] = index + 1
                prefix = [*path, str(index)]
                lines.setdefault(base, number)
            else:
                prefix = path
            lines.setdefault(".".join(_renumber(prefix, counts)), number)
            continue
        key = _KEYLINE.match(line)
        if key:
            path = ".".join(_renumber([*prefix, *_split_key(key.group(1))], counts))
            lines.setdefault(path, number)
            value = line[key.end():].split("#")[0]
            for quote in ('"""', "'''"):
                if value.count(quote) == 1:
                    in_string = quote
            depth = max(0, value.count("[") - value.count("]")) if not in_string else 0
    return lines


def _renumber(path: list[str], counts: Mapping[str, int]) -> list[str]:
    """Inside ``[[evaluators]]`` a sub-table ``[evaluators.options]`` belongs to the last entry."""
    out: list[str] = []
    for part in path:
        out.append(part)
        base = ".".join(out)
        if base in counts and not (len(out) < len(path) and path[len(out)].isdigit()):
            if len(out) < len(path):
                out.append(str(counts[base] - 1))
    return out


# --- validation -----------------------------------------------------------------------------


class _Checker:
    """Raises :class:`RecipeError` with the file, line and key of a problem."""

    def __init__(self, source: str, lines: Mapping[str, int], overridden: Mapping[str, str]):
        self.source, self.lines, self.overridden = source, lines, overridden

    def line(self, key: str) -> int | None:
        parts = key.split(".")
        while parts:
            found = self.lines.get(".".join(parts))
            if found:
                return found
            parts.pop()
        return None

    def fail(self, key: str, message: str) -> RecipeError:
        if key in self.overridden:
            return RecipeError(f"{message} (set by `-s {self.overridden[key]}`)", source=self.source, key=key)
        return RecipeError(message, source=self.source, key=key or None, line=self.line(key) if key else None)

    def table(self, data: Any, key: str) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise self.fail(key, f"expected a table ([{key}]), got {type(data).__name__} {data!r}.")
        return dict(data)

    def section(self, schema: type, data: Mapping[str, Any], prefix: str, *, tables: Iterable[str] = ()) -> Any:
        """Build ``schema`` from ``data`` key by key, so each error names its key."""
        return self.options(SimpleNamespace(kind="recipe section", name=prefix or "(top level)", options=schema),
                            {k: v for k, v in data.items() if k not in tables}, prefix, extra_keys=tables,
                            extra={k: data[k] for k in tables if k in data})

    def options(self, component: Any, mapping: Mapping[str, Any], prefix: str, *,
                extra_keys: Iterable[str] = (), extra: Mapping[str, Any] | None = None) -> Any:
        """``validate_options`` one key at a time (to name it), then all together."""
        from ..plugins import validate_options

        schema = component.options
        fields = [f.name for f in dataclasses.fields(schema)] if schema is not None else []
        known = [f for f in fields if f not in extra_keys] + list(extra_keys)
        for key, value in mapping.items():
            full = f"{prefix}.{key}" if prefix else key
            if key not in known or key in extra_keys:
                what = f"{component.kind} {component.name!r}"
                raise self.fail(full, f"unknown key {key!r} in {what}.{_suggest(key, known)} "
                                      f"Valid keys: {', '.join(known) or '(none)'}.")
            try:
                validate_options(_NoInit(component), {key: value})
            except OptionsError as exc:
                raise self.fail(full, str(exc)) from None
        try:
            built = validate_options(component, mapping) if schema is not None or mapping else None
        except OptionsError as exc:
            raise self.fail(prefix, str(exc)) from None
        if extra:
            built = dataclasses.replace(built, **extra)
        return built


def _suggest(key: str, known: Sequence[str]) -> str:
    """A did-you-mean that also catches a difference in case only ('c' for 'C')."""
    same = [k for k in known if k.lower() == key.lower()]
    return f" Did you mean: {same[0]!r}?" if same else did_you_mean(key, known)


class _NoInit:
    """A component whose schema skips ``__post_init__`` checks, to type-check one key alone."""

    def __init__(self, component: Any):
        self.kind, self.name = component.kind, component.name
        schema = component.options
        if schema is None:
            self.options = None
            return
        self.options = type(schema.__name__, (schema,), {"__post_init__": lambda self: None})
        self.options = dataclasses.dataclass(frozen=_is_frozen(schema))(self.options)
        self.options.__doc__ = schema.__doc__


def _is_frozen(schema: type) -> bool:
    params = getattr(schema, "__dataclass_params__", None)
    return bool(getattr(params, "frozen", False))


def _component(check: _Checker, kind: str, raw: Any, key: str) -> tuple[ComponentSpec, Any, Any]:
    """(spec, component, validated options) for a ``{name = ..., options = {...}}`` table."""
    from ..plugins import get_component
    from ..errors import UnknownComponentError

    table = check.table(raw, key)
    unknown = sorted(set(table) - {"name", "options"})
    if unknown:
        raise check.fail(f"{key}.{unknown[0]}", f"unknown key {unknown[0]!r} in [{key}].{did_you_mean(unknown[0], ['name', 'options'])} "
                                                f"A {kind} is given as `name = ...` and an `[{key}.options]` table.")
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise check.fail(f"{key}.name", f"expected the name of a {kind} (a string), got {name!r}.")
    try:
        comp = get_component(kind, name)
    except UnknownComponentError as exc:
        raise check.fail(f"{key}.name", str(exc)) from None
    options = check.table(table.get("options", {}), f"{key}.options")
    validated = check.options(comp, options, f"{key}.options")
    return ComponentSpec(name, MappingProxyType(dict(options))), comp, validated


def _component_list(check: _Checker, kind: str, raw: Any, key: str) -> list[tuple[ComponentSpec, Any, Any]]:
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, (list, tuple)):
        raise check.fail(key, f"expected a list of tables ([[{key}]]), got {type(raw).__name__}.")
    return [_component(check, kind, item, f"{key}.{i}") for i, item in enumerate(raw)]


def _check_data_files(check: _Checker, comp: Any, options: Any, base_dir: Path, prefix: str = "data") -> None:
    from ..errors import DatasetFileNotFoundError

    checker = getattr(comp.obj, "check_files", None)  # a plugin loader may check its own paths
    if callable(checker):
        try:
            checker(options, base_dir=base_dir)
        except DatasetFileNotFoundError as exc:
            raise check.fail(f"{prefix}.options.{exc.key}", str(exc)) from None
        return
    from ..data.options import path_options
    from ..data.paths import resolve_file

    for key, value, kind in path_options(options):
        if kind == "dir":
            path = Path(value).expanduser()
            path = path if path.is_absolute() else base_dir / path
            if not path.is_dir():
                raise check.fail(f"{prefix}.options.{key}", f"dataset loader {comp.name!r}, option {key!r}: the directory "
                                                        f"{path} does not exist. Fix the path in the recipe.")
            continue
        try:
            resolve_file(value, key=key, base_dir=base_dir, loader=comp.name)
        except DatasetFileNotFoundError as exc:
            raise check.fail(f"{prefix}.options.{key}", str(exc)) from None


def _check_compression_order(check: _Checker, passes: Sequence[ComponentSpec]) -> None:
    from ..compress.pipeline import check_order
    from ..errors import CompressionOrderError

    try:
        check_order([(p.name, dict(p.options)) for p in passes])
    except CompressionOrderError as exc:
        step = getattr(exc, "step", None)
        raise check.fail(f"compression.{step - 1}.name" if step else "compression", str(exc)) from None


def _check_backbone(check: _Checker, name: str) -> Any:
    from ..errors import RegistryError
    from ..registry import backbone_info

    try:
        return backbone_info(name)
    except RegistryError as exc:
        raise check.fail("backbone.name", str(exc)) from None


def _check_modality(check: _Checker, entry: Any, loader: Any, options: Any) -> None:
    """The dataset's modality (declared by its options, e.g. ``CsvOptions.modality``) must be the backbone's."""
    from ..errors import ModalityMismatchError

    data = getattr(options, "modality", None) or getattr(loader.obj, "modality", None)
    if data is None or data == entry.modality:
        return
    err = check.fail("data.loader", "")
    raise ModalityMismatchError(
        f"dataset loader {loader.name!r} gives {data} inputs, but backbone {entry.name!r} takes {entry.modality} "
        f"inputs. Choose a {data} backbone (`zoo list`) or a {entry.modality} dataset.",
        data_modality=data, backbone_modality=entry.modality, source=err.source, key=err.key, line=err.line)


def _check_capabilities(check: _Checker, entry: Any, passes: Sequence[tuple[ComponentSpec, Any, Any]]) -> None:
    """Each compression pass's ``PassSpec.capabilities`` must be among the architecture's ``capabilities``."""
    from ..errors import CapabilityError
    from ..plugins import get_component

    arch = get_component("architecture", entry.architecture)
    has = frozenset(getattr(arch.obj, "capabilities", ()) or ())
    for i, (spec, comp, _) in enumerate(passes):
        missing = sorted(frozenset(getattr(comp.obj, "capabilities", ()) or ()) - has)
        if missing:
            err = check.fail(f"compression.{i}.name", "")
            raise CapabilityError(
                f"compression pass {spec.name!r} needs {', '.join(missing)}, which architecture "
                f"{entry.architecture!r} of backbone {entry.name!r} does not have "
                f"(it has: {', '.join(sorted(has)) or 'none declared'}). Remove the pass or choose another backbone.",
                missing=missing, source=err.source, key=err.key, line=err.line)


def _target(check: _Checker, entry: Any, raw: Any, base_dir: Path, parts: dict[str, tuple[Any, Any]],
            check_files: bool) -> TargetSpec:
    """Validate ``[data.target]``; adds the ``target`` part (loader, validated options)."""
    spec, loader, options = _loader_section(check, TargetSpec, raw, "data.target", entry, base_dir, check_files)
    parts["target"] = (loader, options)
    return spec


def _loader_section(check: _Checker, schema: type, raw: Any, prefix: str, entry: Any, base_dir: Path,
                    check_files: bool) -> tuple[Any, Any, Any]:
    """A dataset table (``[data]`` or ``[data.target]``): its spec, loader and validated loader options,
    with the loader's modality and (``check_files``) its files checked."""
    from ..errors import UnknownComponentError
    from ..plugins import get_component

    table = check.table(raw, prefix)
    opts_raw = check.table(table.get("options", {}), f"{prefix}.options")
    spec = check.section(schema, {**table, "options": MappingProxyType(dict(opts_raw))}, prefix, tables=("options",))
    try:
        loader = get_component("dataset", spec.loader)
    except UnknownComponentError as exc:
        raise check.fail(f"{prefix}.loader", str(exc)) from None
    options = check.options(loader, opts_raw, f"{prefix}.options")
    _check_modality(check, entry, loader, options)
    if check_files:
        _check_data_files(check, loader, options, base_dir, prefix)
    return spec, loader, options


def _adaptation(check: _Checker, entry: Any, raw: Any, target: TargetSpec | None,
                parts: dict[str, tuple[Any, Any]]) -> AdaptationSpec:
    """Validate ``[adaptation]`` and what its method needs; adds the ``adaptation`` part."""
    from ..errors import AdaptationNeedsError
    from ..plugins import get_component

    table = check.table(raw, "adaptation")
    extra = {k: table.pop(k) for k in ("criterion", "source_data") if k in table}
    spec_c, comp, options = _component(check, "adaptation", table, "adaptation")
    spec = check.section(AdaptationSpec, {"name": spec_c.name, **extra, "options": spec_c.options},
                         "adaptation", tables=("options",))
    needs = comp.obj.needs
    arch = get_component("architecture", entry.architecture)
    has = frozenset(getattr(arch.obj, "capabilities", ()) or ())
    missing = needs.missing(has_target=target is not None, has_source_labels=spec.source_data,
                            has_batchnorm="batchnorm" in has, trainable_backbone=True)
    if missing:
        what = {"target_inputs": "an unlabeled target split: add a [data.target] table with its loader",
                "batchnorm": f"BatchNorm layers, which architecture {entry.architecture!r} of backbone "
                             f"{entry.name!r} does not have (it has: {', '.join(sorted(has)) or 'none declared'})",
                "source_labels": "labeled source data while adapting, which the recipe withholds "
                                 "(adaptation.source_data = false)"}
        err = check.fail("adaptation.name", "")
        raise AdaptationNeedsError(
            f"adaptation method {spec.name!r} needs {'; and '.join(what.get(m, m) for m in missing)}. "
            "Choose another method or change the recipe.", method=spec.name, missing=missing,
            source=err.source, key=err.key, line=err.line)
    parts["adaptation"] = (comp, options)
    return spec


def _check_sweep_keys(check: _Checker, sweep: SweepSpec, raw: Mapping[str, Any]) -> None:
    for key, values in sweep.params.items():
        if not values:
            raise check.fail(f"sweep.params.{key}", "give at least one value to try.")
        head = key.split(".")[0]
        if head == "sweep" or (head not in SECTIONS and head not in _TOP_KEYS):
            raise check.fail(f"sweep.params.{key}", f"{key!r} is not a recipe key that a trial can set.")


def _check_top(check: _Checker, raw: Mapping[str, Any]) -> TopSpec:
    unknown = [k for k in raw if k not in _TOP_KEYS and k not in SECTIONS]
    if unknown:
        key = unknown[0]
        raise check.fail(key, f"unknown key {key!r}.{_suggest(key, [*_TOP_KEYS, *SECTIONS])} "
                              f"Recipe keys: {', '.join(_TOP_KEYS)}; tables: {', '.join(SECTIONS)}.")
    for required in ("backbone", "data"):
        if required not in raw:
            raise check.fail("", f"the recipe has no [{required}] table; see docs/recipes.md.")
    return check.section(TopSpec, {k: raw[k] for k in _TOP_KEYS if k in raw}, "")


def _check_data(check: _Checker, raw: Mapping[str, Any], entry: Any, base_dir: Path,
                check_files: bool) -> tuple[DataSpec, dict[str, tuple[Any, Any]]]:
    """``[data]``: the section, the loader and its options (modality, files); ``parts`` starts here."""
    data, loader, data_options = _loader_section(check, DataSpec, raw["data"], "data", entry, base_dir, check_files)
    return data, {"dataset": (loader, data_options)}


def _check_work(check: _Checker, training: TrainingSpec, evaluators: Sequence[ComponentSpec], data: DataSpec) -> None:
    if training.epochs == 0 and not evaluators:
        raise check.fail("evaluators", "nothing to do: training.epochs is 0 and there are no [[evaluators]]. "
                                       "Add an evaluator (e.g. name = \"logistic-probe\") or train the head.")
    if data.folds and training.epochs > 0:
        raise check.fail("data.folds", "k-fold cross-validation evaluates probes on frozen features; "
                                       "set training.epochs = 0 or remove data.folds.")


def _check_sweep(check: _Checker, raw: Mapping[str, Any], source: str) -> SweepSpec:
    from ..search.space import parse_space

    sweep_raw = check.table(raw["sweep"], "sweep")
    params = check.table(sweep_raw.get("params", {}), "sweep.params")
    space = parse_space(params, source=source, line_of=check.line)
    sweep = check.section(SweepSpec, {**sweep_raw, "params": MappingProxyType(
        {d.key: d.choices if d.kind == "categorical" else MappingProxyType(d.to_dict()) for d in space.dimensions})},
        "sweep", tables=("params",))
    if sweep.method != "optuna" and not space.all_categorical:
        key = next(d.key for d in space.dimensions if d.kind != "categorical")
        raise check.fail(f"sweep.params.{key}", f"method {sweep.method!r} tries listed values; a range "
                                                f"{{ low, high }} needs method = \"optuna\" (or give a list).")
    _check_sweep_keys(check, sweep, raw)
    return sweep


def recipe_from_dict(
    raw: Mapping[str, Any],
    *,
    source: str = "<recipe>",
    base_dir: str | Path = ".",
    text: str | None = None,
    overrides: Sequence[str] = (),
    check_files: bool = True,
) -> Recipe:
    """Validate a parsed recipe (a mapping) and return the frozen :class:`Recipe`.

    Raises:
        RecipeError: the first problem found, naming the file, line and key.
    """
    base_dir = Path(base_dir)
    overridden = {item.partition("=")[0].strip(): item for item in overrides}
    check = _Checker(source, key_lines(text) if text else {}, overridden)
    raw = dict(raw)
    top = _check_top(check, raw)
    backbone = check.section(BackboneSpec, check.table(raw["backbone"], "backbone"), "backbone")
    entry = _check_backbone(check, backbone.name)
    data_raw = dict(check.table(raw["data"], "data"))
    target_raw = data_raw.pop("target", None)
    data, parts = _check_data(check, {**raw, "data": data_raw}, entry, base_dir, check_files)
    target = _target(check, entry, target_raw, base_dir, parts, check_files) if target_raw is not None else None
    head, *parts["head"] = _component(check, "head", raw.get("head", {"name": "linear"}), "head")
    freezing, *parts["freezing"] = _component(check, "freezing", raw.get("freezing", {"name": "all-but-head"}),
                                              "freezing")
    training = check.section(TrainingSpec, check.table(raw.get("training", {}), "training"), "training")
    passes = _component_list(check, "compression", raw.get("compression", []), "compression")
    compression = tuple(spec for spec, _, _ in passes)
    if compression:
        _check_compression_order(check, compression)
        _check_capabilities(check, entry, passes)
    listed = _component_list(check, "evaluator", raw.get("evaluators", []), "evaluators")
    evaluators = tuple(spec for spec, _, _ in listed)
    parts.update({f"compression.{i}": (c, o) for i, (_, c, o) in enumerate(passes)})
    parts.update({f"evaluator.{i}": (c, o) for i, (_, c, o) in enumerate(listed)})
    _check_work(check, training, evaluators, data)
    adaptation = _adaptation(check, entry, raw["adaptation"], target, parts) if "adaptation" in raw else None
    sweep = _check_sweep(check, raw, source) if "sweep" in raw else None
    out = Path(top.output_dir).expanduser()
    return Recipe(
        name=top.name, seed=top.seed, device=top.device, description=top.description, threads=top.threads,
        output_dir=(out if out.is_absolute() else base_dir / out).resolve(),
        backbone=backbone, data=data, target=target, head=head, freezing=freezing, training=training,
        compression=compression, evaluators=evaluators, adaptation=adaptation, sweep=sweep,
        source=source, base_dir=base_dir, raw=_freeze(raw), overrides=tuple(overrides),
        parts={k: tuple(v) for k, v in parts.items()},
    )


def load_recipe(path: str | Path, *, overrides: Sequence[str] = (), check_files: bool = True) -> Recipe:
    """Read, override and validate the recipe at ``path``.

    ``overrides`` are ``key=value`` strings (dotted keys; values parsed as TOML, bare words as
    strings), e.g. ``training.epochs=3`` or ``evaluators.0.options.C=0.5``.

    Raises:
        RecipeError: the file is missing, not TOML, or does not validate.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise RecipeError("no such recipe file." + (" It is a directory." if path.is_dir() else ""), source=source)
    try:  # a UTF-8 byte-order mark (Windows editors write one) is accepted
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RecipeError(f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                          "save the recipe as UTF-8.", source=source) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise RecipeError(f"not valid TOML: {exc}", source=source, line=int(match.group(1)) if match else None) from None
    raw = apply_overrides(raw, overrides, source=source)
    return recipe_from_dict(raw, source=source, base_dir=path.resolve().parent, text=text,
                            overrides=overrides, check_files=check_files)


# --- overrides ------------------------------------------------------------------------------


def parse_override(item: str, *, source: str = "<recipe>") -> tuple[list[str], Any]:
    """``"training.lr=1e-4"`` -> (["training", "lr"], 0.0001). Bare words are strings."""
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise RecipeError(f"override {item!r} is not key=value (e.g. -s training.epochs=3).", source=source)
    path = _split_key(key)
    if ".".join(path) != key.replace(" ", "") and not any(q in key for q in "\"'"):
        raise RecipeError(f"override {item!r}: {key!r} is not a dotted key.", source=source, key=key)
    text = value.strip()
    try:
        parsed = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = text
    return path, parsed


def apply_overrides(raw: Mapping[str, Any], overrides: Sequence[str], *, source: str = "<recipe>") -> dict[str, Any]:
    """Return a copy of ``raw`` with each ``key=value`` applied (list entries by index)."""
    out = _thaw(raw)
    for item in overrides:
        path, value = parse_override(item, source=source)
        node: Any = out
        for i, part in enumerate(path[:-1]):
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise RecipeError(f"override {item!r}: {'.'.join(path[:i])} has {len(node)} entries; "
                                      f"{part!r} is not an index of one.", source=source, key=".".join(path))
                node = node[int(part)]
                continue
            if part not in node:
                node[part] = {}
            if not isinstance(node[part], (dict, list)):
                raise RecipeError(f"override {item!r}: {'.'.join(path[: i + 1])} is a value, not a table.",
                                  source=source, key=".".join(path))
            node = node[part]
        last = path[-1]
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise RecipeError(f"override {item!r}: no entry {last!r}.", source=source, key=".".join(path))
            node[int(last)] = value
        else:
            node[last] = value
    return out


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    return value


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value
