"""Jobs and uploads: submit a job of any kind (with a resumable, offset-checked upload), follow it,
fetch its result, cancel or delete it."""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc

from codec.client.transport import MAX_SEND_BYTES, Connection, RemoteError, error_from_rpc
from codec.errors import Cancelled, CodecError, CorruptData, InvalidInput
from codec.options import to_mapping
from codec.progress import ProgressCallback, ProgressEvent, null_progress
from codec.rpc import common_pb2, jobs_pb2, jobs_pb2_grpc
from codec.rpc.options import from_proto_map, to_proto_map
from codec.rpc.status import code_from_int, error_for

CHUNK_BYTES = 1 << 20  # upload chunk: 1 MiB (see bench/grpc_bench.py for the sweep)

STATE_NAMES = {
    jobs_pb2.JOB_STATE_QUEUED: "queued",
    jobs_pb2.JOB_STATE_RUNNING: "running",
    jobs_pb2.JOB_STATE_SUCCEEDED: "succeeded",
    jobs_pb2.JOB_STATE_FAILED: "failed",
    jobs_pb2.JOB_STATE_CANCELLED: "cancelled",
}
TERMINAL_STATES = frozenset(
    {jobs_pb2.JOB_STATE_SUCCEEDED, jobs_pb2.JOB_STATE_FAILED, jobs_pb2.JOB_STATE_CANCELLED}
)


def option_values(options: Any) -> dict[str, Any]:
    """Options as the wire map: an options dataclass (what it would run with, local-only switches
    left out), a mapping as given, or None (the server's defaults)."""
    if options is None:
        return {}
    if isinstance(options, Mapping):
        return dict(options)
    if dataclasses.is_dataclass(options):
        return to_mapping(options, remote_only=True)
    raise InvalidInput(f"options must be an options dataclass or a mapping, not {type(options).__name__}")


class JobsApi(Connection):
    """JobService calls."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.jobs = jobs_pb2_grpc.JobServiceStub(self.channel)

    def get_job(self, job_id: str) -> jobs_pb2.Job:
        return self._unary(self.jobs.GetJob, common_pb2.JobRef(job_id=job_id))

    def list_jobs(self, states: tuple[str, ...] = (), kind: str = "", limit: int = 0) -> list[jobs_pb2.Job]:
        by_name = {v: k for k, v in STATE_NAMES.items()}
        unknown = [s for s in states if s not in by_name]
        if unknown:
            raise InvalidInput(f"unknown job state(s) {unknown}; use {', '.join(by_name)}")
        req = jobs_pb2.ListJobsRequest(states=[by_name[s] for s in states], kind=kind, limit=limit)
        return list(self._unary(self.jobs.ListJobs, req).jobs)

    def cancel_job(self, job_id: str) -> jobs_pb2.Job:
        return self._unary(self.jobs.CancelJob, common_pb2.JobRef(job_id=job_id))

    def delete_job(self, job_id: str) -> None:
        self._unary(self.jobs.DeleteJob, common_pb2.JobRef(job_id=job_id))

    def watch_job(
        self, job_id: str, progress: ProgressCallback = null_progress, reconnect_for_s: float = 600.0
    ) -> jobs_pb2.Job:
        """Follow a job to its end, feeding `progress`.

        Reconnects across server restarts, giving up once the server has been unreachable for
        `reconnect_for_s` seconds in a row.
        """
        attempt = 0
        down_since: float | None = None
        while True:
            try:
                for event in self.jobs.WatchJob(common_pb2.JobRef(job_id=job_id), metadata=self.metadata):
                    attempt, down_since = 0, None
                    if event.state in TERMINAL_STATES:
                        return self.get_job(job_id)
                    if event.phase:
                        progress(progress_event(event))
            except grpc.RpcError as err:
                down_since = down_since or time.monotonic()
                delay = self.retry.delay(min(attempt, 3), err)
                if delay is None or time.monotonic() - down_since > reconnect_for_s:
                    raise error_from_rpc(err, self.server) from None
                time.sleep(delay)
                attempt += 1
                continue
            # The stream ended without a final state: look, and watch again if it is still going.
            job = self.get_job(job_id)
            if job.state in TERMINAL_STATES:
                return job

    def read_result(self, job_id: str, output: str | os.PathLike[str], chunk_size: int = CHUNK_BYTES) -> int:
        """Download a succeeded job's result to `output` (atomically); returns its size."""
        out = Path(output)
        part = out.with_name(out.name + ".part")
        received = 0
        with open(part, "wb") as f:

            def download() -> None:
                nonlocal received
                req = jobs_pb2.ReadResultRequest(job_id=job_id, offset=received, chunk_size=chunk_size)
                for chunk in self.jobs.ReadResult(req, metadata=self.metadata):
                    if chunk.offset != received:
                        raise CorruptData(f"result chunk at offset {chunk.offset}, expected {received}")
                    f.write(chunk.data)
                    received += len(chunk.data)

            self._call(download)  # a retry continues from `received`
        os.replace(part, out)
        return received

    def list_job_kinds(self) -> list[jobs_pb2.JobKind]:
        return list(self._unary(self.jobs.ListJobKinds, jobs_pb2.ListJobKindsRequest()).kinds)

    def job_options(self, job: jobs_pb2.Job) -> dict[str, Any]:
        return from_proto_map(job.options)

    def submit_job(
        self,
        kind: str,
        options: Any = None,
        input_path: str | os.PathLike[str] | None = None,
        chunk_size: int = CHUNK_BYTES,
        resumable: bool = True,
    ) -> str:
        """Submit a job of `kind` (e.g. "hnerv.encode") with its options (the options dataclass, a
        mapping or None) and, for kinds that take one, an input file; returns the job id.

        A resumable upload whose stream breaks continues where the server's copy ends, and one
        whose reply was lost is not sent twice; a server that lost it (a restart) gets it again.
        """
        if not 0 < chunk_size <= MAX_SEND_BYTES - 4096:
            raise InvalidInput(f"chunk size must be in 1..{MAX_SEND_BYTES - 4096}")
        spec = jobs_pb2.JobSpec(kind=kind)
        to_proto_map(option_values(options), spec.options)
        path = None if input_path is None else Path(input_path)
        if path is not None:
            if not path.is_file():
                raise InvalidInput(f"{path.name}: no such file")
            spec.filename = path.name
            spec.total_bytes = path.stat().st_size
        upload_id = uuid.uuid4().hex if resumable else ""

        def requests(first: jobs_pb2.SubmitRequest, offset: int) -> Iterator[jobs_pb2.SubmitRequest]:
            yield first
            if path is None:
                return
            with open(path, "rb") as f:
                f.seek(offset)
                while data := f.read(chunk_size):
                    yield jobs_pb2.SubmitRequest(chunk=common_pb2.Chunk(offset=offset, data=data))
                    offset += len(data)

        resume_from: int | None = None  # None: send the options and the whole file
        attempt = 0
        while True:
            if resume_from is None:
                first = jobs_pb2.SubmitRequest(spec=spec, upload_id=upload_id)
            else:
                first = jobs_pb2.SubmitRequest(resume_upload_id=upload_id)
            try:
                ref = self.jobs.SubmitJob(requests(first, resume_from or 0), metadata=self.metadata)
                return ref.job_id
            except grpc.RpcError as err:
                gone = resume_from is not None and err.code() == grpc.StatusCode.NOT_FOUND  # expired
                delay = 0.0 if gone and attempt + 1 < self.retry.attempts else self.retry.delay(attempt, err)
                if delay is None:
                    raise error_from_rpc(err, self.server) from None
                time.sleep(delay)
                attempt += 1
            if upload_id:
                status = self.query_upload(upload_id)
                if status is not None and status.job_id:
                    return status.job_id  # it went through; only the reply was lost
                resume_from = None if status is None else status.committed_bytes

    def query_upload(self, upload_id: str) -> jobs_pb2.UploadStatus | None:
        """How much of a resumable upload the server holds; None if it holds none of it."""
        try:
            return self._unary(self.jobs.QueryUpload, jobs_pb2.QueryUploadRequest(upload_id=upload_id))
        except RemoteError as e:
            if e.code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNIMPLEMENTED):  # an older server
                return None
            raise


def progress_event(event: jobs_pb2.JobEvent) -> ProgressEvent:
    """A JobEvent as the library's ProgressEvent, so remote and local encodes draw the same bar."""
    return ProgressEvent(
        phase=event.phase,
        step=event.step,
        total=event.total,
        eta_s=event.eta_s if event.HasField("eta_s") else None,
        message=event.message,
        metrics=dict(event.metrics),
        extra=dict(event.extra),
    )


def job_error(job: jobs_pb2.Job, server: str = "") -> CodecError:
    """The library error for a job that ended FAILED or CANCELLED."""
    where = f"server {server}: " if server else ""
    state = STATE_NAMES.get(job.state, "ended")
    message = f"{where}job {job.job_id} {state}: {job.error.message or 'no reason given'}"
    code = code_from_int(job.error.code)
    if job.state == jobs_pb2.JOB_STATE_CANCELLED:
        return Cancelled(message)
    cls = error_for(code)
    return cls(message) if cls is not None else RemoteError(message, code)
