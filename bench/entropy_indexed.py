"""Per-dimension codes with indexed CDF tables (`encode_columns`): size against the entropy, and speed.

    .venv/bin/python -m bench.entropy_indexed [--quick] [--out bench/results/entropy_indexed_overhead.json]

Each source is a (rows, 64) array whose columns have very different distributions, as quantized
embedding or latent dimensions do. References per case: the sum over columns of each column's
zeroth-order empirical entropy (what one ideal table per column, free to store, would spend), the
true entropy of the per-column distributions where known, and `encode_ints` on the flattened data
(one table for every dimension: the alternative the indexed tables replace).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.common import RESULTS, provenance, write_result
from bench.entropy_overhead import gaussian_entropy, laplace_entropy
from codec.entropy import (
    column_entropy_bits,
    decode_columns,
    decode_ints,
    empirical_entropy_bits,
    encode_columns,
    encode_ints,
)

OUT = RESULTS / "entropy_indexed_overhead.json"
MEASURED = ("codec/entropy", "bench/entropy_indexed.py")  # git.measured.dirty: changes to these
COLS = 64

Source = Callable[[np.random.Generator, int], np.ndarray]


def _laplace_scales() -> np.ndarray:
    return np.geomspace(0.5, 50.0, COLS)  # 100x between the narrowest and the widest dimension


def laplace_dims(rng: np.random.Generator, rows: int) -> np.ndarray:
    return np.round(rng.laplace(0.0, _laplace_scales(), (rows, COLS))).astype(np.int32)


def gaussian_dims(rng: np.random.Generator, rows: int) -> np.ndarray:
    means = np.random.default_rng(1).integers(-30, 30, COLS)  # fixed per-dimension offsets
    return np.round(rng.normal(means, _laplace_scales(), (rows, COLS))).astype(np.int32)


def mixed_dims(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Laplacian and Gaussian dimensions with log-uniform scales, 4 near-constant ones (scale 0.05),
    and 2 with 0.1% int16-range outliers (those get a stream of their own)."""
    scales = np.exp(np.random.default_rng(2).uniform(np.log(0.3), np.log(30.0), COLS))
    scales[:4] = 0.05
    lap = rng.laplace(0.0, scales, (rows, COLS))
    gauss = rng.normal(0.0, scales, (rows, COLS))
    x = np.round(np.where(np.arange(COLS) % 2 == 0, lap, gauss)).astype(np.int32)
    for c in (4, 5):
        hit = rng.random(rows) < 0.001
        x[hit, c] = rng.integers(-(2**15), 2**15, int(hit.sum()))
    return x


def sources() -> dict[str, tuple[Source, float | None]]:
    """name -> (sampler, true entropy in bits per row or None)."""
    s = _laplace_scales()
    return {
        "laplace_dims_scale0.5-50": (laplace_dims, sum(laplace_entropy(b) for b in s)),
        "gaussian_dims_sigma0.5-50": (gaussian_dims, sum(gaussian_entropy(v) for v in s)),
        "mixed_dims": (mixed_dims, None),
    }


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def measure(name: str, x: np.ndarray, true_bits_per_row: float | None) -> dict:
    rows, cols = x.shape
    n = x.size
    data, enc_s = _timed(lambda: encode_columns(x))
    y, dec_s = _timed(lambda: decode_columns(data, rows, cols, max_count=n))
    if not np.array_equal(y, x):
        raise SystemExit(f"{name}: encode_columns round trip failed")
    flat, flat_enc_s = _timed(lambda: encode_ints(x))
    y, flat_dec_s = _timed(lambda: decode_ints(flat, max_count=n))
    if not np.array_equal(y, x.reshape(-1)):
        raise SystemExit(f"{name}: encode_ints round trip failed")
    col_h = column_entropy_bits(x) / 8
    true_h = None if true_bits_per_row is None else true_bits_per_row * rows / 8
    return {
        "source": name,
        "rows": rows,
        "cols": cols,
        "coded_bytes": len(data),
        "bits_per_value": len(data) * 8 / n,
        "column_entropy_bytes": col_h,
        "overhead_vs_column_entropy": len(data) / col_h - 1,
        "true_entropy_bytes": true_h,
        "overhead_vs_true": None if true_h is None else len(data) / true_h - 1,
        "encode_ints_bytes": len(flat),
        "flat_entropy_bytes": empirical_entropy_bits(x) / 8,
        "saving_vs_encode_ints": 1 - len(data) / len(flat),
        "encode_s": enc_s,
        "decode_s": dec_s,
        "encode_mvalues_per_s": n / enc_s / 1e6,
        "decode_mvalues_per_s": n / dec_s / 1e6,
        "encode_ints_encode_s": flat_enc_s,
        "encode_ints_decode_s": flat_dec_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="rows up to 1e5 only")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    prov = provenance(MEASURED)
    sizes = [10_000, 100_000] + ([] if args.quick else [1_000_000])
    print(
        f"{'source':28s} {'rows':>8s} {'bytes':>10s} {'bits/val':>8s} {'vs col H':>8s} {'vs true':>8s} "
        f"{'ints B':>10s} {'saving':>7s} {'enc Mv/s':>8s} {'dec Mv/s':>8s}"
    )
    results = []
    for name, (sample, true_bits) in sources().items():
        for rows in sizes:
            r = measure(name, sample(np.random.default_rng(rows), rows), true_bits)
            results.append(r)
            vs_true = "       -" if r["overhead_vs_true"] is None else f"{r['overhead_vs_true']:+8.2%}"
            print(
                f"{name:28s} {rows:8d} {r['coded_bytes']:10d} {r['bits_per_value']:8.4f} "
                f"{r['overhead_vs_column_entropy']:+8.3%} {vs_true} {r['encode_ints_bytes']:10d} "
                f"{r['saving_vs_encode_ints']:7.2%} {r['encode_mvalues_per_s']:8.2f} "
                f"{r['decode_mvalues_per_s']:8.2f}",
                flush=True,
            )
    write_result(args.out, {"benchmark": "entropy_indexed_overhead", "cols": COLS, "results": results}, prov)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
