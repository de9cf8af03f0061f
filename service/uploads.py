"""Uploads being received, and resumable ones parked after their stream broke (as in google.bytestream).

An upload is written under `<data_dir>/uploads/<job id>/` by one SubmitJob call, its writer.
Without a client-chosen `upload_id` it lives and dies with that call. With one, a call that breaks
*parks* it: the bytes stay, QueryUpload reports how many, and a later call takes it over and sends
the rest. Parked uploads expire after `resume_ttl_s` (the oldest go first beyond `max_parked`);
a server restart drops them all, since none was ever acknowledged.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from codec.errors import InvalidInput, ResourceLimit
from service.config import MiB
from service.errors import ServiceError

UPLOAD_ID_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
TAKE_OVER_TIMEOUT_S = 10.0  # how long a resuming call waits for a stale writer to let go
QUOTA_CHECK_EVERY = 64 * MiB  # re-check the disk quota this often during an upload


class IncompleteUpload(InvalidInput):
    """The bytes received so far are good, but more must follow: a resumable upload is kept."""


def check_offset(offset: int, expected: int) -> None:
    if offset != expected:
        raise IncompleteUpload(f"chunk offset {offset} does not follow the {expected} bytes received")


@dataclass(eq=False)
class Upload:
    job_id: str  # the job it becomes
    kind: str
    dir: Path
    input_name: str = "input.bin"
    options: dict[str, Any] = field(default_factory=dict)
    declared: int = 0  # total_bytes announced by the client; 0: unknown
    upload_id: str = ""  # set: resumable
    filename: str = ""  # the client's name for it: messages use it, never the server's path
    received: int = 0
    closed: bool = False  # committed or discarded: the directory is no longer ours
    writer: asyncio.Task | None = None  # the call receiving it; None while parked
    evicted: asyncio.Task | None = None  # a stale writer cancelled by `take_over`, told ABORTED
    parked_at: float = 0.0
    idle: asyncio.Event = field(default_factory=asyncio.Event)  # set while no call writes it

    @property
    def path(self) -> Path:
        return self.dir / self.input_name


class UploadTable:
    def __init__(self, root: Path, resume_ttl_s: float, max_parked: int) -> None:
        self.root = root
        self.resume_ttl_s = resume_ttl_s
        self.max_parked = max_parked
        self._by_job: dict[str, Upload] = {}
        self._by_upload_id: dict[str, Upload] = {}
        # Uploads that became jobs, by upload_id: a client whose reply was lost asks QueryUpload.
        self._finished: dict[str, tuple[Upload, float]] = {}

    def reset(self) -> None:
        """At start: whatever an earlier process left behind was never acknowledged."""
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)

    @property
    def active(self) -> int:
        """Uploads a call is receiving now (parked ones hold no slot)."""
        return sum(1 for u in self._by_job.values() if u.writer is not None)

    @property
    def bytes_held(self) -> int:
        return sum(u.received for u in self._by_job.values())

    def add(
        self,
        kind: str,
        declared: int,
        upload_id: str,
        options: dict[str, Any],
        input_name: str,
        filename: str,
    ) -> Upload:
        """A new upload written by the current task; `upload_id` (may be empty) must be new."""
        if upload_id:
            if not UPLOAD_ID_RE.fullmatch(upload_id):
                raise InvalidInput("upload_id must be 16 to 64 characters of [A-Za-z0-9_-] (e.g. a UUID)")
            if upload_id in self._by_upload_id or upload_id in self._finished:
                raise ServiceError(
                    grpc.StatusCode.ALREADY_EXISTS,
                    f"upload {upload_id} exists; resume it (resume_upload_id) or choose a new id",
                    "UPLOAD_EXISTS",
                )
        job_id = uuid.uuid4().hex[:16]
        up = Upload(
            job_id,
            kind,
            self.root / job_id,
            input_name or "input.bin",
            options,
            declared,
            upload_id,
            filename,
        )
        up.dir.mkdir(parents=True)
        up.writer = asyncio.current_task()
        self._by_job[job_id] = up
        if upload_id:
            self._by_upload_id[upload_id] = up
        return up

    def find(self, upload_id: str) -> tuple[Upload | None, str]:
        """(the upload, '') while it is open; (the upload, its job id) once it became a job."""
        self.expire()
        if upload_id in self._finished:
            up = self._finished[upload_id][0]
            return up, up.job_id
        return self._by_upload_id.get(upload_id), ""

    async def take_over(self, up: Upload) -> None:
        """Make the current task the writer. A call still attached (its client gone, but the server
        has not noticed yet, e.g. a half-open connection) is cancelled and parks the upload first."""
        me = asyncio.current_task()
        while up.writer is not None and up.writer is not me and not up.closed:
            up.evicted = up.writer
            up.writer.cancel()
            try:
                await asyncio.wait_for(up.idle.wait(), TAKE_OVER_TIMEOUT_S)
            except TimeoutError:
                raise ServiceError(
                    grpc.StatusCode.ABORTED, f"upload {up.upload_id} is still being written", "UPLOAD_BUSY"
                ) from None
        if up.closed:
            raise ServiceError(
                grpc.StatusCode.NOT_FOUND, f"upload {up.upload_id} is gone", "UPLOAD_NOT_FOUND"
            )
        up.writer = me
        up.idle.clear()

    def park(self, up: Upload) -> None:
        """The writer's call ended early: keep the bytes for a resuming call."""
        if up.closed:
            return
        up.writer = None
        up.parked_at = time.monotonic()
        up.idle.set()
        parked = sorted((u for u in self._by_job.values() if u.writer is None), key=lambda u: u.parked_at)
        for old in parked[: max(0, len(parked) - self.max_parked)]:
            self.discard(old)

    def discard(self, up: Upload) -> None:
        if not up.closed:
            self._forget(up)
            shutil.rmtree(up.dir, ignore_errors=True)

    def committed(self, up: Upload) -> None:
        """The upload became job `up.job_id` (its directory moved away)."""
        self._forget(up)
        if up.upload_id:
            self._finished[up.upload_id] = (up, time.monotonic())

    def _forget(self, up: Upload) -> None:
        up.closed = True
        up.writer = None
        up.idle.set()
        self._by_job.pop(up.job_id, None)
        if self._by_upload_id.get(up.upload_id) is up:
            del self._by_upload_id[up.upload_id]

    def expire(self) -> int:
        """Drop parked uploads and finished-upload records older than the TTL; returns how many uploads."""
        cutoff = time.monotonic() - self.resume_ttl_s
        old = [u for u in self._by_job.values() if u.writer is None and u.parked_at < cutoff]
        for up in old:
            self.discard(up)
        for upload_id, (_, when) in list(self._finished.items()):
            if when < cutoff:
                del self._finished[upload_id]
        return len(old)


async def receive_upload(requests: AsyncIterator, up: Upload, limit: int, jobs: Any) -> None:
    """Write the chunks that follow the first message into `up`, offset-checked, within `limit`
    bytes and the disk quota (`jobs.check_quota`), then flush to disk."""
    metrics = jobs.metrics
    next_quota_check = up.received + QUOTA_CHECK_EVERY
    first = True
    with open(up.path, "r+b" if up.received else "wb") as f:
        f.seek(up.received)
        async for msg in requests:
            if msg.WhichOneof("msg") != "chunk":
                raise InvalidInput("only chunks may follow the first message")
            chunk = msg.chunk
            if first and 0 <= chunk.offset < up.received:
                # A resumed upload may go back (its client asked QueryUpload before a stale
                # call had stopped writing): what followed that offset is replaced.
                f.seek(chunk.offset)
                f.truncate()
                up.received = chunk.offset
            first = False
            check_offset(chunk.offset, up.received)
            n = len(chunk.data)
            if up.received + n > limit:
                raise ResourceLimit(f"upload exceeds the limit of {limit} bytes")
            if up.declared and up.received + n > up.declared:
                raise InvalidInput(f"more bytes than the {up.declared} announced")
            f.write(chunk.data)
            up.received += n
            if metrics is not None:
                metrics.upload_bytes.inc(n)
            if up.received >= next_quota_check:
                next_quota_check += QUOTA_CHECK_EVERY
                jobs.check_quota(0)
        await asyncio.to_thread(_flush_and_sync, f)
    if up.declared and up.received != up.declared:
        hint = "; QueryUpload tells where to resume" if up.upload_id else ""
        raise IncompleteUpload(f"upload ended after {up.received} of the {up.declared} bytes announced{hint}")


def _flush_and_sync(f) -> None:
    f.flush()
    os.fsync(f.fileno())
