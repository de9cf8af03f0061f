"""How to split an integer array into rANS-coded symbols, raw low bits and escaped outliers.

A value v inside the window is coded as hi = (v - base) >> shift with rANS (alphabet k <= MAX_ALPHABET)
plus `shift` raw low bits; values outside the window (escape plans only) become one escape symbol
(symbol 0, in-window symbols are then hi + 1) and are coded again, as a nested stream. The planner
tries every shift for the full range and a few shifts with an escape window, and keeps the plan
with the smallest estimated size (table + ideal rANS bits + raw bits + outliers) plus a small
decode-time penalty. Estimates only steer the choice: the stream is exact whatever is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codec.entropy import freq_table, rans

# compressai decodes with a linear CDF search (~0.6 ns per entry scanned): a flat 4096-symbol
# alphabet decodes at ~1.3 us/symbol. Wider ranges move low bits out of the alphabet instead.
MAX_ALPHABET = 1 << 12
# Charged per CDF entry the decoder scans, so that near-ties (smooth distributions, where one more
# raw bit costs ~1e-5 bits) go to the smaller, faster alphabet; at most ~0.06 bits/symbol.
SCAN_PENALTY_BITS = 2.0**-16
_ESCAPE_SHIFTS = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48)  # shifts tried with an escape window
_MAX_WINDOW_STARTS = 4096  # densest-window search looks at this many candidate starts at most
_I64_MAX = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Plan:
    base: int  # int64 value that maps to hi = 0, low = 0
    shift: int  # 0..64 low bits per in-window value, stored raw
    k: int  # rANS symbols for in-window values; the escape symbol, if any, is k
    escape: bool  # values outside [base, base + k << shift) are escaped into a nested stream
    est_bits: float = 0.0

    @property
    def n_symbols(self) -> int:
        return self.k + int(self.escape)


def shift_right(u: np.ndarray, s: int) -> np.ndarray:
    """u >> s for uint64 with s in 0..64 (numpy's >> 64 is undefined)."""
    return np.zeros_like(u) if s >= 64 else u >> np.uint64(s)


def low_mask(s: int) -> np.uint64:
    return np.uint64((1 << s) - 1)


def offsets(x: np.ndarray, base: int) -> np.ndarray:
    """(x - base) as uint64, exact for x >= base even across the whole int64 range."""
    return x.view(np.uint64) - np.int64(base).view(np.uint64)


def _symbols_bits(counts: np.ndarray, n: int) -> float:
    """Estimated table + payload bits (+ scan penalty) for rANS symbols with these counts, in CDF order."""
    if len(counts) == 1:
        return 0.0
    codes, freqs = freq_table.quantize_counts(counts)
    n_chunks = len(rans.chunk_sizes(n))
    scanned = float(counts @ np.arange(1, len(counts) + 1))
    return (
        8 * freq_table.table_size(codes)
        + freq_table.code_length_bits(counts, freqs)
        + 80 * n_chunks
        + SCAN_PENALTY_BITS * scanned
    )


def _full_range_plans(x: np.ndarray, vmin: int, span: int) -> list[Plan]:
    """No escape: base = min, one plan per shift from the smallest that fits MAX_ALPHABET."""
    n = len(x)
    top = span.bit_length()  # shift at which everything is raw bits (k == 1)
    if n < rans.MIN_SYMBOLS:
        return [Plan(vmin, top, 1, False, float(n * top))]
    s = 0
    while (span >> s) + 1 > MAX_ALPHABET:
        s += 1
    counts = np.bincount(shift_right(offsets(x, vmin), s).astype(np.int64), minlength=(span >> s) + 1)
    plans = []
    while True:
        plans.append(Plan(vmin, s, len(counts), False, _symbols_bits(counts, n) + n * s))
        if s == top:
            return plans
        counts = np.pad(counts, (0, len(counts) % 2)).reshape(-1, 2).sum(axis=1)  # hi >> 1
        s += 1


def _escape_plan(xs: np.ndarray, s: int) -> Plan:
    """Densest window of MAX_ALPHABET - 1 hi values at this shift; `xs` is sorted."""
    n = len(xs)
    h = xs >> s  # floor division keeps the order, so h is sorted too
    starts = np.flatnonzero(np.concatenate(([True], h[1:] != h[:-1])))
    if len(starts) > _MAX_WINDOW_STARTS:
        starts = starts[:: -(-len(starts) // _MAX_WINDOW_STARTS)]
    width = MAX_ALPHABET - 1
    last = np.minimum(h[starts], _I64_MAX - (width - 1)) + (width - 1)  # no int64 overflow
    ends = np.searchsorted(h, last, side="right")
    best = int(np.argmax(ends - starts))
    i, j = int(starts[best]), int(ends[best])
    k = int(h[j - 1] - h[i]) + 1
    counts = np.bincount(h[i:j] - h[i], minlength=k)
    n_out = n - (j - i)
    counts = np.concatenate(([n_out], counts))  # escape is symbol 0
    bits = _symbols_bits(counts, n) + (j - i) * s
    if n_out:
        lo = xs[0] if i > 0 else xs[j]
        hi = xs[-1] if j < n else xs[i - 1]
        bits += n_out * (int(hi) - int(lo)).bit_length() + 64  # raw-bits bound for the nested stream
    return Plan(int(h[i]) << s, s, k, True, bits)


def choose_plan(x: np.ndarray, allow_escape: bool) -> Plan:
    """Cheapest plan for a non-empty int64 array."""
    vmin, vmax = int(x.min()), int(x.max())
    span = vmax - vmin
    plans = _full_range_plans(x, vmin, span)
    needs_shift = plans[0].shift > 0
    if allow_escape and needs_shift and len(x) >= rans.MIN_SYMBOLS:
        xs = np.sort(x)
        plans += [_escape_plan(xs, s) for s in _ESCAPE_SHIFTS if s < plans[0].shift]
    return min(plans, key=lambda p: p.est_bits)
