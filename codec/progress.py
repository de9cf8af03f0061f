"""One progress-event type for every long-running operation.

The CLI renders these as a progress bar, the gRPC service streams them from WatchJob. Cancellation
travels the other way through `CancelToken`: long loops call `token.check()` between steps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field


@dataclass
class ProgressEvent:
    phase: str  # e.g. "read", "train", "prune", "quant-finetune", "entropy", "decode"
    step: int = 0  # completed steps in this phase (epochs while training)
    total: int = 0  # steps in this phase, 0 when unknown
    loss: float | None = None
    psnr: float | None = None
    eta_s: float | None = None  # seconds left for the whole operation, when known
    message: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


ProgressCallback = Callable[[ProgressEvent], None]


def null_progress(_: ProgressEvent) -> None:
    """Default callback: drop events."""


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
