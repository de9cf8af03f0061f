"""The Bayesian part: factorized Gaussian posteriors over an image's codes, the learned prior, the
empirical-Bayes update and the blocks REC codes.

Levels (as in the official code's hierarchical model): level 1 holds, per patch, the INR code h1
(3267) and the positional latents (2048); level 2, per group of 4x4 patches, a code h2; level 3,
per image, h3. A patch's INR code is h1 + h2[its group] + h3. Each level has its own prior: one
N(mean, std^2) per coordinate, shared by every row of the level (every patch, group or image).

- Posteriors are N(mu, (softplus(rho) / 6)^2), the official parameterisation.
- Empirical Bayes (`update_prior`): after fitting the training images' posteriors, each level's
  prior mean is the mean of their posterior means and its variance the mean posterior variance
  plus the variance of the means.
- Blocks (`make_blocks`): a level's coordinates, in a fixed random order (seed 0), packed greedily
  into consecutive groups whose average KL over the training rows stays within the bit budget
  (16 bits by default); a coordinate over the budget alone is a block of its own. Blocks belong to
  the prior (one per rate point), so a file needs only its indices.
- Rows are permuted per coordinate (coordinate j's rows by the permutation of seed j) before the
  blocks are cut, so a block's coordinates come from different patches and the bits spread evenly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from codec.image.recombiner.inr import INR_PARAMS, LATENT_CH, LATENT_GRID, LATENT_PARAMS
from codec.image.recombiner.patches import Layout

LEVEL1 = INR_PARAMS + LATENT_PARAMS  # per patch: the INR code, then the latents
LEVEL_SIZES = (LEVEL1, INR_PARAMS, INR_PARAMS)
INIT_PRIOR_STD = float(F.softplus(torch.tensor(-2.0)) / 6)  # 0.0211, the official initial prior
INIT_RHO = -4.0  # posterior std softplus(-4) / 6 = 0.0030 at the start of prior training
BLOCK_BITS = 16.0
LN2 = float(np.log(2))


def std_of(rho: torch.Tensor) -> torch.Tensor:
    return F.softplus(rho) / 6


@dataclass
class LevelPrior:
    mean: np.ndarray  # (n,) float32
    std: np.ndarray  # (n,) float32, > 0

    @classmethod
    def initial(cls, n: int) -> LevelPrior:
        return cls(np.zeros(n, np.float32), np.full(n, INIT_PRIOR_STD, np.float32))


class Posterior(nn.Module):
    """One image's posteriors, all three levels, for its layout."""

    def __init__(self, lay: Layout, priors: list[LevelPrior] | None = None, rho: float = INIT_RHO) -> None:
        super().__init__()
        self.layout = lay
        self.mu = nn.ParameterList()
        self.rho = nn.ParameterList()
        for k, (r, n) in enumerate(zip(lay.level_rows, LEVEL_SIZES, strict=True)):
            if priors is not None:
                mu = torch.from_numpy(np.asarray(priors[k].mean, np.float32)).expand(r, n).clone()
            else:
                lim = (6 / 32) ** 0.5 / 30  # the official SIREN init of the codes (c = 6, w0 = 30)
                mu = torch.empty(r, n).uniform_(-lim, lim)
                if k == 0:
                    mu[:, INR_PARAMS:] = torch.randn(r, LATENT_PARAMS) * 0.1
            self.mu.append(nn.Parameter(mu))
            self.rho.append(nn.Parameter(torch.full((r, n), float(rho))))

    def sample(
        self, n: int = 1, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """n draws: INR codes (n, patches, 3267) and latents (n, patches, 128, 4, 4)."""
        draws = []
        for mu, rho in zip(self.mu, self.rho, strict=True):
            eps = torch.randn((n, *mu.shape), generator=generator, dtype=mu.dtype, device=mu.device)
            draws.append(mu + std_of(rho) * eps)
        return self.compose(*draws)

    def mean(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.compose(*(m[None] for m in self.mu))

    def compose(
        self, l1: torch.Tensor, l2: torch.Tensor, l3: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return compose(self.layout, l1, l2, l3)

    def kl(self, priors: list[LevelPrior]) -> list[torch.Tensor]:
        """Per level, (rows, n) KL(q || p) in nats of every coordinate."""
        out = []
        for mu, rho, p in zip(self.mu, self.rho, priors, strict=True):
            mp = torch.from_numpy(np.asarray(p.mean, np.float32)).to(mu.device)
            sp = torch.from_numpy(np.asarray(p.std, np.float32)).to(mu.device)
            sq = std_of(rho)
            out.append(torch.log(sp / sq) + (sq**2 + (mu - mp) ** 2) / (2 * sp**2) - 0.5)
        return out


def compose(
    lay: Layout, l1: torch.Tensor, l2: torch.Tensor, l3: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draws of the three levels, (n, rows, size) each -> INR codes (n, patches, 3267) and latents
    (n, patches, 128, 4, 4): a patch's code is its own + its group's + the image's."""
    group = torch.from_numpy(lay.group_of_patch()).to(l1.device)
    h = l1[..., :INR_PARAMS] + l2[:, group] + l3
    lat = l1[..., INR_PARAMS:].reshape(*l1.shape[:2], LATENT_CH, LATENT_GRID, LATENT_GRID)
    return h, lat


def update_prior(means: list[np.ndarray], stds: list[np.ndarray]) -> LevelPrior:
    """Empirical Bayes for one level, from every training row's posterior: (rows, n) arrays."""
    mu = np.concatenate(means).astype(np.float64)
    sd = np.concatenate(stds).astype(np.float64)
    var = (sd**2).mean(0) + mu.var(0, ddof=1 if len(mu) > 1 else 0)
    return LevelPrior(mu.mean(0).astype(np.float32), np.sqrt(np.maximum(var, 1e-12)).astype(np.float32))


def make_blocks(mean_kl_bits: np.ndarray, budget: float = BLOCK_BITS, seed: int = 0) -> list[np.ndarray]:
    """A level's coordinates in blocks of at most `budget` bits of average KL (module doc)."""
    order = np.random.default_rng(seed).permutation(len(mean_kl_bits))
    blocks, current, total = [], [], 0.0
    for j in order:
        kl = float(mean_kl_bits[j])
        if current and total + kl > budget:
            blocks.append(np.sort(np.array(current, np.int64)))  # within a block: increasing coordinate
            current, total = [], 0.0
        current.append(int(j))
        total += kl
    if current:
        blocks.append(np.sort(np.array(current, np.int64)))
    return blocks


def block_of(blocks: list[np.ndarray], n: int) -> np.ndarray:
    """(n,) int32 block id of every coordinate: how a prior stores its blocks."""
    out = np.full(n, -1, np.int32)
    for b, idx in enumerate(blocks):
        out[idx] = b
    return out


def blocks_from(ids: np.ndarray) -> list[np.ndarray]:
    """The inverse of block_of: each block's coordinates, increasing."""
    ids = np.asarray(ids, np.int64)
    order = np.argsort(ids, kind="stable")
    bounds = np.searchsorted(ids[order], np.arange(int(ids.max()) + 2))
    return [order[bounds[b] : bounds[b + 1]] for b in range(int(ids.max()) + 1)]


def row_permutation(rows: int, n: int) -> np.ndarray:
    """(rows, n): entry [r, j] is the row whose coordinate j is coded as row r (seed j per column)."""
    return np.stack([np.random.default_rng(j).permutation(rows) for j in range(n)], axis=1)
