"""Indexed CDF tables: lossless round trips, bit-exact tables, and caller mistakes as InvalidInput."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from codec.entropy import (
    MAX_ALPHABET,
    CdfTables,
    decode_columns,
    decode_indexed,
    encode_columns,
    encode_indexed,
    rans,
)
from codec.entropy.byte_io import ByteReader
from codec.entropy.freq_table import TOTAL
from codec.entropy.indexed import MAX_TABLE_SIZE, NESTED_COLUMN
from codec.errors import InvalidInput

I64 = np.iinfo(np.int64)


def columns_roundtrip(x: np.ndarray) -> bytes:
    data = encode_columns(x)
    y = decode_columns(data, *x.shape, max_count=max(x.size, 1))
    assert y.dtype == np.int64 and y.shape == x.shape
    np.testing.assert_array_equal(y, x.astype(np.int64))
    return data


def indexed_roundtrip(values: np.ndarray, indexes: np.ndarray, tables: CdfTables) -> bytes:
    data = encode_indexed(values, indexes, tables)
    full = np.broadcast_to(indexes, np.shape(values))
    y = decode_indexed(data, full, tables)
    assert y.dtype == np.int64 and y.shape == np.shape(values)
    np.testing.assert_array_equal(y, np.asarray(values).astype(np.int64))
    return data


@st.composite
def indexed_cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, CdfTables]:
    """Random tables (count, sizes, offsets up to the int64 extremes, flat or skewed) and data drawn
    from them; tables come from the data's histogram or from a pmf covering the whole support."""
    n_tables = draw(st.integers(1, 8))
    sizes = draw(st.lists(st.integers(1, 300), min_size=n_tables, max_size=n_tables))
    offs = [
        draw(st.one_of(st.integers(I64.min, I64.max - k + 1), st.sampled_from([I64.min, I64.max - k + 1, 0])))
        for k in sizes
    ]
    n = draw(st.integers(0, 400))
    skew = draw(st.sampled_from([0.0, 0.5, 3.0, 30.0]))  # 0: flat; larger: more mass on a few symbols
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    indexes = rng.integers(0, n_tables, n)
    pmfs = [np.exp(-skew * np.abs(np.arange(k) - rng.integers(0, k)) / max(k, 1) * 8) for k in sizes]
    symbols = np.array([rng.choice(sizes[t], p=pmfs[t] / pmfs[t].sum()) for t in indexes], dtype=np.int64)
    values = (np.array(offs, dtype=np.int64)[indexes].view(np.uint64) + symbols.astype(np.uint64)).view(
        np.int64
    )
    if draw(st.booleans()):
        counts = [np.bincount(symbols[indexes == t], minlength=k) for t, k in enumerate(sizes)]
        counts = [c if c.any() else np.ones(len(c), dtype=np.int64) for c in counts]  # unused table
        tables = CdfTables.from_counts(counts, offs)
    else:
        tables = CdfTables.from_pmfs(pmfs, offs)
    return values, indexes, tables


@settings(max_examples=60, deadline=None)
@given(indexed_cases())
def test_hypothesis_indexed_roundtrip(case: tuple[np.ndarray, np.ndarray, CdfTables]) -> None:
    values, indexes, tables = case
    indexed_roundtrip(values, indexes, tables)
    assert CdfTables.from_bytes(tables.to_bytes()) == tables


@settings(max_examples=50, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.bool_, np.uint8, np.int16, np.int64]),
        shape=hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=40),
    )
)
def test_hypothesis_columns_roundtrip(x: np.ndarray) -> None:
    columns_roundtrip(x)


@settings(max_examples=30, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.bool_, np.uint8, np.int16, np.int64]),
        shape=st.tuples(st.integers(1, 60), st.integers(1, 6)),
    )
)
def test_hypothesis_indexed_per_column_tables(x: np.ndarray) -> None:
    """The intended use: index = dimension, one table per column from its histogram."""
    a = x.astype(np.int64)
    base = a.min(axis=0)
    sym = (a.view(np.uint64) - base.view(np.uint64)) % np.uint64(MAX_ALPHABET)  # fold wide columns
    x = (base.view(np.uint64) + sym).view(np.int64).astype(x.dtype)  # still inside each column's range
    counts = [np.bincount(sym[:, c].astype(np.int64)) for c in range(a.shape[1])]
    tables = CdfTables.from_counts(counts, base)
    indexed_roundtrip(x, np.arange(a.shape[1]), tables)


SEEDED = np.random.default_rng(21)


@pytest.mark.parametrize(
    "x",
    [
        np.zeros((1, 1), dtype=np.int64),
        np.array([[I64.min, I64.max, 0, -1]]),  # one row: every column constant
        np.round(SEEDED.laplace(0, 3, (500, 1))).astype(np.int8),  # one column
        np.tile(np.array([[7, -3, I64.min, I64.max]]), (300, 1)),  # constant columns, many rows
        np.column_stack([SEEDED.integers(0, 2, 400), np.full(400, 5), SEEDED.integers(-(2**15), 2**15, 400)]),
        np.column_stack([SEEDED.integers(I64.min, I64.max, 200, dtype=np.int64, endpoint=True)] * 2),
        np.column_stack([SEEDED.integers(0, 1 << 20, 3000), np.round(SEEDED.normal(0, 2, 3000))]).astype(int),
        np.zeros((0, 5), dtype=np.int32),
        np.zeros((5, 0), dtype=np.int32),
        np.arange(15 * 3).reshape(15, 3),  # fewer rows than a rANS chunk needs
        np.arange(16 * 3).reshape(16, 3) % 4,
    ],
    ids=[
        "1x1",
        "1-row-extremes",
        "1-col",
        "const-cols",
        "mixed",
        "flat-i64",
        "wide+normal",
        "0-rows",
        "0-cols",
        "15-rows",
        "16-rows",
    ],
)
def test_columns_roundtrip_edge_cases(x: np.ndarray) -> None:
    columns_roundtrip(x)


def test_column_kinds_follow_the_planner() -> None:
    """Narrow columns get a table, wide flat ones move low bits out, outliers get a stream of their own."""
    rng = np.random.default_rng(22)
    n = 20_000
    narrow = np.round(rng.laplace(0, 4, n))
    wide = rng.integers(0, 1 << 20, n)
    outliers = np.round(rng.laplace(0, 2, n))
    outliers[::1000] = 2**31 - 1
    x = np.column_stack([narrow, wide, outliers]).astype(np.int64)
    kinds = column_kinds(columns_roundtrip(x))
    assert (
        kinds[0] < kinds[1] <= 64 and kinds[2] == NESTED_COLUMN
    )  # wide: more raw bits, outliers: own stream


def column_kinds(data: bytes) -> list[int]:
    r = ByteReader(data)
    r.byte()  # version
    r.uvarint()  # rows
    return list(r.raw(r.uvarint()))


def test_tiny_inputs_are_padded_not_overrun() -> None:
    """Every length below rans.MIN_SYMBOLS, with the most and least probable symbols."""
    tables = CdfTables.from_counts([np.array([1, 1000, 0, 3]), np.array([5])], [-2, 10])
    for n in range(rans.MIN_SYMBOLS + 2):
        for sym in (-2, -1, 1):
            values = np.array([sym, 10] * n, dtype=np.int64)[:n]
            indexed_roundtrip(values, np.array([0, 1] * n, dtype=np.int64)[:n], tables)
    assert len(encode_indexed(np.zeros(0, np.int64), np.zeros(0, np.int64), tables)) == 2


def test_certain_tables_cost_nothing() -> None:
    """A table with one codable symbol has frequency 2**16, which compressai's encoder cannot code (its
    16-bit symbol record wraps to 0 and it divides by zero): such values are implied, not coded."""
    tables = CdfTables.from_counts([np.array([0, 7, 0]), np.array([4]), np.array([1, 1])], [0, -5, 0])
    assert tables.freqs[0].tolist() == [0, TOTAL, 0]
    for n in (1, 15, 16, 5000):
        assert len(indexed_roundtrip(np.ones(n, np.int64), np.zeros(1, np.int64), tables)) <= 4
    mixed = indexed_roundtrip(np.array([1, -5, 0, 1, 1] * 40), np.array([0, 1, 2, 0, 0] * 40), tables)
    assert len(mixed) < 2 + 2 + 40 // 8 + 8  # ~1 bit for each of the 40 values of table 2
    x = np.column_stack([np.full(3000, 9), np.arange(3000) % 2])
    assert len(columns_roundtrip(x)) < 3000 // 8 + 24


def test_long_inputs_are_chunked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rans, "CHUNK_SYMBOLS", 100)
    rng = np.random.default_rng(23)
    x = np.round(rng.laplace(0, [1, 10, 100], (1000, 3))).astype(np.int64)
    columns_roundtrip(x)
    tables = CdfTables.from_pmfs([np.ones(9)] * 3, [-4] * 3)
    v = rng.integers(-4, 5, 1234)
    data = indexed_roundtrip(v, rng.integers(0, 3, 1234), tables)
    assert len(data) > 13 * 8  # 13 chunks of ~95 symbols, each with its own payload


def test_tables_roundtrip_and_rebuild_bit_exact() -> None:
    rng = np.random.default_rng(24)
    counts = [rng.geometric(0.05, k) * (rng.random(k) < 0.8) + (np.arange(k) == 0) for k in (1, 2, 50, 4096)]
    tables = CdfTables.from_counts(counts, [I64.min, -5, 0, I64.max - 4095])
    again = CdfTables.from_bytes(tables.to_bytes())
    assert again == tables and again.to_bytes() == tables.to_bytes()
    for t in range(len(tables)):
        cdf = tables.cdf(t)
        assert cdf.dtype == np.int64 and cdf[0] == 0 and cdf[-1] == TOTAL and (np.diff(cdf) >= 0).all()
        assert np.array_equal(cdf, again.cdf(t))
        assert ((tables.freqs[t] > 0) == (counts[t] > 0)).all()
    assert np.array_equal(tables.sizes, [1, 2, 50, 4096])
    assert CdfTables.from_counts([c.copy() for c in counts], tables.offsets) == tables  # deterministic
    assert CdfTables.from_bytes(CdfTables.from_counts([], []).to_bytes()) == CdfTables.from_counts([], [])


def test_from_pmfs_every_entry_codable() -> None:
    """Discretized Gaussians with far tails: every entry >= 1, each table sums to 2**16."""
    k = np.arange(-200, 201, dtype=np.float64)
    pmfs = [np.exp(-0.5 * (k / s) ** 2) for s in (0.1, 1.0, 10.0, 60.0)] + [np.array([0.0, 1.0, 0.0])]
    pmfs.append(np.array([1e-300, 1.0, 1e-300], dtype=np.float32))
    tables = CdfTables.from_pmfs(pmfs, [-200] * 4 + [0, 0])
    for f in tables.freqs:
        assert f.dtype == np.int64 and int(f.sum()) == TOTAL and (f >= 1).all()
    assert tables.freqs[0][200] >= TOTAL - 2 * 400  # nearly all mass on 0, the 400 tails get 1 or 2
    values = np.array([-200, 200, 0, 37, 2, 0])
    indexed_roundtrip(values, np.arange(6), tables)
    assert CdfTables.from_pmfs([p.copy() for p in pmfs], tables.offsets) == tables


def laplace_pmf(scale: float, half: int) -> np.ndarray:
    """P(round(Laplace(0, scale)) = k) for k in [-half, half] (tails beyond are not in the support)."""
    edges = np.arange(-half - 0.5, half + 1)
    return np.diff(np.where(edges < 0, 0.5 * np.exp(edges / scale), 1 - 0.5 * np.exp(-edges / scale)))


def test_pmf_tables_cost_the_cross_entropy() -> None:
    """Tables from a model's pmfs code its samples at ~ the model's code length (no table stored)."""
    rng = np.random.default_rng(25)
    scales = [0.5, 2.0, 8.0, 30.0]
    halves = [int(12 * s) + 4 for s in scales]  # support out to ~12 scales, like a model's tail bound
    pmfs = [laplace_pmf(s, h) for s, h in zip(scales, halves, strict=True)]
    tables = CdfTables.from_pmfs(pmfs, [-h for h in halves])
    x = np.clip(np.round(rng.laplace(0, scales, (20_000, 4))), -np.array(halves), halves).astype(np.int64)
    data = indexed_roundtrip(x, np.arange(4), tables)
    model_bits = sum(-np.log2(pmfs[c][x[:, c] + halves[c]] / pmfs[c].sum()).sum() for c in range(4))
    print(f"pmf tables: {len(data)} B vs model code length {model_bits / 8:.0f} B")
    assert 0.99 * model_bits / 8 < len(data) < 1.003 * model_bits / 8 + 32


def test_format_is_pinned() -> None:
    """The column stream's bytes depend on integer arithmetic only: same bytes on every machine."""
    i = np.arange(600)
    x = np.column_stack([(i * 7919) % 13 - 6, (i * i) % 5, np.full(600, -9), (i * 104729) % 70001]).astype(
        np.int64
    )
    data = columns_roundtrip(x)
    assert hashlib.sha256(data).hexdigest()[:16] == "1fb0d1b4fd598217"  # a format change: bump FORMAT_VERSION


class FakeCudaTensor:
    """Duck-types the torch.Tensor calls the coder makes (importing torch here would cost seconds)."""

    def __init__(self, a: np.ndarray) -> None:
        self.a, self.shape = a, a.shape

    def detach(self) -> FakeCudaTensor:
        return self

    def cpu(self) -> FakeCudaTensor:
        return self

    def numpy(self) -> np.ndarray:
        return self.a


def test_tensor_inputs_are_moved_to_cpu() -> None:
    x = np.arange(-40, 40, dtype=np.int32).reshape(20, 4) % 7
    assert np.array_equal(decode_columns(encode_columns(FakeCudaTensor(x))), x)
    tables = CdfTables.from_pmfs(
        FakeCudaTensor(np.ones((4, 7), np.float32)), FakeCudaTensor(np.zeros(4, np.int64))
    )
    indexed_roundtrip(x, np.arange(4), tables)
    assert np.array_equal(
        decode_indexed(
            encode_indexed(FakeCudaTensor(x), FakeCudaTensor(np.arange(4)), tables),
            np.broadcast_to(np.arange(4), x.shape),
            tables,
        ),
        x,
    )


TABLES = CdfTables.from_counts([np.array([3, 0, 5]), np.array([1, 1])], [10, -1])


@pytest.mark.parametrize(
    "values,indexes,match",
    [
        (np.array([9]), np.array([0]), r"value 9 at position 0 is outside table 0's support \[10, 12\]"),
        (np.array([10, 13]), np.array([0, 0]), "value 13 at position 1 is outside"),
        (np.array([0, 11]), np.array([1, 0]), "value 11 at position 1 has frequency 0 in table 0"),
        (np.array([I64.min]), np.array([1]), "outside table 1"),
        (np.array([10]), np.array([2]), r"table index outside \[0, 2\)"),
        (np.array([10]), np.array([-1]), "table index outside"),
        (np.array([10, 10]), np.array([0, 0, 0]), "indexes for values of shape"),
        (np.array([10.0]), np.array([0]), "integer array"),
        (np.array([10]), np.array([0.0]), "indexes must be integers"),
    ],
)
def test_uncodable_input_is_invalid_input(values: np.ndarray, indexes: np.ndarray, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        encode_indexed(values, indexes, TABLES)


@pytest.mark.parametrize(
    "build",
    [
        lambda: CdfTables.from_counts([np.array([1, 2])], [I64.max]),  # offset + 1 overflows
        lambda: CdfTables.from_counts([np.array([1, 2])], [2**63]),
        lambda: CdfTables.from_counts([np.array([1, 2])], [1.5]),
        lambda: CdfTables.from_counts([np.array([1, 2])], [0, 0]),
        lambda: CdfTables.from_counts([np.array([0, 0])], [0]),
        lambda: CdfTables.from_counts([np.array([1, -1])], [0]),
        lambda: CdfTables.from_counts([np.array([2**62, 2**62])], [0]),
        lambda: CdfTables.from_counts([np.array([2**63], dtype=np.uint64)], [0]),
        lambda: CdfTables.from_counts([np.array([1.0, 2.0])], [0]),
        lambda: CdfTables.from_counts([np.zeros(0, np.int64)], [0]),
        lambda: CdfTables.from_counts([np.ones(MAX_TABLE_SIZE + 1, np.int64)], [0]),
        lambda: CdfTables.from_pmfs([np.array([0.5, math.nan])], [0]),
        lambda: CdfTables.from_pmfs([np.array([0.5, -0.1])], [0]),
        lambda: CdfTables.from_pmfs([np.zeros(3)], [0]),
        lambda: CdfTables.from_pmfs([np.ones((2, 2))], [0]),
        lambda: CdfTables(np.zeros(1, np.int64), (np.array([1, 2], dtype=np.int32),)),
        lambda: encode_columns(np.arange(5)),
        lambda: decode_indexed("text", np.zeros(1, np.int64), TABLES),
        lambda: decode_columns([1, 2]),
        lambda: CdfTables.from_bytes("text"),
    ],
)
def test_bad_arguments_are_invalid_input(build) -> None:
    with pytest.raises(InvalidInput):
        build()


def test_wide_tables_are_allowed_but_columns_cap_their_alphabet() -> None:
    """from_pmfs/from_counts allow up to 2**16 symbols; encode_columns keeps tables <= MAX_ALPHABET
    (compressai's linear CDF search makes wider tables slow to decode)."""
    big = CdfTables.from_pmfs([np.ones(MAX_TABLE_SIZE)], [0])
    indexed_roundtrip(np.array([0, 65535, 30000] * 6), np.zeros(1, np.int64), big)
    x = np.random.default_rng(26).integers(0, 3 * MAX_ALPHABET, (5000, 1))
    assert column_kinds(columns_roundtrip(x))[0] > 0  # low bits moved out of the table
