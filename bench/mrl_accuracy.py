"""Accuracy per dim: MRL and MRL-E against fixed-feature models trained separately at each dim.

    .venv/bin/python -m bench.mrl_accuracy [--data fashion-mnist,wordnet] [--seeds 0,1,2]
                                           [--part-seconds 1200] [--fresh]

For each dataset, seed and variant (mrl: a head per nesting dim; mrl-e: one shared head; fixed-d:
a model whose embedding is d-dim, trained alone) one training with the same architecture,
optimizer, schedule, steps and data (`codec.embed.train`), then on the test split: 1-NN top-1
(cosine on the renormalised prefix; gallery = the training items) and the linear classifier's
top-1 at each dim. Runs in parts: every finished training is saved, a rerun continues with the
next. Writes bench/results/mrl_accuracy.json (+ mrl_accuracy_<data>.png).

Settings per dataset are sized to ~1-2 minutes a training on 2 CPU cores (table in SETTINGS):
Fashion-MNIST on a fixed 30k-item subset, 3 epochs, CNN width 8; WordNet on a fixed 30k-synset
subset (the frozen MiniLM features are computed once and cached), 12 epochs.
Targets (issue #8): MRL >= fixed - 0.5 pt at every dim, and ahead at dims <= 16, where a margin
counts only beyond the spread across seeds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from bench.common import RESULTS, ROOT, label_axes, new_figure, provenance, save_figure, write_result

DIMS = [8, 16, 32, 64, 128, 256]
SETTINGS = {
    "fashion-mnist": dict(limit=30000, epochs=3, width=8, batch_size=256, lr=3e-3),
    "wordnet": dict(limit=30000, epochs=12, batch_size=256, lr=3e-3),
}
OUT = RESULTS / "mrl_accuracy.json"
WORK = ROOT / "out" / "bench" / "mrl_accuracy"


def variants() -> list[tuple[str, dict]]:
    out = [
        ("mrl", dict(dim=256, dims="", efficient=False)),
        ("mrl-e", dict(dim=256, dims="", efficient=True)),
    ]
    return out + [(f"fixed-{d}", dict(dim=d, dims=str(d), efficient=False)) for d in DIMS]


def run_one(dataset: str, variant: dict, seed: int) -> dict:
    from codec.embed.data import load
    from codec.embed.options import TrainEmbedderOptions
    from codec.embed.train import train_embedder

    work = WORK / dataset
    work.mkdir(parents=True, exist_ok=True)
    opts = TrainEmbedderOptions(data=dataset, seed=seed, device="cpu", **SETTINGS[dataset], **variant)
    r = train_embedder(load(dataset), opts, work_dir=work)  # work: the cached text features
    return {
        "knn_top1": {str(k): v for k, v in r.knn_top1.items()},
        "head_top1": {str(k): v for k, v in r.head_top1.items()},
        "seconds": r.seconds,
        "train_items": r.train_items,
    }


def summarize(runs: dict, dataset: str, seeds: list[int]) -> dict:
    """Per dim: mean and spread (max - min over seeds) of each variant; the targets' verdicts."""
    rows = {}
    for d in DIMS:
        row = {}
        for name in ("mrl", "mrl-e", f"fixed-{d}"):
            for metric in ("knn_top1", "head_top1"):
                vals = [
                    runs[f"{dataset}/{name}/{s}"][metric][str(d)]
                    for s in seeds
                    if f"{dataset}/{name}/{s}" in runs
                ]
                if vals:
                    key = "fixed" if name.startswith("fixed") else name
                    row[f"{key}_{metric}"] = {
                        "mean": statistics.mean(vals),
                        "spread": max(vals) - min(vals),
                        "n": len(vals),
                    }
        rows[str(d)] = row
    verdicts = {}
    for metric in ("knn_top1", "head_top1"):
        for name in ("mrl", "mrl-e"):
            ok_all, ahead_small = True, True
            for d in DIMS:
                r = rows[str(d)]
                a, f = r.get(f"{name}_{metric}"), r.get(f"fixed_{metric}")
                if a is None or f is None:
                    ok_all = ahead_small = None
                    break
                if a["mean"] < f["mean"] - 0.005:
                    ok_all = False
                if d <= 16 and not a["mean"] - f["mean"] > max(a["spread"], f["spread"]):
                    ahead_small = False
            verdicts[f"{name}_{metric}"] = {
                "within_0.5pt_everywhere": ok_all,
                "ahead_beyond_spread_at_dims<=16": ahead_small,
            }
    return {"per_dim": rows, "targets": verdicts}


def plot(summary: dict, dataset: str) -> None:
    fig, axes = new_figure(1, 2, (11, 4.2))
    for ax, metric, title in zip(
        axes, ("knn_top1", "head_top1"), ("1-NN top-1", "linear classifier top-1"), strict=True
    ):
        for key, label in (
            ("mrl", "MRL"),
            ("mrl-e", "MRL-E"),
            ("fixed", "fixed-feature (separate model per dim)"),
        ):
            xs = [d for d in DIMS if f"{key}_{metric}" in summary["per_dim"][str(d)]]
            ys = [100 * summary["per_dim"][str(d)][f"{key}_{metric}"]["mean"] for d in xs]
            es = [50 * summary["per_dim"][str(d)][f"{key}_{metric}"]["spread"] for d in xs]
            ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=label)
        label_axes(ax, "embedding dim", "top-1 (%)", f"{dataset}: {title}")
    save_figure(fig, RESULTS / f"mrl_accuracy_{dataset}.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="wordnet,fashion-mnist")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--part-seconds", type=float, default=1200.0)
    ap.add_argument("--fresh", action="store_true")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    datasets, seeds = args.data.split(","), [int(s) for s in args.seeds.split(",")]
    doc = {} if args.fresh or not OUT.exists() else json.loads(OUT.read_text())
    runs = doc.get("runs", {})
    t0 = time.monotonic()
    for dataset in datasets:
        for seed in seeds:
            for name, variant in variants():
                key = f"{dataset}/{name}/{seed}"
                if key in runs:
                    continue
                if time.monotonic() - t0 > args.part_seconds:
                    break
                print(f"training {key} ...", flush=True)
                runs[key] = run_one(dataset, variant, seed)
                print(f"  {key}: {runs[key]['seconds']:.0f} s, 1-NN {runs[key]['knn_top1']}", flush=True)
                doc = {"benchmark": "mrl_accuracy", "settings": SETTINGS, "seeds": seeds, "runs": runs}
                write_result(OUT, doc, provenance(["codec/embed", "bench/mrl_accuracy.py"]))
    summaries = {d: summarize(runs, d, seeds) for d in datasets}
    done = all(f"{d}/{n}/{s}" in runs for d in datasets for s in seeds for n, _ in variants())
    doc = {
        "benchmark": "mrl_accuracy",
        "settings": SETTINGS,
        "seeds": seeds,
        "finished": done,
        "summary": summaries,
        "runs": runs,
    }
    write_result(OUT, doc, provenance(["codec/embed", "bench/mrl_accuracy.py"]))
    for d in datasets:
        plot(summaries[d], d)
        print(d, json.dumps(summaries[d]["targets"], indent=1))
    print(f"wrote {OUT} ({'finished' if done else 'partial: run again to continue'})")


if __name__ == "__main__":
    main()
