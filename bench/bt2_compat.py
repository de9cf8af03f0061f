"""Backward compatibility after a model upgrade: BT² against BCT and independent training.

    .venv/bin/python -m bench.bt2_compat [--seeds 0,1,2] [--part-seconds 1500] [--fresh] [--plot]

The paper's protocol (BT², ICCV 2023, on CIFAR-100 and ImageNet), on Fashion-MNIST: the old model
v1 is trained on half the classes (0-4) with a smaller CNN; every new model on all ten classes
with a larger one. Per seed, five trainings with the same optimizer, schedule, steps and data
(`codec.embed.train`, so exactly what `codec train embedder` does):

- v1: MRL, CNN width 8, 128 dims, classes 0-4 only;
- independent: MRL, CNN width 12, 128 dims, no compatibility; it is also BT²'s reference model
  (the independently trained new model its features are kept close to);
- BCT: the same network trained with the influence loss at every nesting dim of v1;
- BT²: the same network with 32 extra dims and the basis transformation;
- bt2-last (after the others, for every seed): BT² with the compatibility losses at the full 128
  dims only, as in the paper, to measure what training them at every nesting dim costs and buys.

Evaluation on the Fashion-MNIST test split, queries and gallery both drawn from it: every fifth
test item is a query (2,000), the rest the gallery (8,000). CMC top-1 and mAP (full ranking, the
same class relevant, cosine) for old/old (v1 queries, v1 gallery), new/old (new queries' compatible
part against the v1 gallery: what an upgraded index answers with no backfill) and new/new (new
queries, new gallery, the new model's full vectors), per nesting dim for new/old; and for BT² the
half-backfilled gallery (a random half re-embedded with v2, ranked in the compatible space) against
the fully backfilled one (all v2, its full space): recall@10 and mAP.

Targets (issue #9): BT² new/old >= old/old + 3 pt; BT² new/new >= independent new/new - 1 pt; BT²
ahead of BCT on new/old and new/new beyond the spread across seeds. Runs in parts: every finished
training and its evaluation are saved in the JSON, and a rerun continues with the next.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from bench.common import RESULTS, ROOT, label_axes, new_figure, provenance, save_figure, write_result

OUT = RESULTS / "bt2_compat.json"
WORK = ROOT / "out" / "bench" / "bt2_compat"
OLD_CLASSES = 5
DIM, EXTRA = 128, 32
NESTING = [8, 16, 32, 64, 128]
COMMON = dict(epochs=3, batch_size=256, lr=3e-3, device="cpu", dim=DIM)
OLD = dict(width=8, limit=0)  # the 30k-item half of the classes
NEW = dict(width=12, limit=30000)
METHODS = ("independent", "bct", "bt2", "bt2-last")  # bt2-last: compatibility at the full 128 only


def datasets():
    from codec.embed.data import Dataset, load

    ds = load("fashion-mnist")
    half = ds.train_y < OLD_CLASSES
    old = Dataset(ds.name, ds.kind, ds.train_x[half], ds.train_y[half], ds.test_x, ds.test_y, ds.classes)
    old = old.limit(15000)  # v1 also sees less data: 15k items of its five classes
    return old, ds


def train(name: str, seed: int, store, **kw):
    from codec.embed.options import TrainEmbedderOptions
    from codec.embed.train import train_embedder

    old_ds, new_ds = datasets()
    work = WORK / "work" / f"{name}-{seed}"
    work.mkdir(parents=True, exist_ok=True)
    opts = TrainEmbedderOptions(data="fashion-mnist", name=f"{name}-s{seed}", seed=seed, **COMMON, **kw)
    r = train_embedder(old_ds if name == "v1" else new_ds, opts, work_dir=work, resume=True, store=store)
    return r


def stored(store, spec: str) -> bool:
    from codec.errors import CodecError

    try:
        store.get(spec)
        return True
    except CodecError:
        return False


def embed(spec: str, store, x: np.ndarray) -> np.ndarray:
    from codec.embed.embedder import load_embedder

    return load_embedder(spec, store).embed_images(x)  # full vectors, unit norm


def _unit(z: np.ndarray, m: int) -> np.ndarray:
    p = z[:, :m].astype(np.float32)
    return p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)


def retrieval(q: np.ndarray, g: np.ndarray, qy: np.ndarray, gy: np.ndarray) -> dict[str, float]:
    """CMC top-1 and mAP over the full ranking (cosine; rows already unit)."""
    top1, aps = [], []
    for i in range(0, len(q), 250):
        s = q[i : i + 250] @ g.T
        order = np.argsort(-s, axis=1, kind="stable")
        rel = gy[order] == qy[i : i + 250, None]
        top1.append(rel[:, 0])
        hits = np.cumsum(rel, axis=1)
        prec = hits / np.arange(1, rel.shape[1] + 1)
        aps.append((prec * rel).sum(1) / np.maximum(rel.sum(1), 1))
    return {"top1": float(np.concatenate(top1).mean()), "mAP": float(np.concatenate(aps).mean())}


def top10(q: np.ndarray, g: np.ndarray) -> np.ndarray:
    return np.argsort(-(q @ g.T), axis=1, kind="stable")[:, :10]


def evaluate(method: str, seed: int, store) -> dict:
    from codec.embed.data import load

    ds = load("fashion-mnist")
    x, y = np.asarray(ds.test_x), np.asarray(ds.test_y)
    qi = np.arange(len(y)) % 5 == 0
    old = embed(f"v1-s{seed}", store, x)
    new = embed(f"{method}-s{seed}", store, x)
    qy, gy = y[qi], y[~qi]
    out: dict = {"old_old": retrieval(_unit(old[qi], DIM), _unit(old[~qi], DIM), qy, gy)}
    out["new_new"] = retrieval(_unit(new[qi], new.shape[1]), _unit(new[~qi], new.shape[1]), qy, gy)
    out["new_old_per_dim"] = {
        str(m): retrieval(_unit(new[qi], m), _unit(old[~qi], m), qy, gy) for m in NESTING
    }
    out["new_old"] = out["new_old_per_dim"][str(DIM)]
    out["new_dim"] = int(new.shape[1])
    if method != "independent":  # half the gallery re-embedded with the new model
        rng = np.random.default_rng(seed)
        half = rng.random((~qi).sum()) < 0.5
        mixed = np.where(half[:, None], new[~qi][:, :DIM], old[~qi])
        q_c = _unit(new[qi], DIM)
        got = top10(q_c, _unit(mixed, DIM))
        want = top10(_unit(new[qi], new.shape[1]), _unit(new[~qi], new.shape[1]))
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, want, strict=True)])
        out["half_backfill"] = {
            "recall@10_vs_full_backfill": float(recall),
            **retrieval(q_c, _unit(mixed, DIM), qy, gy),
        }
    return out


def summarize(runs: dict, seeds: list[int]) -> dict:
    def stat(method: str, *path: str) -> dict | None:
        vals = []
        for s in seeds:
            r = runs.get(f"{method}/{s}", {}).get("eval")
            for p in path:
                r = r.get(p) if isinstance(r, dict) else None
            if r is not None:
                vals.append(r)
        if not vals:
            return None
        return {"mean": statistics.mean(vals), "spread": max(vals) - min(vals), "n": len(vals)}

    table: dict = {}
    for metric in ("top1", "mAP"):
        table[metric] = {
            "old_old": stat("bt2", "old_old", metric),
            **{f"{m}_new_old": stat(m, "new_old", metric) for m in METHODS},
            **{f"{m}_new_new": stat(m, "new_new", metric) for m in METHODS},
            "per_dim_new_old": {
                m: {str(d): stat(m, "new_old_per_dim", str(d), metric) for d in NESTING} for m in METHODS
            },
            "half_backfill": {m: stat(m, "half_backfill", metric) for m in ("bct", "bt2")},
        }
    table["half_backfill_recall@10"] = {
        m: stat(m, "half_backfill", "recall@10_vs_full_backfill") for m in ("bct", "bt2")
    }
    # what compatibility at every nesting dim costs (new/new, new/old at 128) and buys (short prefixes)
    nesting: dict = {}
    for metric in ("top1", "mAP"):
        t = table[metric]
        row = {}
        for label, a, b in (
            ("new_new", t["bt2_new_new"], t["bt2-last_new_new"]),
            ("new_old@128", t["bt2_new_old"], t["bt2-last_new_old"]),
            *((f"new_old@{d}", t["per_dim_new_old"]["bt2"][str(d)], t["per_dim_new_old"]["bt2-last"][str(d)])
              for d in NESTING[:-1]),
        ):  # fmt: skip
            if a and b:
                row[label] = {"every_dim_minus_last_only": a["mean"] - b["mean"],
                              "spread": max(a["spread"], b["spread"])}  # fmt: skip
        nesting[metric] = row
    table["nesting_compat_effect"] = nesting
    verdicts: dict = {}
    for metric in ("top1", "mAP"):
        t = table[metric]
        oo, b_no, b_nn = t["old_old"], t["bt2_new_old"], t["bt2_new_new"]
        c_no, c_nn, i_nn = t["bct_new_old"], t["bct_new_new"], t["independent_new_new"]
        if None in (oo, b_no, b_nn, c_no, c_nn, i_nn):
            verdicts[metric] = "incomplete"
            continue

        def ahead(a: dict, b: dict) -> bool:
            return a["mean"] - b["mean"] > max(a["spread"], b["spread"])

        verdicts[metric] = {
            "bt2_new_old>=old_old+3pt": b_no["mean"] >= oo["mean"] + 0.03,
            "bt2_new_new>=independent-1pt": b_nn["mean"] >= i_nn["mean"] - 0.01,
            "bt2_ahead_of_bct_new_old": ahead(b_no, c_no),
            "bt2_ahead_of_bct_new_new": ahead(b_nn, c_nn),
        }
    return {"table": table, "targets": verdicts}


def plot(summary: dict) -> None:
    fig, axes = new_figure(1, 2, (11, 4.2))
    for ax, metric in zip(axes, ("top1", "mAP"), strict=True):
        t = summary["table"][metric]
        for m, label in (("independent", "independent"), ("bct", "BCT"), ("bt2", "BT²"),
                         ("bt2-last", "BT², compatible at 128 only")):  # fmt: skip
            rows = t["per_dim_new_old"][m]
            xs = [d for d in NESTING if rows[str(d)]]
            ax.errorbar(xs, [100 * rows[str(d)]["mean"] for d in xs],
                        yerr=[50 * rows[str(d)]["spread"] for d in xs], marker="o", capsize=3,
                        label=f"{label} new/old")  # fmt: skip
        if t["old_old"]:
            ax.axhline(100 * t["old_old"]["mean"], color="gray", ls="--", label="old/old (v1 at 128)")
        ax.set_xscale("log", base=2)
        label_axes(ax, "prefix dim", f"{metric} (%)", "Fashion-MNIST: v2 queries, v1 gallery")
    save_figure(fig, RESULTS / "bt2_compat.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--part-seconds", type=float, default=1500.0)
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--plot", action="store_true", help="only redraw the plot from the JSON")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    doc = {} if args.fresh or not OUT.exists() else json.loads(OUT.read_text())
    runs = doc.get("runs", {})
    if args.plot:
        plot(summarize(runs, seeds))
        return
    import torch

    from codec.models import ModelStore

    torch.set_num_threads(2)
    store = ModelStore(WORK / "store")
    t0 = time.monotonic()
    plan = []
    for s in seeds:
        plan += [("v1", s, OLD), ("independent", s, NEW)]
        plan += [("bct", s, {**NEW, "compatible_with": f"v1-s{s}@v1", "method": "bct"})]
        plan += [("bt2", s, {**NEW, "compatible_with": f"v1-s{s}@v1", "method": "bt2",
                            "extra_dims": EXTRA, "reference": f"independent-s{s}@v1"})]  # fmt: skip
    for s in seeds:
        bt2 = {**NEW, "compatible_with": f"v1-s{s}@v1", "method": "bt2", "extra_dims": EXTRA,
               "reference": f"independent-s{s}@v1"}  # fmt: skip
        plan += [("bt2-last", s, {**bt2, "compat_dims": str(DIM)})]
    for name, s, kw in plan:
        key = f"{name}/{s}"
        if key in runs:
            continue
        if time.monotonic() - t0 > args.part_seconds:
            print(f"part done after {time.monotonic() - t0:.0f} s; rerun to continue", flush=True)
            break
        t = time.monotonic()
        if not stored(store, f"{name}-s{s}"):
            r = train(name, s, store, **kw)
            seconds = r.seconds
        else:  # trained in an earlier part that stopped before its evaluation was saved
            seconds = store.get(f"{name}-s{s}").manifest.training.get("seconds", 0.0)
        row: dict = {"train_seconds": seconds}
        if name != "v1":
            row["eval"] = evaluate(name, s, store)
        runs[key] = row
        print(f"{key}: {time.monotonic() - t:.0f} s {json.dumps(row.get('eval', {}).get('new_old', {}))}",
              flush=True)  # fmt: skip
        write_result(OUT, {"settings": settings(), "runs": runs, "summary": summarize(runs, seeds)},
                     provenance(["bench/bt2_compat.py", "codec/embed"]))  # fmt: skip
    summary = summarize(runs, seeds)
    write_result(OUT, {"settings": settings(), "runs": runs, "summary": summary},
                 provenance(["bench/bt2_compat.py", "codec/embed"]))  # fmt: skip
    plot(summary)
    print(json.dumps(summary["targets"], indent=1))


def settings() -> dict:
    return {
        "data": "Fashion-MNIST (Debian dataset-fashion-mnist); v1 on classes 0-4 (15k-item subset),"
        " new models on all 10 (a fixed 30k-item subset); evaluation on the 10k test split,"
        " every 5th item a query (2,000), the rest the gallery (8,000)",
        "common": COMMON, "v1": OLD, "new": NEW, "bt2_extra_dims": EXTRA, "nesting": NESTING,
        "bt2_reference": "the same seed's independent model",
        "bt2-last": "BT² with --compat-dims 128 (compatibility at the full size only)",
        "machine_note": "2-core CPU VM, torch threads 2",
    }  # fmt: skip


if __name__ == "__main__":
    main()
