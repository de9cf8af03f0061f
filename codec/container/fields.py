"""Typed binary fields: one table of (name, format) drives both the writer and the reader.

A table is a sequence of `(name, fmt)` pairs, packed little-endian in order. `fmt` is a struct code
for fixed-size fields or one of the length-prefixed kinds below:

    B H I Q     u8 u16 u32 u64      q   i64      d   f64 (IEEE 754, bit-exact)
    Ns          exactly N raw bytes (e.g. "4s", "32s")
    str8        u8 byte count + UTF-8       str32     u32 byte count + UTF-8
    bytes32     u32 byte count + raw bytes  i64list   u32 count + count x i64

Writing a value that does not fit its field raises InvalidInput (the caller's mistake); reading
past the end or undecodable text raises CorruptData (the file's fault). Lengths read from the file
are checked against the bytes that remain *before* anything is sliced or allocated.
"""

from __future__ import annotations

import operator
import re
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from codec.errors import CorruptData, InvalidInput

Table = Sequence[tuple[str, str]]

# struct code -> (inclusive min, inclusive max, readable name)
_INTS: dict[str, tuple[int, int, str]] = {
    "B": (0, 2**8 - 1, "u8"),
    "H": (0, 2**16 - 1, "u16"),
    "I": (0, 2**32 - 1, "u32"),
    "Q": (0, 2**64 - 1, "u64"),
    "q": (-(2**63), 2**63 - 1, "i64"),
}
_FIXED_BYTES = re.compile(r"^([1-9][0-9]*)s$")
_U32 = struct.Struct("<I")


class Reader:
    """Bounds-checked cursor over a buffer: every short read is CorruptData, never IndexError."""

    def __init__(self, buf: bytes | memoryview, pos: int = 0, end: int | None = None, what: str = "header"):
        self.buf = memoryview(buf)
        self.pos = pos
        self.end = len(self.buf) if end is None else end
        self.what = what

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, n: int, field: str) -> memoryview:
        if n > self.remaining:
            raise CorruptData(
                f"truncated {self.what}: field '{field}' needs {n} bytes at offset {self.pos}, "
                f"only {self.remaining} left"
            )
        view = self.buf[self.pos : self.pos + n]
        self.pos += n
        return view


def check_int(value: Any, fmt: str, field: str) -> int:
    """Return `value` as an int if it fits struct code `fmt`, else raise InvalidInput."""
    lo, hi, kind = _INTS[fmt]
    if isinstance(value, bool):
        raise InvalidInput(f"field '{field}' must be an integer, got bool")
    try:
        number = operator.index(value)
    except TypeError:
        raise InvalidInput(f"field '{field}' must be an integer, got {type(value).__name__}") from None
    if not lo <= number <= hi:
        raise InvalidInput(f"field '{field}' = {number} is out of range for {kind} [{lo}, {hi}]")
    return number


def _encode_text(value: Any, field: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidInput(f"field '{field}' must be a str, got {type(value).__name__}")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"field '{field}' is not encodable as UTF-8: {exc.reason}") from None


def _as_bytes(value: Any, field: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidInput(f"field '{field}' must be bytes, got {type(value).__name__}")
    return bytes(value)


def _prefixed(payload: bytes, prefix_fmt: str, field: str) -> bytes:
    check_int(len(payload), prefix_fmt, f"{field} (byte length)")
    return struct.pack("<" + prefix_fmt, len(payload)) + payload


def pack_value(fmt: str, value: Any, field: str) -> bytes:
    if fmt in _INTS:
        return struct.pack("<" + fmt, check_int(value, fmt, field))
    if fmt == "d":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"field '{field}' must be a float, got {type(value).__name__}")
        return struct.pack("<d", float(value))
    if match := _FIXED_BYTES.match(fmt):
        raw = _as_bytes(value, field)
        if len(raw) != int(match.group(1)):
            raise InvalidInput(f"field '{field}' must be exactly {match.group(1)} bytes, got {len(raw)}")
        return raw
    if fmt == "str8":
        return _prefixed(_encode_text(value, field), "B", field)
    if fmt == "str32":
        return _prefixed(_encode_text(value, field), "I", field)
    if fmt == "bytes32":
        return _prefixed(_as_bytes(value, field), "I", field)
    if fmt == "i64list":
        if not isinstance(value, list | tuple):
            raise InvalidInput(f"field '{field}' must be a list of ints, got {type(value).__name__}")
        items = [check_int(v, "q", f"{field}[{i}]") for i, v in enumerate(value)]
        check_int(len(items), "I", f"{field} (count)")
        return _U32.pack(len(items)) + struct.pack(f"<{len(items)}q", *items)
    raise ValueError(f"unknown field format {fmt!r}")  # a bug in a table, not bad input


def _decode_text(raw: memoryview, field: str) -> str:
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptData(f"corrupt header: field '{field}' is not valid UTF-8") from None


def unpack_value(fmt: str, reader: Reader, field: str) -> Any:
    if fmt in _INTS or fmt == "d":
        size = struct.calcsize("<" + fmt)
        return struct.unpack("<" + fmt, reader.take(size, field))[0]
    if match := _FIXED_BYTES.match(fmt):
        return bytes(reader.take(int(match.group(1)), field))
    if fmt in ("str8", "str32", "bytes32"):
        prefix = "B" if fmt == "str8" else "I"
        (length,) = struct.unpack("<" + prefix, reader.take(struct.calcsize(prefix), field))
        raw = reader.take(length, field)  # checked against what remains before copying
        return bytes(raw) if fmt == "bytes32" else _decode_text(raw, field)
    if fmt == "i64list":
        (count,) = _U32.unpack(reader.take(4, field))
        return list(struct.unpack(f"<{count}q", reader.take(8 * count, field)))
    raise ValueError(f"unknown field format {fmt!r}")


def pack(table: Table, values: Mapping[str, Any]) -> bytes:
    """Pack `values[name]` for every field of `table`, in table order."""
    return b"".join(pack_value(fmt, values[name], name) for name, fmt in table)


def unpack(table: Table, reader: Reader) -> dict[str, Any]:
    """Read every field of `table` from `reader`, in table order."""
    return {name: unpack_value(fmt, reader, name) for name, fmt in table}


def fixed_size(table: Table) -> int:
    """Byte size of a table made only of fixed-size fields (the preamble)."""
    return struct.calcsize("<" + "".join(fmt for _, fmt in table))
