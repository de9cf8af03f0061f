"""Frequency tables: 16-bit integer frequencies, their one-byte quantized storage, and CDFs.

The decoder rebuilds the exact CDF the encoder used from the stored one-byte codes with integer
arithmetic only (numpy int64, stable sorts), so a stream written on any machine decodes bit-exactly
on any other. Each code is a small float (exact below 32, then a 4-bit mantissa): at most ~3%
relative error on a frequency, which costs ~1e-4 bits per symbol, and one byte per table entry
instead of the two or three an exact count needs. Runs of zero codes are stored as 0 + run length.
"""

from __future__ import annotations

import math

import numpy as np

from codec.entropy.byte_io import ByteReader, ByteWriter

PRECISION = 16  # compressai's rANS works with 16-bit CDFs
TOTAL = 1 << PRECISION


def _code_weights() -> np.ndarray:
    b = np.arange(256, dtype=np.int64)
    exponent = np.maximum((b >> 4) - 1, 0)
    return np.where(b < 32, b, (16 + (b & 15)) << exponent)  # strictly increasing, 0 -> 0


CODE_WEIGHTS = _code_weights()  # (256,) int64; CODE_WEIGHTS[208] == TOTAL


def normalize_freqs(weights: np.ndarray, total: int = TOTAL) -> np.ndarray:
    """Scale non-negative int64 weights to frequencies summing exactly to `total`.

    Every nonzero weight keeps a frequency >= 1 (rANS cannot code a zero-frequency symbol); the
    rounding remainder goes to the largest fractional parts, ties to the lowest index. Integer-only
    so that encoder and decoder agree bit for bit. Weights must stay below 2**46.
    """
    w = np.asarray(weights, dtype=np.int64)
    nonzero = w > 0
    n_nonzero = int(nonzero.sum())
    if n_nonzero == 0 or n_nonzero > total or bool((w < 0).any()):
        raise ValueError(f"cannot normalize {n_nonzero} nonzero weights to {total}")
    spare = total - n_nonzero
    scaled = w * spare
    w_sum = int(w.sum())
    freqs = scaled // w_sum + nonzero
    left = total - int(freqs.sum())  # == sum(scaled % w_sum) / w_sum, so 0 <= left < n_nonzero
    if left:
        order = np.argsort(-(scaled % w_sum), kind="stable")
        freqs[order[:left]] += 1
    return freqs


def quantize_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symbol counts -> (one-byte codes to store, the frequencies both sides will use)."""
    target = normalize_freqs(counts)
    hi = np.searchsorted(CODE_WEIGHTS, target)  # first code with weight >= target, <= 208
    lo = np.maximum(hi - 1, 0)
    take_lo = (target - CODE_WEIGHTS[lo]) < (CODE_WEIGHTS[hi] - target)
    codes = np.where(take_lo & (lo > 0), lo, hi)  # a nonzero target never rounds to code 0
    codes[target == 0] = 0
    return codes.astype(np.uint8), freqs_from_codes(codes)


def freqs_from_codes(codes: np.ndarray) -> np.ndarray:
    return normalize_freqs(CODE_WEIGHTS[np.asarray(codes, dtype=np.int64)])


def _zero_runs(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start index, length) of each run of zero codes."""
    is_zero = np.concatenate(([0], (codes == 0).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(is_zero))
    return edges[0::2], edges[1::2] - edges[0::2]


def table_size(codes: np.ndarray) -> int:
    """Bytes `write_table` will use, computed without writing (the planner compares many tables)."""
    _, lengths = _zero_runs(codes)
    varint_bytes = sum(max(1, math.ceil((int(r - 1).bit_length()) / 7)) for r in lengths)
    return int((codes != 0).sum()) + len(lengths) + varint_bytes


def write_table(w: ByteWriter, codes: np.ndarray) -> None:
    codes = np.asarray(codes, dtype=np.uint8)
    starts, lengths = _zero_runs(codes)
    run_at = dict(zip(starts.tolist(), lengths.tolist(), strict=True))
    i = 0
    while i < len(codes):
        run = run_at.get(i)
        if run is None:
            w.byte(int(codes[i]))
            i += 1
        else:
            w.byte(0)
            w.uvarint(run - 1)
            i += run


def read_table(r: ByteReader, n_entries: int) -> np.ndarray:
    """Read `n_entries` codes and return their frequencies (CorruptData on any inconsistency)."""
    return freqs_from_codes(read_codes(r, n_entries))


def read_codes(r: ByteReader, n_entries: int) -> np.ndarray:
    """Read the `n_entries` one-byte codes `write_table` stored (int64; at least one nonzero)."""
    codes = np.zeros(n_entries, dtype=np.int64)
    i = 0
    while i < n_entries:
        b = r.byte()
        if b:
            codes[i] = b
            i += 1
        else:
            i += r.uvarint(limit=n_entries - i - 1, name="zero run") + 1
    if not codes.any():
        raise r.fail("frequency table has no nonzero entry")
    return codes


def cdf_for_compressai(freqs: np.ndarray) -> list[int]:
    """compressai's CDF layout: K symbols, then its bypass-escape symbol, here with frequency 0.

    A zero-width escape can never be decoded, so compressai's bypass path (which reads without
    bounds checks) stays unreachable even for corrupt payloads.
    """
    cdf = np.concatenate(([0], np.cumsum(freqs)))
    return cdf.tolist() + [TOTAL]


def code_length_bits(counts: np.ndarray, freqs: np.ndarray) -> float:
    """Ideal rANS payload size (bits) for these counts under these frequencies."""
    used = counts > 0
    return float((counts[used] * (PRECISION - np.log2(freqs[used]))).sum())
