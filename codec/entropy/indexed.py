"""Indexed CDF tables: each symbol coded with one of N stored integer tables, chosen by an index.

Per-dimension codes (a vector codec quantizing each embedding dimension on its own scale, a latent
codec with per-channel quantized codes) mix very different distributions; one table for all of them
costs the entropy of the mixture, one table per dimension (index = dimension) only the sum of theirs.
This is compressai's `encode_with_indexes(symbols, indexes, cdfs, cdf_lengths, offsets)`, with the
tables kept as freq_table's 16-bit integer frequencies so every machine rebuilds the same CDFs.

    CdfTables.from_counts(counts, offsets) / CdfTables.from_pmfs(pmfs, offsets)
    tables.to_bytes() / CdfTables.from_bytes(data, max_tables=..., max_entries=...)
    encode_indexed(values, indexes, tables) -> bytes        (tables and indexes stored elsewhere)
    decode_indexed(data, indexes, tables) -> np.ndarray     (int64, the shape of indexes)
    encode_columns(x) -> bytes                              (self-describing: one table per column)
    decode_columns(data, rows=None, cols=None, max_count=None) -> (rows, cols) int64

Layouts (uvarint = unsigned LEB128, svarint = zigzag LEB128):

CdfTables (`to_bytes`):

    uvarint  T                             number of tables (<= max_tables)
    per table:
      svarint  offset                      int64 value of symbol 0; offset + K - 1 <= 2**63 - 1
      uvarint  K                           1..MAX_TABLE_SIZE symbols; sum of all K <= max_entries
      if K > 1:
        table                              K one-byte codes as in int_stream.py (a 0 code is followed
                                           by a uvarint of further zero entries); a one-symbol table
                                           has frequency 2**16 and stores nothing

Indexed stream (`encode_indexed`); value v with index t is coded as symbol v - offset[t] of table t:

    byte     format version (1)
    uvarint  count N                       must equal the number of indexes given to the decoder
    per rANS chunk:                        uvarint payload length, compressai rANS payload of the
                                           M values whose table has two or more codable symbols (a
                                           table with one is certain, its values implied: frequency
                                           2**16 costs nothing, and compressai cannot code it);
                                           M split as in int_stream (ceil(M / 2**20) near-equal
                                           chunks, larger first); 0 < M < 16 is padded to 16
                                           symbols of the last coded value's table (dropped)

Column stream (`encode_columns`), for a (rows, cols) array of per-column codes:

    byte     format version (1)
    uvarint  rows R                        R, C <= 2**40; R * C <= the decoder's max_count
    uvarint  cols C                        nothing follows when R * C == 0
    bytes    C column kinds                0..64: table column with that many raw low bits per
                                           value; 255: column coded on its own (nested int_stream)
    tables   CdfTables (layout above)      one per table column, in column order, K <= MAX_ALPHABET
    indexed  indexed stream (layout above) the R * M symbols of the M table columns whose table
                                           has two or more codable symbols, row-major, indexed by
                                           table number (the other columns' symbols are implied)
    bytes    low bits                      per table column with s > 0 raw bits, in column order:
                                           the low s bits of its R values, packed (bitpack)
    per nested column:                     uvarint length, int_stream of its R values

A table column's value = offset + (symbol << s) + low (mod 2**64); a certain table gives its one
codable symbol (0 when K == 1). Each
column's plan comes from int_stream's planner (`plan.choose_plan`): a column that fits one table
(alphabet <= MAX_ALPHABET, maybe after moving flat low bits out of it) is a table column; a column
whose best plan escapes outliers (a wide span that no shift makes cheap) is coded on its own by
`encode_ints`. Streams must be consumed exactly: trailing bytes are an error.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from codec.entropy import freq_table, rans
from codec.entropy.bitpack import pack_bits, packed_size, unpack_bits
from codec.entropy.byte_io import ByteReader, ByteWriter
from codec.entropy.int_stream import (
    DEFAULT_MAX_COUNT,
    MAX_ENCODE_COUNT,
    as_int64_flat,
    decode_ints,
    encode_ints,
)
from codec.entropy.plan import MAX_ALPHABET, choose_plan, low_mask, offsets, shift_right
from codec.entropy.stats import empirical_entropy_bits
from codec.errors import CorruptData, InvalidInput

FORMAT_VERSION = 1
# Every codable symbol needs a frequency >= 1 out of 2**16. compressai decodes with a linear CDF scan
# (~0.6 ns per entry passed), so tables this wide decode slowly; encode_columns keeps to MAX_ALPHABET.
MAX_TABLE_SIZE = freq_table.TOTAL
DEFAULT_MAX_TABLES = 1 << 16
DEFAULT_MAX_ENTRIES = 1 << 22  # sum of table sizes a stream may declare: bounds what decoding allocates
NESTED_COLUMN = 255  # column kind: coded on its own with encode_ints
_PMF_SCALE = float(1 << 30)  # probabilities -> integer weights; far finer than the 2**16 frequencies
_MAX_COUNT_SUM = 1 << 46  # freq_table.normalize_freqs keeps exact int64 arithmetic below this
_I64_MIN, _I64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
_ONE_SYMBOL_CODES = freq_table.quantize_counts(np.ones(1, dtype=np.int64))[0]  # what a K == 1 table reads as


def _to_numpy(x: object) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor, possibly on a GPU; no torch import
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a)  # a private copy, so the caller cannot change a "frozen" table afterwards
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class CdfTables:
    """N integer frequency tables; table t codes the values offsets[t] .. offsets[t] + K_t - 1.

    What is stored is the one-byte code per entry (freq_table); the 16-bit frequencies and CDFs are
    derived from the codes with integer arithmetic only, so a table written anywhere codes and
    decodes bit-exactly everywhere, and survives `to_bytes` exactly. A zero code (frequency 0)
    marks a value that cannot occur. Build with `from_counts` or `from_pmfs`.
    """

    offsets: np.ndarray  # (T,) int64
    codes: tuple[np.ndarray, ...]  # T uint8 arrays of sizes K_t >= 1, each with a nonzero entry

    def __post_init__(self) -> None:
        offs = _readonly(np.asarray(self.offsets, dtype=np.int64).reshape(-1))
        codes = tuple(_readonly(np.asarray(c)) for c in self.codes)
        if len(offs) != len(codes):
            raise InvalidInput(f"CDF tables: {len(offs)} offsets for {len(codes)} tables")
        for t, (off, c) in enumerate(zip(offs.tolist(), codes, strict=True)):
            _check_table_shape(t, c, "uint8 codes")
            if c.dtype != np.uint8:
                raise InvalidInput(f"CDF table {t}: codes must be uint8, got {c.dtype}")
            if not c.any():
                raise InvalidInput(f"CDF table {t}: no symbol has a nonzero frequency")
            if off + len(c) - 1 > _I64_MAX:
                raise InvalidInput(f"CDF table {t}: offset {off} + {len(c)} symbols overflows int64")
        object.__setattr__(self, "offsets", offs)
        object.__setattr__(self, "codes", codes)

    @classmethod
    def from_counts(cls, counts: Sequence[np.ndarray], offsets: Sequence[int]) -> CdfTables:
        """Histograms (non-negative integer counts, symbol 0 first) -> tables. Integer arithmetic only,
        so the same counts give the same tables everywhere; a zero count makes that value uncodable."""
        codes = []
        for t, c in enumerate(_tables_of(counts)):
            a = _check_table_shape(t, _to_numpy(c), "counts")
            if not np.issubdtype(a.dtype, np.integer):
                raise InvalidInput(f"CDF table {t}: counts must be integers, got {a.dtype}")
            a = a.astype(np.int64)  # uint64 counts >= 2**63 turn negative and are refused below
            too_big = int(a.max()) >= _MAX_COUNT_SUM or int(a.sum()) >= _MAX_COUNT_SUM  # max first: no wrap
            if (a < 0).any() or too_big or not a.any():
                raise InvalidInput(f"CDF table {t}: counts must be >= 0, not all 0, and sum below 2**46")
            codes.append(freq_table.quantize_counts(a)[0])
        return cls(_as_offsets(offsets, len(codes)), tuple(codes))

    @classmethod
    def from_pmfs(cls, pmfs: Sequence[np.ndarray], offsets: Sequence[int]) -> CdfTables:
        """Probability vectors (e.g. a model's discretized Gaussian/Laplacian; need not sum to 1) ->
        tables in which every entry has a frequency >= 1, so any value in the support is codable.

        The float work happens once, here; what is stored and decoded is integers only. So build the
        tables once and send them (`to_bytes`): recomputing them on the decoder from floats that
        differ in the last bit (another GPU, another kernel) could give different tables.
        """
        codes = []
        for t, p in enumerate(_tables_of(pmfs)):
            a = _check_table_shape(t, _to_numpy(p), "pmf").astype(np.float64)
            total = float(a.sum())
            if not np.isfinite(a).all() or (a < 0).any() or not total > 0:
                raise InvalidInput(f"CDF table {t}: pmf must be finite, >= 0 and not all 0")
            weights = np.maximum(np.rint(a * (_PMF_SCALE / total)), 1).astype(np.int64)
            codes.append(freq_table.quantize_counts(weights)[0])
        return cls(_as_offsets(offsets, len(codes)), tuple(codes))

    def __len__(self) -> int:
        return len(self.codes)

    def __eq__(self, other: object) -> bool:
        """Same offsets and same frequencies (what coding depends on, not how the codes spell them)."""
        if not isinstance(other, CdfTables):
            return NotImplemented
        if len(self) != len(other) or not np.array_equal(self.offsets, other.offsets):
            return False
        return all(np.array_equal(a, b) for a, b in zip(self.freqs, other.freqs, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable-looking numpy fields; equality is by value

    @cached_property
    def sizes(self) -> np.ndarray:
        """(T,) int64 number of symbols of each table."""
        return np.array([len(c) for c in self.codes], dtype=np.int64)

    @cached_property
    def freqs(self) -> tuple[np.ndarray, ...]:
        """The 16-bit integer frequencies (int64, each table sums to 2**16) both sides code with."""
        return tuple(_readonly(freq_table.freqs_from_codes(c)) for c in self.codes)

    def cdf(self, t: int) -> np.ndarray:
        """Integer CDF of table t: K + 1 int64 values from 0 to 2**16."""
        return np.concatenate(([0], np.cumsum(self.freqs[t])))

    @cached_property
    def _certain(self) -> np.ndarray:
        """(T,) bool: tables with a single codable symbol, whose values are implied, not coded."""
        return np.array([np.count_nonzero(f) == 1 for f in self.freqs], dtype=bool)

    @cached_property
    def _likeliest(self) -> np.ndarray:
        """(T,) int64 most frequent symbol of each table (first on ties): the certain symbol, or padding."""
        return np.array([int(np.argmax(f)) for f in self.freqs], dtype=np.int64)

    @cached_property
    def _compressai_cdfs(self) -> list[list[int]]:
        return [freq_table.cdf_for_compressai(f) for f in self.freqs]

    @cached_property
    def _starts(self) -> np.ndarray:
        """Where each table starts in `_flat_freqs`."""
        return np.concatenate(([0], np.cumsum(self.sizes)[:-1])).astype(np.int64)

    @cached_property
    def _flat_freqs(self) -> np.ndarray:
        return np.concatenate(self.freqs) if len(self) else np.zeros(0, dtype=np.int64)

    def symbols(self, values: np.ndarray, indexes: np.ndarray) -> np.ndarray:
        """Values -> symbols of their tables (flat int64 arrays); InvalidInput for an uncodable value."""
        sym = values.view(np.uint64) - self.offsets.view(np.uint64)[indexes]  # exact for value >= offset
        inside = sym < self.sizes.view(np.uint64)[indexes]
        if not inside.all():
            i = int(np.argmin(inside))
            t = int(indexes[i])
            lo = int(self.offsets[t])
            raise InvalidInput(
                f"indexed coding: value {int(values[i])} at position {i} is outside table {t}'s "
                f"support [{lo}, {lo + int(self.sizes[t]) - 1}]"
            )
        sym = sym.view(np.int64)
        codable = self._flat_freqs[self._starts[indexes] + sym] > 0
        if not codable.all():
            i = int(np.argmin(codable))
            t = int(indexes[i])
            raise InvalidInput(
                f"indexed coding: value {int(values[i])} at position {i} has frequency 0 in table {t}"
            )
        return sym

    def values(self, symbols: np.ndarray, indexes: np.ndarray) -> np.ndarray:
        """Inverse of `symbols`: offset + symbol, never overflowing (offset + K - 1 fits int64)."""
        return (self.offsets.view(np.uint64)[indexes] + symbols.view(np.uint64)).view(np.int64)

    def to_bytes(self) -> bytes:
        """The CdfTables layout of the module docstring (one byte per entry, runs of zeros shortened)."""
        w = ByteWriter()
        self.write(w)
        return w.getvalue()

    def write(self, w: ByteWriter) -> None:
        """`to_bytes` into a larger stream."""
        w.uvarint(len(self))
        for off, c in zip(self.offsets.tolist(), self.codes, strict=True):
            w.svarint(off)
            w.uvarint(len(c))
            if len(c) > 1:
                freq_table.write_table(w, c)

    @classmethod
    def from_bytes(
        cls,
        data: bytes | bytearray | memoryview | ByteReader,
        max_tables: int = DEFAULT_MAX_TABLES,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> CdfTables:
        """Read tables from bytes (which they must fill exactly) or from a ByteReader (which moves on).

        CorruptData (one line) for anything malformed, for more than `max_tables` tables or
        `max_entries` entries in all; every count is checked before anything is allocated.
        """
        if isinstance(data, ByteReader):
            return cls.read(data, max_tables, max_entries)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInput(f"CdfTables.from_bytes needs bytes, got {type(data).__name__}")
        r = ByteReader(data, what="CDF tables")
        tables = cls.read(r, max_tables, max_entries)
        r.expect_end()
        return tables

    @classmethod
    def read(
        cls, r: ByteReader, max_tables: int, max_entries: int, max_size: int = MAX_TABLE_SIZE
    ) -> CdfTables:
        """`from_bytes` from inside a larger stream; tables may also be capped at `max_size` symbols."""
        n = r.uvarint(limit=max_tables, name="table count")
        if 2 * n > r.remaining:  # a table takes >= 2 bytes (offset, size)
            raise r.fail(f"{n} tables cannot fit in {r.remaining} bytes")
        offs, codes, entries = [], [], 0
        for _ in range(n):
            off = r.svarint(name="table offset")
            k = r.uvarint(limit=max_size, name="table size")
            entries += k
            if k == 0:
                raise r.fail("table size 0")
            if entries > max_entries:  # checked before reading (and allocating) the table
                raise r.fail(f"tables hold more than {max_entries} entries")
            if off + k - 1 > _I64_MAX:
                raise r.fail(f"table offset {off} + {k} symbols overflows int64")
            offs.append(off)
            codes.append(freq_table.read_codes(r, k).astype(np.uint8) if k > 1 else _ONE_SYMBOL_CODES)
        return cls(np.array(offs, dtype=np.int64), tuple(codes))


def _tables_of(x: Sequence[np.ndarray] | np.ndarray) -> Sequence[np.ndarray]:
    """A sequence of 1-D arrays, or the rows of a 2-D array or tensor (all tables the same size)."""
    return _to_numpy(x) if hasattr(x, "detach") else x


def _check_table_shape(t: int, a: np.ndarray, what: str) -> np.ndarray:
    if a.ndim != 1 or not 1 <= len(a) <= MAX_TABLE_SIZE:
        raise InvalidInput(
            f"CDF table {t}: {what} must be 1-D with 1..{MAX_TABLE_SIZE} entries, got {a.shape}"
        )
    return a


def _as_offsets(offsets: Sequence[int], n: int) -> np.ndarray:
    """Offsets as int64, each checked to be an integer in the int64 range (numpy would wrap or round)."""
    try:
        vals = [operator.index(o) for o in np.asarray(_to_numpy(offsets), dtype=object).reshape(-1).tolist()]
    except TypeError as e:
        raise InvalidInput(f"CDF tables: offsets must be integers ({e})") from None
    if len(vals) != n:
        raise InvalidInput(f"CDF tables: {len(vals)} offsets for {n} tables")
    if any(not _I64_MIN <= v <= _I64_MAX for v in vals):
        raise InvalidInput("CDF tables: offsets must fit in int64")
    return np.array(vals, dtype=np.int64)


def _shape(x: object) -> tuple[int, ...]:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)  # torch.Size is a tuple


def _as_indexes(indexes: object, shape: tuple[int, ...] | None, n_tables: int) -> np.ndarray:
    """Table indexes, broadcast to `shape` if given, as a flat int64 array in [0, n_tables)."""
    a = _to_numpy(indexes)
    if not np.issubdtype(a.dtype, np.integer):
        raise InvalidInput(f"indexed coding: indexes must be integers, got dtype {a.dtype}")
    if shape is not None:
        try:
            a = np.broadcast_to(a, shape)
        except ValueError:
            raise InvalidInput(f"indexed coding: {a.shape} indexes for values of shape {shape}") from None
    if a.size and (int(a.min()) < 0 or int(a.max()) >= n_tables):
        raise InvalidInput(f"indexed coding: table index outside [0, {n_tables})")
    return np.ascontiguousarray(a.reshape(-1), dtype=np.int64)


def encode_indexed(values: np.ndarray, indexes: np.ndarray, tables: CdfTables) -> bytes:
    """Code values[i] with table indexes[i] (indexes broadcast to the shape of values, e.g. one index
    per column). InvalidInput for a value outside its table's support or with frequency 0."""
    v = as_int64_flat(values)
    idx = _as_indexes(indexes, _shape(values), len(tables))
    w = ByteWriter()
    write_symbols(w, tables.symbols(v, idx), idx, tables)
    return w.getvalue()


def decode_indexed(
    data: bytes | bytearray | memoryview, indexes: np.ndarray, tables: CdfTables
) -> np.ndarray:
    """Decode a stream from `encode_indexed`: an int64 array of the shape of `indexes` (one per value).

    CorruptData (one line) for a malformed stream; a payload with flipped bits may decode to wrong
    values, each inside its table's support (the container's CRC is what catches those).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput(f"decode_indexed needs bytes, got {type(data).__name__}")
    idx = _as_indexes(indexes, None, len(tables))
    r = ByteReader(data, what="indexed entropy stream")
    symbols = read_symbols(r, idx, tables)
    r.expect_end()
    return tables.values(symbols, idx).reshape(_shape(indexes))


def write_symbols(w: ByteWriter, symbols: np.ndarray, indexes: np.ndarray, tables: CdfTables) -> None:
    """The indexed stream for symbols already checked codable (`CdfTables.symbols`)."""
    w.byte(FORMAT_VERSION)
    w.uvarint(len(symbols))
    coded = ~tables._certain[indexes]
    if not coded.all():
        symbols, indexes = symbols[coded], indexes[coded]
    n = len(symbols)
    if n == 0:
        return
    if n < rans.MIN_SYMBOLS:
        indexes = _padded(indexes)
        symbols = np.concatenate([symbols, tables._likeliest[indexes[n:]]])
    cdfs = tables._compressai_cdfs
    start = 0
    for m in rans.chunk_sizes(len(symbols)):
        payload = rans.encode_chunk_indexed(symbols[start : start + m], indexes[start : start + m], cdfs)
        w.uvarint(len(payload))
        w.raw(payload)
        start += m


def read_symbols(r: ByteReader, indexes: np.ndarray, tables: CdfTables) -> np.ndarray:
    """Inverse of `write_symbols`: one symbol per index (each inside its table, even from garbage)."""
    version = r.byte()
    if version != FORMAT_VERSION:
        raise r.fail(f"unknown format version {version}")
    n = len(indexes)
    count = r.uvarint(name="count")
    if count != n:
        raise r.fail(f"holds {count} values, expected {n}")
    out = tables._likeliest[indexes]  # right wherever the table is certain
    coded = ~tables._certain[indexes]
    coded_indexes = indexes[coded]
    m = len(coded_indexes)
    if m == 0:
        return out
    padded = _padded(coded_indexes) if m < rans.MIN_SYMBOLS else coded_indexes
    if r.remaining < _min_symbols_bytes(m) - 2:
        raise r.fail(f"truncated ({m} coded values need more than {r.remaining} bytes)")
    cdfs = tables._compressai_cdfs
    parts, start = [], 0
    for size in rans.chunk_sizes(len(padded)):
        length = r.uvarint(limit=rans.max_payload_bytes(size), name="rANS payload size")
        parts.append(rans.decode_chunk_indexed(r.raw(length), padded[start : start + size], cdfs))
        start += size
    out[coded] = np.concatenate(parts)[:m]
    return out


def _min_symbols_bytes(m: int) -> int:
    """Fewest bytes an indexed stream with m coded values takes: version, count, >= 9 per chunk."""
    return 2 + 9 * math.ceil(m / rans.CHUNK_SYMBOLS)  # 16 > m > 0 is padded into one chunk


def _padded(indexes: np.ndarray) -> np.ndarray:
    """Fewer than MIN_SYMBOLS symbols overrun compressai's encoder buffer: pad with the last table."""
    pad = rans.MIN_SYMBOLS - len(indexes)
    return np.concatenate([indexes, np.full(pad, indexes[-1], dtype=indexes.dtype)])


# --- per-column codes: one table per column, built from the data ---------------------------------


@dataclass(frozen=True)
class _Column:
    kind: int  # raw low bits (0..64) of a table column, or NESTED_COLUMN
    base: int = 0
    k: int = 1


def _as_int64_2d(x: np.ndarray) -> np.ndarray:
    shape = _shape(x)
    if len(shape) != 2 or max(shape) > MAX_ENCODE_COUNT:
        raise InvalidInput(f"encode_columns needs a 2-D (rows, cols) array, got shape {shape}")
    return as_int64_flat(x).reshape(shape)


def _plan_column(col: np.ndarray) -> _Column:
    """int_stream's planner decides: one table (maybe with raw low bits), or a stream of its own."""
    plan = choose_plan(col, allow_escape=True)
    if plan.escape:
        return _Column(NESTED_COLUMN)
    return _Column(plan.shift, plan.base, plan.k)


def encode_columns(x: np.ndarray) -> bytes:
    """Losslessly code a (rows, cols) integer array with one table per column (layout: module doc)."""
    a = _as_int64_2d(x)
    rows, cols = a.shape
    w = ByteWriter()
    w.byte(FORMAT_VERSION)
    w.uvarint(rows)
    w.uvarint(cols)
    if a.size == 0:
        return w.getvalue()
    columns = np.ascontiguousarray(a.T)  # (cols, rows): each column contiguous
    plans = [_plan_column(c) for c in columns]
    w.raw(bytes(p.kind for p in plans))
    table_cols = [c for c, p in enumerate(plans) if p.kind != NESTED_COLUMN]
    his = [shift_right(offsets(columns[c], plans[c].base), plans[c].kind).view(np.int64) for c in table_cols]
    counts = [np.bincount(h, minlength=plans[c].k) for c, h in zip(table_cols, his, strict=True)]
    tables = CdfTables.from_counts(counts, [plans[c].base for c in table_cols])
    tables.write(w)
    coded = np.flatnonzero(~tables._certain)  # the other columns' symbols are implied
    symbols = np.stack([his[t] for t in coded], axis=1).reshape(-1) if len(coded) else np.zeros(0, np.int64)
    write_symbols(w, symbols, np.tile(coded, rows), tables)  # row-major
    for c in table_cols:
        s = plans[c].kind
        w.raw(pack_bits(offsets(columns[c], plans[c].base) & low_mask(s), s))
    for c, p in enumerate(plans):
        if p.kind == NESTED_COLUMN:
            body = encode_ints(columns[c])
            w.uvarint(len(body))
            w.raw(body)
    return w.getvalue()


def decode_columns(
    data: bytes | bytearray | memoryview,
    rows: int | None = None,
    cols: int | None = None,
    max_count: int | None = None,
) -> np.ndarray:
    """Decode a stream from `encode_columns` to a (rows, cols) int64 array.

    `rows`/`cols`, when given, must match the stream's; more than `max_count` values in all (default
    DEFAULT_MAX_COUNT) is refused before anything is allocated. CorruptData (one line) otherwise.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput(f"decode_columns needs bytes, got {type(data).__name__}")
    limit = DEFAULT_MAX_COUNT if max_count is None else max_count
    r = ByteReader(data, what="column entropy stream")
    version = r.byte()
    if version != FORMAT_VERSION:
        raise r.fail(f"unknown format version {version}")
    n_rows = r.uvarint(limit=MAX_ENCODE_COUNT, name="rows")
    n_cols = r.uvarint(limit=MAX_ENCODE_COUNT, name="cols")
    if n_rows * n_cols > limit:
        raise r.fail(f"count {n_rows} x {n_cols} exceeds limit {limit}")
    if (rows is not None and n_rows != rows) or (cols is not None and n_cols != cols):
        raise r.fail(f"holds {n_rows} x {n_cols} values, expected {rows} x {cols}")
    out = _read_columns(r, n_rows, n_cols) if n_rows * n_cols else np.zeros((n_rows, n_cols), dtype=np.int64)
    r.expect_end()
    return out


def _read_columns(r: ByteReader, rows: int, cols: int) -> np.ndarray:
    kinds = np.frombuffer(r.raw(cols), dtype=np.uint8)
    if ((kinds > 64) & (kinds != NESTED_COLUMN)).any():
        raise r.fail(f"bad column kind {int(kinds[(kinds > 64) & (kinds != NESTED_COLUMN)][0])}")
    table_cols = np.flatnonzero(kinds != NESTED_COLUMN)
    n_tables = len(table_cols)
    tables = CdfTables.read(r, n_tables, min(DEFAULT_MAX_ENTRIES, n_tables * MAX_ALPHABET), MAX_ALPHABET)
    if len(tables) != n_tables:
        raise r.fail(f"{len(tables)} tables for {n_tables} table columns")
    coded = np.flatnonzero(~tables._certain)
    nested = np.flatnonzero(kinds == NESTED_COLUMN)
    least = _min_symbols_bytes(rows * len(coded)) + sum(packed_size(rows, int(kinds[c])) for c in table_cols)
    if r.remaining < least + 2 * len(nested):  # before allocating rows x cols: a truncated stream fails fast
        raise r.fail(f"truncated ({rows} x {cols} values need more than {r.remaining} bytes)")
    symbols = read_symbols(r, np.tile(coded, rows), tables).reshape(rows, len(coded)).view(np.uint64)
    slot = {t: j for j, t in enumerate(coded.tolist())}
    out = np.empty((rows, cols), dtype=np.int64)
    for t, c in enumerate(table_cols.tolist()):
        s = int(kinds[c])
        hi = symbols[:, slot[t]] if t in slot else np.uint64(tables._likeliest[t])
        low = unpack_bits(r.raw(packed_size(rows, s)), rows, s)
        high = hi * np.uint64(0) if s >= 64 else hi << np.uint64(s)
        out[:, c] = (tables.offsets.view(np.uint64)[t] + (high | low)).view(np.int64)
    for c in nested.tolist():
        body = r.raw(r.uvarint(limit=r.remaining, name="column stream size"))
        try:
            col = decode_ints(body, max_count=rows)
        except CorruptData as e:
            raise r.fail(f"column {c}: {e}") from None
        if len(col) != rows:
            raise r.fail(f"column {c} holds {len(col)} values, expected {rows}")
        out[:, c] = col
    return out


def column_entropy_bits(x: np.ndarray) -> float:
    """Sum over columns of their zeroth-order empirical entropy: what `encode_columns` aims at."""
    return float(sum(empirical_entropy_bits(c) for c in np.ascontiguousarray(_as_int64_2d(x).T)))
