"""decode(encode(x)) == x for every integer dtype, bit depth, distribution and shape."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from codec.entropy import MAX_ALPHABET, decode_ints, empirical_entropy_bits, encode_ints
from codec.entropy.freq_table import TOTAL, normalize_freqs, quantize_counts
from codec.entropy.plan import choose_plan
from codec.errors import InvalidInput

I32 = np.iinfo(np.int32)
I64 = np.iinfo(np.int64)
CARPHONE = Path(__file__).resolve().parents[2] / "assets" / "carphone.mp4"


def roundtrip(x: np.ndarray) -> bytes:
    data = encode_ints(x)
    y = decode_ints(data, max_count=max(np.size(x), 1))
    assert y.dtype == np.int64 and y.ndim == 1
    np.testing.assert_array_equal(y, np.asarray(x).reshape(-1).astype(np.int64))
    return data


def seeded_cases(rng: np.random.Generator):
    """(name, array) for bit depths 1..16, flat and skewed, signed and unsigned, many shapes."""
    shapes = [(0,), (1,), (2, 0, 3), (1, 1, 1), (15,), (16,), (17,), (7, 9), (3, 20, 21)]
    for bits in range(1, 17):
        hi = 1 << bits
        for shape in shapes:
            yield f"flat{bits}{shape}", rng.integers(0, hi, shape)
            yield f"signed{bits}{shape}", rng.integers(-(hi >> 1), hi >> 1, shape)
        n = 5000
        geo = np.minimum(rng.geometric(2.0**-bits if bits > 1 else 0.5, n) - 1, hi - 1)
        yield f"geometric{bits}", geo
        lap = np.clip(np.round(rng.laplace(0, 2.0 ** (bits - 3), n)), -(hi >> 1), (hi >> 1) - 1)
        yield f"laplace{bits}", lap.astype(np.int64)


def test_seeded_roundtrip_all_bit_depths() -> None:
    rng = np.random.default_rng(20240601)
    dtypes = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
    n_cases = 0
    for i, (_, x) in enumerate(seeded_cases(rng)):
        dtype = dtypes[i % len(dtypes)]
        info = np.iinfo(dtype)
        if x.size == 0 or (x.min() >= info.min and x.max() <= info.max):
            x = x.astype(dtype)
        roundtrip(x)
        n_cases += 1
    assert n_cases > 300


@pytest.mark.parametrize(
    "x",
    [
        np.array([I32.min, I32.max] * 20, dtype=np.int32),
        np.array([I64.min, I64.max, 0], dtype=np.int64),
        np.array([I64.min] * 40 + [I64.max] * 3, dtype=np.int64),
        np.array([np.iinfo(np.uint64).max >> 1, 0, 1] * 7, dtype=np.uint64),
        np.random.default_rng(1).integers(I32.min, I32.max, 3000, dtype=np.int32, endpoint=True),
        np.random.default_rng(2).integers(I64.min, I64.max, 3000, dtype=np.int64),
        # Laplacian bulk with int32-extreme outliers: exercises the escape window + nested stream
        np.concatenate(
            [np.round(np.random.default_rng(3).laplace(0, 3, 4000)), [I32.min, I32.max] * 5]
        ).astype(int),
        np.array([True, False, True] * 30),
    ],
    ids=["i32-ext", "i64-ext-3", "i64-ext-many", "u64-top", "flat-i32", "flat-i64", "lap+outliers", "bool"],
)
def test_roundtrip_extremes(x: np.ndarray) -> None:
    roundtrip(x)


def test_outliers_are_escaped_not_widening_the_alphabet() -> None:
    """A few int32-extreme values must not force every value into 20+ raw bits."""
    rng = np.random.default_rng(4)
    bulk = np.round(rng.laplace(0, 3, 20000)).astype(np.int64)
    x = np.concatenate([bulk, [I32.min, I32.max] * 10])
    plan = choose_plan(x, allow_escape=True)
    assert plan.escape and plan.shift == 0
    size = len(roundtrip(x))
    assert size < 1.05 * len(encode_ints(bulk)) + 20 * 5  # ~5 bytes per outlier at most


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        dtype=st.one_of(
            hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(sizes=(8, 16, 32)), hnp.boolean_dtypes()
        ),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=30),
    )
)
def test_hypothesis_roundtrip(x: np.ndarray) -> None:
    roundtrip(x)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=I64.min, max_value=I64.max), min_size=0, max_size=200))
def test_hypothesis_roundtrip_any_int64(values: list[int]) -> None:
    roundtrip(np.array(values, dtype=np.int64))


def test_real_image_residuals_roundtrip_near_entropy() -> None:
    """Horizontal luma differences of a real frame: the kind of skewed data the codecs produce."""
    av = pytest.importorskip("av")
    with av.open(str(CARPHONE)) as container:
        frame = next(container.decode(video=0))
    luma = frame.to_ndarray(format="gray").astype(np.int16)  # (144, 176)
    residual = np.diff(luma, axis=1)  # (144, 175), values in [-255, 255]
    data = roundtrip(residual)
    entropy_bytes = empirical_entropy_bits(residual) / 8
    distinct = len(np.unique(residual))
    assert entropy_bytes < len(data) <= 1.01 * entropy_bytes + distinct + 64


class FakeCudaTensor:
    """Duck-types the torch.Tensor calls encode_ints makes (importing torch here would cost seconds)."""

    def __init__(self, a: np.ndarray) -> None:
        self.a, self.calls = a, []

    def detach(self) -> FakeCudaTensor:
        self.calls.append("detach")
        return self

    def cpu(self) -> FakeCudaTensor:
        self.calls.append("cpu")
        return self

    def numpy(self) -> np.ndarray:
        return self.a


def test_tensor_input_is_moved_to_cpu() -> None:
    t = FakeCudaTensor(np.arange(-50, 50, dtype=np.int32).reshape(10, 10))
    assert np.array_equal(decode_ints(encode_ints(t)), np.arange(-50, 50))
    assert t.calls == ["detach", "cpu"]


@pytest.mark.parametrize(
    "bad",
    [np.zeros(3, dtype=np.float32), np.array(["a"]), np.array([2**63], dtype=np.uint64), np.array([1.5])],
)
def test_rejects_non_integer_or_unrepresentable(bad: np.ndarray) -> None:
    with pytest.raises(InvalidInput):
        encode_ints(bad)


def test_tiny_and_constant_arrays_are_a_few_bytes() -> None:
    assert len(roundtrip(np.zeros(0, dtype=np.int32))) == 2  # version + count
    assert len(roundtrip(np.full(10**6, -7, dtype=np.int64))) <= 12
    assert len(roundtrip(np.array([1, 0, 1, 1], dtype=np.uint8))) <= 10


def test_alphabet_never_exceeds_cap() -> None:
    x = np.random.default_rng(5).integers(0, 1 << 20, 50000)
    plan = choose_plan(x, allow_escape=True)
    assert plan.n_symbols <= MAX_ALPHABET
    roundtrip(x)


def test_normalize_freqs_exact_and_deterministic() -> None:
    rng = np.random.default_rng(6)
    for _ in range(100):
        k = int(rng.integers(1, MAX_ALPHABET + 1))
        counts = rng.geometric(rng.uniform(0.001, 0.9), k) * (rng.random(k) < 0.7)
        if not counts.any():
            counts[0] = 1
        freqs = normalize_freqs(counts)
        assert freqs.dtype == np.int64 and int(freqs.sum()) == TOTAL
        assert ((freqs > 0) == (counts > 0)).all()
        codes, used = quantize_counts(counts)
        assert int(used.sum()) == TOTAL and ((used > 0) == (counts > 0)).all()
        assert np.array_equal(used, quantize_counts(counts.copy())[1])
