"""How the CLI shows `ProgressEvent`s (the same events WatchJob streams): a bar in a terminal,
plain log lines without one.

Whatever a codec puts in `metrics` is shown by name, so a new codec needs nothing here. Without a
terminal (logs, CI) one line is printed when the phase changes, for every message, and otherwise at
most every `CODEC_PROGRESS_INTERVAL` seconds (default 10), so long work stays visible.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from codec.interface import format_metric
from codec.progress import ProgressEvent

DEFAULT_INTERVAL_S = 10.0


def fmt_seconds(s: float) -> str:
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _phase_label(ev: ProgressEvent) -> str:
    extra = ev.extra
    label = ev.phase
    for key, keys in (("segment", "segments"), ("point", "points")):
        if extra.get(keys, 1) > 1:
            label += f" {int(extra[key]) + 1}/{int(extra[keys])}"
    return label


def _metrics_text(ev: ProgressEvent) -> str:
    return "  ".join(f"{k} {format_metric(k, v)}" for k, v in ev.metrics.items())


def log_line(ev: ProgressEvent) -> str:
    """One plain line: phase, counts, metrics, ETA, message."""
    parts = [f"[{_phase_label(ev)}]"]
    if ev.total:
        parts.append(f"{ev.step}/{ev.total}")
    if ev.extra.get("batches"):
        parts.append(f"(batch {int(ev.extra['batch'])}/{int(ev.extra['batches'])})")
    done, total = ev.overall()
    if total and (done, total) != (ev.step, ev.total):
        parts.append(f"({100 * done / total:.0f}% overall)")
    if ev.metrics:
        parts.append(_metrics_text(ev))
    if ev.eta_s is not None:
        parts.append(f"ETA {fmt_seconds(ev.eta_s)}")
    if ev.message:
        parts.append(ev.message)
    return " ".join(parts)


class ProgressBar:
    """Context manager; call the instance with events. A rich bar when stderr is a terminal,
    else plain lines (`enabled` forces one or the other)."""

    def __init__(self, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.interval_s = float(os.environ.get("CODEC_PROGRESS_INTERVAL", DEFAULT_INTERVAL_S))
        self._progress = Progress(
            TextColumn("[bold]{task.fields[phase]:>8}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[metrics]}  ETA {task.fields[eta]}"),
            TimeElapsedColumn(),
            disable=not self.enabled,
            transient=False,
        )
        self._task: TaskID | None = None
        self._last_line = -float("inf")
        self._last_phase = ""

    def __enter__(self) -> ProgressBar:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def __call__(self, ev: ProgressEvent) -> None:
        if self.enabled:
            self._bar(ev)
        else:
            self._plain(ev)

    def _plain(self, ev: ProgressEvent) -> None:
        now = time.monotonic()
        changed = ev.phase != self._last_phase
        if changed or ev.message or ev.phase == "done" or now - self._last_line >= self.interval_s:
            print(log_line(ev), file=self.stream, flush=True)
            self._last_line, self._last_phase = now, ev.phase

    def _bar(self, ev: ProgressEvent) -> None:
        done, total = ev.overall()
        fields = {
            "phase": _phase_label(ev),
            "metrics": _metrics_text(ev),
            "eta": "-" if ev.eta_s is None else fmt_seconds(ev.eta_s),
        }
        if self._task is None:
            self._task = self._progress.add_task("work", total=total or None, **fields)
        if total:
            self._progress.update(self._task, completed=done, total=total, **fields)
        elif ev.phase == "done":
            task = self._progress.tasks[self._task]
            self._progress.update(self._task, completed=task.total or 1, total=task.total or 1, **fields)
        else:  # events without counts (read, entropy): keep the bar where it was
            self._progress.update(self._task, **fields)
