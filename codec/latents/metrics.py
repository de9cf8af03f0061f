"""Disentanglement metrics: InfoMEC (the QLAE paper's) and DCI, from latents and known factors.

InfoMEC, as in the paper and its official code (`disentangle/metrics/infomec.py`):

- NMI[i, j] = I(s_i; z_j) / H(s_i) for factor i and latent j. Discrete latents: the plug-in mutual
  information of the two label sequences. Continuous latents: the k-nearest-neighbour estimator
  for a continuous variable and a discrete one (Ross 2014, k = 10, on standardised latents), which
  is what the official code gets from scikit-learn's `mutual_info_classif`; written here in numpy.
- Inactive latents are pruned: a discrete latent that takes one value, a continuous one whose
  range is under 1/20 of the widest latent's.
- InfoM = (mean_j max_i NMI / sum_i NMI - 1/F) / (1 - 1/F) over active latents (each latent holds
  one factor); InfoC = (mean_i max_j NMI / sum_j NMI - 1/L) / (1 - 1/L) over the L active latents
  (each factor in one latent).
- InfoE = mean_i (H_null(s_i) - CE(s_i | linear(z))) / H_null(s_i): the information a linear
  (multinomial logistic, class-balanced, unpenalised, L-BFGS for 100 iterations, as scikit-learn
  fits it there) readout of the
  latents gives about each factor, relative to the same readout of zeros. Discrete latents enter
  one-hot, continuous ones standardised.

DCI (Eastwood & Williams 2018) with that same logistic readout as the regressor: fitted on 80% of
the samples, importance R[j, i] = the rise in held-out cross-entropy for factor i when latent j is
shuffled (permutation importance; the original used lasso or random forests), disentanglement
D = sum_j rho_j (1 - H_F(R_j.)), completeness C = mean_i (1 - H_L(R_.i)), informativeness I = the
held-out accuracy, averaged over factors. numpy and scipy only (float64).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma

KNN = 10
MAX_ITER = 100


@dataclass
class Scores:
    infom: float
    infoe: float
    infoc: float
    dci_d: float
    dci_c: float
    dci_i: float
    active: int
    nmi: np.ndarray  # (factors, latents)

    def as_dict(self) -> dict[str, float]:
        return {
            k: float(getattr(self, k)) for k in ("infom", "infoe", "infoc", "dci_d", "dci_c", "dci_i")
        } | {"active_latents": float(self.active)}


def _labels(a: np.ndarray) -> np.ndarray:
    return np.unique(a, return_inverse=True)[1].reshape(-1)


def entropy(s: np.ndarray) -> float:
    p = np.bincount(_labels(s)) / len(s)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def discrete_mi(a: np.ndarray, b: np.ndarray) -> float:
    la, lb = _labels(a), _labels(b)
    joint = np.zeros((la.max() + 1, lb.max() + 1))
    np.add.at(joint, (la, lb), 1.0)
    joint /= len(a)
    pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])).sum())


def mixed_mi(z: np.ndarray, s: np.ndarray, k: int = KNN, seed: int = 0) -> float:
    """I(z; s) for continuous 1-d z and discrete s: Ross's nearest-neighbour estimator."""
    z = np.asarray(z, dtype=np.float64)
    sd = z.std()
    z = (z - z.mean()) / (sd if sd > 0 else 1.0)
    z = z + 1e-10 * np.random.default_rng(seed).standard_normal(len(z))  # break ties, as scikit-learn
    labels = _labels(s)
    n = len(z)
    radius = np.zeros(n)
    counts = np.bincount(labels)
    keep = counts[labels] > 1
    for c in np.flatnonzero(counts > 1):
        idx = np.flatnonzero(labels == c)
        order = idx[np.argsort(z[idx])]
        v = z[order]
        kk = min(k, len(v) - 1)
        pos = np.arange(len(v))
        cand = np.full((len(v), 2 * kk), np.inf)
        for j in range(1, kk + 1):
            lo, hi = pos - j, pos + j
            cand[:, j - 1] = np.where(lo >= 0, v - v[np.clip(lo, 0, None)], np.inf)
            cand[:, kk + j - 1] = np.where(hi < len(v), v[np.clip(hi, None, len(v) - 1)] - v, np.inf)
        radius[order] = np.partition(cand, kk - 1, axis=1)[:, kk - 1]
    m = _count_within(np.sort(z), z, radius)
    m, lab = m[keep], labels[keep]
    kk_each = np.minimum(k, counts[lab] - 1)
    mi = digamma(keep.sum()) + digamma(kk_each).mean() - digamma(counts[lab]).mean() - digamma(m).mean()
    return max(0.0, float(mi))


def _first_true(pred, n: int, size: int) -> np.ndarray:
    """Per query, the first index q in 0..n where the monotone predicate pred(q) holds (n if none)."""
    lo, hi = np.zeros(size, np.int64), np.full(size, n, np.int64)
    while (lo < hi).any():
        mid = (lo + hi) // 2
        t = pred(np.minimum(mid, n - 1)) & (mid < hi)
        hi = np.where(t, mid, hi)
        lo = np.where(t | (lo >= hi), lo, mid + 1)
    return hi


def _count_within(zs: np.ndarray, z: np.ndarray, r: np.ndarray) -> np.ndarray:
    """How many sorted values lie strictly within r of each z (itself included). The test is the
    same float difference the radii came from, so a neighbour at exactly the radius never counts."""
    n = len(zs)
    right = _first_true(lambda q: zs[q] - z >= r, n, len(z))
    left = _first_true(lambda q: z - zs[q] < r, n, len(z))
    return right - left


def nmi_matrix(sources: np.ndarray, latents: np.ndarray, discrete: bool) -> np.ndarray:
    out = np.zeros((sources.shape[1], latents.shape[1]))
    for i in range(sources.shape[1]):
        h = entropy(sources[:, i])
        for j in range(latents.shape[1]):
            mi = (
                discrete_mi(sources[:, i], latents[:, j])
                if discrete
                else mixed_mi(latents[:, j], sources[:, i])
            )
            out[i, j] = mi / h if h > 0 else 0.0
    return out


def active_latents(latents: np.ndarray, discrete: bool) -> np.ndarray:
    ranges = latents.max(0) - latents.min(0)
    return ranges > 0 if discrete else ranges > ranges.max() / 20


def features(latents: np.ndarray, discrete: bool) -> tuple[np.ndarray, list[np.ndarray]]:
    """The readout's inputs, and which columns belong to each latent (for permutation)."""
    cols, groups, start = [], [], 0
    for j in range(latents.shape[1]):
        z = latents[:, j]
        if discrete:
            lab = _labels(z)
            f = (lab[:, None] == np.arange(lab.max() + 1)[None]).astype(np.float64)
        else:
            sd = z.std()
            f = ((z - z.mean()) / (sd if sd > 0 else 1.0))[:, None].astype(np.float64)
        cols.append(f)
        groups.append(np.arange(start, start + f.shape[1]))
        start += f.shape[1]
    return np.concatenate(cols, axis=1), groups


@dataclass
class Readout:
    """A fitted multinomial logistic regression: logits = x @ w + b."""

    w: np.ndarray
    b: np.ndarray

    def logits(self, x: np.ndarray) -> np.ndarray:
        return x @ self.w + self.b


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def fit_readout(x: np.ndarray, y: np.ndarray, classes: int) -> Readout:
    """Multinomial logistic regression as scikit-learn fits it for the official code: class-balanced
    weights, no penalty, L-BFGS (scipy) for at most MAX_ITER iterations, from zero."""
    n, d = x.shape
    counts = np.bincount(y, minlength=classes).astype(np.float64)
    sw = (n / (classes * np.maximum(counts, 1)))[y]
    onehot = np.zeros((n, classes))
    onehot[np.arange(n), y] = 1.0
    xb = np.concatenate([x, np.ones((n, 1))], axis=1)

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        wb = theta.reshape(d + 1, classes)
        logp = _log_softmax(xb @ wb)
        loss = -(sw * (onehot * logp).sum(1)).sum() / n
        grad = xb.T @ ((np.exp(logp) - onehot) * sw[:, None]) / n
        return float(loss), grad.ravel()

    res = minimize(f, np.zeros((d + 1) * classes), jac=True, method="L-BFGS-B",
                   options={"maxiter": MAX_ITER, "gtol": 1e-4})  # fmt: skip
    wb = res.x.reshape(d + 1, classes)
    return Readout(wb[:-1], wb[-1])


def cross_entropy(r: Readout, x: np.ndarray, y: np.ndarray) -> float:
    """Mean (unweighted) cross-entropy of the readout's predictions, in nats: scikit-learn's log_loss."""
    return float(-_log_softmax(r.logits(x))[np.arange(len(y)), y].mean())


def infoe(sources: np.ndarray, latents: np.ndarray, discrete: bool) -> float:
    x, _ = features(latents, discrete)
    null = np.zeros((len(x), 1))
    out = []
    for i in range(sources.shape[1]):
        y = _labels(sources[:, i])
        k = int(y.max()) + 1
        h_null = cross_entropy(fit_readout(null, y, k), null, y)
        ce = cross_entropy(fit_readout(x, y, k), x, y)
        out.append((h_null - ce) / h_null if h_null > 0 else 0.0)
    return float(np.mean(out))


def _normalised_entropy(p: np.ndarray, base: int) -> float:
    p = p / p.sum() if p.sum() > 0 else np.full_like(p, 1.0 / len(p))
    p = p[p > 0]
    return float(-(p * np.log(p)).sum() / np.log(base)) if base > 1 else 0.0


def dci(
    sources: np.ndarray, latents: np.ndarray, discrete: bool, seed: int = 0
) -> tuple[float, float, float]:
    x, groups = features(latents, discrete)
    n = len(x)
    perm = np.random.default_rng(seed).permutation(n)
    tr, te = perm[: int(0.8 * n)], perm[int(0.8 * n) :]
    rng = np.random.default_rng(seed + 1)
    L, Fn = latents.shape[1], sources.shape[1]
    importance = np.zeros((L, Fn))
    acc = []
    for i in range(Fn):
        y = _labels(sources[:, i])
        lin = fit_readout(x[tr], y[tr], int(y.max()) + 1)
        base = cross_entropy(lin, x[te], y[te])
        acc.append(float((lin.logits(x[te]).argmax(1) == y[te]).mean()))
        for j, g in enumerate(groups):
            xp = x[te].copy()
            xp[:, g] = xp[rng.permutation(len(te))][:, g]
            importance[j, i] = max(0.0, cross_entropy(lin, xp, y[te]) - base)
    total = importance.sum()
    if total <= 0:
        return 0.0, 0.0, float(np.mean(acc))
    rho = importance.sum(1) / total
    d = sum(rho[j] * (1 - _normalised_entropy(importance[j], Fn)) for j in range(L))
    c = float(np.mean([1 - _normalised_entropy(importance[:, i], L) for i in range(Fn)]))
    return float(d), c, float(np.mean(acc))


def score(sources: np.ndarray, latents: np.ndarray, discrete: bool) -> Scores:
    """InfoM, InfoE, InfoC and DCI of (N, n) latents against (N, F) factor indices."""
    nmi = nmi_matrix(sources, latents, discrete)
    act = active_latents(latents, discrete)
    F, L = sources.shape[1], int(act.sum())
    if L == 0:
        return Scores(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, nmi)
    p = nmi[:, act]
    col, row = p.sum(0), p.sum(1)
    infom = (np.mean(np.where(col > 0, p.max(0) / np.where(col > 0, col, 1), 1.0 / F)) - 1 / F) / (1 - 1 / F)
    if L > 1:
        frac = np.where(row > 0, p.max(1) / np.where(row > 0, row, 1), 1.0 / L)
        infoc = (np.mean(frac) - 1 / L) / (1 - 1 / L)
    else:
        infoc = 1.0
    e = infoe(sources, latents[:, act], discrete)
    d, c, i = dci(sources, latents[:, act], discrete)
    return Scores(float(infom), e, float(infoc), d, c, i, L, nmi)
