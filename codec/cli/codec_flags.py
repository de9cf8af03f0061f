"""Command-line flags generated from each codec's options dataclass.

`codec encode`, `decode` and `eval` declare only their generic options to typer; every other token
is parsed here against the codecs' declared options (`codec.options`), so a codec adds flags by
declaring fields, and `--codec NAME --help` lists exactly that codec's flags. Positional arguments
are told apart from option values because every option's arity is known: a bool field is a
`--flag/--no-flag` switch, anything else takes one value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from codec.errors import InvalidInput
from codec.interface import Codec
from codec.options import OptionField, from_mapping, option_fields, parse_text

_NUMBER = re.compile(r"^-\d|^-\.\d")  # "-1", "-0.5": values, not flags


@dataclass
class Flag:
    field: OptionField
    codecs: list[str] = field(default_factory=list)  # codecs that have this option


def flag_table(codecs: Iterable[Codec], which: str) -> dict[str, Flag]:
    """`--name` (without dashes) -> Flag, over every codec's `which` ("Options" or "DecodeOptions")."""
    table: dict[str, Flag] = {}
    for c in codecs:
        for f in option_fields(getattr(c, which)):
            name = f.flag[2:]
            held = table.get(name)
            if held is not None and (held.field.type is bool) != (f.type is bool):
                raise TypeError(f"option --{name} is a switch in one codec and takes a value in another")
            table.setdefault(name, Flag(f)).codecs.append(c.name)
    return table


def split_args(args: list[str], table: dict[str, Flag]) -> tuple[list[str], dict[str, Any]]:
    """(positional arguments, {option name: text or bool}) from the tokens typer left over."""
    positional: list[str] = []
    given: dict[str, Any] = {}
    it = iter(args)
    for token in it:
        if token == "--":
            positional.extend(it)
            break
        if not token.startswith("-") or token == "-" or _NUMBER.match(token):
            positional.append(token)
            continue
        name, eq, value = token.lstrip("-").partition("=")
        negated = name.startswith("no-") and name[3:] in table and table[name[3:]].field.type is bool
        flag = table.get(name[3:] if negated else name)
        if flag is None or not token.startswith("--"):
            raise InvalidInput(f"no such option: {token} (see --help)")
        key = flag.field.name
        if flag.field.type is bool:
            if eq:
                given[key] = parse_text(flag.field, value)
            else:
                given[key] = not negated
        else:
            if not eq:
                value = next(it, None)
                if value is None:
                    raise InvalidInput(f"{flag.field.flag} needs a value (see --help)")
            given[key] = value
    return positional, given


def class_flags(cls: type) -> dict[str, Flag]:
    """`--name` (without dashes) -> Flag for one options dataclass (a task's, not a codec's)."""
    return {f.flag[2:]: Flag(f) for f in option_fields(cls)}


def parse_options(cls: type, given: dict[str, Any], owner: str, see: str) -> Any:
    """A validated `cls` from parsed flags; a flag it does not declare is refused, naming `owner`."""
    fields = {f.name: f for f in option_fields(cls)}
    values = {}
    for name, raw in given.items():
        f = fields.get(name)
        if f is None:
            flag = "--" + name.replace("_", "-")
            raise InvalidInput(f"{flag} is not an option of {owner} (see `{see}`)")
        values[name] = raw if isinstance(raw, bool) else parse_text(f, raw)
    return from_mapping(cls, values)


def options_for(codec: Codec, which: str, given: dict[str, Any], command: str) -> Any:
    """The codec's validated options object from parsed flags; flags of other codecs are refused."""
    see = f"codec {command} --codec {codec.name} --help"
    return parse_options(getattr(codec, which), given, f"codec {codec.name}", see)


def codec_help(codec: Codec, which: str) -> str:
    """The help section for one codec's options: flag, value, help, unit, range, default."""
    title = f"Options of codec {codec.name} ({codec.media}): {codec.description}".rstrip(": ")
    return options_help(getattr(codec, which), title)


def options_help(cls: type, title: str) -> str:
    """A help section: the title, then each option's flag, value, help, unit, range and default."""
    lines = [title]
    for f in option_fields(cls):
        flag = f"{f.flag}/--no-{f.flag[2:]}" if f.type is bool else f"{f.flag} {f.type.__name__.upper()}"
        notes = [n for n in (f.spec.unit, f.describe_range()) if n]
        if f.default is not None:
            notes.append(f"default {f.default}")
        lines.append(f"  {flag:<28} {f.spec.help}" + (f" [{'; '.join(notes)}]" if notes else ""))
    return "\n".join(lines)
