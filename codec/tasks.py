"""Job kinds: every long-running operation the service runs as a job, declared by the library.

Each registered codec gives one kind, `<codec>.encode`, built here from its declarations (no
per-codec code). Other long work (model training, index backfill) registers a `Task` with
`register_task`. The service builds its runners from `all_tasks()`, so a new codec or task needs no
service change. A task runs in a worker thread: it honours `ctx.cancel` between steps, reports
through `ctx.progress`, keeps checkpoints in `ctx.work_dir` and continues from them when
`ctx.resume` is set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codec import registry
from codec.interface import Codec
from codec.progress import CancelToken, ProgressCallback


@dataclass
class TaskContext:
    job_id: str
    options: Any  # the task's validated options object
    input_path: Path | None  # the upload, for tasks that take one
    result_path: Path  # where the result file goes (what ReadResult serves)
    work_dir: Path  # checkpoints; kept across restarts until the job ends
    resume: bool  # work_dir holds a checkpoint of an interrupted run
    progress: ProgressCallback
    cancel: CancelToken


@dataclass(frozen=True)
class Task:
    kind: str
    Options: type  # options dataclass (codec.options)
    inputs: tuple[str, ...]  # input kinds the upload may be; () takes no upload
    run: Callable[[TaskContext], dict[str, float]]  # -> numbers for Job.result_info
    description: str = ""


_TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    if task.kind in _TASKS or task.kind.endswith(".encode"):
        raise ValueError(f"job kind {task.kind!r} is taken (encode kinds come from the codec registry)")
    _TASKS[task.kind] = task
    return task


def encode_kind(codec_name: str) -> str:
    return f"{codec_name}.encode"


def _encode_task(c: Codec) -> Task:
    def run(ctx: TaskContext) -> dict[str, float]:
        from codec import api

        assert ctx.input_path is not None
        return api.encode(
            ctx.input_path,
            ctx.result_path,
            c.name,
            ctx.options,
            ctx.progress,
            ctx.cancel,
            ctx.work_dir,
            ctx.resume,
        ).result_info()

    return Task(encode_kind(c.name), c.Options, c.inputs, run, f"encode with {c.name}: {c.description}")


def all_tasks() -> dict[str, Task]:
    """Every job kind: one encode per registered codec, then the registered tasks."""
    tasks = {t.kind: t for t in (_encode_task(c) for c in registry.all_codecs())}
    tasks.update(_TASKS)
    return tasks
