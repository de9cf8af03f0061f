"""One progress-event type for every long-running operation.

The CLI renders these as a progress bar (or plain log lines without a terminal), the gRPC service
streams them from WatchJob. A codec reports whatever numbers it has in `metrics` (loss, psnr, kl,
accuracy, ...): every renderer shows them by name, so a new codec needs no renderer change.
Cancellation travels the other way through `CancelToken`: long loops call `token.check()` between
steps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field


@dataclass
class ProgressEvent:
    phase: str  # what the work is doing now, e.g. "read", "train", "prune", "quant", "entropy", "done"
    step: int = 0  # completed steps in this phase (epochs while training)
    total: int = 0  # steps in this phase, 0 when unknown
    eta_s: float | None = None  # seconds left for the whole operation, when known
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)  # shown by every renderer, by name
    # Bookkeeping, not shown as numbers: overall_step / overall_total (progress of the whole
    # operation across phases), segment / segments, point / points.
    extra: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ProgressEvent:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def overall(self) -> tuple[int, int]:
        """(done, total) of the whole operation: the overall counters if given, else this phase's."""
        total = int(self.extra.get("overall_total", 0) or 0)
        if total:
            return int(self.extra.get("overall_step", 0) or 0), total
        return self.step, self.total


ProgressCallback = Callable[[ProgressEvent], None]


def null_progress(_: ProgressEvent) -> None:
    """Default callback: drop events."""


def with_eta(callback: ProgressCallback, clock: Callable[[], float] = time.monotonic) -> ProgressCallback:
    """Wrap `callback` so events without an ETA get one from the measured step time.

    The rate is measured from the first event this wrapper saw, so a resumed run does not count
    the steps done before it as instant. Events that already carry an ETA pass through unchanged."""
    first: list[tuple[float, int, int]] = []  # (time, done, total) when the current count started

    def report(ev: ProgressEvent) -> None:
        done, total = ev.overall()
        if ev.eta_s is None and total:
            now = clock()
            if not first or first[0][2] != total or done < first[0][1]:
                first[:] = [(now, done, total)]  # a new count (another phase or segment): start over
            t0, d0, _ = first[0]
            if done > d0:
                ev.eta_s = (now - t0) / (done - d0) * (total - done)
        callback(ev)

    return report


class CancelToken:
    """Thread-safe cancel flag; `check()` raises `Cancelled` once `cancel()` was called."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            from codec.errors import Cancelled

            raise Cancelled("cancelled")
