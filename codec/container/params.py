"""Codec parameters as typed key/value entries, so decode rebuilds the exact config from the file.

Each entry is `key (str8) | type tag (u8) | value`, with the value's field format chosen by the tag.
Entries are written sorted by key, so equal params always give identical bytes.
Tags are part of the format (v1 and v2 alike): never renumber, only add.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping
from typing import Any

from codec.container import fields
from codec.container.limits import MAX_NAME_BYTES, MAX_PARAMS
from codec.errors import CodecError, CorruptData, InvalidInput

PARAM_ENTRY: fields.Table = (("key", "str8"), ("type", "B"))

# tag -> (type name, value field format)
TAGS: dict[int, tuple[str, str]] = {
    1: ("int", "q"),
    2: ("float", "d"),
    3: ("str", "str32"),
    4: ("bytes", "bytes32"),
    5: ("list[int]", "i64list"),
    6: ("bool", "B"),
}
ParamValue = int | float | str | bytes | bool | list[int]
_NAME = re.compile(rf"^[A-Za-z0-9_.\-]{{1,{MAX_NAME_BYTES}}}$")


def check_name(name: Any, what: str, error: type[CodecError]) -> str:
    """Keys and section names: short ASCII, so they print cleanly in `codec info` and logs."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise error(f"{what} {name!r} must be 1-{MAX_NAME_BYTES} characters of A-Z a-z 0-9 _ . -")
    return name


def _tag_of(key: str, value: Any) -> tuple[int, Any]:
    # bool before int: bool is an int subclass but must come back as a bool.
    if isinstance(value, bool):
        return 6, int(value)
    if isinstance(value, numbers.Integral):
        return 1, int(value)
    if isinstance(value, float):
        return 2, value
    if isinstance(value, str):
        return 3, value
    if isinstance(value, bytes | bytearray | memoryview):
        return 4, bytes(value)
    if isinstance(value, list | tuple):
        return 5, value
    raise InvalidInput(
        f"param '{key}' has unsupported type {type(value).__name__} "
        "(use int, float, str, bytes, bool or list of ints)"
    )


def encode_params(params: Mapping[str, ParamValue]) -> bytes:
    if not isinstance(params, Mapping):
        raise InvalidInput(f"params must be a dict, got {type(params).__name__}")
    if len(params) > MAX_PARAMS:
        raise InvalidInput(f"{len(params)} params is more than the limit of {MAX_PARAMS}")
    out = []
    for key in sorted(params, key=str):
        check_name(key, "param key", InvalidInput)
        tag, value = _tag_of(key, params[key])
        out.append(fields.pack(PARAM_ENTRY, {"key": key, "type": tag}))
        out.append(fields.pack_value(TAGS[tag][1], value, key))
    return b"".join(out)


def decode_params(reader: fields.Reader, count: int) -> dict[str, ParamValue]:
    """Read `count` entries; the caller has already checked `count` against MAX_PARAMS."""
    params: dict[str, ParamValue] = {}
    for _ in range(count):
        entry = fields.unpack(PARAM_ENTRY, reader)
        key = check_name(entry["key"], "param key", CorruptData)
        if key in params:
            raise CorruptData(f"corrupt header: param '{key}' appears twice")
        if entry["type"] not in TAGS:
            raise CorruptData(f"corrupt header: param '{key}' has unknown type tag {entry['type']}")
        value = fields.unpack_value(TAGS[entry["type"]][1], reader, key)
        if entry["type"] == 6:
            if value > 1:
                raise CorruptData(f"corrupt header: bool param '{key}' has value {value}")
            value = bool(value)
        params[key] = value
    return params
