"""The transform and the rate control: which coordinates to keep and which quantizer step to use.

Every kept coordinate is quantized with the same uniform step: with an entropy coder per
dimension, one step for all is what minimises squared error for a given rate (reverse
water-filling: a dimension whose spread is below the step codes to zeros and costs nearly
nothing). What remains to choose is how many leading coordinates to keep, because each costs a
code table and, with a stored PCA basis, `2 * dim` bytes; and the step, found by bisection on the
coded size. Sizes are estimated from the empirical entropy of a sample of rows, then confirmed
by coding for real (`encode.py`), so the budget is met by the file on disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SAMPLE_ROWS = 16384  # rows whose entropy stands in for the batch's during the search
FIXED_BYTES = 160  # container header, params and per-section framing, roughly


@dataclass(frozen=True)
class Transform:
    """x -> coordinates: subtract `mean` (float16-rounded), then project on `basis` columns (or not)."""

    mean: np.ndarray | None  # (dim,) float32, values exactly representable in float16
    basis: np.ndarray | None  # (dim, dim) float32 columns, float16-rounded; None: identity

    def coords(self, x: np.ndarray, kept: int) -> np.ndarray:
        xc = x - self.mean if self.mean is not None else x
        if self.basis is None:
            return np.ascontiguousarray(xc[:, :kept], dtype=np.float64)
        return xc.astype(np.float64) @ self.basis[:, :kept].astype(np.float64)


def f16(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float16).astype(np.float32)


def fit_transform(x: np.ndarray, pca: bool, centered: bool) -> Transform:
    """The batch's mean and (with `pca`) its principal axes, largest variance first, with a sign
    convention (largest component of each axis positive) so the same batch gives the same file."""
    mean = f16(x.mean(axis=0, dtype=np.float64)) if centered else None
    if not pca:
        return Transform(mean, None)
    xc = (x - mean if mean is not None else x).astype(np.float64)
    cov = xc.T @ xc / max(1, len(x))
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1]
    vecs = vecs[:, order]
    signs = np.sign(vecs[np.abs(vecs).argmax(axis=0), np.arange(vecs.shape[1])])
    vecs = vecs * np.where(signs == 0, 1.0, signs)
    return Transform(mean, f16(vecs))


def _entropy_bits(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column: empirical entropy (bits over all rows) and alphabet size, of integer codes."""
    lo = q.min(axis=0)
    span = q.max(axis=0) - lo + 1
    if span.sum() > 1 << 26:  # too fine a step to count: treat as incompressible-wide
        return np.full(q.shape[1], 64.0 * len(q)), span
    starts = np.concatenate([[0], np.cumsum(span)[:-1]])
    counts = np.bincount((q - lo + starts).ravel(), minlength=int(span.sum())).astype(np.float64)
    col = np.repeat(np.arange(q.shape[1]), span)
    nz = counts > 0
    bits = np.zeros(q.shape[1])
    np.add.at(bits, col[nz], -counts[nz] * np.log2(counts[nz] / len(q)))
    return bits, span


@dataclass(frozen=True)
class Plan:
    kept: int
    step: float
    est_bytes: float  # whole file, estimated
    mse: float  # squared error per vector in the transform's coordinates, estimated


class RateSearch:
    """Chooses (kept, step) for a batch under a byte budget, from a sample of its coordinates."""

    def __init__(self, y: np.ndarray, count: int, fixed_bytes: float, basis_bytes_per_kept: float) -> None:
        # y: sample rows x all candidate coordinates (the transform's, in order of importance)
        self.y = y
        self.count = count
        self.fixed = fixed_bytes
        self.per_kept = basis_bytes_per_kept
        self.energy = (y**2).mean(axis=0)  # what dropping a coordinate costs
        self.tail = np.concatenate([np.cumsum(self.energy[::-1])[::-1], [0.0]])  # energy from k on

    def estimate(self, kept: int, step: float) -> Plan:
        y = self.y[:, :kept]
        q = np.rint(y / step)
        err = ((y - q * step) ** 2).sum(axis=1).mean() + self.tail[kept]
        bits, span = _entropy_bits(q.astype(np.int64))
        scale = self.count / len(y)
        tables = float(np.where(span > 1, span + 4, 2).sum())  # one-byte codes per symbol, framing
        size = self.fixed + self.per_kept * kept + bits.sum() * scale / 8 + tables
        return Plan(kept, step, size, float(err))

    def best_step(self, kept: int, budget: float) -> Plan | None:
        """The finest step whose estimated file fits `budget` bytes, by bisection in log space."""
        spread = float(np.sqrt(self.energy[:kept].max())) or 1.0
        coarse = self.estimate(kept, spread * 1e4)
        if coarse.est_bytes > budget:
            return None  # not even all-zero codes fit
        lo, hi = math.log(spread * 1e-7), math.log(spread * 1e4)  # lo: too fine (over budget), hi: fits
        if self.estimate(kept, math.exp(lo)).est_bytes <= budget:
            return self.estimate(kept, math.exp(lo))
        for _ in range(26):
            mid = 0.5 * (lo + hi)
            if self.estimate(kept, math.exp(mid)).est_bytes <= budget:
                hi = mid
            else:
                lo = mid
        return self.estimate(kept, math.exp(hi))

    def best(self, candidates: list[int], budget: float) -> Plan | None:
        plans = [p for k in candidates if (p := self.best_step(k, budget)) is not None]
        return min(plans, key=lambda p: (p.mse, p.kept)) if plans else None


def reconstruct(t: Transform, yq: np.ndarray, dim: int, unit: bool) -> np.ndarray:
    """What the decoder makes of quantized coordinates (bitstream.read_blocks, in float64)."""
    kept = yq.shape[1]
    if t.basis is None:
        x = np.zeros((len(yq), dim))
        x[:, :kept] = yq
    else:
        x = yq @ t.basis[:, :kept].astype(np.float64).T
    if t.mean is not None:
        x += t.mean
    if unit:
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)
    return x


PROXY_QUERIES = 256


def recall_proxy(xs: np.ndarray, t: Transform, plan: Plan, unit: bool) -> float:
    """Recall@10 of a sample's own exact top-10 neighbours (dot product, self excluded) when the
    sample is searched decoded with this plan: what a retrieval gallery coded this way keeps."""
    y = t.coords(xs, plan.kept)
    rec = reconstruct(t, np.rint(y / plan.step) * plan.step, xs.shape[1], unit)
    qi = np.arange(min(PROXY_QUERIES, len(xs)))
    q = xs[qi].astype(np.float64)
    k = min(10, len(xs) - 2)
    scores = []
    for g in (xs.astype(np.float64), rec):
        s = q @ g.T
        s[qi, qi] = -np.inf
        scores.append(np.argpartition(-s, k, axis=1)[:, :k])
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(*scores, strict=True)]))


def candidate_dims(dim: int, nesting: list[int] | None, max_dims: int) -> list[int]:
    """Prefix lengths worth trying: powers of two and the halfway points 3 * 2^i (and `dim`), plus
    the model's nesting dims; the coded size and the recall proxy decide among them."""
    base = [1 << i for i in range(int(math.log2(dim)) + 1)]
    base += [d for d in (3 * (1 << i) for i in range(int(math.log2(dim)))) if d <= dim]
    base += [d for d in (nesting or []) if d <= dim]
    out = sorted({d for d in [*base, dim] if not max_dims or d <= max_dims})
    return out or [min(dim, max_dims)]


def sample_rows(n: int, rows: int = SAMPLE_ROWS) -> np.ndarray:
    """A fixed, evenly spread subset of row indices (deterministic: same batch, same file)."""
    if n <= rows:
        return np.arange(n)
    return np.linspace(0, n - 1, rows).round().astype(np.int64)
