"""The CLI's progress bar: renders `ProgressEvent`s (the same events WatchJob streams)."""

from __future__ import annotations

import sys

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from codec.progress import ProgressEvent


class ProgressBar:
    """Context manager; call the instance with events. Quiet when stderr is not a terminal unless forced."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._progress = Progress(
            TextColumn("[bold]{task.fields[phase]:>8}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("loss {task.fields[loss]}  PSNR {task.fields[psnr]} dB  ETA {task.fields[eta]}"),
            TimeElapsedColumn(),
            disable=not self.enabled,
            transient=False,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> ProgressBar:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def __call__(self, ev: ProgressEvent) -> None:
        total = int(ev.extra.get("overall_total", ev.total) or 0)
        done = int(ev.extra.get("overall_step", ev.step) or 0)
        seg = (
            f" {int(ev.extra['segment']) + 1}/{int(ev.extra['segments'])}"
            if ev.extra.get("segments", 1) > 1
            else ""
        )
        fields = {
            "phase": ev.phase + seg,
            "loss": "-" if ev.loss is None else f"{ev.loss:.4f}",
            "psnr": "-" if ev.psnr is None else f"{ev.psnr:.2f}",
            "eta": "-" if ev.eta_s is None else _fmt_seconds(ev.eta_s),
        }
        if self._task is None:
            self._task = self._progress.add_task("encode", total=total or None, **fields)
        if total:
            self._progress.update(self._task, completed=done, total=total, **fields)
        elif ev.phase == "done":
            task = self._progress.tasks[self._task]
            self._progress.update(self._task, completed=task.total or 1, total=task.total or 1, **fields)
        else:  # read / entropy events: keep the bar where training left it
            self._progress.update(self._task, **fields)
        if not self.enabled and ev.message:
            print(f"[{ev.phase}] {ev.message}", file=sys.stderr)


def _fmt_seconds(s: float) -> str:
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
