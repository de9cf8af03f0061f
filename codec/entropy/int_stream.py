"""The self-describing stream for one integer array (any dtype/shape in, flat int64 out).

Layout (uvarint = unsigned LEB128, svarint = zigzag LEB128):

    byte     format version (1)
    uvarint  count N                       nothing follows when N == 0
    svarint  base                          int64
    byte     shift                         0..64 raw low bits per in-window value
    uvarint  k                             1..MAX_ALPHABET rANS symbols for in-window values
    byte     flags                         bit 0: escape (top level only): symbol 0 escapes,
                                           in-window symbols are shifted up by one
    if k + escape > 1:
      table                                k + escape one-byte codes; a 0 code is followed by a
                                           uvarint of further zero entries. Code c means weight
                                           c (c < 32) or (16 + c % 16) << (c // 16 - 1); weights
                                           -> 16-bit frequencies by freq_table.normalize_freqs
      per rANS chunk:                      uvarint payload length, compressai rANS payload; N is
                                           split into ceil(N / 2**20) near-equal chunks, larger first
    bytes    low bits                      `shift` bits of each in-window value, packed
    if escape:
      uvarint, bytes                       nested stream of the escaped values, in order

In-window value = base + (symbol << shift) + low (mod 2**64); k == 1 without escape needs no rANS
(constant arrays, or all raw bits for tiny or flat-random arrays). A stream must be consumed
exactly: trailing bytes are an error, so store it with its length (the container does).
"""

from __future__ import annotations

import numpy as np

from codec.entropy import freq_table, rans
from codec.entropy.bitpack import pack_bits, packed_size, unpack_bits
from codec.entropy.byte_io import ByteReader, ByteWriter
from codec.entropy.plan import MAX_ALPHABET, choose_plan, low_mask, offsets, shift_right
from codec.errors import InvalidInput

FORMAT_VERSION = 1
DEFAULT_MAX_COUNT = 1 << 28  # decode_ints refuses more values than this unless told otherwise
MAX_ENCODE_COUNT = 1 << 40  # keeps the int64 frequency arithmetic exact
_MAX_DEPTH = 1  # escaped values are coded once more, without a second escape level


def as_int64_flat(x: np.ndarray) -> np.ndarray:
    """Flatten any integer (or bool) array or torch tensor to int64; uint64 values must fit in int64."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor, possibly on a GPU; no torch import
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.dtype == np.bool_:
        a = a.astype(np.int64)
    if not np.issubdtype(a.dtype, np.integer):
        raise InvalidInput(f"entropy coding needs an integer array, got dtype {a.dtype}")
    if a.dtype == np.uint64 and a.size and int(a.max()) > np.iinfo(np.int64).max:
        raise InvalidInput("entropy coding: uint64 values above 2**63 - 1 are not supported")
    if a.size > MAX_ENCODE_COUNT:
        raise InvalidInput(f"entropy coding: {a.size} values is more than {MAX_ENCODE_COUNT}")
    return np.ascontiguousarray(a.reshape(-1), dtype=np.int64)


def encode_ints(x: np.ndarray) -> bytes:
    """Losslessly code an integer array of any dtype and shape (flattened in C order)."""
    w = ByteWriter()
    _encode(w, as_int64_flat(x), depth=0)
    return w.getvalue()


def _encode(w: ByteWriter, x: np.ndarray, depth: int) -> None:
    w.byte(FORMAT_VERSION)
    w.uvarint(len(x))
    if not len(x):
        return
    plan = choose_plan(x, allow_escape=depth < _MAX_DEPTH)
    w.svarint(plan.base)
    w.byte(plan.shift)
    w.uvarint(plan.k)
    w.byte(int(plan.escape))
    u = offsets(x, plan.base)
    hi = shift_right(u, plan.shift)  # uint64; huge for escaped values below base
    inside = (x >= plan.base) & (hi < np.uint64(plan.k)) if plan.escape else np.ones(len(x), dtype=bool)
    if plan.n_symbols > 1:
        symbols = hi.astype(np.int64)  # (N,) in [0, k) wherever inside
        if plan.escape:
            symbols = np.where(inside, symbols + 1, 0)  # escape is symbol 0: one CDF entry to scan
        codes, freqs = freq_table.quantize_counts(np.bincount(symbols, minlength=plan.n_symbols))
        freq_table.write_table(w, codes)
        cdf = freq_table.cdf_for_compressai(freqs)
        start = 0
        for n in rans.chunk_sizes(len(x)):
            payload = rans.encode_chunk(symbols[start : start + n], cdf)
            w.uvarint(len(payload))
            w.raw(payload)
            start += n
    w.raw(pack_bits(u[inside] & low_mask(plan.shift), plan.shift))
    if plan.escape:
        nested = ByteWriter()
        _encode(nested, x[~inside], depth + 1)
        body = nested.getvalue()
        w.uvarint(len(body))
        w.raw(body)


def decode_ints(data: bytes | bytearray | memoryview, max_count: int | None = None) -> np.ndarray:
    """Decode a stream from `encode_ints` to a flat int64 array.

    Raises CorruptData (one line) for a malformed or truncated stream and for more than `max_count`
    values (default DEFAULT_MAX_COUNT); every size is checked before anything is allocated. A payload
    with flipped bits may still decode to wrong values: the container's CRC is what catches those.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput(f"decode_ints needs bytes, got {type(data).__name__}")
    limit = DEFAULT_MAX_COUNT if max_count is None else max_count
    r = ByteReader(data)
    out = _decode(r, limit, depth=0)
    r.expect_end()
    return out


def _shift_left(v: np.ndarray, s: int) -> np.ndarray:
    return np.zeros_like(v) if s >= 64 else v << np.uint64(s)


def _decode(r: ByteReader, max_count: int, depth: int, exact_count: int | None = None) -> np.ndarray:
    version = r.byte()
    if version != FORMAT_VERSION:
        raise r.fail(f"unknown format version {version}")
    n = r.uvarint(limit=max_count, name="count")
    if exact_count is not None and n != exact_count:
        raise r.fail(f"holds {n} escaped values, expected {exact_count}")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    base = r.svarint(name="base")
    shift = r.byte()
    if shift > 64:
        raise r.fail(f"shift {shift} > 64")
    k = r.uvarint(limit=MAX_ALPHABET, name="alphabet size")
    flags = r.byte()
    if k == 0 or flags > 1:
        raise r.fail(f"bad alphabet size {k} or flags {flags}")
    escape = bool(flags)
    if escape and (depth > 0 or k + 1 > MAX_ALPHABET):
        raise r.fail("escape not allowed here")
    n_symbols = k + int(escape)

    if n_symbols > 1:
        if n < rans.MIN_SYMBOLS:
            raise r.fail(f"{n} values cannot use rANS")
        cdf = freq_table.cdf_for_compressai(freq_table.read_table(r, n_symbols))
        parts = []
        for m in rans.chunk_sizes(n):
            length = r.uvarint(limit=rans.max_payload_bytes(m), name="rANS payload size")
            parts.append(rans.decode_chunk(r.raw(length), cdf, m))
        symbols = np.concatenate(parts)
    else:
        symbols = np.zeros(n, dtype=np.int64)

    inside = symbols > 0 if escape else np.ones(n, dtype=bool)
    hi = (symbols[inside] - int(escape)).astype(np.uint64)
    n_in = len(hi)
    low = unpack_bits(r.raw(packed_size(n_in, shift)), n_in, shift)
    values = np.int64(base).view(np.uint64) + (_shift_left(hi, shift) | low)
    if not escape:
        return values.view(np.int64)

    out = np.empty(n, dtype=np.int64)
    out[inside] = values.view(np.int64)
    n_out = n - n_in
    body = r.raw(r.uvarint(limit=r.remaining, name="escape stream size"))
    nested = ByteReader(body, what="entropy stream (escaped values)")
    out[~inside] = _decode(nested, n_out, depth + 1, exact_count=n_out)
    nested.expect_end()
    return out
