"""`codec train prior` and the `prior.train` job: learn one rate point's image prior into the store."""

from __future__ import annotations

from dataclasses import asdict

from codec.errors import InvalidInput
from codec.image.recombiner.options import TrainPriorOptions
from codec.progress import ProgressCallback, with_eta
from codec.tasks import Task, TaskContext, register_task

SOURCE = "trained by neural-codec on the built-in photos and video frames (codec/image/recombiner/data.py)"


def train_and_store(opts: TrainPriorOptions, store, progress: ProgressCallback, cancel, command: str):
    """Train, then store as NAME@vN (when named); returns (spec, TrainPriorResult)."""
    from codec.image.recombiner.coding import KIND, prior_tensors
    from codec.image.recombiner.data import training_crops
    from codec.image.recombiner.train import TrainPriorConfig, train_prior

    if opts.data != "photos":
        raise InvalidInput("--data takes photos (the built-in training set) for now")
    crops, names = training_crops(opts.crops, opts.crop_size, opts.seed)
    cfg = TrainPriorConfig(
        bpp=opts.bpp, iterations=opts.iterations, steps=opts.steps, first_steps=opts.first_steps,
        block_bits=opts.block_bits, beta_init=opts.beta_init, beta_factor=opts.beta_factor,
        linear_reparam=opts.linear_reparam, positional=opts.positional, hierarchical=opts.hierarchical,
        seed=opts.seed,
    )  # fmt: skip
    r = train_prior(crops, cfg, progress, cancel)
    spec = ""
    if opts.name:
        arch = {"type": "recombiner-prior", "block_bits": opts.block_bits, "bpp": opts.bpp,
                "linear_reparam": opts.linear_reparam, "positional": opts.positional,
                "hierarchical": opts.hierarchical}  # fmt: skip
        training = {
            "command": command, "data": f"{len(names)} crops of {opts.crop_size}: " + ", ".join(names[:8])
            + (" ..." if len(names) > 8 else ""), "schedule": asdict(cfg), "seconds": round(r.seconds, 1),
            "metrics": {"psnr": round(r.psnr, 3), "kl_bits_per_patch": round(r.kl_bits_per_patch, 1)},
            "history": r.history,
        }  # fmt: skip
        spec = store.save(opts.name, KIND, prior_tensors(r.model), arch, training, source=SOURCE,
                          license="Apache-2.0").spec  # fmt: skip
    return spec, r


def run(ctx: TaskContext) -> dict[str, float]:
    from codec.models import default_store

    opts: TrainPriorOptions = ctx.options
    if not opts.name:
        raise InvalidInput("--name NAME is required: the prior is stored as NAME@vN")
    spec, r = train_and_store(
        opts, default_store(), with_eta(ctx.progress), ctx.cancel, f"prior.train job {ctx.job_id}"
    )
    ctx.result_path.write_text(spec + "\n")
    return {"seconds": r.seconds, "psnr": r.psnr, "kl_bits_per_patch": r.kl_bits_per_patch}


TASK = register_task(
    Task("prior.train", TrainPriorOptions, (), run, "learn a RECOMBINER image prior into the store")
)
