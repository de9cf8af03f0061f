"""Coded size of `codec.entropy` against the entropy it could at best reach, plus coding speed.

    .venv/bin/python -m bench.entropy_overhead [--quick] [--out bench/results/entropy_overhead.json]

Two references per case: the zeroth-order empirical entropy of the sample (what an ideal coder
with a free, exact table would spend; for wide alphabets and few samples it is biased low, since
most values are seen once) and, for parametric sources, the true entropy of the discretized
distribution (what any coder that does not overfit the sample would spend on average).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.common import RESULTS, ROOT, provenance, write_result
from codec.entropy import decode_ints, empirical_entropy_bits, encode_ints
from codec.entropy.plan import choose_plan

OUT = RESULTS / "entropy_overhead.json"
MEASURED = ("codec/entropy", "bench/entropy_overhead.py")  # git.measured.dirty: changes to these
CARPHONE = ROOT / "assets" / "carphone.mp4"


def _pmf_entropy_bits(pmf: np.ndarray) -> float:
    p = pmf[pmf > 0]
    p = p / p.sum()
    return float(-(p * np.log2(p)).sum())


def laplace_entropy(b: float) -> float:
    """Entropy (bits/symbol) of round(Laplace(0, b))."""
    k = np.arange(-int(60 * b) - 10, int(60 * b) + 11, dtype=np.float64)

    def cdf(t: np.ndarray) -> np.ndarray:
        return np.where(t < 0, 0.5 * np.exp(t / b), 1 - 0.5 * np.exp(-t / b))

    return _pmf_entropy_bits(cdf(k + 0.5) - cdf(k - 0.5))


def gaussian_entropy(sigma: float) -> float:
    k = np.arange(-int(12 * sigma) - 10, int(12 * sigma) + 11, dtype=np.float64)
    erf = np.vectorize(math.erf)
    cdf = 0.5 * (1 + erf((k + 0.5) / (sigma * math.sqrt(2)))) - 0.5 * (
        1 + erf((k - 0.5) / (sigma * math.sqrt(2)))
    )
    return _pmf_entropy_bits(cdf)


def geometric_entropy(p: float) -> float:
    return (-(1 - p) * math.log2(1 - p) - p * math.log2(p)) / p


def bernoulli_entropy(p: float) -> float:
    return -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


Source = Callable[[np.random.Generator, int], np.ndarray]


def sources() -> dict[str, tuple[Source, float | None]]:
    """name -> (sampler, true entropy in bits/symbol or None)."""
    out: dict[str, tuple[Source, float | None]] = {}
    for b in (0.5, 2.0, 10.0, 100.0, 5000.0):
        out[f"laplace_b{b:g}"] = (
            lambda r, n, b=b: np.round(r.laplace(0, b, n)).astype(np.int64),
            laplace_entropy(b),
        )
    out["gaussian_s20"] = (lambda r, n: np.round(r.normal(0, 20, n)).astype(np.int64), gaussian_entropy(20))
    out["geometric_p0.1"] = (lambda r, n: r.geometric(0.1, n), geometric_entropy(0.1))
    out["bernoulli_p0.02"] = (lambda r, n: (r.random(n) < 0.02).astype(np.int64), bernoulli_entropy(0.02))
    out["flat_8bit"] = (lambda r, n: r.integers(0, 256, n), 8.0)
    out["flat_16bit"] = (lambda r, n: r.integers(0, 1 << 16, n), 16.0)

    def outliers(r: np.random.Generator, n: int) -> np.ndarray:
        x = np.round(r.laplace(0, 2, n)).astype(np.int64)
        idx = r.choice(n, max(1, n // 1000), replace=False)
        x[idx] = r.integers(-(2**31), 2**31, len(idx))
        return x

    out["laplace_b2+0.1%_int32_outliers"] = (outliers, None)
    return out


def carphone_residuals(n_frames: int) -> np.ndarray | None:
    """Horizontal luma differences of real video frames, or None without PyAV/the asset."""
    try:
        import av
    except ImportError:
        return None
    if not CARPHONE.exists():
        return None
    frames = []
    with av.open(str(CARPHONE)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == n_frames:
                break
            frames.append(np.diff(frame.to_ndarray(format="gray").astype(np.int16), axis=1))
    return np.stack(frames)


def measure(name: str, x: np.ndarray, true_bits: float | None) -> dict:
    t0 = time.perf_counter()
    data = encode_ints(x)
    t1 = time.perf_counter()
    y = decode_ints(data, max_count=x.size)
    t2 = time.perf_counter()
    if not np.array_equal(y, x.reshape(-1)):
        raise SystemExit(f"{name}: round trip failed")
    n = x.size
    emp = empirical_entropy_bits(x)
    plan = choose_plan(x.reshape(-1).astype(np.int64), allow_escape=True)
    row = {
        "source": name,
        "n": n,
        "coded_bytes": len(data),
        "coded_bits_per_symbol": len(data) * 8 / n,
        "empirical_entropy_bytes": emp / 8,
        "overhead_vs_empirical": len(data) * 8 / emp - 1 if emp else None,
        "true_entropy_bytes": None if true_bits is None else true_bits * n / 8,
        "overhead_vs_true": None if true_bits is None else len(data) * 8 / (true_bits * n) - 1,
        "distinct_values": int(len(np.unique(x))),
        "plan": {"shift": plan.shift, "k": plan.k, "escape": plan.escape},
        "encode_s": t1 - t0,
        "decode_s": t2 - t1,
        "decode_ns_per_symbol": (t2 - t1) / n * 1e9,
    }
    return row


def _pct(v: float | None) -> str:
    return "      -" if v is None else f"{v:+7.2%}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sizes up to 1e5 only")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    prov = provenance(MEASURED)
    sizes = [1_000, 10_000, 100_000] + ([] if args.quick else [1_000_000])
    rows = []
    print(
        f"{'source':32s} {'n':>8s} {'bytes':>9s} {'bits/sym':>8s} {'vs emp':>7s} {'vs true':>7s} "
        f"{'shift':>5s} {'k':>5s} {'esc':>3s} {'enc s':>6s} {'dec s':>6s}"
    )
    cases: list[tuple[str, np.ndarray, float | None]] = []
    for name, (sample, true_bits) in sources().items():
        for n in sizes:
            cases.append((name, sample(np.random.default_rng(n), n), true_bits))
    real = carphone_residuals(10 if args.quick else 60)
    if real is not None:
        cases.append(("carphone_luma_hdiff", real, None))
    for name, x, true_bits in cases:
        r = measure(name, x, true_bits)
        rows.append(r)
        p = r["plan"]
        print(
            f"{name:32s} {r['n']:8d} {r['coded_bytes']:9d} {r['coded_bits_per_symbol']:8.4f} "
            f"{_pct(r['overhead_vs_empirical'])} {_pct(r['overhead_vs_true'])} {p['shift']:5d} {p['k']:5d} "
            f"{'y' if p['escape'] else 'n':>3s} {r['encode_s']:6.3f} {r['decode_s']:6.3f}"
        )
    write_result(args.out, {"benchmark": "entropy_overhead", "rows": rows}, prov)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
