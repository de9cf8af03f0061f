"""JobService: submit (with a resumable, offset-checked upload), read, watch, cancel and delete jobs
of every kind. The kinds and their options come from the library's task registry."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import grpc

from codec.errors import InvalidInput, ResourceLimit
from codec.options import option_fields, options_of
from codec.rpc import common_pb2, jobs_pb2, jobs_pb2_grpc
from codec.rpc.options import from_proto_map, to_value
from service.config import Limits, MiB
from service.convert import PROTO_TO_STATE, event_to_proto, job_to_proto
from service.errors import ServiceError, rpc_errors
from service.inputs import check_input
from service.jobs import JobManager, input_suffix
from service.jobstore import SUCCEEDED
from service.uploads import IncompleteUpload, Upload, receive_upload

DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000


class JobServicer(jobs_pb2_grpc.JobServiceServicer):
    def __init__(self, jobs: JobManager, limits: Limits, executor) -> None:
        self.jobs = jobs
        self.limits = limits
        self.executor = executor  # input checks read files: off the event loop

    # ---- submit ----------------------------------------------------------------------------------

    @rpc_errors
    async def SubmitJob(self, request_iterator: AsyncIterator[jobs_pb2.SubmitRequest], context):
        first = await anext(aiter(request_iterator), None)
        which = None if first is None else first.WhichOneof("msg")
        if which == "spec":
            up = self._begin(first)
        elif which == "resume_upload_id":
            up = await self.jobs.resume_upload(first.resume_upload_id)
        else:
            raise InvalidInput("the first SubmitJob message must carry the job spec (or resume_upload_id)")
        keep = False
        try:
            await receive_upload(request_iterator, up, self.limits.max_upload_bytes, self.jobs)
            task = self.jobs.task(up.kind)
            if task.inputs:
                if up.received == 0:
                    raise InvalidInput(f"empty upload: {up.kind} needs an input file after the spec")
                await asyncio.get_running_loop().run_in_executor(
                    self.executor, check_input, up.path, task.inputs, self.limits, up.filename
                )
            elif up.received:
                raise InvalidInput(f"{up.kind} takes no input, but {up.received} bytes followed the spec")
            rec = self.jobs.commit_upload(up)
        except (asyncio.CancelledError, IncompleteUpload):
            keep = True  # the stream broke (or stopped short): the bytes so far wait for a resume
            if up.evicted is asyncio.current_task():
                raise ServiceError(
                    grpc.StatusCode.ABORTED, "another call resumed this upload", "UPLOAD_TAKEN_OVER"
                ) from None
            raise
        finally:
            self.jobs.end_upload(up, keep)  # no-op once committed
        return common_pb2.JobRef(job_id=rec.id)

    def _begin(self, first: jobs_pb2.SubmitRequest) -> Upload:
        spec = first.spec
        task = self.jobs.task(spec.kind)
        if spec.total_bytes < 0:
            raise InvalidInput(f"total_bytes must be 0 (unknown) or positive, got {spec.total_bytes}")
        options = from_proto_map(spec.options)
        epochs = options.get("epochs")
        if isinstance(epochs, int) and epochs > self.limits.max_epochs:
            raise ResourceLimit(f"epochs {epochs} exceeds the server's limit of {self.limits.max_epochs}")
        options_of(task.Options, options)  # bad options fail before a byte is uploaded
        filename = os.path.basename(spec.filename)[:200]
        name = f"input{input_suffix(filename)}" if task.inputs else ""
        return self.jobs.begin_upload(
            spec.kind, spec.total_bytes, first.upload_id, options, name, filename or "the upload"
        )

    @rpc_errors
    async def QueryUpload(self, request: jobs_pb2.QueryUploadRequest, context) -> jobs_pb2.UploadStatus:
        up, job_id = self.jobs.query_upload(request.upload_id)
        return jobs_pb2.UploadStatus(
            upload_id=up.upload_id, committed_bytes=up.received, total_bytes=up.declared, job_id=job_id
        )

    @rpc_errors
    async def ListJobKinds(self, request, context) -> jobs_pb2.ListJobKindsResponse:
        kinds = []
        for kind, task in sorted(self.jobs.tasks.items()):
            msg = jobs_pb2.JobKind(kind=kind, description=task.description, inputs=list(task.inputs))
            for f in option_fields(task.Options):
                info = msg.options.add(
                    name=f.name,
                    type=f.type.__name__,
                    help=f.spec.help,
                    unit=f.spec.unit,
                    range=f.describe_range(),
                )
                if f.default is not None:
                    info.default.CopyFrom(to_value(f.default, f.name))
            kinds.append(msg)
        return jobs_pb2.ListJobKindsResponse(kinds=kinds)

    # ---- the jobs --------------------------------------------------------------------------------

    def _proto(self, rec) -> jobs_pb2.Job:
        return job_to_proto(rec, self.limits.job_ttl_s)

    @rpc_errors
    async def GetJob(self, request: common_pb2.JobRef, context: grpc.aio.ServicerContext) -> jobs_pb2.Job:
        return self._proto(self.jobs.get(request.job_id))

    @rpc_errors
    async def ListJobs(self, request: jobs_pb2.ListJobsRequest, context) -> jobs_pb2.ListJobsResponse:
        states = []
        for s in request.states:
            if s not in PROTO_TO_STATE:
                raise ServiceError(grpc.StatusCode.INVALID_ARGUMENT, f"unknown job state {s}")
            states.append(PROTO_TO_STATE[s])
        if request.limit < 0:
            raise InvalidInput(
                f"limit must be 0 (the default, {DEFAULT_LIST_LIMIT}) or positive, got {request.limit}"
            )
        limit = min(request.limit or DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)
        recs = self.jobs.store.list(states, request.kind, limit)
        return jobs_pb2.ListJobsResponse(jobs=[self._proto(r) for r in recs])

    @rpc_errors
    async def WatchJob(self, request: common_pb2.JobRef, context) -> AsyncIterator[jobs_pb2.JobEvent]:
        job_id = request.job_id
        self.jobs.get(job_id)  # NOT_FOUND before subscribing
        queue = self.jobs.subscribe(job_id)
        try:
            # Subscribed first, read second: nothing that happens in between is lost.
            rec = self.jobs.get(job_id)
            yield event_to_proto(job_id, rec.state, rec.last_event, rec.error_code, rec.error_message)
            if rec.terminal:
                return
            while True:
                update = await queue.get()
                if update is None:  # the server is shutting down
                    raise ServiceError(
                        grpc.StatusCode.UNAVAILABLE,
                        "server is restarting; the job resumes after the restart, watch it again",
                        "DRAINING",
                    )
                yield event_to_proto(
                    job_id, update.state, update.event, update.error_code, update.error_message
                )
                if update.state in ("succeeded", "failed", "cancelled"):
                    return
        finally:
            self.jobs.unsubscribe(job_id, queue)

    @rpc_errors
    async def CancelJob(self, request: common_pb2.JobRef, context) -> jobs_pb2.Job:
        return self._proto(self.jobs.cancel(request.job_id))

    @rpc_errors
    async def ReadResult(
        self, request: jobs_pb2.ReadResultRequest, context
    ) -> AsyncIterator[common_pb2.Chunk]:
        rec = self.jobs.get(request.job_id)
        if rec.state != SUCCEEDED:
            raise ServiceError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"job {rec.id} is {rec.state}; a result exists only for succeeded jobs",
                "NO_RESULT",
            )
        path = self.jobs.result_path(rec.id)
        size = path.stat().st_size
        if not 0 <= request.offset <= size:
            raise ServiceError(grpc.StatusCode.OUT_OF_RANGE, f"offset {request.offset} is outside 0..{size}")
        chunk = min(request.chunk_size or MiB, self.limits.max_read_chunk_bytes)
        if chunk <= 0:
            raise ServiceError(grpc.StatusCode.INVALID_ARGUMENT, "chunk_size must be positive")
        fd = os.open(path, os.O_RDONLY)
        try:
            offset = request.offset
            while offset < size:
                data = await asyncio.to_thread(os.pread, fd, chunk, offset)
                if not data:
                    break
                yield common_pb2.Chunk(offset=offset, data=data)
                offset += len(data)
        finally:
            os.close(fd)

    @rpc_errors
    async def DeleteJob(self, request: common_pb2.JobRef, context) -> jobs_pb2.DeleteJobResponse:
        self.jobs.delete(request.job_id)
        return jobs_pb2.DeleteJobResponse()
