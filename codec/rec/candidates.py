"""Shared randomness: candidate j of block b under seed s, from a counter-based integer hash.

bits(s, b, c) = splitmix64(s * 0x9E3779B97F4A7C15 + b * 0xD1B54A32D192ED03 + c) (mod 2^64), with
c = candidate * dim + coordinate: any candidate's values can be made alone, in any order, with
numpy uint64 arithmetic (wrapping), no floating point. Then `gauss.normals`.
"""

from __future__ import annotations

import numpy as np

from codec.rec.gauss import normals

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_BLOCK = np.uint64(0xD1B54A32D192ED03)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
MASK64 = (1 << 64) - 1


def splitmix64(x: np.ndarray, in_place: bool = False) -> np.ndarray:
    """The SplitMix64 finaliser on uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = x if in_place and x.dtype == np.uint64 else x.astype(np.uint64, copy=True)
        t = np.empty_like(x)
        np.right_shift(x, np.uint64(30), out=t)
        x ^= t
        x *= _M1
        np.right_shift(x, np.uint64(27), out=t)
        x ^= t
        x *= _M2
        np.right_shift(x, np.uint64(31), out=t)
        x ^= t
    return x


def bits(seed: int, block: int, counters: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        base = np.uint64(seed & MASK64) * _GOLDEN + np.uint64(block & MASK64) * _BLOCK
        return splitmix64(base + np.asarray(counters, dtype=np.uint64), in_place=True)


def candidate_normals(seed: int, block: int, count: int, dim: int, first: int = 0) -> np.ndarray:
    """(count, dim) float32 N(0, 1) draws: candidates first .. first + count - 1 of the block.
    Their counters c = candidate * dim + coordinate are one contiguous run from first * dim."""
    counters = np.arange(first * dim, (first + count) * dim, dtype=np.uint64)
    return normals(bits(seed, block, counters)).reshape(count, dim)


def candidate(seed: int, block: int, index: int, dim: int) -> np.ndarray:
    """(dim,) float32: one candidate, made alone (what a decoder does)."""
    return candidate_normals(seed, block, 1, dim, index)[0]
