"""RECOMBINER on the CPU against JPEG, WebP and AVIF, with its ablations (issue #10).

    .venv/bin/python -m bench.recombiner_rd [--bpps 0.15,0.3,0.5,0.8] [--part-seconds 3000] [--steps 300]

1. Priors, one per rate point, each `codec train prior` (codec/image/recombiner/train.py) on the
   built-in training crops (never a benchmark photo), with the schedule below; stored in this
   benchmark's own model store (out/bench/recombiner/data); the command line of each is in the
   JSON (and in the prior's manifest). At the ablation rate point (`--ablation-bpp`) also the
   ablations: no linear reparameterisation, no positional latents, no hierarchy (each its own
   prior), no greedy fine-tuning (the full prior, `--finetune-steps 0` at encode time), and the
   round size of the fine-tuning (`--round-blocks 1`, fine-tuning after every block, against the
   default 8), on `--ablation-photos`.
2. The benchmark photos (scikit-image's astronaut, coffee, chelsea, motorcycle_left, rocket), their
   256x256 centre crops, encoded with each prior (the reduced schedule: `--steps` fitting steps,
   one Monte Carlo draw, 10 fine-tuning steps per round of 8 blocks) and decoded from the file; PSNR of the
   decoded PNG, bpp from the file's bytes.
3. JPEG 4:2:0, WebP and AVIF (Pillow, `codec.baselines.image`) at the bpp of each RECOMBINER file,
   in the same run; BD-rate of RECOMBINER against JPEG and WebP per photo and on the mean curve.

Targets: BD-rate <= -25% against JPEG and <= 0% against WebP. Every finished prior and encode is
saved in the JSON as it lands; a rerun continues (`--part-seconds` stops starting new work after
that long). Two parts can share the two cores: `--only rd` into the JSON and `--only ablations
--out part.json` (a copy of it) beside it, then `--merge part.json`. The schedules are stated in
the JSON; the paper's are 550 x 100 prior steps and 30,000 fitting steps, hours on this CPU per
image.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from bench.common import RESULTS, ROOT, provenance, write_result

OUT = RESULTS / "recombiner_rd.json"
PLOT = RESULTS / "recombiner_rd.png"
WORK = ROOT / "out" / "bench" / "recombiner"
PHOTOS = ("astronaut", "coffee", "chelsea", "motorcycle_left", "rocket")
BASELINES = ("jpeg420", "webp", "avif")
PRIOR_SCHEDULE = {  # about 4 minutes per prior on one core here (the paper: 550 x 100 steps)
    "crops": 8,
    "crop_size": 128,
    "iterations": 12,
    "steps": 30,
    "first_steps": 60,
    "beta_init": 1e-3,
    "beta_factor": 2.0,
}
ABLATIONS = {  # each its own prior
    "full": {},
    "no-linear-reparam": {"linear_reparam": False},
    "no-positional": {"positional": False},
    "no-hierarchy": {"hierarchical": False},
}
ENCODE_ABLATIONS = {  # the full prior, encoded otherwise
    "no-finetune": {"finetune_steps": 0},
    "round-blocks-1": {"round_blocks": 1},
}


def prior_variant(ab: str) -> str:
    """The prior an ablation encodes with: its own, or the full one for the encode-time ablations."""
    return ab if ab in ABLATIONS else "full"


def crop(name: str) -> np.ndarray:
    import skimage.data

    a = skimage.data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(skimage.data, name)()
    h, w = a.shape[:2]
    return np.ascontiguousarray(a[(h - 256) // 2 : (h + 256) // 2, (w - 256) // 2 : (w + 256) // 2, :3])


def main() -> None:

    from codec.datadir import use_data_dir
    from codec.image.recombiner.options import TrainPriorOptions
    from codec.image.recombiner.task import train_and_store
    from codec.models import ModelStore

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bpps", default="0.15,0.3,0.5,0.8")
    ap.add_argument("--ablation-bpp", type=float, default=0.3)
    ap.add_argument("--ablation-photos", default="astronaut,coffee")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (1: share the cores)")
    ap.add_argument("--part-seconds", type=float, default=0.0)
    ap.add_argument(
        "--smoke", action="store_true", help="a seconds-long run of every path (out/bench/recombiner)"
    )
    ap.add_argument("--only", choices=("rd", "ablations"), help="only the RD encodes, or only the ablations")
    ap.add_argument("--out", help="the JSON to continue (default bench/results/recombiner_rd.json)")
    ap.add_argument("--merge", metavar="JSON", help="fold another part's priors and encodes into the JSON")
    ap.add_argument("--replot", action="store_true", help="only redraw the plot from the saved JSON")
    ap.add_argument("--markdown", action="store_true", help="print the saved results as markdown tables")
    a = ap.parse_args()
    global OUT, PHOTOS, PRIOR_SCHEDULE
    if a.out:
        OUT = Path(a.out)
    if a.markdown:
        return print(markdown(json.loads(OUT.read_text())))
    if a.replot:
        return print(plot(json.loads(OUT.read_text()), PLOT))
    if a.smoke:
        OUT = WORK / "smoke.json"
        PHOTOS = ("astronaut",)
        PRIOR_SCHEDULE = {"crops": 1, "crop_size": 64, "iterations": 1, "steps": 2, "first_steps": 2,
                          "beta_init": 1e-3, "block_bits": 8}  # fmt: skip
        a.bpps, a.steps, a.ablation_bpp, a.ablation_photos = "0.5,1.0,2.0", 3, 1.0, "astronaut"
    import torch

    torch.set_num_threads(a.threads)
    bpps = [float(b) for b in a.bpps.split(",")]
    mid = a.ablation_bpp
    ablation_photos = a.ablation_photos.split(",")
    doc = json.loads(OUT.read_text()) if OUT.exists() else {}
    priors, encodes = doc.get("priors", {}), doc.get("encodes", {})
    if a.merge:  # a part run beside this one (--only, --out): same schedule, so its rows simply join
        other = json.loads(Path(a.merge).read_text())
        if (other["prior_schedule"], other["encode_steps"]) != (doc["prior_schedule"], doc["encode_steps"]):
            raise SystemExit("the part to merge ran another schedule")
        priors |= other["priors"]
        encodes |= other["encodes"]
    data = WORK / ("smoke-data" if a.smoke else "data")
    prov = doc.get("provenance") or provenance(
        ["codec/image/recombiner", "codec/rec", "bench/recombiner_rd.py"]
    )
    store = ModelStore(data)
    t0 = time.time()

    def save() -> None:
        summary = summarize(encodes, bpps, mid, ablation_photos)
        write_result(OUT, {"prior_schedule": PRIOR_SCHEDULE, "encode_steps": a.steps, "threads": a.threads,
                           "priors": priors, "encodes": encodes, **summary}, prov)  # fmt: skip

    def out_of_time() -> bool:
        return bool(a.part_seconds) and time.time() - t0 > a.part_seconds

    def ensure_prior(bpp: float, ab: str) -> str:
        """The prior's spec, trained first when this run has none yet (each saved as it lands)."""
        key = f"{ab}@{bpp:g}"
        if key not in priors:
            name = ("recombiner" if ab == "full" else f"recombiner-{ab}") + f"-{bpp:g}".replace(".", "p")
            opts = TrainPriorOptions(name=name, bpp=bpp, **PRIOR_SCHEDULE, **ABLATIONS[ab])
            command = f"codec train prior --name {name} --bpp {bpp:g} " + " ".join(
                f"--{k.replace('_', '-')} {str(v).lower() if isinstance(v, bool) else f'{v:g}'}"
                for k, v in (PRIOR_SCHEDULE | ABLATIONS[ab]).items()
            )
            print(f"training prior {key}: {command}", flush=True)
            spec, r = train_and_store(opts, store, lambda e: None, None, command)
            priors[key] = {"spec": spec, "command": command, "psnr": r.psnr,
                           "kl_bits_per_patch": r.kl_bits_per_patch, "seconds": r.seconds}  # fmt: skip
            save()
        return priors[key]["spec"]

    from codec import api

    runs = [] if a.only == "ablations" else [(p, b, "full") for p in PHOTOS for b in bpps]
    if a.only != "rd":
        variants = [ab for ab in (*ABLATIONS, *ENCODE_ABLATIONS) if ab != "full"]
        runs += [(p, mid, ab) for p in ablation_photos for ab in variants]
        if mid not in bpps:
            runs += [(p, mid, "full") for p in ablation_photos]
    for photo, bpp, ab in runs:
        key = f"{photo}/{ab}@{bpp:g}"
        if key in encodes:
            continue
        if out_of_time():
            return save()
        prior = ensure_prior(bpp, prior_variant(ab))
        rgb = crop(photo)
        src = WORK / f"{photo}.png"
        from PIL import Image

        Image.fromarray(rgb).save(src)
        opts = {"prior": prior, "steps": a.steps, "samples": 1, "finetune_steps": 10, "round_blocks": 8}
        opts |= ENCODE_ABLATIONS.get(ab, {})
        with use_data_dir(data):
            t = time.perf_counter()
            rep = api.encode(src, WORK / f"{photo}-{ab}-{bpp:g}.rcb", "recombiner", opts)
            enc_s = time.perf_counter() - t
            t = time.perf_counter()
            api.decode(api.open(WORK / f"{photo}-{ab}-{bpp:g}.rcb"), WORK / f"{photo}-{ab}-{bpp:g}.png")
            dec_s = time.perf_counter() - t
        from codec.metrics import psnr

        got = np.asarray(Image.open(WORK / f"{photo}-{ab}-{bpp:g}.png"))
        row = {"bpp": rep.rate, "psnr": psnr(got[None], rgb[None]).mean, "encode_s": enc_s, "decode_s": dec_s,
               "prior": prior}  # fmt: skip
        if ab == "full" and bpp in bpps:
            from codec.baselines.image import image_baseline_at_bpp

            for base in BASELINES:
                b = image_baseline_at_bpp(rgb, base, rep.rate)
                row[base] = {"bpp": b.bpp, "psnr": psnr(b.decoded[None], rgb[None]).mean}
        encodes[key] = row
        print(key, json.dumps(row), flush=True)
        save()
    save()
    if not a.smoke:
        plot(json.loads(OUT.read_text()), PLOT)


def markdown(doc: dict) -> str:
    """docs/RESULTS.md's tables: every finished encode, then the ablations."""
    out = ["| photo | prior | bpp | PSNR dB | JPEG 4:2:0 bpp / dB | WebP | AVIF | encode s |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for k, r in doc["encodes"].items():
        photo, ab = k.split("/")
        if not ab.startswith("full@") or "jpeg420" not in r:
            continue
        base = [f"{r[b]['bpp']:.3f} / {r[b]['psnr']:.2f}" for b in BASELINES]
        out.append(f"| {photo} | {r['prior']} | {r['bpp']:.3f} | {r['psnr']:.2f} | " + " | ".join(base)
                   + f" | {r['encode_s']:.0f} |")  # fmt: skip
    # each ablation beside the full codec on the same photo, and its prior on the training crops
    rows = {}
    for k, r in doc["encodes"].items():
        photo, ab = k.split("/")
        rows.setdefault(ab, {})[photo] = r
    out += ["", "| variant | prior's crops dB | bpp | per photo dB (vs full) | mean dB | encode s |",
            "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    bpp = next((k.split("@")[1] for k in rows if not k.startswith("full@")), None)
    photos = {p for k, r in rows.items() if not k.startswith("full@") for p in r}
    for ab, v in doc.get("ablations", {}).items():
        full = rows[f"full@{bpp}"]
        mine = {p: r for p, r in rows[f"{ab}@{bpp}"].items() if p in photos}
        prior = doc["priors"].get(f"{prior_variant(ab)}@{bpp}")
        per = ", ".join(f"{p} {r['psnr']:.2f} ({r['psnr'] - full[p]['psnr']:+.2f})" for p, r in mine.items())
        crops = f"{prior['psnr']:.2f}" if prior else "-"
        out.append(f"| {ab} | {crops} | {v['bpp']:.3f} | {per} | {v['psnr']:.2f} | {v['encode_s']:.0f} |")
    return "\n".join(out)


def plot(doc: dict, path):
    """One panel per photo: PSNR against bpp (log) of RECOMBINER, the baselines at its rates, and the
    ablations at their rate point."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from bench.common import save_figure

    fig = Figure(figsize=(4 * len(PHOTOS), 4), layout="constrained")
    FigureCanvasAgg(fig)
    enc = doc["encodes"]
    for ax, photo in zip(fig.subplots(1, len(PHOTOS), squeeze=False)[0], PHOTOS, strict=True):
        rows = sorted((v for k, v in enc.items() if k.startswith(f"{photo}/full@") and "jpeg420" in v),
                      key=lambda r: r["bpp"])  # fmt: skip
        ax.plot([r["bpp"] for r in rows], [r["psnr"] for r in rows], "o-", lw=2, label="RECOMBINER")
        for base in BASELINES:
            ax.plot([r[base]["bpp"] for r in rows], [r[base]["psnr"] for r in rows], ".--", label=base)
        for k, v in enc.items():
            name = k.split("/")[1].split("@")[0]
            if k.startswith(f"{photo}/") and name != "full":
                ax.plot(v["bpp"], v["psnr"], "x", label=name)
        ax.set(xscale="log", xlabel="bpp (whole file)", ylabel="PSNR (dB, RGB)", title=f"{photo} 256x256")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"RECOMBINER (CPU, reduced schedule: {doc['encode_steps']} fitting steps) vs Pillow")
    return save_figure(fig, path)


def summarize(encodes: dict, bpps: list[float], mid: float, photos: list[str]) -> dict:
    from codec.errors import InvalidInput
    from codec.metrics import bd_rate

    def bd(rows: list[dict], base: str) -> float | None:
        ours = ([x["bpp"] for x in rows], [x["psnr"] for x in rows])
        try:
            return bd_rate(*ours, [x[base]["bpp"] for x in rows], [x[base]["psnr"] for x in rows])
        except InvalidInput:  # the PSNR ranges do not overlap: no BD-rate (the table shows both curves)
            return None

    out: dict = {"bd_rate": {}}
    for photo in PHOTOS:
        rows = [encodes.get(f"{photo}/full@{b:g}") for b in bpps]
        if None not in rows:
            out["bd_rate"][photo] = {base: bd(rows, base) for base in BASELINES}
    done = out["bd_rate"]
    if len(done) == len(PHOTOS) and all(v is not None for d in done.values() for v in d.values()):
        out["bd_rate_mean"] = {base: statistics.mean(d[base] for d in done.values()) for base in BASELINES}
        out["targets"] = {"vs_jpeg420_le_-25pct": out["bd_rate_mean"]["jpeg420"] <= -25,
                          "vs_webp_le_0pct": out["bd_rate_mean"]["webp"] <= 0}  # fmt: skip
    elif len(done) == len(PHOTOS):  # every curve measured, but some never reach the baseline's PSNR
        out["targets"] = {"vs_jpeg420_le_-25pct": False, "vs_webp_le_0pct": False,
                          "why": "no BD-rate: the PSNR ranges do not overlap (see the encodes)"}  # fmt: skip
    ablation: dict = {}
    for ab in (*ABLATIONS, *ENCODE_ABLATIONS):
        rows = [encodes[k] for k in (f"{p}/{ab}@{mid:g}" for p in photos) if k in encodes]
        if rows:
            ablation[ab] = {"n": len(rows), "bpp": statistics.mean(x["bpp"] for x in rows),
                            "psnr": statistics.mean(x["psnr"] for x in rows),
                            "encode_s": statistics.mean(x["encode_s"] for x in rows)}  # fmt: skip
    out["ablations"] = ablation
    return out


if __name__ == "__main__":
    main()
