"""Relative entropy coding's shared randomness and importance sampling."""

from __future__ import annotations

import numpy as np
import pytest

from codec.rec import gauss
from codec.rec.candidates import candidate, candidate_normals
from codec.rec.coder import decode_block, encode_block, gaussian_kl


def test_the_gaussian_table_is_the_verified_one_and_looks_normal() -> None:
    t = gauss.quantile_table().astype(np.float64) / (1 << gauss.FRACTION_BITS)
    assert len(t) == 1 << 16 and np.all(np.diff(t) > 0)
    assert np.array_equal(t, -t[::-1])  # symmetric
    assert t.mean() == pytest.approx(0, abs=1e-12) and t.var() == pytest.approx(1, abs=1e-4)
    from statistics import NormalDist

    assert t[(1 << 15) + 21844] == pytest.approx(
        NormalDist().inv_cdf((32768 + 21844 + 0.5) / 65536), abs=1e-6
    )


def test_candidate_streams_are_frozen() -> None:
    # The stream is part of the file format: a change here makes every REC file decode to other
    # weights. These are the values this implementation defined when it was written.
    z = candidate_normals(seed=1, block=2, count=2, dim=3)
    assert z.dtype == np.float32
    assert z.tolist() == FROZEN  # exact: float32 values printed as doubles


FROZEN = [
    [-0.7199716567993164, -1.7788057327270508, 0.5595884323120117],
    [1.4406862258911133, -2.0212039947509766, -1.179025650024414],
]


def test_one_candidate_made_alone_equals_the_batch() -> None:
    z = candidate_normals(5, 9, 300, 7)
    for j in (0, 1, 137, 299):
        assert np.array_equal(candidate(5, 9, j, 7), z[j])
    assert not np.array_equal(candidate_normals(5, 10, 1, 7)[0], z[0])  # another block, other draws
    assert not np.array_equal(candidate_normals(6, 9, 1, 7)[0], z[0])  # another seed, other draws


def test_the_decoder_rebuilds_the_encoders_weights_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    d = 16
    mu_p, sd_p = rng.normal(0, 0.1, d), rng.uniform(0.05, 0.2, d)
    mu_q, sd_q = mu_p + rng.normal(0, 0.05, d), sd_p * 0.5
    c = encode_block(3, 4, 12, mu_q, sd_q, mu_p, sd_p, rng)
    w = decode_block(3, 4, c.index, mu_p.astype(np.float32), sd_p.astype(np.float32))
    assert w.dtype == np.float32 and np.array_equal(w, c.weights)


def test_enough_candidates_give_posterior_samples_too_few_do_not() -> None:
    rng = np.random.default_rng(1)
    d = 20
    mu_p, sd_p = np.zeros(d), np.ones(d)
    mu_q, sd_q = rng.normal(0, 0.6, d), np.full(d, 0.6)
    kl_bits = gaussian_kl(mu_q, sd_q, mu_p, sd_p) / np.log(2)
    assert 5 < kl_bits < 12

    def standardized(bits: int) -> np.ndarray:
        return np.concatenate(
            [(encode_block(0, b, bits, mu_q, sd_q, mu_p, sd_p, rng).weights - mu_q) / sd_q for b in range(12)]
        )

    good = standardized(16)  # well over the KL: close to draws from q
    assert abs(good.mean()) < 0.15 and 0.8 < good.std() < 1.25
    poor = standardized(1)  # 2 candidates for ~7 bits of KL: prior draws, far from q
    assert poor.std() > 1.3
