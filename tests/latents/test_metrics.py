"""InfoMEC and DCI on latents whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from codec.latents import metrics as M

SIZES = (4, 6, 10)


def sources(n: int = 3000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, k, n) for k in SIZES], axis=1)


def test_perfectly_disentangled_discrete_codes_score_one() -> None:
    s = sources()
    r = M.score(s, s[:, ::-1].copy(), discrete=True)  # one code per factor, in any order
    assert r.infom > 0.98 and r.infoc > 0.98
    assert r.infoe > 0.99
    assert r.dci_d > 0.98 and r.dci_c > 0.98 and r.dci_i > 0.99


def test_perfectly_disentangled_continuous_latents_score_one() -> None:
    s = sources()
    rng = np.random.default_rng(1)
    z = s * np.array([0.3, -2.0, 1.0]) + 0.01 * rng.standard_normal(s.shape)  # monotone, rescaled
    r = M.score(s, z, discrete=False)
    assert r.infom > 0.95 and r.infoc > 0.95 and r.infoe > 0.95


def test_entangled_latents_score_low_on_modularity_and_compactness() -> None:
    s = sources()
    rng = np.random.default_rng(2)
    mix = np.array([[1.0, 1.0, 1.0], [1.0, -1.0, 0.5], [0.5, 1.0, -1.0]])
    z = (s / np.array(SIZES)) @ mix + 0.01 * rng.standard_normal(s.shape)
    r = M.score(s, z, discrete=False)
    assert r.infom < 0.5 and r.infoc < 0.5
    assert r.infoe > 0.8  # still linearly informative: entangled is not uninformative


def test_noise_latents_explain_nothing() -> None:
    s = sources()
    z = np.random.default_rng(3).standard_normal((len(s), 3))
    r = M.score(s, z, discrete=False)
    assert r.infoe < 0.02
    assert r.nmi.max() < 0.01  # (InfoM and InfoC are ratios of nothing here: not asserted)


def test_inactive_latents_are_pruned() -> None:
    s = sources()
    z = np.concatenate([s, np.zeros((len(s), 3), np.int64)], axis=1)  # three dead codes
    r = M.score(s, z, discrete=True)
    assert r.active == 3
    assert r.infom > 0.98 and r.infoc > 0.98


def test_redundant_latents_lower_compactness_not_modularity() -> None:
    s = sources()
    z = np.concatenate([s, s], axis=1)  # every factor in two codes
    r = M.score(s, z, discrete=True)
    assert r.infom > 0.98
    assert r.infoc == pytest.approx(0.4, abs=0.05)  # (1/2 - 1/6) / (1 - 1/6)


def test_mutual_information_estimators_agree_with_known_values() -> None:
    rng = np.random.default_rng(4)
    s = rng.integers(0, 4, 20000)
    assert M.discrete_mi(s, s) == pytest.approx(np.log(4), abs=0.01)
    assert M.mixed_mi(s + 0.001 * rng.standard_normal(len(s)), s) == pytest.approx(np.log(4), abs=0.05)
    assert M.mixed_mi(rng.standard_normal(len(s)), s) < 0.01
