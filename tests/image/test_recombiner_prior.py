"""RECOMBINER's posteriors, prior update and blocks (issue #10, step 3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codec.image.recombiner.inr import INR_PARAMS, LATENT_CH
from codec.image.recombiner.patches import layout_for
from codec.image.recombiner.prior import (
    LEVEL_SIZES,
    LevelPrior,
    Posterior,
    make_blocks,
    row_permutation,
    std_of,
    update_prior,
)


def test_a_patch_code_is_the_sum_of_its_three_levels() -> None:
    lay = layout_for(64 * 5, 64 * 6)  # 5 x 6 patches, 2 x 2 groups
    q = Posterior(lay)
    assert [tuple(m.shape) for m in q.mu] == [(30, LEVEL_SIZES[0]), (4, INR_PARAMS), (1, INR_PARAMS)]
    h, lat = q.mean()
    g = lay.group_of_patch()
    p = 6 * 4 + 5  # row 4, col 5: the bottom-right group
    assert g[p] == 3
    want = q.mu[0][p, :INR_PARAMS] + q.mu[1][3] + q.mu[2][0]
    assert torch.allclose(h[0, p], want)
    assert lat.shape == (1, 30, LATENT_CH, 4, 4)
    draws, _ = q.sample(3, torch.Generator().manual_seed(0))
    assert draws.shape == (3, 30, INR_PARAMS) and not torch.equal(draws[0], draws[1])


def test_kl_is_zero_at_the_prior_and_grows_away_from_it() -> None:
    lay = layout_for(64, 64)
    priors = [LevelPrior(np.full(n, 0.1, np.float32), np.full(n, 0.02, np.float32)) for n in LEVEL_SIZES]
    q = Posterior(lay, priors)
    with torch.no_grad():
        for rho in q.rho:  # posterior std = prior std
            rho.fill_(float(torch.log(torch.expm1(torch.tensor(0.02 * 6)))))
    assert float(std_of(q.rho[0].detach())[0, 0]) == pytest.approx(0.02, rel=1e-5)
    assert max(float(k.detach().abs().max()) for k in q.kl(priors)) < 1e-5
    with torch.no_grad():
        q.mu[0][0, 0] += 0.04  # two prior stds away: KL 2 nats
    assert float(q.kl(priors)[0][0, 0].detach()) == pytest.approx(2.0, rel=1e-3)


def test_empirical_bayes_matches_the_moments_of_the_posteriors() -> None:
    rng = np.random.default_rng(0)
    means = [rng.normal(1.0, 0.5, (40, 3)), rng.normal(1.0, 0.5, (60, 3))]
    stds = [np.full((40, 3), 0.1), np.full((60, 3), 0.1)]
    p = update_prior(means, stds)
    allm = np.concatenate(means)
    assert np.allclose(p.mean, allm.mean(0), atol=1e-6)
    assert np.allclose(p.std**2, 0.01 + allm.var(0, ddof=1), atol=1e-5)


def test_blocks_partition_the_coordinates_within_the_budget() -> None:
    kl = np.random.default_rng(1).exponential(0.7, 5000)
    kl[17] = 40.0  # one coordinate over the budget: a block of its own
    blocks = make_blocks(kl, 16.0)
    assert sorted(np.concatenate(blocks).tolist()) == list(range(5000))
    for b in blocks:
        assert kl[b].sum() <= 16.0 or len(b) == 1
    assert [17] in [b.tolist() for b in blocks]
    assert [b.tolist() for b in make_blocks(kl, 16.0)] == [b.tolist() for b in blocks]  # fixed order


def test_rows_are_permuted_per_coordinate_deterministically() -> None:
    perm = row_permutation(12, 50)
    assert all(sorted(perm[:, j]) == list(range(12)) for j in range(50))
    assert not all(np.array_equal(perm[:, 0], perm[:, j]) for j in range(1, 50))
    assert np.array_equal(perm, row_permutation(12, 50))
