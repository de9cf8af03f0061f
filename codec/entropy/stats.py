"""Reference sizes the coded streams are measured against."""

from __future__ import annotations

import numpy as np

from codec.entropy.int_stream import as_int64_flat


def empirical_entropy_bits(x: np.ndarray) -> float:
    """Zeroth-order Shannon entropy of the values times their count, in bits.

    The size an ideal coder with a free, exact frequency table would reach; the gap to the real
    stream is the table, the 16-bit frequency quantization, and rANS flushes.
    """
    flat = as_int64_flat(x)
    if flat.size == 0:
        return 0.0
    _, counts = np.unique(flat, return_counts=True)
    counts = counts.astype(np.float64)
    n = float(flat.size)
    return float(n * np.log2(n) - (counts * np.log2(counts)).sum())
