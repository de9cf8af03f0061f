"""Disentanglement of QLAE against an AE, a beta-VAE and a VQ-VAE: InfoMEC, DCI, reconstruction.

    .venv/bin/python -m bench.latents_infomec [--seeds 0,1,2] [--part-seconds 3000] [--data shapes3d,dsprites]

Every model is `codec train latents` with the same architecture, optimizer (AdamW lr 1e-3, weight
decay 0.1 on weights, clip 1), batch (64), steps (the default budget, about 5 minutes each on the
2-core CPU) and seeds; only the latent differs (codec/latents/model.py). Each is scored on the same
10,000 held-out images (codec/latents/metrics.py: InfoM, InfoE, InfoC with inactive latents pruned,
DCI, reconstruction MSE). Per dataset and model: mean and spread (max - min) over seeds.

Targets (issue #11), on both datasets, judged on the mean: QLAE's InfoM and InfoC each at least
0.15 above the best baseline's, the margin beyond the spread of both; QLAE's InfoE >= 0.9.

Also, for QLAE, the rate measured on real files: the codes section's bits per image for 1,000
held-out images coded with the model's per-dim tables, and the whole file's bytes for one image and
for 1,000 (header and model reference included). And one traversal PNG per dataset and model
(seed 0): rows are latent dims, columns ten values of that dim (QLAE: its codebook; AE and VAE: the
2nd..98th percentile of the held-out latents; VQ-VAE: the ten codebook entries that slot uses most),
all from the same held-out image.

Runs in parts: each finished training is saved in the JSON, and a rerun continues with the next
(`--part-seconds` stops starting new trainings after that long). An interrupted training resumes
from its checkpoint under out/bench/latents.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from bench.common import RESULTS, ROOT, provenance, write_result

OUT = RESULTS / "latents_infomec.json"
PNG_DIR = RESULTS / "latents_traversals"
WORK = ROOT / "out" / "bench" / "latents"
MODELS = ("qlae", "ae", "vae", "vqvae")
METRICS = ("infom", "infoe", "infoc", "dci_d", "dci_c", "dci_i", "recon_mse", "active_latents")
TARGET_MARGIN, TARGET_INFOE = 0.15, 0.9


def load_json(path: Path) -> dict:
    import json

    return json.loads(path.read_text()) if path.exists() else {}


def traversal_png(model, data_name: str, images: np.ndarray, latents: np.ndarray, path: Path) -> None:
    """Rows: each latent dim; columns: ten values of it, the rest of the held-out image's latent kept."""
    import torch
    from PIL import Image

    from codec.latents.images import grid
    from codec.latents.model import to_images, to_tensor

    x = to_tensor(images[:1], torch.device("cpu"))
    rows = []
    with torch.no_grad():
        h = model.encoder(x)
        n = model.n
        for j in range(n):
            if model.kind == "qlae":
                base = model.quantizer.lookup(model.quantizer.indices(h))
                z = base.repeat(model.quantizer.values.shape[1], 1)
                z[:, j] = model.quantizer.values[j]
            elif model.kind == "vqvae":
                v = model.quantizer(h)[0].view(1, n, -1)
                used = np.bincount(latents[:, j], minlength=model.quantizer.codebook.shape[0])
                top = np.argsort(-used)[:10]
                z = v.repeat(len(top), 1, 1)
                z[:, j] = model.quantizer.codebook[torch.from_numpy(top)]
                z = z.flatten(1)
            else:
                base = h[:, :n]
                lo, hi = np.percentile(latents[:, j], [2, 98])
                z = base.repeat(10, 1)
                z[:, j] = torch.linspace(float(lo), float(hi), 10)
            rows.append(to_images(torch.sigmoid(model.decoder(z))))
    cols = max(len(r) for r in rows)
    tiles = np.concatenate([np.pad(r, ((0, cols - len(r)), (0, 0), (0, 0), (0, 0))) for r in rows])
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid(tiles, n, cols)).save(path)


def file_rates(model, data) -> dict:
    """Bits of codes per image and whole-file bytes, from files written with the codec."""
    import torch

    from codec import container
    from codec.container import ModelRef
    from codec.entropy import CdfTables
    from codec.latents.bitstream import build
    from codec.latents.train import code_counts, eval_set

    images, _ = eval_set(data, 1000)
    with torch.no_grad():
        codes = model.encode(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255).numpy()
    tables = CdfTables.from_counts(
        list(code_counts(codes, model.arch["levels"]).astype(np.int64)), [0] * model.n
    )
    ref = ModelRef("bench-model", "v1", bytes(32), "model")  # as long as a real model's reference
    args = (ref, tables, model.arch["levels"], 64, model.arch["channels"])
    many = build(codes, *args)
    one = build(codes[:1], *args)
    return {
        "payload_bits_per_image": 8 * len(many.section("codes")) / len(codes),
        "file_bytes_1000_images": len(container.write(many)),
        "file_bytes_1_image": len(container.write(one)),
        "bytes_per_image_1000": len(container.write(many)) / len(codes),
        "note": "tables from the same 1000 images' code counts (+1 each); the shipped models' from 10,000",
    }


def run_one(data_name: str, latent: str, seed: int, steps: int, threads: int) -> dict:
    import torch

    from codec.latents.data import load
    from codec.latents.options import TrainLatentsOptions
    from codec.latents.train import eval_set, evaluate, train_latents

    torch.set_num_threads(threads)
    data = load(data_name)
    opts = TrainLatentsOptions(data=data_name, latent=latent, seed=seed, steps=steps, device="cpu")
    work = WORK / f"{data_name}-{latent}-s{seed}"
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    r = train_latents(data, opts, work_dir=work, resume=True)
    out = {"metrics": r.metrics, "train_seconds": r.seconds, "steps": r.steps, "nmi": r.nmi,
           "wall_seconds": time.time() - t0, "threads": threads}  # fmt: skip
    if latent == "qlae":
        out["rate"] = file_rates(r.model, data)
    if seed == 0:
        images, _ = eval_set(data, opts.eval_samples)
        latents, _ = evaluate(r.model, images, torch.device("cpu"))
        png = PNG_DIR / f"{data_name}-{latent}.png"
        traversal_png(r.model, data_name, images, latents, png)
        out["traversal_png"] = str(png.relative_to(ROOT))
    return out


def stat(vals: list[float]) -> dict:
    mean, lo, hi = statistics.mean(vals), min(vals), max(vals)
    return {"mean": mean, "spread": hi - lo, "min": lo, "max": hi, "n": len(vals)}


def summarize(runs: dict, datasets: list[str], seeds: list[int]) -> dict:
    table: dict = {}
    verdicts: dict = {}
    for d in datasets:
        table[d] = {}
        for m in MODELS:
            done = [runs[k] for k in (f"{d}/{m}/{s}" for s in seeds) if k in runs]
            if done:
                table[d][m] = {k: stat([r["metrics"][k] for r in done]) for k in METRICS}
                if m == "qlae":
                    table[d][m]["payload_bits_per_image"] = stat(
                        [r["rate"]["payload_bits_per_image"] for r in done]
                    )
                    table[d][m]["file_bytes_1_image"] = done[0]["rate"]["file_bytes_1_image"]
                    table[d][m]["bytes_per_image_1000"] = stat(
                        [r["rate"]["bytes_per_image_1000"] for r in done]
                    )
        t = table[d]
        if not all(m in t and t[m]["infom"]["n"] == len(seeds) for m in MODELS):
            verdicts[d] = "incomplete"
            continue
        v: dict = {}
        for k in ("infom", "infoc"):
            best = max(MODELS[1:], key=lambda m: t[m][k]["mean"])
            margin = t["qlae"][k]["mean"] - t[best][k]["mean"]
            spread = max(t["qlae"][k]["spread"], t[best][k]["spread"])
            v[k] = {"qlae": t["qlae"][k]["mean"], "best_baseline": best, "baseline": t[best][k]["mean"],
                    "margin": margin, "spread": spread,
                    "met": bool(margin >= TARGET_MARGIN and margin > spread)}  # fmt: skip
        v["infoe"] = {"qlae": t["qlae"]["infoe"]["mean"], "target": TARGET_INFOE,
                      "met": bool(t["qlae"]["infoe"]["mean"] >= TARGET_INFOE)}  # fmt: skip
        verdicts[d] = v
    return {"table": table, "verdicts": verdicts}


def markdown(doc: dict) -> str:
    """docs/RESULTS.md's tables from the saved JSON: mean (spread) per dataset and model."""
    cols = ("infom", "infoe", "infoc", "dci_d", "dci_c", "dci_i", "recon_mse")
    out = []
    for d, rows in doc["table"].items():
        out += [f"{d}:", "", "| model | seeds | InfoM | InfoE | InfoC | DCI D | DCI C | DCI I | recon MSE |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
        for m, t in rows.items():
            cells = [
                f"{t[k]['mean']:.{4 if k == 'recon_mse' else 3}f}"
                + (f" ({t[k]['spread']:.3f})" if t[k]["n"] > 1 and k != "recon_mse" else "")
                for k in cols
            ]
            out.append(f"| {m} | {t['infom']['n']} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    from codec.latents.options import DEFAULT_STEPS

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--data", default="shapes3d,dsprites")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    ap.add_argument(
        "--part-seconds", type=float, default=0.0, help="start no new training after this long (0: run all)"
    )
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (1: share the cores)")
    ap.add_argument("--fresh", action="store_true", help="forget the saved runs")
    ap.add_argument("--markdown", action="store_true", help="print the saved tables as markdown, run nothing")
    a = ap.parse_args()
    if a.markdown:
        return print(markdown(load_json(OUT)))
    seeds = [int(s) for s in a.seeds.split(",")]
    datasets = a.data.split(",")
    prev = {} if a.fresh else load_json(OUT)
    runs: dict = prev.get("runs", {})
    part = provenance(["codec/latents", "bench/latents_infomec.py"])
    prov = prev.get("provenance") or part
    t0 = time.time()
    order = [
        (s, d, m) for s in seeds for d in datasets for m in a.models.split(",")
    ]  # seed-major: means early
    for s, d, m in order:
        key = f"{d}/{m}/{s}"
        if key in runs:
            continue
        if a.part_seconds and time.time() - t0 > a.part_seconds:
            print(f"part done after {time.time() - t0:.0f} s; rerun to continue", flush=True)
            break
        print(f"training {key} ({a.steps} steps)", flush=True)
        runs[key] = run_one(d, m, s, a.steps, a.threads) | {"git": part["git"], "date_utc": part["date_utc"]}
        print(f"  {key}: " + ", ".join(f"{k} {runs[key]['metrics'][k]:.3f}" for k in METRICS), flush=True)
        write_result(
            OUT, {"steps": a.steps, "seeds": seeds, "runs": runs, **summarize(runs, datasets, seeds)}, prov
        )
    write_result(
        OUT, {"steps": a.steps, "seeds": seeds, "runs": runs, **summarize(runs, datasets, seeds)}, prov
    )
    print(OUT)


if __name__ == "__main__":
    main()
