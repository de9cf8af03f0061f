"""The Matryoshka prefix rule (numpy only, so the index and the vector codec need no torch)."""

from __future__ import annotations

import numpy as np


def prefix(z: np.ndarray, dim: int) -> np.ndarray:
    """The first `dim` components of each row, L2-renormalised (a zero prefix stays zero)."""
    p = np.asarray(z, dtype=np.float32)[:, :dim]
    n = np.linalg.norm(p, axis=1, keepdims=True)
    return (p / np.where(n > 0, n, 1)).astype(np.float32)
