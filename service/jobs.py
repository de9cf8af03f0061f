"""The job manager: admission, a bounded queue, worker threads, progress fan-out, restart recovery.

Everything runs on the event loop except the runners themselves, which run in a thread pool of
`workers` threads, so a long encode never blocks an RPC. State lives in the `JobStore`; this
class keeps only what dies with the process (the queue order, cancel tokens, watchers).

Files of a job: `<data_dir>/jobs/<id>/input<suffix>`, `work/` (the task's checkpoints) and
`result.bin`. An upload is written under `<data_dir>/uploads/<id>/` (see service/uploads.py) and
moved into `jobs/` in the same step that inserts the job's row, so a half-received upload never
becomes a job. What each job kind runs is a `codec.tasks.Task`, from the library's registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from codec.datadir import use_data_dir
from codec.errors import Cancelled, ResourceLimit, shown
from codec.options import options_of
from codec.progress import CancelToken, ProgressEvent
from codec.tasks import Task, TaskContext
from service.config import Limits
from service.errors import Busy, ServiceError, code_and_message, to_rpc_status
from service.jobstore import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, TERMINAL, JobRecord, JobStore
from service.logs import fields
from service.runners import Runner, build_tasks
from service.uploads import Upload, UploadTable

log = logging.getLogger("service.jobs")

RESULT_NAME = "result.bin"
EVENT_WRITE_INTERVAL_S = 1.0  # progress is written to SQLite at most this often (phase changes always)
WATCH_QUEUE = 256  # events buffered per watcher; a slow watcher loses old progress, never the end


@dataclass
class Update:
    """What a watcher receives: the job's state and its latest event (None: no progress yet)."""

    state: str
    event: dict[str, Any] | None
    error_code: int = 0
    error_message: str = ""


@dataclass
class _Running:
    token: CancelToken
    task: asyncio.Future
    started: float
    shutdown: bool = False  # cancelled by a server shutdown: requeue, not CANCELLED
    last_write: float = 0.0
    last_phase: str = ""
    last_event: dict[str, Any] | None = None  # the newest, even when not yet written to the store


class JobManager:
    def __init__(
        self,
        store: JobStore,
        data_dir: Path,
        limits: Limits,
        workers: int = 1,
        device: str = "auto",
        metrics: Any = None,
        runners: dict[str, Runner] | None = None,
        home: Path | None = None,
    ) -> None:
        """`runners` replaces what named job kinds run (tests stand in for a codec this way);
        `home` is the server's data dir, which jobs use for the model store."""
        self.store = store
        self.home = home
        self.limits = limits
        self.workers = max(1, workers)
        self.device = device
        self.metrics = metrics
        self.tasks = build_tasks(runners)
        self.jobs_dir = data_dir / "jobs"
        self.uploads_dir = data_dir / "uploads"
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="codec-job")
        self._pending: deque[str] = deque()
        self._running: dict[str, _Running] = {}
        self.uploads = UploadTable(self.uploads_dir, limits.upload_resume_ttl_s, limits.max_parked_uploads)
        self._watchers: dict[str, set[asyncio.Queue]] = {}
        self._accepting = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.Task | None = None

    # ---- lifecycle -------------------------------------------------------------------------------

    async def start(self, sweep_interval_s: float = 60.0) -> None:
        self._loop = asyncio.get_running_loop()
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.uploads.reset()
        self._recover()
        self._remove_orphans()
        self.sweep()
        self._accepting = True
        self._dispatch()
        self._sweeper = asyncio.create_task(self._sweep_forever(sweep_interval_s))

    def stop_accepting(self) -> None:
        self._accepting = False

    def notify_draining(self) -> None:
        """End every WatchJob stream (they see None): the jobs resume after the restart."""
        for qs in self._watchers.values():
            for q in qs:
                if q.full():
                    with contextlib.suppress(asyncio.QueueEmpty):
                        q.get_nowait()
                q.put_nowait(None)

    async def shutdown(self, timeout_s: float) -> None:
        """Stop every running job at its next cancel check (its checkpoint stays) and requeue it."""
        self._accepting = False
        if self._sweeper:
            self._sweeper.cancel()
        for run in self._running.values():
            run.shutdown = True
            run.token.cancel()
        tasks = [r.task for r in self._running.values()]
        if tasks:
            _, still = await asyncio.wait(tasks, timeout=timeout_s)
            if still:
                # Left RUNNING in the store: the next start resumes them like after a crash.
                log.warning("jobs still running at exit", extra=fields(jobs=sorted(self._running)))
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _recover(self) -> None:
        """Jobs the last process left RUNNING crashed with it: resume them, unless they keep crashing."""
        for rec in self.store.oldest_first(RUNNING):
            reason = ""
            path = self._input_path(rec.id, rec)
            if rec.kind not in self.tasks:
                reason = f"cannot resume: this server does not run {rec.kind} jobs"
            elif path is not None and not path.exists():
                reason = "cannot resume: the uploaded input is gone from the data dir"
            elif rec.attempts >= self.limits.max_attempts:
                reason = f"cannot resume: the server stopped {rec.attempts} times while running this job"
            if reason:
                self._finish_record(rec.id, FAILED, grpc.StatusCode.ABORTED.value[0], reason)
                log.warning("job not resumed", extra=fields(job_id=rec.id, reason=reason))
            else:
                self.store.update(rec.id, state=QUEUED)
                log.info("job will resume", extra=fields(job_id=rec.id, attempts=rec.attempts))
        self._pending.extend(r.id for r in self.store.oldest_first(QUEUED))

    def _remove_orphans(self) -> None:
        for d in self.jobs_dir.iterdir():
            if self.store.get(d.name) is None:
                shutil.rmtree(d, ignore_errors=True)

    # ---- paths -----------------------------------------------------------------------------------

    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    def result_path(self, job_id: str) -> Path:
        return self.job_dir(job_id) / RESULT_NAME

    def _input_path(self, job_id: str, rec: JobRecord) -> Path | None:
        return self.job_dir(job_id) / rec.input_name if rec.input_name else None

    def task(self, kind: str) -> Task:
        task = self.tasks.get(kind)
        if task is None:
            known = ", ".join(sorted(self.tasks)) or "none"
            raise ServiceError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"unknown job kind {shown(kind)} (this server runs: {known})",
            )
        return task

    # ---- admission -------------------------------------------------------------------------------

    def begin_upload(
        self,
        kind: str,
        declared_bytes: int = 0,
        upload_id: str = "",
        options: dict[str, Any] | None = None,
        input_name: str = "input.bin",
        filename: str = "",
    ) -> Upload:
        """Admit an upload, or raise Busy (queue full: retry later) / ResourceLimit (too large, quota).

        With an `upload_id` the upload is resumable: `end_upload(keep=True)` parks it for
        `resume_upload` instead of deleting it.
        """
        self.task(kind)
        lim = self.limits
        if declared_bytes > lim.max_upload_bytes:
            raise ResourceLimit(
                f"upload of {declared_bytes} bytes exceeds the limit of {lim.max_upload_bytes}"
            )
        self.uploads.expire()
        self._admit(declared_bytes)
        return self.uploads.add(kind, declared_bytes, upload_id, options or {}, input_name, filename)

    async def resume_upload(self, upload_id: str) -> Upload:
        """Hand a parked (or stale) resumable upload to the calling task, admitted like a new one."""
        up, job_id = self.uploads.find(upload_id)
        if up is None or job_id:
            what = f"became job {job_id}" if job_id else "is unknown or expired; start again"
            raise ServiceError(
                grpc.StatusCode.NOT_FOUND, f"upload {shown(upload_id)} {what}", "UPLOAD_NOT_FOUND"
            )
        await self.uploads.take_over(up)
        try:
            self._admit(max(0, up.declared - up.received), holding=1)
        except BaseException:
            self.uploads.park(up)
            raise
        return up

    def query_upload(self, upload_id: str) -> tuple[Upload, str]:
        """(the upload, '' or the job it became); NOT_FOUND when the server does not hold it."""
        up, job_id = self.uploads.find(upload_id)
        if up is None:
            raise ServiceError(
                grpc.StatusCode.NOT_FOUND,
                f"no upload {shown(upload_id)} (unknown, expired or lost in a restart); start again",
                "UPLOAD_NOT_FOUND",
            )
        return up, job_id

    def _admit(self, extra_bytes: int, holding: int = 0) -> None:
        """Room for one more upload? `holding`: uploads the caller already counts as active."""
        if not self._accepting:
            raise ServiceError(grpc.StatusCode.UNAVAILABLE, "server is shutting down", "DRAINING")
        lim = self.limits
        active = self.uploads.active - holding
        if active >= lim.max_concurrent_uploads:
            raise Busy(f"{active} uploads in progress; try again shortly", lim.retry_after_s)
        outstanding = len(self._pending) + len(self._running) + active
        if outstanding >= self.workers + lim.max_queued_jobs:
            raise Busy(
                f"job queue is full ({len(self._pending)} waiting, {len(self._running)} running)",
                lim.retry_after_s * max(1, len(self._pending)),
            )
        self.check_quota(extra_bytes)

    def check_quota(self, extra_bytes: int) -> None:
        quota = self.limits.disk_quota_bytes
        if not quota:
            return
        used = self.store.used_bytes() + self.uploads.bytes_held
        if used + extra_bytes > quota:
            raise ResourceLimit(
                f"disk quota of {quota} bytes for uploads and results is used up ({used} used); "
                "delete finished jobs (DeleteJob) or wait for them to expire"
            )

    def end_upload(self, up: Upload, keep: bool = False) -> None:
        """The receiving call is over. Committed: nothing to do. `keep` and resumable: park it for
        a resuming call. Otherwise delete it."""
        if up.closed:
            return
        if keep and up.upload_id and up.received:
            self.uploads.park(up)
        else:
            self.uploads.discard(up)

    def commit_upload(self, up: Upload) -> JobRecord:
        """Turn a complete, checked upload into a QUEUED job (one rename, one insert)."""
        if not self._accepting:
            raise ServiceError(grpc.StatusCode.UNAVAILABLE, "server is shutting down", "DRAINING")
        final = self.job_dir(up.job_id)
        takes_input = bool(self.task(up.kind).inputs)
        rec = JobRecord(
            id=up.job_id,
            kind=up.kind,
            options=up.options,
            input_bytes=up.path.stat().st_size if takes_input else 0,
            input_name=up.input_name if takes_input else "",
        )
        os.replace(up.dir, final)
        self.uploads.committed(up)
        self.store.insert(rec)
        self._pending.append(rec.id)
        log.info("job queued", extra=fields(job_id=rec.id, kind=rec.kind, input_bytes=rec.input_bytes))
        self._dispatch()
        return rec

    # ---- queries and control ---------------------------------------------------------------------

    def get(self, job_id: str) -> JobRecord:
        rec = self.store.get(job_id) if job_id else None
        if rec is None:
            raise ServiceError(grpc.StatusCode.NOT_FOUND, f"no job {shown(job_id)}", "JOB_NOT_FOUND")
        return rec

    def cancel(self, job_id: str) -> JobRecord:
        """Queued: cancelled at once. Running: asked to stop (the final state follows shortly)."""
        rec = self.get(job_id)
        if rec.state == QUEUED:
            with contextlib.suppress(ValueError):
                self._pending.remove(job_id)
            self._finish_record(job_id, CANCELLED, grpc.StatusCode.CANCELLED.value[0], "cancelled by request")
        elif rec.state == RUNNING and job_id in self._running:
            self._running[job_id].token.cancel()
        return self.get(job_id)

    def delete(self, job_id: str) -> None:
        rec = self.get(job_id)
        if rec.state not in TERMINAL:
            raise ServiceError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"job {job_id} is {rec.state}; cancel it first",
                "JOB_ACTIVE",
            )
        self._remove(job_id)

    def _remove(self, job_id: str) -> None:
        self.store.delete(job_id)
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    @property
    def queue_depth(self) -> int:
        return len(self._pending)

    @property
    def running_count(self) -> int:
        return len(self._running)

    def subscribe(self, job_id: str) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(maxsize=WATCH_QUEUE)
        self._watchers.setdefault(job_id, set()).add(q)
        return q

    def unsubscribe(self, job_id: str, q: asyncio.Queue) -> None:
        qs = self._watchers.get(job_id)
        if qs is not None:
            qs.discard(q)
            if not qs:
                del self._watchers[job_id]

    def _publish(self, job_id: str, update: Update) -> None:
        for q in self._watchers.get(job_id, ()):
            if q.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()  # drop the oldest progress event
            q.put_nowait(update)

    # ---- running ---------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        while self._accepting and self._pending and len(self._running) < self.workers:
            job_id = self._pending.popleft()
            rec = self.store.get(job_id)
            if rec is None or rec.state != QUEUED:
                continue
            self._start(rec)

    def _start(self, rec: JobRecord) -> None:
        assert self._loop is not None
        job_dir = self.job_dir(rec.id)
        work = job_dir / "work"
        work.mkdir(exist_ok=True)
        resume = any(work.iterdir())
        now = time.time()
        self.store.update(rec.id, state=RUNNING, started_at=rec.started_at or now, attempts=rec.attempts + 1)
        token = CancelToken()
        task = self.tasks.get(rec.kind)
        progress = self._progress_callback(rec.id)
        fut = self._loop.run_in_executor(
            self._executor, self._run_task, task, rec, job_dir, work, resume, token, progress
        )
        self._running[rec.id] = _Running(token=token, task=fut, started=time.monotonic())
        fut.add_done_callback(lambda f, job_id=rec.id: self._on_done(job_id, f))
        log.info(
            "job started", extra=fields(job_id=rec.id, kind=rec.kind, resume=resume, attempt=rec.attempts + 1)
        )
        self._publish(rec.id, Update(RUNNING, rec.last_event))

    def _run_task(
        self,
        task: Task | None,
        rec: JobRecord,
        job_dir: Path,
        work: Path,
        resume: bool,
        token: CancelToken,
        progress: Callable[[ProgressEvent], None],
    ) -> dict[str, float]:
        """On a worker thread: the job's options checked (again: the server may have been upgraded
        since the job was queued), the server's device filled in, then the task."""
        if task is None:
            raise ServiceError(
                grpc.StatusCode.FAILED_PRECONDITION, f"this server does not run {rec.kind} jobs"
            )
        options = options_of(task.Options, rec.options)
        if getattr(options, "device", None) == "auto":
            options.device = self.device
        ctx = TaskContext(
            job_id=rec.id,
            options=options,
            input_path=self._input_path(rec.id, rec),
            result_path=job_dir / RESULT_NAME,
            work_dir=work,
            resume=resume,
            progress=progress,
            cancel=token,
        )
        try:
            if self.home is None:
                return task.run(ctx)
            with use_data_dir(self.home):
                return task.run(ctx)
        except RuntimeError as e:
            if type(e).__name__ == "OutOfMemoryError" or "out of memory" in str(e).lower():
                raise ResourceLimit(f"out of memory for this {rec.kind} job; try smaller settings") from e
            raise

    def _progress_callback(self, job_id: str):
        loop = self._loop
        assert loop is not None

        def progress(ev: ProgressEvent) -> None:  # called on the worker thread
            data = ev.to_dict()
            data["time"] = time.time()
            run = self._running.get(job_id)
            now = time.monotonic()
            if run is not None:
                run.last_event = data
            if run is not None and (
                ev.phase != run.last_phase or now - run.last_write >= EVENT_WRITE_INTERVAL_S
            ):
                run.last_phase, run.last_write = ev.phase, now
                self.store.update(job_id, last_event=data)
            loop.call_soon_threadsafe(self._publish, job_id, Update(RUNNING, data))

        return progress

    def _on_done(self, job_id: str, fut: asyncio.Future) -> None:
        run = self._running.pop(job_id)
        exc = fut.exception() if not fut.cancelled() else Cancelled("cancelled")
        rec = self.store.get(job_id)
        if rec is None:  # deleted meanwhile (cannot happen: delete refuses running jobs)
            return
        seconds = time.monotonic() - run.started
        if run.last_event is not None:
            self.store.update(job_id, last_event=run.last_event)
        if exc is None:
            result = self.result_path(job_id)
            info = fut.result() or {}
            self.store.update(
                job_id, result_bytes=result.stat().st_size if result.exists() else 0, result_info=info
            )
            shutil.rmtree(self.job_dir(job_id) / "work", ignore_errors=True)
            self._finish_record(job_id, SUCCEEDED, 0, "")
        elif run.shutdown and isinstance(exc, Cancelled):
            # Interrupted by a shutdown: not a crash, so it does not count as an attempt.
            self.store.update(job_id, state=QUEUED, attempts=max(0, rec.attempts - 1))
            log.info("job interrupted by shutdown; it resumes at next start", extra=fields(job_id=job_id))
        else:
            if isinstance(exc, Cancelled):
                code, message = grpc.StatusCode.CANCELLED.value[0], "cancelled by request"
            else:
                status = to_rpc_status(exc, f"in job {job_id}")
                code, message = status.code, status.message
            self._finish_record(job_id, CANCELLED if isinstance(exc, Cancelled) else FAILED, code, message)
            if not isinstance(exc, Cancelled):
                log.warning(
                    "job failed",
                    extra=fields(job_id=job_id, code=code_and_message(exc)[0].name, error=message),
                )
        if self.metrics is not None:
            final = self.store.get(job_id)
            self.metrics.job_finished(rec.kind, final.state if final else "unknown", seconds)
        self._dispatch()

    def _finish_record(self, job_id: str, state: str, error_code: int, error_message: str) -> None:
        self.store.update(
            job_id, state=state, finished_at=time.time(), error_code=error_code, error_message=error_message
        )
        rec = self.store.get(job_id)
        log.info("job finished", extra=fields(job_id=job_id, state=state))
        if rec is not None:
            self._publish(job_id, Update(state, rec.last_event, error_code, error_message))

    # ---- retention -------------------------------------------------------------------------------

    def sweep(self) -> int:
        """Delete finished jobs older than the TTL; returns how many."""
        self.uploads.expire()
        ids = self.store.expired(time.time(), self.limits.job_ttl_s)
        for job_id in ids:
            self._remove(job_id)
        if ids:
            log.info("expired jobs deleted", extra=fields(count=len(ids)))
        return len(ids)

    async def _sweep_forever(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                self.sweep()
            except Exception:  # keep sweeping; a bad row must not kill retention
                log.exception("retention sweep failed")


def input_suffix(filename: str) -> str:
    """A safe suffix from the client's file name (the demuxer may use it), else '.bin'."""
    suffix = Path(filename).suffix.lower()
    return suffix if 2 <= len(suffix) <= 8 and suffix[1:].isalnum() else ".bin"
