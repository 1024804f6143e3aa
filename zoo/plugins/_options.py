"""Option schemas: dataclasses whose fields have types, defaults and help text.

A component's options are a dataclass type. :func:`check_schema` validates the schema when the
component registers; :func:`validate_options` turns a mapping (from a recipe or the command
line) into an instance; :func:`describe_options` feeds ``zoo plugins info`` and the docs.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Mapping, NamedTuple, Union

from ..errors import OptionsError, did_you_mean

__all__ = ["OptionDoc", "check_schema", "describe_options", "validate_options", "format_type"]

_SCALARS = (bool, int, float, str)


class OptionDoc(NamedTuple):
    """One documented option: name, type (as text), default, help."""

    name: str
    type: str
    default: Any
    help: str


def _hints(schema: type) -> dict[str, Any]:
    return typing.get_type_hints(schema)


def _is_optional(tp: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return True, args[0]
    return False, tp


def _supported(tp: Any) -> bool:
    optional, tp = _is_optional(tp)
    if tp in _SCALARS:
        return True
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return all(isinstance(a, _SCALARS) for a in args)
    if origin is tuple:
        return len(args) == 2 and args[1] is Ellipsis and _supported(args[0])
    return False


def format_type(tp: Any) -> str:
    """``int``, ``float | None``, ``'a' | 'b'``, ``tuple[str, ...]``."""
    optional, inner = _is_optional(tp)
    origin, args = typing.get_origin(inner), typing.get_args(inner)
    if origin is Literal:
        text = " | ".join(repr(a) for a in args)
    elif origin is tuple:
        text = f"tuple[{format_type(args[0])}, ...]"
    else:
        text = getattr(inner, "__name__", str(inner))
    return f"{text} | None" if optional else text


def check_schema(schema: Any) -> None:
    """Raise ``TypeError`` unless ``schema`` is a usable options dataclass.

    Every field needs a supported type, a default and ``metadata={"help": "..."}``.
    """
    if not (isinstance(schema, type) and dataclasses.is_dataclass(schema)):
        raise TypeError(f"options must be a dataclass type, got {schema!r}")
    try:
        hints = _hints(schema)
    except Exception as exc:  # unresolved forward reference, ...
        raise TypeError(f"options {schema.__name__}: cannot resolve field types ({exc})") from exc
    for f in dataclasses.fields(schema):
        where = f"options {schema.__name__}.{f.name}"
        if not _supported(hints[f.name]):
            raise TypeError(
                f"{where}: type {hints[f.name]!r} is not supported; use bool, int, float, str, "
                "Literal[...], tuple[X, ...] or X | None"
            )
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise TypeError(f"{where}: every option needs a default")
        if not str(f.metadata.get("help", "")).strip():
            raise TypeError(f'{where}: document it with field(..., metadata={{"help": "..."}})')


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


def describe_options(schema: type | None) -> list[OptionDoc]:
    """The documented options of a schema (``[]`` for ``None``)."""
    if schema is None:
        return []
    hints = _hints(schema)
    return [
        OptionDoc(f.name, format_type(hints[f.name]), _default(f), str(f.metadata.get("help", "")))
        for f in dataclasses.fields(schema)
    ]


def _coerce(value: Any, tp: Any) -> tuple[bool, Any]:
    """Return (ok, value converted to ``tp``). Only lossless conversions are made."""
    optional, tp = _is_optional(tp)
    if value is None:
        return optional, None
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return any(type(value) is type(a) and value == a for a in args), value
    if origin is tuple:
        if isinstance(value, (list, tuple)):
            items = [_coerce(v, args[0]) for v in value]
            if all(ok for ok, _ in items):
                return True, tuple(v for _, v in items)
        return False, value
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, float(value)
        return False, value
    if tp is str:
        return isinstance(value, str), value
    return False, value


def validate_options(component: Any, mapping: Mapping[str, Any] | None = None) -> Any:
    """Build ``component``'s options dataclass from ``mapping``, checking names and types.

    Returns ``None`` for a component without options (and an empty mapping). Lists become
    tuples and ints become floats where the schema says so; nothing else is converted.

    Raises:
        OptionsError: an unknown option (with a did-you-mean), a value of the wrong type (naming
            the component, the option and the expected type), or a value the schema rejects.
    """
    mapping = dict(mapping or {})
    label = f"{component.kind} {component.name!r}"
    schema = component.options
    if schema is None:
        if mapping:
            raise OptionsError(f"{label} takes no options, got {sorted(mapping)}.")
        return None
    hints = _hints(schema)
    fields = {f.name: f for f in dataclasses.fields(schema) if f.init}
    values: dict[str, Any] = {}
    for key, value in mapping.items():
        if key not in fields:
            same_case = [f for f in fields if f.lower() == str(key).lower()]
            hint = f" Did you mean: {same_case[0]!r}?" if same_case else did_you_mean(str(key), list(fields))
            raise OptionsError(
                f"{label} has no option {key!r}.{hint} "
                f"Its options: {', '.join(fields) or '(none)'}."
            )
        ok, converted = _coerce(value, hints[key])
        if not ok:
            raise OptionsError(
                f"{label}, option {key!r}: expected {format_type(hints[key])}, "
                f"got {type(value).__name__} {value!r}."
            )
        values[key] = converted
    try:
        return schema(**values)
    except (TypeError, ValueError) as exc:
        raise OptionsError(f"{label}: {exc}") from exc
