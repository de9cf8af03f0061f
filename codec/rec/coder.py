"""Importance-sampling relative entropy coding of factorized Gaussian posteriors, one block at a time.

For a block of `dim` parameters with posterior q = N(mu_q, sd_q^2) and prior p = N(mu_p, sd_p^2)
(per coordinate), the 2^bits candidates are w_j = mu_p + sd_p * z_j with z_j the shared draws
(`candidates.py`); the encoder picks j with probability proportional to q(w_j) / p(w_j) and sends j
in `bits` bits. With 2^bits around exp(KL(q || p)) the chosen w is close in distribution to a draw
from q (Havasi et al. 2019; Theis & Ahmed 2022). The decoder computes w_j = mu_p + sd_p * z_j in
float32 exactly as the encoder does (two separately rounded operations), so both hold the same
weights to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codec.rec.candidates import candidate, candidate_normals

CHUNK_VALUES = 1 << 21  # candidate values scored at a time: the temporaries stay in cache


@dataclass(frozen=True)
class Choice:
    index: int
    weights: np.ndarray  # (dim,) float32, what the decoder will rebuild
    log_weight: float  # log q/p of the chosen candidate
    kl_nats: float  # KL(q || p) of the block, for budgets and reports


def prior_sample(mu_p: np.ndarray, sd_p: np.ndarray, z: np.ndarray) -> np.ndarray:
    """mu_p + sd_p * z in float32: the one formula encoder and decoder share."""
    mu, sd = np.asarray(mu_p, np.float32), np.asarray(sd_p, np.float32)
    return mu + sd * z


def gaussian_kl(mu_q, sd_q, mu_p, sd_p) -> float:
    mu_q, sd_q, mu_p, sd_p = (np.asarray(a, np.float64) for a in (mu_q, sd_q, mu_p, sd_p))
    return float((np.log(sd_p / sd_q) + (sd_q**2 + (mu_q - mu_p) ** 2) / (2 * sd_p**2) - 0.5).sum())


def encode_block(
    seed: int,
    block: int,
    bits: int,
    mu_q: np.ndarray,
    sd_q: np.ndarray,
    mu_p: np.ndarray,
    sd_p: np.ndarray,
    rng: np.random.Generator,
) -> Choice:
    """Pick one of the block's 2^bits candidates by importance sampling (encoder only, float64).

    With w = mu_p + sd_p z, log q(w)/p(w) = sum_i -(a_i + b_i z_i)^2 / 2 + z_i^2 / 2 + log(sd_p/sd_q)
    (a = (mu_p - mu_q)/sd_q, b = sd_p/sd_q): a linear and a quadratic form in z, two matrix-vector
    products per chunk. Only the pick uses it; the weights come from `decode_block`, as the decoder's."""
    mu_q64, sd_q64 = np.asarray(mu_q, np.float64), np.asarray(sd_q, np.float64)
    mu_p64, sd_p64 = (
        np.asarray(mu_p, np.float32).astype(np.float64),
        np.asarray(sd_p, np.float32).astype(np.float64),
    )
    a, b = (mu_p64 - mu_q64) / sd_q64, sd_p64 / sd_q64
    lin, quad = -a * b, 0.5 * (1.0 - b * b)
    const = float((-0.5 * a * a + np.log(b)).sum())
    dim, n = len(mu_q64), 1 << bits
    logw = np.empty(n)
    step = max(1, CHUNK_VALUES // max(dim, 1))
    for start in range(0, n, step):
        count = min(step, n - start)
        z = candidate_normals(seed, block, count, dim, start).astype(np.float64)
        logw[start : start + count] = z @ lin + (z * z) @ quad + const
    p = np.exp(logw - logw.max())
    index = int(rng.choice(n, p=p / p.sum()))
    weights = decode_block(seed, block, index, mu_p, sd_p)
    return Choice(index, weights, float(logw[index]), gaussian_kl(mu_q, sd_q, mu_p, sd_p))


def decode_block(seed: int, block: int, index: int, mu_p: np.ndarray, sd_p: np.ndarray) -> np.ndarray:
    """The chosen candidate's weights: (dim,) float32, the same bits as the encoder's."""
    return prior_sample(mu_p, sd_p, candidate(seed, block, index, len(mu_p)))
