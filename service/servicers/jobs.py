"""JobService: read, watch, cancel and delete jobs of any kind."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import grpc

from codec.rpc import common_pb2, jobs_pb2, jobs_pb2_grpc
from service.config import Limits, MiB
from service.convert import PROTO_TO_STATE, event_to_proto, job_to_proto
from service.errors import ServiceError, rpc_errors
from service.jobs import JobManager
from service.jobstore import SUCCEEDED

DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000


class JobServicer(jobs_pb2_grpc.JobServiceServicer):
    def __init__(self, jobs: JobManager, limits: Limits) -> None:
        self.jobs = jobs
        self.limits = limits

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
