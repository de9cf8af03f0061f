"""Real vectors for the vector codec's tests: Fashion-MNIST items (tests/data) as pixel vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "fashion_mnist_small.npz"


def pixel_vectors(n: int = 1000, split: str = "train") -> np.ndarray:
    """(n, 196) unit-length float32: each 28x28 item averaged over 2x2 pixels, centred, normalised."""
    with np.load(DATA) as d:
        x = d[f"{split}_x"][:n].astype(np.float32) / 255.0
    x = x.reshape(len(x), 14, 2, 14, 2).mean(axis=(2, 4)).reshape(len(x), -1)
    x -= 0.3
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="session")
def gallery() -> np.ndarray:
    return pixel_vectors()


@pytest.fixture
def gallery_file(tmp_path: Path, gallery: np.ndarray) -> Path:
    p = tmp_path / "gallery.npy"
    np.save(p, gallery)
    return p
