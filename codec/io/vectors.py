"""Vectors in and out: 2-D float arrays in `.npy` files (numpy's own format, never pickles).

A batch of embeddings is one (count, dim) array. Reading checks what a codec relies on (2-D,
floating point, every value finite, at least one vector, within the caller's limits) before the
data is read in full: the header first, the array memory-mapped, so a huge file costs nothing
until it passes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from codec.errors import InvalidInput, ResourceLimit, one_line
from codec.io.atomic import atomic_path

VECTOR_SUFFIXES = (".npy",)


def open_vectors(path: str | os.PathLike[str]) -> np.ndarray:
    """The array in a .npy file, memory-mapped and checked for shape and dtype (not yet for values)."""
    p = Path(path)
    try:
        arr = np.load(p, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise InvalidInput(f"{p.name}: not a readable .npy file ({one_line(e)[:200]})") from None
    if not isinstance(arr, np.ndarray) or arr.ndim != 2 or not np.issubdtype(arr.dtype, np.floating):
        shape = getattr(arr, "shape", "?")
        raise InvalidInput(f"{p.name}: vectors must be a 2-D float array, got shape {shape} of {arr.dtype}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidInput(f"{p.name}: the batch is empty (shape {arr.shape})")
    return arr


def check_finite(x: np.ndarray, what: str = "vectors") -> None:
    """InvalidInput naming the first row holding NaN or inf (a vector codec cannot code them)."""
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidInput(f"{what} hold NaN or inf (first in row {row}, {int(bad.sum())} rows in all)")


def read_vectors(
    path: str | os.PathLike[str], max_count: int | None = None, max_dim: int | None = None
) -> np.ndarray:
    """(count, dim) float32 from a .npy file, every value finite; ResourceLimit past the limits."""
    arr = open_vectors(path)
    count, dim = arr.shape
    if (max_count is not None and count > max_count) or (max_dim is not None and dim > max_dim):
        raise ResourceLimit(
            f"{count} vectors of dimension {dim} exceed the limits ({max_count} vectors, dimension {max_dim})"
        )
    x = np.asarray(arr, dtype=np.float32)
    if np.issubdtype(arr.dtype, np.floating) and arr.dtype.itemsize > 4:
        with np.errstate(over="ignore"):
            if not np.isfinite(x).all() and np.isfinite(arr).all():
                raise InvalidInput("vectors hold values beyond float32's range")
    check_finite(x)
    return np.ascontiguousarray(x)


def write_vectors(path: str | os.PathLike[str], x: np.ndarray) -> None:
    """Write a 2-D array as .npy; a failure leaves no partial file behind."""
    p = Path(path)
    if p.suffix.lower() not in VECTOR_SUFFIXES:
        raise InvalidInput(f"{p.name}: vectors are written as .npy; give a .npy path")
    with atomic_path(p, "vectors") as tmp, open(tmp, "xb") as f:
        np.save(f, np.ascontiguousarray(x), allow_pickle=False)
