"""The vector codec's curve: recall@10 against exact float32 search, by bytes per vector, against
float16, int8, binary, product quantization (FAISS IndexPQ) and RaBitQ (FAISS IndexRaBitQ).

    .venv/bin/python -m bench.vector_codec [--data fashion-mnist,wordnet] [--queries 1000]

Gallery: the shipped embedders' vectors of real items (Fashion-MNIST: the 60k training images,
fmnist-mrl@v1; WordNet: the fixed 30k-synset training subset, wordnet-mrl@v1); queries: test-split
items. Recall@10 = |top-10 of the float32 queries against the decoded gallery (dot product) and
the exact float32 full-dim top-10| / 10. Every baseline runs on the Matryoshka prefix (renormalised)
of the dim that meets the budget, the best of the dims that fit is reported; codebooks (PQ
centroids, RaBitQ's centre, int8 scales) are counted in the bytes, amortised over the gallery. Our
bytes are the files' sizes on disk / gallery size. RaBitQ is scored with its own estimator
(`index.search`, float queries), since its decoded vectors keep only the sign bits. PQ and RaBitQ
train with seeds 0, 1, 2; their spread is reported. Target (issue #8): recall at least the best
baseline's at every budget from 8 to 64 bytes/vector.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import (
    RESULTS,
    ROOT,
    exact_top10,
    label_axes,
    new_figure,
    provenance,
    save_figure,
    write_result,
)

BUDGETS = [8, 12, 16, 24, 32, 48, 64]
DIMS = [8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256]  # prefix lengths every baseline may use
SEEDS = [0, 1, 2]
QUANT_DIMS = [8, 16, 24, 32, 48, 64, 128]  # prefix lengths PQ and RaBitQ are tried at (training is slow)
OUT = RESULTS / "vector_codec.json"
WORK = ROOT / "out" / "bench" / "vector_codec"


def prefix(x: np.ndarray, d: int) -> np.ndarray:
    p = np.ascontiguousarray(x[:, :d], dtype=np.float32)
    return p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)


def recall(queries: np.ndarray, truth: np.ndarray, decoded: np.ndarray) -> float:
    d = decoded.shape[1]
    scores = queries[:, :d] @ decoded.T
    found = np.argpartition(-scores, 10, axis=1)[:, :10]
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found, strict=True)]))


def embeddings(dataset: str, n_queries: int) -> tuple[np.ndarray, np.ndarray, str]:
    from codec.embed.data import load
    from codec.embed.embedder import load_embedder

    WORK.mkdir(parents=True, exist_ok=True)
    cache = WORK / f"{dataset}.npz"
    if cache.exists():
        with np.load(cache) as z:
            return z["gallery"], z["queries"], str(z["model"])
    if dataset == "fashion-mnist":
        ds, emb = load(dataset), load_embedder("fmnist-mrl@v1")
        g, q = emb.embed_images(ds.train_x), emb.embed_images(ds.test_x[:n_queries])
    else:
        ds, emb = load(dataset).limit(30000), load_embedder("wordnet-mrl")
        g, q = emb.embed_texts(list(ds.train_x)), emb.embed_texts(list(ds.test_x[:n_queries]))
    np.savez(cache, gallery=g, queries=q, model=emb.spec)
    return g, q, emb.spec


def throughput() -> dict:
    """Items per second of each shipped embedder on this CPU (fresh inputs, batches of 1024 / 64)."""
    from codec.embed.data import load
    from codec.embed.embedder import load_embedder

    out = {}
    img = load("fashion-mnist").test_x[:5000]
    emb = load_embedder("fmnist-mrl@v1")
    emb.embed_images(img[:64])  # warm-up
    t0 = time.perf_counter()
    emb.embed_images(img)
    out["fmnist-mrl@v1"] = {"items": len(img), "items_per_s": len(img) / (time.perf_counter() - t0)}
    texts = list(load("wordnet").test_x[:1000])
    emb = load_embedder("wordnet-mrl")
    emb.embed_texts(texts[:8])
    t0 = time.perf_counter()
    emb.embed_texts(texts)
    out["wordnet-mrl@v1"] = {"items": len(texts), "items_per_s": len(texts) / (time.perf_counter() - t0)}
    return out


def ours(g: np.ndarray, budget: int, model: str) -> tuple[float, np.ndarray, dict]:
    from codec import api

    with tempfile.TemporaryDirectory() as tmp:
        src, dst, dec = Path(tmp) / "g.npy", Path(tmp) / "g.ncv", Path(tmp) / "d.npy"
        np.save(src, g)
        r = api.encode(src, dst, "vectors", {"bytes_per_vector": float(budget), "model": model})
        api.decode(dst, dec)
        return dst.stat().st_size / len(g), np.load(dec), {"kept_dims": int(r.metrics["kept_dims"])}


def scalar_int8(x: np.ndarray) -> np.ndarray:
    lo, hi = x.min(0), x.max(0)
    scale = np.where(hi > lo, (hi - lo) / 255, 1)
    return (np.rint((x - lo) / scale) * scale + lo).astype(np.float32)


def pq(x: np.ndarray, m: int, seed: int) -> np.ndarray:
    import faiss

    index = faiss.IndexPQ(x.shape[1], m, 8, faiss.METRIC_INNER_PRODUCT)
    index.pq.cp.seed = seed
    index.pq.cp.min_points_per_centroid = 1
    index.train(x)
    return index.sa_decode(index.sa_encode(x))


def rabitq_size(d: int, bits: int) -> int:
    import faiss

    return int(faiss.IndexRaBitQ(d, faiss.METRIC_INNER_PRODUCT, bits).code_size)


def rabitq_recall(x: np.ndarray, q: np.ndarray, truth: np.ndarray, bits: int, seed: int) -> tuple[float, int]:
    import faiss

    rng = np.random.default_rng(seed)  # RaBitQ has no built-in rotation: a random one per seed
    rot = np.linalg.qr(rng.normal(size=(x.shape[1], x.shape[1])))[0].astype(np.float32)
    index = faiss.IndexRaBitQ(x.shape[1], faiss.METRIC_INNER_PRODUCT, bits)
    index.qb = 0  # float queries, like every other method here
    xr = np.ascontiguousarray(x @ rot)
    index.train(xr)
    index.add(xr)
    _, found = index.search(np.ascontiguousarray(prefix(q, x.shape[1]) @ rot), 10)
    r = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found, strict=True)]))
    return r, int(index.code_size)


def baselines(g: np.ndarray, q: np.ndarray, truth: np.ndarray, budget: int) -> dict:
    n = len(g)
    out: dict = {}
    best = None
    for d in DIMS:  # float16: 2 bytes a dim
        if 2 * d <= budget:
            r = recall(q, truth, prefix(g, d).astype(np.float16).astype(np.float32))
            best = max(best or (0, 0), (r, d))
    out["float16"] = {"recall": best[0], "dims": best[1], "bytes_per_vector": 2 * best[1]} if best else None
    best = None
    for d in DIMS:  # int8 per-dim scale: a byte a dim + 8 bytes a dim of scales over the gallery
        if d + 8 * d / n <= budget:
            best = max(best or (0, 0), (recall(q, truth, scalar_int8(prefix(g, d))), d))
    out["int8"] = (
        {"recall": best[0], "dims": best[1], "bytes_per_vector": best[1] + 8 * best[1] / n} if best else None
    )
    best = None
    for d in DIMS:  # binary: a bit a dim
        dd = min(d, g.shape[1])
        if dd / 8 <= budget and d == dd:
            best = max(best or (0, 0), (recall(q, truth, np.sign(prefix(g, dd))), dd))
    out["binary"] = {"recall": best[0], "dims": best[1], "bytes_per_vector": best[1] / 8} if best else None
    # PQ: M bytes a vector (8-bit codes) + 256 centroids x d floats over the gallery; per dim, the
    # most subquantizers that fit (more bytes never hurt), then the best dim
    configs = []
    for d in QUANT_DIMS:
        fits = [m for m in range(1, 65) if d % m == 0 and m + 1024 * d / n <= budget]
        if fits:
            configs.append((d, max(fits)))
    best_cfg, best_r = None, -1.0
    for d, m in configs:
        r = recall(q, truth, pq(prefix(g, d), m, 0))
        if r > best_r:
            best_cfg, best_r = (d, m), r
    if best_cfg:
        d, m = best_cfg
        rs = [best_r] + [recall(q, truth, pq(prefix(g, d), m, s)) for s in SEEDS[1:]]
        out["pq"] = {"recall": statistics.mean(rs), "spread": max(rs) - min(rs), "dims": d, "m": m,
                     "bytes_per_vector": m + 1024 * d / n, "seeds": rs}  # fmt: skip
    # RaBitQ: code_size bytes a vector (bits + per-vector factors) + the centre (d floats) over the
    # gallery; per dim, the most bits that fit, then the best dim
    best_cfg, best_r = None, -1.0
    for d in QUANT_DIMS:
        fits = [b for b in range(1, 9) if rabitq_size(d, b) + 4 * d / n <= budget]
        if fits:
            r, size = rabitq_recall(prefix(g, d), q, truth, max(fits), 0)
            if r > best_r:
                best_cfg, best_r = (d, max(fits), size), r
    if best_cfg:
        d, bits, size = best_cfg
        rs = [best_r] + [rabitq_recall(prefix(g, d), q, truth, bits, s)[0] for s in SEEDS[1:]]
        out["rabitq"] = {"recall": statistics.mean(rs), "spread": max(rs) - min(rs), "dims": d, "bits": bits,
                         "bytes_per_vector": size + 4 * d / n, "seeds": rs}  # fmt: skip
    return out


def plot(results: dict) -> None:
    """recall@10 against bytes per vector, a panel per dataset (also from a partial JSON: --plot)."""
    fig, axes = new_figure(1, len(results), (6 * len(results), 4.5))
    axes = np.atleast_1d(axes)
    for ax, (dataset, res) in zip(axes, results.items(), strict=True):
        for key in ("ours", "float16", "int8", "binary", "pq", "rabitq"):
            pts = [(r[key]["bytes_per_vector"], r[key]["recall"]) for r in res["rows"] if r.get(key)]
            pts = sorted(set(pts))
            if pts:
                ax.plot(
                    *zip(*pts, strict=True),
                    marker="o",
                    label=key if key != "ours" else "vectors codec (ours)",
                )
        title = f"{dataset}: {res['gallery']} x {res['dim']}-d ({res['model']})"
        label_axes(ax, "bytes per vector (codebooks amortised)", "recall@10 vs exact float32", title)
    save_figure(fig, RESULTS / "vector_codec.png")
    print(f"wrote {RESULTS / 'vector_codec.png'}")


def earlier_rows(n_queries: int) -> dict[tuple[str, int, int], dict]:
    """Rows the last (possibly cut-short) run wrote, by (dataset, gallery size, budget): a run
    resumes where the last stopped. Each row keeps the git SHA of the part that measured it."""
    if not OUT.exists():
        return {}
    doc = json.loads(OUT.read_text())
    sha = doc.get("provenance", {}).get("git", {}).get("sha", "unknown")
    rows = {}
    for dataset, res in doc.get("results", {}).items():
        if res.get("queries") == n_queries:
            for r in res["rows"]:
                rows[dataset, res["gallery"], r["budget"]] = {**r, "part_sha": r.get("part_sha", sha)}
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="fashion-mnist,wordnet")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--budgets", default=",".join(map(str, BUDGETS)))
    ap.add_argument("--plot", action="store_true", help="only redraw the PNG from the JSON")
    args = ap.parse_args()
    if args.plot:
        plot(json.loads(OUT.read_text())["results"])
        return
    budgets = [int(b) for b in args.budgets.split(",")]
    prov = provenance(["codec/vectors", "codec/entropy", "bench/vector_codec.py"])
    results = {}
    done = earlier_rows(args.queries)
    for dataset in args.data.split(","):
        t0 = time.perf_counter()
        g, q, model = embeddings(dataset, args.queries)
        truth = exact_top10(q, g)
        rows = []
        for b in budgets:
            if (dataset, len(g), b) in done:  # measured by an earlier part of this benchmark
                rows.append(done[dataset, len(g), b])
                print(f"{dataset} {b:>3} B: from the part run at {rows[-1]['part_sha'][:10]}")
                continue
            rate, dec, info = ours(g, b, model)
            row = {"budget": b, "ours": {"recall": recall(q, truth, dec), "bytes_per_vector": rate, **info}}
            row.update(baselines(g, q, truth, b))
            rivals = [(k, v) for k, v in row.items() if k not in ("budget", "ours") and v]
            name, top = max(rivals, key=lambda kv: kv[1]["recall"])
            spread = top.get("spread", 0.0)
            row["best_baseline"] = name
            row["target_met"] = row["ours"]["recall"] >= top["recall"]
            row["margin"] = row["ours"]["recall"] - top["recall"]
            row["margin_beyond_spread"] = abs(row["margin"]) > spread
            row["part_sha"] = prov["git"]["sha"]
            rows.append(row)
            shown = "  ".join(f"{k} {v['recall']:.3f}" for k, v in rivals)
            o = row["ours"]
            seconds = time.perf_counter() - t0
            results[dataset] = {"model": model, "gallery": len(g), "queries": len(q), "dim": g.shape[1],
                                "rows": rows, "seconds": seconds, "partial": True}  # fmt: skip
            partial = {"benchmark": "vector_codec", "budgets": budgets, "results": results, "finished": False}
            write_result(OUT, partial, prov)  # after every budget: a run cut short keeps what it measured
            print(f"{dataset} {b:>3} B: ours {o['recall']:.3f} ({rate:.2f} B, {o['kept_dims']} dims) {shown}")
        results[dataset] = {
            "model": model,
            "gallery": len(g),
            "queries": len(q),
            "dim": g.shape[1],
            "rows": rows,
            "seconds": time.perf_counter() - t0,
        }
    speed = throughput()
    print("embedding throughput (CPU):", speed)
    complete = budgets == BUDGETS and set(results) == {"fashion-mnist", "wordnet"}
    doc = {"benchmark": "vector_codec", "budgets": budgets, "results": results, "embed_throughput": speed,
           "finished": complete}  # fmt: skip  # a run over fewer budgets or datasets is a part
    write_result(OUT, doc, prov)
    plot(results)


if __name__ == "__main__":
    main()
