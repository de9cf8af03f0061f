"""Options on the wire: a name -> OptionValue map, to and from plain Python values.

The values are what a codec's options dataclass holds (int, float, str, bool); the receiving side
checks them against the declaration with `codec.options.from_mapping`, as the CLI does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from codec.errors import InvalidInput, shown
from codec.rpc import common_pb2


def to_value(value: Any, name: str = "option") -> common_pb2.OptionValue:
    if isinstance(value, bool):
        return common_pb2.OptionValue(bool_value=value)
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise InvalidInput(f"option {shown(name)} = {value} does not fit in 64 bits")
        return common_pb2.OptionValue(int_value=value)
    if isinstance(value, float):
        return common_pb2.OptionValue(float_value=value)
    if isinstance(value, str):
        return common_pb2.OptionValue(string_value=value)
    raise InvalidInput(f"option {shown(name)} must be an int, float, str or bool, got {type(value).__name__}")


def from_value(v: common_pb2.OptionValue) -> Any:
    which = v.WhichOneof("value")
    return None if which is None else getattr(v, which)


def to_proto_map(values: Mapping[str, Any], target: Any) -> None:
    """Fill a proto `map<string, OptionValue>` field from a plain mapping (None values are skipped)."""
    for name, value in values.items():
        if value is not None:
            target[name].CopyFrom(to_value(value, name))


def from_proto_map(field: Mapping[str, common_pb2.OptionValue]) -> dict[str, Any]:
    """A plain dict from a proto map; an entry with no value set is refused."""
    out = {}
    for name, v in field.items():
        value = from_value(v)
        if value is None:
            raise InvalidInput(f"option {shown(name)} has no value")
        out[name] = value
    return out
