"""Job machinery with a stand-in runner (fast, deterministic): watch, cancel, delete, results, TTL, failures.

The real HNeRV encode runs in test_video_e2e.py; here the subject is the queue and the job store.
"""

from __future__ import annotations

import time

import grpc
import pytest
from conftest import CLIP, ENCODE, fake_encode_runner, use_runner, with_limits

from codec.client import CodecClient, RemoteError, job_error
from codec.errors import CorruptData, InvalidInput
from codec.progress import ProgressEvent
from codec.rpc import jobs_pb2


def test_watch_streams_progress_then_the_final_state(server, tmp_path) -> None:
    use_runner(server, fake_encode_runner(steps=5, step_s=0.02))
    client = CodecClient(server.target)
    job_id = client.submit_job(ENCODE, {"size": 0.03}, CLIP)
    events: list[ProgressEvent] = []
    job = client.watch_job(job_id, events.append)
    assert job.state == jobs_pb2.JOB_STATE_SUCCEEDED
    steps = [e.step for e in events if e.phase == "train"]
    assert steps[-1] == 5 and steps == sorted(steps)
    assert events[-1].metrics == {"loss": pytest.approx(0.2)}
    assert job.result_info["steps"] == 5 and job.attempts == 1
    assert job.finished_at.ToSeconds() >= job.started_at.ToSeconds() >= job.created_at.ToSeconds()
    assert job.expires_at.ToSeconds() > job.finished_at.ToSeconds()
    assert client.job_options(job) == {"size": 0.03}  # typed, as submitted
    # Watching a finished job answers at once with its final state.
    assert client.watch_job(job_id).state == jobs_pb2.JOB_STATE_SUCCEEDED


def test_read_result_whole_and_from_an_offset(server, tmp_path) -> None:
    use_runner(server, fake_encode_runner(steps=1, step_s=0.0))
    client = CodecClient(server.target)
    job_id = client.submit_job(ENCODE, {"size": 0.03}, CLIP)
    client.watch_job(job_id)
    out = tmp_path / "result.bin"
    assert client.read_result(job_id, out, chunk_size=1000) == CLIP.stat().st_size
    assert out.read_bytes() == CLIP.read_bytes()  # the stand-in 'encodes' by copying
    chunks = list(
        client.jobs.ReadResult(jobs_pb2.ReadResultRequest(job_id=job_id, offset=2000, chunk_size=500))
    )
    assert [c.offset for c in chunks] == [2000, 2500] and b"".join(
        c.data for c in chunks
    ) == CLIP.read_bytes()[2000:]
    with pytest.raises(grpc.RpcError) as err:
        list(client.jobs.ReadResult(jobs_pb2.ReadResultRequest(job_id=job_id, offset=10**9)))
    assert err.value.code() == grpc.StatusCode.OUT_OF_RANGE


def test_cancel_running_and_queued_jobs(make_server) -> None:
    s = make_server(workers=1)
    use_runner(s, fake_encode_runner(steps=500, step_s=0.01))
    client = CodecClient(s.target)
    running = client.submit_job(ENCODE, {"size": 0.03}, CLIP)
    queued = client.submit_job(ENCODE, {"size": 0.03}, CLIP)
    assert client.cancel_job(queued).state == jobs_pb2.JOB_STATE_CANCELLED
    seen: list[ProgressEvent] = []
    deadline = time.monotonic() + 10
    while client.get_job(running).state != jobs_pb2.JOB_STATE_RUNNING and time.monotonic() < deadline:
        time.sleep(0.01)
    client.cancel_job(running)
    job = client.watch_job(running, seen.append)
    assert job.state == jobs_pb2.JOB_STATE_CANCELLED
    assert job.error.code == grpc.StatusCode.CANCELLED.value[0]
    assert all(e.step < 500 for e in seen)  # stopped early
    with pytest.raises(RemoteError, match="FAILED_PRECONDITION"):
        client.read_result(running, "/dev/null")


def test_delete_refuses_active_jobs_and_removes_files(server) -> None:
    use_runner(server, fake_encode_runner(steps=300, step_s=0.01))
    client = CodecClient(server.target)
    job_id = client.submit_job(ENCODE, {"size": 0.03}, CLIP)
    with pytest.raises(RemoteError, match="FAILED_PRECONDITION.*cancel it first"):
        client.delete_job(job_id)
    client.cancel_job(job_id)
    client.watch_job(job_id)
    job_dir = server.config.data_dir / "service" / "jobs" / job_id
    assert job_dir.is_dir()
    client.delete_job(job_id)
    assert not job_dir.exists()
    with pytest.raises(RemoteError, match="NOT_FOUND"):
        client.get_job(job_id)


def test_runner_errors_become_job_errors(server, caplog) -> None:
    client = CodecClient(server.target)
    use_runner(
        server, fake_encode_runner(steps=1, step_s=0.0, fail_with=CorruptData("checkpoint unreadable"))
    )
    job = client.watch_job(client.submit_job(ENCODE, {"size": 0.03}, CLIP))
    assert job.state == jobs_pb2.JOB_STATE_FAILED
    assert (job.error.code, job.error.message) == (
        grpc.StatusCode.DATA_LOSS.value[0],
        "checkpoint unreadable",
    )
    assert isinstance(job_error(job), CorruptData)
    use_runner(server, fake_encode_runner(steps=1, step_s=0.0, fail_with=ZeroDivisionError("private detail")))
    job = client.watch_job(client.submit_job(ENCODE, {"size": 0.03}, CLIP))
    assert job.error.code == grpc.StatusCode.INTERNAL.value[0] and "private detail" not in job.error.message
    assert "private detail" in caplog.text  # the traceback is in the server log


def test_list_filters_by_state(server) -> None:
    use_runner(server, fake_encode_runner(steps=1, step_s=0.0))
    client = CodecClient(server.target)
    done = client.submit_job(ENCODE, {"size": 0.03}, CLIP)
    client.watch_job(done)
    use_runner(server, fake_encode_runner(steps=1000, step_s=0.01))
    active = client.submit_job(ENCODE, {"size": 0.03}, CLIP)
    assert [j.job_id for j in client.list_jobs()] == [active, done]
    assert [j.job_id for j in client.list_jobs(("succeeded",))] == [done]
    with pytest.raises(InvalidInput, match="unknown job state"):
        client.list_jobs(("finished",))
    client.cancel_job(active)


def test_finished_jobs_expire_after_the_ttl(make_server) -> None:
    s = make_server(limits=with_limits(job_ttl_s=0.2))
    use_runner(s, fake_encode_runner(steps=1, step_s=0.0))
    client = CodecClient(s.target)
    job_id = client.submit_job(ENCODE, {"size": 0.03}, CLIP)
    client.watch_job(job_id)
    assert s.call(s.server.jobs.sweep) == 0  # not yet
    time.sleep(0.3)
    assert s.call(s.server.jobs.sweep) == 1
    assert client.list_jobs() == []
    assert not (s.config.data_dir / "service" / "jobs" / job_id).exists()


def test_restart_requeues_interrupted_jobs(make_server, tmp_path) -> None:
    """A graceful stop interrupts a running job; the next server on that data dir resumes it."""
    data_dir = tmp_path / "shared"
    first = make_server(data_dir=data_dir)
    use_runner(first, fake_encode_runner(steps=1000, step_s=0.01))
    client = CodecClient(first.target)
    job_id = client.submit_job(ENCODE, {"size": 0.03}, CLIP)
    while client.get_job(job_id).state != jobs_pb2.JOB_STATE_RUNNING:
        time.sleep(0.01)
    first.stop(grace=0.5)
    resumed = []

    def runner(ctx):
        resumed.append(ctx.resume)
        return fake_encode_runner(steps=2, step_s=0.0)(ctx)

    second = make_server(data_dir=data_dir, runner=runner)
    job = CodecClient(second.target).watch_job(job_id)
    assert job.state == jobs_pb2.JOB_STATE_SUCCEEDED
    assert job.attempts == 1  # a graceful interruption is not a failed attempt
    assert len(resumed) == 1


def test_a_bad_time_limit_is_refused_at_submit(server) -> None:
    """--time-limit travels as a declared HNeRV option: checked when the job is submitted."""
    client = CodecClient(server.target)
    with pytest.raises(InvalidInput, match="time-limit takes a duration"):
        client.submit_job(ENCODE, {"size": 0.02, "time_limit": "soon"}, CLIP)
    assert client.health() == "SERVING"
