"""What the vector codec's sections hold, and how they are built and read back.

    mean     (if centered)   dim float16, little-endian: added back to every vector
    basis    (if basis=pca)  dim x kept float16, row-major: coordinates -> vector is y @ basis.T
    codes<b> (b = 0..)       entropy.encode_columns of the block's (rows, kept) integer codes:
                             one CDF table per kept coordinate; coordinate = code * step

Blocks hold `block_rows` vectors (the last one the rest), so a decoder holds one block at a time.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from codec import entropy
from codec.container import Container, Section
from codec.errors import CorruptData
from codec.vectors.header import BASIS_PCA, MAX_CODE, VectorConfig


def float16_section(name: str, a: np.ndarray) -> Section:
    return Section(name, np.ascontiguousarray(a, dtype="<f2").tobytes())


def read_float16(c: Container, name: str, shape: tuple[int, ...]) -> np.ndarray:
    a = np.frombuffer(c.section(name), dtype="<f2").astype(np.float64).reshape(shape)
    if not np.isfinite(a).all():
        raise CorruptData(f"vectors section '{name}' holds NaN or inf")
    return a


def code_sections(q: np.ndarray, block_rows: int) -> list[Section]:
    """(count, kept) int64 codes -> one entropy-coded section per block of rows."""
    return [
        Section(f"codes{b}", entropy.encode_columns(q[start : start + block_rows]))
        for b, start in enumerate(range(0, len(q), block_rows))
    ]


def read_blocks(c: Container, cfg: VectorConfig) -> Iterator[np.ndarray]:
    """The decoded vectors, one (rows, dim) float32 block at a time."""
    mean = read_float16(c, "mean", (cfg.dim,)) if cfg.centered else None
    basis = read_float16(c, "basis", (cfg.dim, cfg.kept)) if cfg.basis == BASIS_PCA else None
    for b, rows in enumerate(cfg.block_sizes()):
        q = entropy.decode_columns(c.section(f"codes{b}"), rows, cfg.kept, max_count=rows * cfg.kept)
        if q.size and np.abs(q).max() > MAX_CODE:
            raise CorruptData(f"vectors block {b} holds codes beyond +-2^31")
        y = q.astype(np.float64) * cfg.step
        if basis is not None:
            x = y @ basis.T
        else:
            x = np.zeros((rows, cfg.dim))
            x[:, : cfg.kept] = y
        if mean is not None:
            x += mean
        if cfg.unit_norm:
            n = np.linalg.norm(x, axis=1, keepdims=True)
            x /= np.where(n > 0, n, 1.0)
        yield x.astype(np.float32)
