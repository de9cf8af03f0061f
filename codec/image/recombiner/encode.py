"""Encode a photo: read, pad into patches, fit and code with the named prior, write the file."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from codec import container
from codec.container import ModelRef
from codec.image.recombiner.bitstream import build
from codec.image.recombiner.coding import FitConfig, encode_posterior
from codec.image.recombiner.options import EncodeOptions
from codec.image.recombiner.patches import from_patched, to_patched
from codec.image.recombiner.plan import long_plan_advice, make_plan
from codec.image.recombiner.zoo import choose_prior, load_prior
from codec.metrics import psnr
from codec.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress


@dataclass
class ImageEncodeResult:
    path: str
    file_bytes: int
    bpp: float
    psnr: float  # of what the decoder renders (the encoder renders the same coded weights)
    kl_bits: float  # of the fitted posterior, before coding
    prior: str
    seconds: float
    warnings: list[str] = field(default_factory=list)
    plan: dict = field(default_factory=dict)


def encode_image(
    src: Path,
    dst: Path,
    opts: EncodeOptions,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
    work_dir: Path | None = None,
    resume: bool = False,
) -> ImageEncodeResult:
    from codec.io.image import read_image
    from codec.models import default_store

    t0 = time.perf_counter()
    rgb, info = read_image(src)
    store = default_store()
    manifest, model = load_prior(opts.prior or choose_prior(opts.bpp, store), store)
    x, lay = to_patched(rgb)
    progress(
        ProgressEvent(
            phase="read", message=f"{info.width}x{info.height}, {lay.patches} patches, {manifest.spec}"
        )
    )
    cfg = FitConfig(
        steps=opts.steps, finetune_steps=opts.finetune_steps, round_blocks=opts.round_blocks,
        samples=opts.samples, seed=opts.seed,
    )  # fmt: skip
    plan, cfg = make_plan(x, lay, model, cfg, opts.time_limit)
    progress(ProgressEvent(phase="plan", message=plan.line()))
    warnings = list(info.notes)
    for note in plan.notes:
        progress(ProgressEvent(phase="plan", message=note))
    advice = long_plan_advice(plan)
    if advice:
        progress(ProgressEvent(phase="plan", message=f"warning: {advice}"))
        warnings.append(advice)
    enc = encode_posterior(x, lay, model, cfg, progress, cancel, work_dir, resume)
    m = manifest.ref()
    ref = ModelRef(m.name, m.version, m.sha256, "prior")
    c = build(rgb.shape[1], rgb.shape[0], lay.transposed, model.block_bits, enc.indices, ref)
    size = container.write_file(dst, c)
    decoded = from_patched(enc.recon, lay)
    q = psnr(decoded[None], rgb[None]).mean
    progress(ProgressEvent(phase="done", message=f"{size} bytes, {q:.2f} dB"))
    return ImageEncodeResult(str(dst), size, size * 8 / (rgb.shape[0] * rgb.shape[1]), q, sum(enc.kl_bits),
                             manifest.spec, time.perf_counter() - t0, warnings, plan.to_dict())  # fmt: skip
