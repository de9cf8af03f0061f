"""Job records and progress dicts to and from their proto messages (no logic beyond the mapping)."""

from __future__ import annotations

from typing import Any

from google.protobuf import timestamp_pb2

from codec.rpc import jobs_pb2
from codec.rpc.options import to_proto_map
from service.jobstore import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, JobRecord

STATE_TO_PROTO = {
    QUEUED: jobs_pb2.JOB_STATE_QUEUED,
    RUNNING: jobs_pb2.JOB_STATE_RUNNING,
    SUCCEEDED: jobs_pb2.JOB_STATE_SUCCEEDED,
    FAILED: jobs_pb2.JOB_STATE_FAILED,
    CANCELLED: jobs_pb2.JOB_STATE_CANCELLED,
}
PROTO_TO_STATE = {v: k for k, v in STATE_TO_PROTO.items()}


def timestamp(seconds: float | None) -> timestamp_pb2.Timestamp | None:
    if seconds is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def event_to_proto(
    job_id: str, state: str, event: dict[str, Any] | None, error_code: int = 0, error_message: str = ""
) -> jobs_pb2.JobEvent:
    msg = jobs_pb2.JobEvent(job_id=job_id, state=STATE_TO_PROTO[state])
    if event:
        msg.phase = event.get("phase", "")
        msg.step = int(event.get("step") or 0)
        msg.total = int(event.get("total") or 0)
        if event.get("eta_s") is not None:
            msg.eta_s = float(event["eta_s"])
        msg.message = event.get("message", "")
        for name in ("metrics", "extra"):
            target = getattr(msg, name)
            for k, v in (event.get(name) or {}).items():
                if isinstance(v, int | float) and not isinstance(v, bool):
                    target[k] = float(v)
        if event.get("time"):
            msg.time.CopyFrom(timestamp(event["time"]))
    if error_code:
        msg.error.code = error_code
        msg.error.message = error_message
    return msg


def job_to_proto(rec: JobRecord, ttl_s: float) -> jobs_pb2.Job:
    msg = jobs_pb2.Job(
        job_id=rec.id,
        kind=rec.kind,
        state=STATE_TO_PROTO[rec.state],
        input_bytes=rec.input_bytes,
        result_bytes=rec.result_bytes,
        attempts=rec.attempts,
    )
    for name, value in (("created_at", rec.created_at), ("started_at", rec.started_at)):
        if value is not None:
            getattr(msg, name).CopyFrom(timestamp(value))
    if rec.finished_at is not None:
        msg.finished_at.CopyFrom(timestamp(rec.finished_at))
        msg.expires_at.CopyFrom(timestamp(rec.finished_at + ttl_s))
    if rec.last_event is not None:
        msg.last_event.CopyFrom(event_to_proto(rec.id, rec.state, rec.last_event))
    if rec.error_code:
        msg.error.code = rec.error_code
        msg.error.message = rec.error_message
    to_proto_map(rec.options, msg.options)
    for k, v in rec.result_info.items():
        msg.result_info[k] = float(v)
    return msg
