"""float32 matrices over gRPC (`codec.v1.Matrix`): one encoding, checked the same on both ends."""

from __future__ import annotations

import numpy as np

from codec.errors import InvalidInput
from codec.rpc import embeddings_pb2


def to_matrix(x: np.ndarray) -> embeddings_pb2.Matrix:
    a = np.ascontiguousarray(x, dtype="<f4")
    if a.ndim != 2:
        raise InvalidInput(f"a matrix must be 2-D, got shape {a.shape}")
    return embeddings_pb2.Matrix(rows=a.shape[0], cols=a.shape[1], data=a.tobytes())


def from_matrix(m: embeddings_pb2.Matrix, what: str, max_rows: int, max_cols: int) -> np.ndarray:
    """The (rows, cols) float32 array; InvalidInput for sizes that disagree, exceed the limits, or
    values that are not finite."""
    if not 0 < m.rows <= max_rows or not 0 < m.cols <= max_cols:
        raise InvalidInput(
            f"{what}: {m.rows}x{m.cols} is empty or beyond {max_rows} rows of at most {max_cols}"
        )
    if len(m.data) != m.rows * m.cols * 4:
        raise InvalidInput(f"{what}: {len(m.data)} bytes for {m.rows}x{m.cols} float32 values")
    x = np.frombuffer(m.data, dtype="<f4").reshape(m.rows, m.cols).astype(np.float32)
    if not np.isfinite(x).all():
        raise InvalidInput(f"{what} hold NaN or inf")
    return x
