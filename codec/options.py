"""Codec options, declared once as dataclass fields and derived everywhere else.

A codec's options dataclass is the only place its options exist. Each field is made with
`option(...)`, which records the help text, unit and allowed values; from that one declaration

- the CLI builds its flags and help (`codec encode --codec NAME --help`),
- the client and the service carry them as a typed name -> value map (`to_mapping`/`from_mapping`),
- `validate` checks types, ranges and choices with the same messages everywhere, then calls the
  dataclass's own `check()` for rules that span several fields.

Field types are int, float, str or bool, optionally `| None` (None: "not given", e.g. a rate target
that is one of two alternatives).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from codec.errors import InvalidInput, shown

_KEY = "codec.option"
Scalar = int | float | str | bool


@dataclass(frozen=True)
class OptionSpec:
    help: str
    unit: str = ""
    lo: float | None = None  # inclusive bounds, unless the *_open flags say otherwise
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[str, ...] = ()
    remote: bool = True  # sent to a server with the job; False for switches that only matter locally


def option(
    default: Any,
    help: str,
    *,
    unit: str = "",
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    choices: tuple[str, ...] = (),
    remote: bool = True,
) -> Any:
    """A dataclass field with its option metadata (use as `name: int = option(3, "why it exists")`)."""
    spec = OptionSpec(help, unit, lo, hi, lo_open, hi_open, tuple(choices), remote)
    return dataclasses.field(default=default, metadata={_KEY: spec})


@dataclass(frozen=True)
class OptionField:
    """One declared option, resolved: its name, base type, whether None is allowed, and its spec."""

    name: str
    type: type  # int, float, str or bool
    optional: bool
    default: Any
    spec: OptionSpec

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def describe_range(self) -> str:
        s = self.spec
        if s.choices:
            return "one of " + ", ".join(s.choices)
        if s.lo is None and s.hi is None:
            return ""
        show = (lambda v: f"{int(v)}") if self.type is int else (lambda v: f"{v:g}")
        lo = "" if s.lo is None else show(s.lo)
        hi = "" if s.hi is None else show(s.hi)
        left, right = ("(" if s.lo_open else "["), (")" if s.hi_open else "]")
        return f"{left}{lo}, {hi}{right}" if self.type is float else f"{lo}..{hi}"


def _base_type(annotation: Any) -> tuple[type, bool]:
    """(int|float|str|bool, optional) for a field annotation such as `float | None`."""
    optional = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        if len(args) != 1:
            raise TypeError(f"an option must have one base type, got {annotation!r}")
        annotation = args[0]
    if annotation not in (int, float, str, bool):
        raise TypeError(f"option types are int, float, str or bool, got {annotation!r}")
    return annotation, optional


def option_fields(cls: type) -> list[OptionField]:
    """The declared options of an options dataclass, in declaration order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get(_KEY)
        if spec is None:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with codec.options.option()")
        base, optional = _base_type(hints[f.name])
        out.append(OptionField(f.name, base, optional, f.default, spec))
    return out


def _type_name(t: type) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[t]


def check_value(f: OptionField, value: Any) -> Any:
    """`value` as the field's type if it is allowed, else InvalidInput naming the flag."""
    if value is None:
        if f.optional:
            return None
        raise InvalidInput(f"{f.flag} needs a value")
    if f.type is bool:
        ok = isinstance(value, bool)
    elif f.type is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif f.type is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        raise InvalidInput(f"{f.flag} must be {_type_name(f.type)}, got {shown(value)}")
    s = f.spec
    if s.choices and value not in s.choices:
        raise InvalidInput(f"{f.flag} must be one of {', '.join(s.choices)}, got {shown(value)}")
    if f.type in (int, float):
        below = s.lo is not None and (value <= s.lo if s.lo_open else value < s.lo)
        above = s.hi is not None and (value >= s.hi if s.hi_open else value > s.hi)
        if below or above:
            unit = f" {s.unit}" if s.unit else ""
            raise InvalidInput(f"{f.flag} must be in {f.describe_range()}{unit}, got {shown(value)}")
    return value


def validate(opts: Any) -> Any:
    """Check every declared option, then the dataclass's own cross-field `check()`; returns `opts`."""
    for f in option_fields(type(opts)):
        setattr(opts, f.name, check_value(f, getattr(opts, f.name)))
    check = getattr(opts, "check", None)
    if check is not None:
        check()
    return opts


def parse_text(f: OptionField, text: str) -> Any:
    """A command-line string as the field's type (the CLI's only conversion)."""
    if f.type is str:
        return text
    if f.type is bool:
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise InvalidInput(f"{f.flag} must be true or false, got {shown(text)}")
    try:
        return int(text) if f.type is int else float(text)
    except ValueError:
        raise InvalidInput(f"{f.flag} must be {_type_name(f.type)}, got {shown(text)}") from None


def from_mapping(cls: type, values: Mapping[str, Any]) -> Any:
    """An options object from a name -> value map (the wire form); unknown names are refused."""
    known = {f.name: f for f in option_fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        names = ", ".join(shown(u, 40) for u in unknown[:5])
        if len(unknown) > 5:
            names += f" and {len(unknown) - 5} more"
        raise InvalidInput(f"unknown option(s) {names} (known: {', '.join(known)})")
    kwargs = {name: check_value(known[name], v) for name, v in values.items()}
    return validate(cls(**kwargs))


def to_mapping(opts: Any, remote_only: bool = False) -> dict[str, Scalar]:
    """Every option that is set (not None), by name: what a client sends, so a remote run uses
    exactly the values a local one would."""
    out: dict[str, Scalar] = {}
    for f in option_fields(type(opts)):
        value = getattr(opts, f.name)
        if value is None or (remote_only and not f.spec.remote):
            continue
        out[f.name] = value
    return out


def options_of(cls: type, values: Mapping[str, Any] | Any | None) -> Any:
    """Accept an options object, a mapping or None (defaults) and return a validated object."""
    if values is None:
        return validate(cls())
    if isinstance(values, cls):
        return validate(values)
    if isinstance(values, Mapping):
        return from_mapping(cls, values)
    raise InvalidInput(f"options must be a {cls.__name__} or a mapping, got {type(values).__name__}")
