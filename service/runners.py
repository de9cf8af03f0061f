"""What each job kind runs: options checked at submit time, then one blocking library call.

A runner gets a `JobContext` and returns numbers worth showing in `Job.result_info`. It runs in
a worker thread and must honour `ctx.cancel` (the library checks it between steps) and resume
from `ctx.work_dir` when `ctx.resume` is set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codec.errors import InvalidInput, ResourceLimit
from codec.progress import CancelToken, ProgressCallback

VIDEO_ENCODE = "video.encode"


@dataclass
class JobContext:
    job_id: str
    options: dict[str, Any]
    input_path: Path
    result_path: Path
    work_dir: Path
    resume: bool
    device: str  # the server's default device; options may name another
    progress: ProgressCallback
    cancel: CancelToken


Runner = Callable[[JobContext], dict[str, float]]


def video_encode_options(options: dict[str, Any], default_device: str = "auto"):
    """The library's EncodeOptions for a stored options dict; raises InvalidInput on bad values."""
    from codec.video.hnerv.encode import EncodeOptions

    known = {f.name for f in dataclasses.fields(EncodeOptions)}
    unknown = set(options) - known - {"filename", "total_bytes"}
    if unknown:
        raise InvalidInput(f"unknown encode options {sorted(unknown)}")
    kwargs = {k: v for k, v in options.items() if k in known}
    if kwargs.get("device") in (None, "", "auto"):
        kwargs["device"] = default_device
    opts = EncodeOptions(**kwargs)
    opts.validate()
    return opts


def run_video_encode(ctx: JobContext) -> dict[str, float]:
    from codec.video.hnerv.encode import encode_video

    opts = video_encode_options(ctx.options, ctx.device)
    try:
        result = encode_video(
            ctx.input_path,
            ctx.result_path,
            opts,
            progress=ctx.progress,
            cancel=ctx.cancel,
            work_dir=ctx.work_dir,
            resume=ctx.resume,
        )
    except RuntimeError as e:
        if type(e).__name__ == "OutOfMemoryError" or "out of memory" in str(e).lower():
            raise ResourceLimit(f"out of memory on {opts.device} for this job; try a smaller --size") from e
        raise
    return {
        k: float(v)
        for k, v in dataclasses.asdict(result).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


RUNNERS: dict[str, Runner] = {VIDEO_ENCODE: run_video_encode}
