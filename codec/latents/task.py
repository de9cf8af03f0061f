"""The `latents.train` job kind: `codec train latents --server` runs this on the server.

Only the procedural sets are accepted by name over the service (a client must not make the server
read paths of its choosing); the model lands in the server's model store (`ModelService`).
"""

from __future__ import annotations

from codec.errors import InvalidInput
from codec.latents.data import BUILTIN
from codec.latents.options import TrainLatentsOptions
from codec.progress import with_eta
from codec.tasks import Task, TaskContext, register_task


def run(ctx: TaskContext) -> dict[str, float]:
    from codec.latents.data import load
    from codec.latents.train import train_latents
    from codec.models import default_store

    opts: TrainLatentsOptions = ctx.options
    if opts.data not in BUILTIN:
        raise InvalidInput(f"a server trains on {' or '.join(BUILTIN)} only, not a path")
    r = train_latents(
        load(opts.data), opts, with_eta(ctx.progress), ctx.cancel, ctx.work_dir, ctx.resume, default_store(),
        f"latents.train job {ctx.job_id}",
    )  # fmt: skip
    ctx.result_path.write_text((r.spec or "not stored") + "\n")
    return {"seconds": r.seconds, "steps": float(r.steps), **r.metrics}


TASK = register_task(
    Task(
        "latents.train",
        TrainLatentsOptions,
        (),
        run,
        "train a QLAE latent model (or a baseline) into the model store",
    )
)
