"""Search spaces: the dimensions a sweep varies, declared in the recipe's ``[sweep.params]``.

Each entry names any recipe key (dotted, as for ``-s``) and says what it may take::

    [sweep.params]
    "training.lr" = { low = 1e-5, high = 1e-2, log = true }      # float, log scale
    "training.epochs" = { low = 1, high = 4 }                      # int (both ends are integers)
    "training.weight_decay" = { type = "float", low = 0, high = 0.1, step = 0.01 }
    "freezing.options.k" = [2, 4, 6]                               # categorical: a list
    "head.name" = { choices = ["linear", "mlp"] }                  # categorical, as a table

A list is a categorical dimension (and the only kind ``method = "grid"`` and ``"random"`` take).
A table has ``low`` and ``high`` (a float or an int range; ``type`` forces one), optional ``log``
and ``step``; or ``choices``. Every problem is a :class:`~zoo.errors.SearchSpaceError` naming
``sweep.params.<key>``. :func:`check_values` applies the ends of each range and every choice to
the recipe and validates the result, so a value the recipe would refuse fails before any trial.

Nothing here imports optuna until :meth:`SearchSpace.distributions` is called.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping, Sequence

from ..errors import RecipeError, SearchSpaceError

if TYPE_CHECKING:  # pragma: no cover
    from ..runner.recipe import Recipe

__all__ = ["Dimension", "SearchSpace", "parse_space", "check_values", "override_text"]

_TABLE_KEYS = ("type", "low", "high", "log", "step", "choices")
Kind = Literal["float", "int", "categorical"]


@dataclass(frozen=True)
class Dimension:
    """One searched recipe key: a float or int range (``low``..``high``, inclusive) or ``choices``."""

    key: str
    kind: Kind
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "categorical":
            return {"type": "categorical", "choices": list(self.choices)}
        out: dict[str, Any] = {"type": self.kind, "low": self.low, "high": self.high, "log": self.log}
        if self.step is not None:
            out["step"] = self.step
        return out

    def distribution(self) -> Any:
        """The equivalent ``optuna.distributions`` object."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "categorical":
            return CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return FloatDistribution(float(self.low), float(self.high), log=self.log,
                                 step=None if self.step is None else float(self.step))

    def probe_values(self) -> tuple[Any, ...]:
        """Values that bound what a trial can set: both ends of a range, every choice."""
        return self.choices if self.kind == "categorical" else (self.low, self.high)


@dataclass(frozen=True)
class SearchSpace:
    """The dimensions of a sweep, in the recipe's order."""

    dimensions: tuple[Dimension, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(d.key for d in self.dimensions)

    @property
    def all_categorical(self) -> bool:
        return all(d.kind == "categorical" for d in self.dimensions)

    def distributions(self) -> dict[str, Any]:
        """``{recipe key: optuna distribution}`` for ``study.ask``."""
        return {d.key: d.distribution() for d in self.dimensions}

    def to_dict(self) -> dict[str, Any]:
        """Plain data (recorded in the study and the sweep summary; compared on resume)."""
        return {d.key: d.to_dict() for d in self.dimensions}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def parse_space(params: Mapping[str, Any], *, source: str = "<recipe>",
                line_of: Callable[[str], int | None] | None = None) -> SearchSpace:
    """Validate ``[sweep.params]`` (recipe key -> list or table) into a :class:`SearchSpace`.

    Raises:
        SearchSpaceError: an entry is not a list or a table, a range is empty or inverted, ``log``
            with a non-positive ``low``, an unknown key in a table, ... naming ``sweep.params.<key>``.
    """
    dims = []
    for key, spec in params.items():
        where = f"sweep.params.{key}"

        def fail(message: str, value: Any = spec) -> SearchSpaceError:
            return SearchSpaceError(f"search dimension {key!r}: {message}", source=source, key=where,
                                    line=line_of(where) if line_of else None, value=value)

        if isinstance(spec, (list, tuple)):
            dims.append(_categorical(key, spec, fail))
        elif isinstance(spec, Mapping):
            dims.append(_table(key, spec, fail))
        else:
            raise fail(f"expected a list of values to try or a table such as {{ low = 1e-4, high = 1e-2, log = true }}, "
                       f"got {spec!r}.")
    return SearchSpace(tuple(dims))


def _categorical(key: str, choices: Sequence[Any], fail: Callable[..., SearchSpaceError]) -> Dimension:
    if not choices:
        raise fail("give at least one value to try.")
    bad = [c for c in choices if not _scalar(c)]
    if bad:
        raise fail(f"choices must be strings, numbers or booleans; {bad[0]!r} is not.", bad[0])
    if len({(type(c), c) for c in choices}) != len(choices):
        raise fail(f"choices repeat a value: {list(choices)!r}.")
    return Dimension(key, "categorical", choices=tuple(choices))


def _table(key: str, spec: Mapping[str, Any], fail: Callable[..., SearchSpaceError]) -> Dimension:
    from ..errors import did_you_mean

    unknown = [k for k in spec if k not in _TABLE_KEYS]
    if unknown:
        raise fail(f"unknown key {unknown[0]!r}.{did_you_mean(unknown[0], _TABLE_KEYS)} "
                   f"A range takes {', '.join(_TABLE_KEYS[:5])}; a categorical dimension takes choices.")
    kind = spec.get("type")
    if kind not in (None, "float", "int", "categorical"):
        raise fail(f"type must be 'float', 'int' or 'categorical', got {kind!r}.", kind)
    if "choices" in spec or kind == "categorical":
        extra = [k for k in ("low", "high", "log", "step") if k in spec]
        if extra:
            raise fail(f"a categorical dimension takes only choices, not {extra[0]!r}.")
        choices = spec.get("choices")
        if not isinstance(choices, (list, tuple)):
            raise fail(f"choices must be a list, got {choices!r}.", choices)
        return _categorical(key, choices, fail)
    if "low" not in spec or "high" not in spec:
        raise fail("a range needs both low and high (or give choices, or a list of values).")
    low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
    for name, value in (("low", low), ("high", high)) + ((("step", step),) if step is not None else ()):
        if not _is_number(value) or not math.isfinite(value):
            raise fail(f"{name} must be a finite number, got {value!r}.", value)
    if not isinstance(log, bool):
        raise fail(f"log must be true or false, got {log!r}.", log)
    if kind is None:
        kind = "int" if isinstance(low, int) and isinstance(high, int) and (step is None or isinstance(step, int)) else "float"
    if kind == "int":
        for name, value in (("low", low), ("high", high), ("step", step)):
            if value is not None and not float(value).is_integer():
                raise fail(f"an int range needs whole numbers; {name} = {value!r}.", value)
        low, high = int(low), int(high)
        step = None if step is None else int(step)
    else:
        low, high = float(low), float(high)
        step = None if step is None else float(step)
    if not low < high:
        raise fail(f"low ({low!r}) must be less than high ({high!r}).")
    if log and low <= 0:
        raise fail(f"a log-scale range needs low > 0, got low = {low!r}.", low)
    if log and step is not None:
        raise fail("log and step cannot be combined (Optuna samples a log range continuously).")
    if step is not None and not step > 0:
        raise fail(f"step must be positive, got {step!r}.", step)
    return Dimension(key, kind, low=low, high=high, log=log, step=step)


def override_text(key: str, value: Any) -> str:
    """``key=value`` with the value written as TOML (as ``-s`` takes it)."""
    from .._toml import inline as _value

    return f"{key}={_value(value)}"


def check_values(recipe: Recipe, space: SearchSpace) -> None:
    """Apply each range's ends and each choice to ``recipe`` and validate the result.

    Raises:
        SearchSpaceError: naming ``sweep.params.<key>`` and the value the recipe refuses, with the
            recipe's own reason.
    """
    for dim in space.dimensions:
        for value in dim.probe_values():
            try:
                recipe.with_overrides([override_text(dim.key, value)])
            except RecipeError as exc:
                raise SearchSpaceError(f"search dimension {dim.key!r} can take {value!r}, which the recipe refuses: "
                                       f"{exc}", source=recipe.source, key=f"sweep.params.{dim.key}",
                                       value=value) from None
