"""Write the vector codec's golden file: `python -m tests.vectors.make_golden`.

128 Fashion-MNIST pixel vectors (tests/vectors/conftest.py) at 24 bytes/vector; the decoded
vectors are kept as float16 beside it, so a later decoder that reads the file differently fails
tests/vectors/test_vector_golden.py. The fuzzer takes its vectors seeds from this directory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codec import api
from tests.vectors.conftest import pixel_vectors

HERE = Path(__file__).resolve().parent / "golden"

if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    src = HERE / "fmnist_pixels.npy"
    np.save(src, pixel_vectors(128))
    try:
        api.encode(src, HERE / "fmnist_pixels.ncv", "vectors", {"bytes_per_vector": 24.0})
        api.decode(HERE / "fmnist_pixels.ncv", src)
        np.save(HERE / "fmnist_pixels.decoded.npy", np.load(src).astype(np.float16))
    finally:
        src.unlink()
