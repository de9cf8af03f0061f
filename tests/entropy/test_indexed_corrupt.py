"""Hostile indexed and column streams and table bytes: CorruptData or in-range values, never a crash.

As for int_stream: flipped payload bits may decode to wrong values (the container CRC catches that),
but every size is validated before it is used, so nothing reads out of bounds, allocates without
limit, or raises anything but CorruptData (InvalidInput for a wrong API argument).
"""

from __future__ import annotations

import re
import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest

from codec.entropy import CdfTables, decode_columns, decode_indexed, encode_columns, encode_indexed
from codec.entropy.byte_io import ByteWriter
from codec.entropy.indexed import DEFAULT_MAX_ENTRIES, MAX_TABLE_SIZE
from codec.errors import CorruptData

RNG = np.random.default_rng(31)
I32 = np.iinfo(np.int32)
I64 = np.iinfo(np.int64)

_n = 300
_outliers = np.round(RNG.laplace(0, 2, _n))
_outliers[::50] = I32.max
COLUMN_INPUTS = {
    "mixed": np.column_stack(
        [
            np.round(RNG.laplace(0, 3, _n)),  # table
            RNG.integers(0, 1 << 18, _n),  # table + raw low bits
            _outliers,  # nested int_stream
            np.full(_n, -4),  # certain: no symbols coded
        ]
    ).astype(np.int64),
    "tiny": np.array([[5, -3], [1000, 7], [0, 7]]),
    "one_row": np.array([[I64.min, 0, I64.max]]),
}
COLUMN_STREAMS = {name: encode_columns(x) for name, x in COLUMN_INPUTS.items()}

TABLES = CdfTables.from_counts(
    [np.array([5, 1, 0, 9]), np.array([1, 2, 3, 4, 5, 6]), np.array([0, 3]), np.array([1])],
    [-2, 100, I64.min, I64.max],
)
IDX = RNG.integers(0, 4, 400)
_SYMBOLS = (
    np.select(  # codable symbols only: table 0 has a zero at 2, table 2 only symbol 1, table 3 one symbol
        [IDX == 0, IDX == 1, IDX == 2],
        [RNG.choice([0, 1, 3], 400), RNG.integers(0, 6, 400), np.ones(400, np.int64)],
    )
)
VALUES = TABLES.values(_SYMBOLS, IDX)
INDEXED_STREAMS = {
    "long": (encode_indexed(VALUES, IDX, TABLES), IDX),
    "tiny": (encode_indexed(VALUES[:5], IDX[:5], TABLES), IDX[:5]),
}
TABLE_BYTES = TABLES.to_bytes()


def low_high(tables: CdfTables, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo = tables.offsets[idx]
    return lo, (lo.view(np.uint64) + (tables.sizes[idx] - 1).view(np.uint64)).view(np.int64)


def decoders() -> dict[str, Callable[[bytes], None]]:
    """name -> a check that decodes bytes like that stream's and validates whatever comes out."""
    out: dict[str, Callable[[bytes], None]] = {}
    for name, x in COLUMN_INPUTS.items():

        def check_columns(data: bytes, x: np.ndarray = x) -> None:
            y = decode_columns(data, max_count=4 * x.size + 16)
            assert y.dtype == np.int64 and y.ndim == 2 and y.size <= 4 * x.size + 16

        out[f"columns/{name}"] = check_columns
    for name, (_, idx) in INDEXED_STREAMS.items():

        def check_indexed(data: bytes, idx: np.ndarray = idx) -> None:
            y = decode_indexed(data, idx, TABLES)
            lo, hi = low_high(TABLES, idx)
            assert y.shape == idx.shape and ((y >= lo) & (y <= hi)).all()  # wrong maybe, but in support

        out[f"indexed/{name}"] = check_indexed

    def check_tables(data: bytes) -> None:
        tables = CdfTables.from_bytes(data)
        assert all(int(f.sum()) == 1 << 16 for f in tables.freqs)

    out["tables"] = check_tables
    return out


DECODERS = decoders()
STREAMS = {
    **{f"columns/{n}": d for n, d in COLUMN_STREAMS.items()},
    **{f"indexed/{n}": d for n, (d, _) in INDEXED_STREAMS.items()},
    "tables": TABLE_BYTES,
}


def check(name: str, data: bytes) -> None:
    try:
        DECODERS[name](data)
    except CorruptData as e:
        assert "\n" not in str(e) and str(e)


def test_streams_decode() -> None:
    for name, x in COLUMN_INPUTS.items():
        assert np.array_equal(decode_columns(COLUMN_STREAMS[name]), x)
    for data, idx in INDEXED_STREAMS.values():
        assert np.array_equal(decode_indexed(data, idx, TABLES), VALUES[: len(idx)])
    assert CdfTables.from_bytes(TABLE_BYTES) == TABLES


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_every_truncation_is_rejected(name: str) -> None:
    data = STREAMS[name]
    for cut in range(len(data)):
        with pytest.raises(CorruptData):
            DECODERS[name](data[:cut])
    with pytest.raises(CorruptData, match="trailing"):
        DECODERS[name](data + b"\x00")


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_bit_flips_and_overwrites_never_crash(name: str) -> None:
    data = STREAMS[name]
    rng = np.random.default_rng(len(data))
    for _ in range(150):
        buf = bytearray(data)
        for pos in rng.integers(0, len(buf), int(rng.integers(1, 4))):
            buf[pos] ^= 1 << int(rng.integers(0, 8))
        check(name, bytes(buf))
    for _ in range(50):
        buf = bytearray(data)
        start = int(rng.integers(0, len(buf)))
        chunk = rng.integers(0, 256, min(len(buf) - start, int(rng.integers(1, 16))), dtype=np.uint8)
        buf[start : start + len(chunk)] = chunk.tobytes()
        check(name, bytes(buf))


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_random_garbage_never_crashes(name: str) -> None:
    rng = np.random.default_rng(32)
    for _ in range(150):
        body = rng.integers(0, 256, int(rng.integers(0, 120)), dtype=np.uint8).tobytes()
        check(name, b"\x01" + body)
        check(name, body)


def _w(*parts: tuple[str, int] | bytes) -> bytes:
    """Assemble a stream from ("u", v) uvarints, ("s", v) svarints, ("b", v) bytes and raw bytes."""
    w = ByteWriter()
    for p in parts:
        if isinstance(p, bytes):
            w.raw(p)
        else:
            getattr(w, {"u": "uvarint", "s": "svarint", "b": "byte"}[p[0]])(p[1])
    return w.getvalue()


ZERO_RUN_TABLE = (("s", 0), ("u", MAX_TABLE_SIZE), b"\x01\x00", ("u", MAX_TABLE_SIZE - 2))  # 65536 entries
CRAFTED_TABLES = {
    "table count": _w(("u", 1 << 40)),
    "cannot fit": _w(("u", 1000), bytes(10)),
    "table size 0": _w(("u", 1), ("s", 0), ("u", 0)),
    "table size": _w(("u", 1), ("s", 0), ("u", MAX_TABLE_SIZE + 1), b"\x01"),
    "overflows int64": _w(("u", 1), ("s", int(I64.max)), ("u", 2), b"\x01\x01"),
    "no nonzero": _w(("u", 1), ("s", 0), ("u", 3), b"\x00\x02"),
    "zero run": _w(("u", 1), ("s", 0), ("u", 3), b"\x01\x00\x05"),
    "more than 4194304 entries": _w(("u", 65), *(ZERO_RUN_TABLE * 65)),
    "truncated": _w(("u", 2), ("s", 0), ("u", 2), b"\x01\x01", ("s", 0), ("u", 3), b"\x01"),
}


@pytest.mark.parametrize("match,data", sorted(CRAFTED_TABLES.items()))
def test_crafted_tables(match: str, data: bytes) -> None:
    with pytest.raises(CorruptData, match=re.escape(match)):
        CdfTables.from_bytes(data)


def test_max_tables_and_entries_are_caller_limits() -> None:
    assert len(CdfTables.from_bytes(_w(("u", 64), *(ZERO_RUN_TABLE * 64)))) == 64  # == DEFAULT_MAX_ENTRIES
    with pytest.raises(CorruptData, match="table count"):
        CdfTables.from_bytes(TABLE_BYTES, max_tables=3)
    with pytest.raises(CorruptData, match="entries"):
        CdfTables.from_bytes(TABLE_BYTES, max_entries=12)
    assert CdfTables.from_bytes(TABLE_BYTES, max_tables=4, max_entries=13) == TABLES


IDX16 = np.zeros(16, dtype=np.int64)
CRAFTED_INDEXED = {
    "version": (b"\x02\x10", IDX16),
    "truncated": (b"", IDX16),
    "holds 17 values, expected 16": (_w(("b", 1), ("u", 17)), IDX16),
    "holds 1 values, expected 16": (_w(("b", 1), ("u", 1)), IDX16),
    "payload size": (_w(("b", 1), ("u", 16), ("u", 10), bytes(10)), IDX16),  # not whole words
    "payload size 65": (_w(("b", 1), ("u", 16), ("u", 65), bytes(70)), IDX16),  # > 4 bytes/symbol
    "payload size 4": (_w(("b", 1), ("u", 16), ("u", 4), bytes(12)), IDX16),  # < the 8-byte flush
    "truncated (16": (_w(("b", 1), ("u", 16), bytes(5)), IDX16),
    "trailing": (_w(("b", 1), ("u", 1)) + b"\x00", np.full(1, 3)),  # table 3 is certain: no payload
}


@pytest.mark.parametrize("match,case", sorted(CRAFTED_INDEXED.items()))
def test_crafted_indexed(match: str, case: tuple[bytes, np.ndarray]) -> None:
    data, idx = case
    with pytest.raises(CorruptData, match=re.escape(match)):
        decode_indexed(data, idx, TABLES)


def _columns(rows: int, cols: int, *rest: tuple[str, int] | bytes) -> bytes:
    return _w(("b", 1), ("u", rows), ("u", cols), *rest)


CRAFTED_COLUMNS = {
    "version": b"\x02\x01\x01",
    "rows": _columns(1 << 41, 1),
    "exceeds limit": _columns(1 << 20, 1 << 9),  # 2**29 values > DEFAULT_MAX_COUNT
    "column kind 100": _columns(20, 2, b"\x00\x64"),
    "1 tables for 2": _columns(20, 2, b"\x00\x00", ("u", 1), ("s", 0), ("u", 1)),
    "table count": _columns(20, 1, b"\x00", ("u", 2)),
    "table size": _columns(20, 1, b"\x00", ("u", 1), ("s", 0), ("u", 4097), b"\x01\x00\x01\x01"),
    "truncated (268435456 x 1": _columns(1 << 28, 1, b"\x00", ("u", 1), ("s", 0), ("u", 2), b"\x01\x01"),
    "truncated (4096 x 1": _columns(4096, 1, b"\x05", ("u", 1), ("s", 0), ("u", 1), b"\x01\x00"),
    "holds 3 values, expected 20": _columns(
        20, 1, b"\x00", ("u", 1), ("s", 0), ("u", 2), b"\x01\x01", ("b", 1), ("u", 3), bytes(20)
    ),
    "column 0: entropy stream: unknown format version 9": _columns(
        20, 1, b"\xff", ("u", 0), ("b", 1), ("u", 0), ("u", 2), b"\x09\x00"
    ),
    "column 0 holds 5 values, expected 20": _columns(  # a nested int_stream of 5 zeros
        20, 1, b"\xff", ("u", 0), ("b", 1), ("u", 0), ("u", 6), b"\x01\x05\x00\x00\x01\x00"
    ),
}


@pytest.mark.parametrize("match,data", sorted(CRAFTED_COLUMNS.items()))
def test_crafted_columns(match: str, data: bytes) -> None:
    with pytest.raises(CorruptData, match=re.escape(match)):
        decode_columns(data)


def test_expected_shape_is_checked() -> None:
    data = COLUMN_STREAMS["tiny"]
    assert decode_columns(data, 3, 2).shape == (3, 2)
    for rows, cols in ((2, 2), (3, 3), (None, 1)):
        with pytest.raises(CorruptData, match="expected"):
            decode_columns(data, rows, cols)
    with pytest.raises(CorruptData, match="exceeds limit"):
        decode_columns(data, max_count=5)


WIDE_TABLE = (("s", 0), ("u", 4096), b"\x01\x00", ("u", 4093), b"\x01")  # 4096 entries in 6 bytes


@pytest.mark.parametrize(
    "decode,data",
    [
        (decode_columns, CRAFTED_COLUMNS["truncated (268435456 x 1"]),
        (decode_columns, CRAFTED_COLUMNS["exceeds limit"]),
        (decode_columns, _columns(1 << 28, 1, b"\x00", ("u", 1), *WIDE_TABLE)),
        (decode_columns, _columns(1 << 18, 1024, bytes(1024), ("u", 1024), *(WIDE_TABLE * 1024))),
        (CdfTables.from_bytes, CRAFTED_TABLES["more than 4194304 entries"]),
    ],
    ids=[
        "2**28-rows",
        "2**29-values",
        "2**28-rows-wide-table",
        "1024-wide-tables",
        "tables-past-max-entries",
    ],
)
def test_declared_sizes_are_checked_before_allocating(decode: Callable[[bytes], object], data: bytes) -> None:
    """A few bytes that declare 2**28 values or 2**22 table entries: refused without the memory."""
    tracemalloc.start()
    try:
        with pytest.raises(CorruptData):
            decode(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"  # <= DEFAULT_MAX_ENTRIES codes, a few bytes each
    assert DEFAULT_MAX_ENTRIES == 1 << 22
