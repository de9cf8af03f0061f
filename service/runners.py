"""The job kinds this server runs: the library's tasks (`codec.tasks`), one per registered codec's
encode plus any registered task, so a new codec needs no change here.

A runner gets a `codec.tasks.TaskContext` and returns numbers worth showing in `Job.result_info`;
it runs in a worker thread, honours `ctx.cancel` and resumes from `ctx.work_dir` when
`ctx.resume` is set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from codec.tasks import Task, TaskContext

Runner = Callable[[TaskContext], dict[str, float]]


def build_tasks(runners: dict[str, Runner] | None = None) -> dict[str, Task]:
    """Every job kind, with `runners` standing in for what the named kinds run."""
    from codec.api import load_codecs
    from codec.tasks import all_tasks

    load_codecs()
    tasks = all_tasks()
    for kind, run in (runners or {}).items():
        tasks[kind] = dataclasses.replace(tasks[kind], run=run)
    return tasks
