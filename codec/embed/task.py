"""The `embedder.train` job kind: `codec train embedder --server` runs this on the server.

Only the built-in sets are accepted by name over the service (a client must not make the server
read paths of its choosing); the model lands in the server's model store (`ModelService`).
"""

from __future__ import annotations

from codec.embed.options import TrainEmbedderOptions
from codec.errors import InvalidInput
from codec.progress import with_eta
from codec.tasks import Task, TaskContext, register_task

SERVER_DATASETS = ("fashion-mnist", "wordnet")


def run(ctx: TaskContext) -> dict[str, float]:
    from codec.embed.data import load
    from codec.embed.train import train_embedder

    opts: TrainEmbedderOptions = ctx.options
    if opts.data not in SERVER_DATASETS:
        raise InvalidInput(f"a server trains on {' or '.join(SERVER_DATASETS)} only, not a path")
    if not opts.name:
        raise InvalidInput("--name NAME is required: the model is stored as NAME@vN")
    r = train_embedder(load(opts.data), opts, with_eta(ctx.progress), ctx.cancel, ctx.work_dir, ctx.resume)
    ctx.result_path.write_text(r.spec + "\n")
    return {
        "seconds": r.seconds,
        "train_items": float(r.train_items),
        **{f"knn_top1@{m}": v for m, v in r.knn_top1.items()},
        **{f"head_top1@{m}": v for m, v in r.head_top1.items()},
    }


TASK = register_task(
    Task("embedder.train", TrainEmbedderOptions, (), run, "train a Matryoshka embedder into the model store")
)
