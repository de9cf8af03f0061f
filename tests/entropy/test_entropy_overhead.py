"""Coded size against the zeroth-order empirical entropy: the coder must stay close to ideal."""

from __future__ import annotations

import numpy as np
import pytest

from codec.entropy import decode_ints, empirical_entropy_bits, encode_ints


@pytest.mark.parametrize("scale", [0.5, 2.0, 10.0, 50.0])
def test_laplacian_100k_within_2_percent_plus_table(scale: float) -> None:
    x = np.round(np.random.default_rng(7).laplace(0.0, scale, 100_000)).astype(np.int32)
    data = encode_ints(x)
    assert np.array_equal(decode_ints(data), x)
    entropy = empirical_entropy_bits(x)
    distinct = len(np.unique(x))  # the table spends <= ~1 byte per value in the range
    overhead = len(data) * 8 / entropy - 1
    print(f"laplace b={scale}: {len(data)} B vs entropy {entropy / 8:.0f} B, overhead {overhead:+.3%}")
    assert entropy / 8 <= len(data) <= 1.02 * entropy / 8 + distinct + 32


def test_geometric_and_binary_near_entropy() -> None:
    rng = np.random.default_rng(8)
    for x in (rng.geometric(0.05, 100_000), (rng.random(100_000) < 0.02).astype(np.uint8)):
        entropy_bytes = empirical_entropy_bits(x) / 8
        size = len(encode_ints(x))
        print(f"{x.dtype} n={x.size}: {size} B vs entropy {entropy_bytes:.0f} B")
        assert entropy_bytes <= size <= 1.01 * entropy_bytes + len(np.unique(x)) + 32


def test_flat_data_costs_its_bit_depth() -> None:
    """Uniform b-bit data cannot be compressed; the stream must not expand it beyond a header."""
    rng = np.random.default_rng(9)
    for bits in (1, 3, 8, 12, 16):
        x = rng.integers(0, 1 << bits, 50_000)
        assert len(encode_ints(x)) <= 50_000 * bits / 8 + 16


def test_empirical_entropy_known_values() -> None:
    assert empirical_entropy_bits(np.zeros(0, dtype=np.int8)) == 0.0
    assert empirical_entropy_bits(np.full(9, 3)) == 0.0
    assert empirical_entropy_bits(np.array([0, 1] * 50)) == pytest.approx(100.0)
    assert empirical_entropy_bits(np.arange(8)) == pytest.approx(24.0)
