"""RECOMBINER's greedy fine-tuning: the round size, with beta held or adapted while fine-tuning (#10).

    .venv/bin/python -m bench.recombiner_finetune [--threads 2]

The RD benchmark found fine-tuning after every block (`--round-blocks 1`) 2 dB worse than after
every 8, though it fine-tunes 8x as often. The cause measured here: each fine-tuning call adapted
beta once, so the over-budget blocks' beta grew 1.05x per round, about 47x over the 80 rounds of
a 128x128 crop against 1.6x over 11, and the uncoded posteriors were squeezed onto the prior.
Since then the encoder holds the betas the fit ended at (`FitConfig.finetune_beta = False`).

Every combination of round size (8, 1) and beta (adapted: the old encoder, held: the new one), on
the demo's 128x128 coffee crop and the RD benchmark's 256x256 crops of astronaut and coffee, with
the shipped 0.3 bpp prior and the RD benchmark's encode schedule (300 fitting steps, one draw, 10
fine-tuning steps per round), one seed. The rate is the prior's, the same for every row (its
blocks fix the indices); PSNR is of the picture the decoder renders from the indices (it rebuilds
the encoder's weights bit for bit). Results: bench/results/recombiner_finetune.json.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from bench.common import RESULTS, provenance, write_result
from bench.demo import IMAGE_DEMO_CROP
from bench.recombiner_rd import crop

OUT = RESULTS / "recombiner_finetune.json"
PRIOR = "recombiner-0p3@v1"
SCHEDULE = {"steps": 300, "samples": 1, "finetune_steps": 10}
CONFIGS = [(8, True), (1, True), (8, False), (1, False)]  # (round_blocks, finetune_beta)


def images() -> dict[str, np.ndarray]:
    from skimage import data as skdata

    demo = np.ascontiguousarray(skdata.coffee()[IMAGE_DEMO_CROP])
    return {"coffee128": demo, "astronaut": crop("astronaut"), "coffee": crop("coffee")}


def main() -> None:
    import torch

    from codec.image.recombiner.coding import FitConfig, encode_posterior
    from codec.image.recombiner.decode import picture
    from codec.image.recombiner.patches import to_patched
    from codec.image.recombiner.zoo import load_prior
    from codec.metrics import psnr
    from codec.models import default_store

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    prov = provenance(["codec/image/recombiner", "codec/rec", "bench/recombiner_finetune.py"])
    manifest, model = load_prior(PRIOR, default_store())
    rows: dict = {}
    for name, rgb in images().items():
        x, lay = to_patched(rgb)
        for rb, adapt in CONFIGS:
            cfg = FitConfig(**SCHEDULE, round_blocks=rb, finetune_beta=adapt)
            t = time.perf_counter()
            enc = encode_posterior(x, lay, model, cfg)
            seconds = time.perf_counter() - t
            decoded = picture(model, lay, enc.indices)
            key = f"{name}/round_blocks={rb}/beta={'adapted' if adapt else 'held'}"
            rows[key] = {"psnr": psnr(decoded[None], rgb[None]).mean, "encode_s": seconds,
                         "payload_bpp": model.block_bits * sum(int(i.size) for i in enc.indices)
                         / (rgb.shape[0] * rgb.shape[1])}  # fmt: skip
            print(key, json.dumps(rows[key]), flush=True)
            write_result(OUT, {"prior": manifest.spec, "schedule": SCHEDULE, "threads": a.threads,
                               "rows": rows}, prov)  # fmt: skip


if __name__ == "__main__":
    main()
