"""The real HNeRV encode and decode through a real server: the same bytes and frames as a local run."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import CLIP, ENCODE, TINY_ENCODE, with_limits

from codec import api
from codec.client import CodecClient, RetryPolicy, remote_decode, remote_encode
from codec.progress import ProgressEvent
from codec.rpc import common_pb2, jobs_pb2

pytestmark = pytest.mark.slow

# Torch's two OpenMP threads on two cores that something else keeps busy run a training step
# ~50x slower (threads spin at every barrier); one thread keeps the restart test ~20 s anywhere.
# Only where no result is compared with one computed in this process.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


def test_remote_encode_matches_local_and_decodes_alike(server, tiny_bitstream: Path, tmp_path: Path) -> None:
    from codec.io.video import probe, read_frames
    from codec.video.hnerv.decode import decode_frames

    events: list[ProgressEvent] = []
    out = tmp_path / "remote.hnerv"
    job = remote_encode(server.target, "hnerv", CLIP, out, TINY_ENCODE, progress=events.append)
    assert job.state == jobs_pb2.JOB_STATE_SUCCEEDED
    assert out.read_bytes() == tiny_bitstream.read_bytes()  # same seed, options, device: same file
    assert [e.step for e in events if e.phase == "train"][-1] == TINY_ENCODE["epochs"]
    assert job.result_info["file_bytes"] == out.stat().st_size and job.result_info["psnr"] > 10

    local = np.stack(list(decode_frames(tiny_bitstream.read_bytes(), device="cpu")))
    client = CodecClient(server.target)
    from_job = np.stack(list(client.decode_frames(job_id=job.job_id)))
    from_bytes = np.stack(list(client.decode_frames(bitstream=out, frames=(2, 5))))
    np.testing.assert_array_equal(from_job, local)
    np.testing.assert_array_equal(from_bytes, local[2:5])

    mkv = tmp_path / "decoded.mkv"  # FFV1: lossless, so the frames must match exactly
    remote_decode(server.target, api.open(out), mkv)
    np.testing.assert_array_equal(read_frames(mkv)[0], local)
    mp4 = tmp_path / "decoded.mp4"
    assert client.decode_to_file(mp4, job_id=job.job_id, frames=(0, 4)) == 4
    assert probe(mp4).frames == 4
    y4m = tmp_path / "decoded.y4m"  # written on the client from raw frames
    assert remote_decode(server.target, api.open(out), y4m) == len(local)


def test_cancel_stops_a_real_encode(server) -> None:
    client = CodecClient(server.target)
    job_id = client.submit_job(ENCODE, {**TINY_ENCODE, "epochs": 500}, CLIP)
    started = threading.Event()

    def on_event(ev: ProgressEvent) -> None:
        if ev.phase == "train":
            started.set()

    watcher_result: list = []
    t = threading.Thread(target=lambda: watcher_result.append(client.watch_job(job_id, on_event)))
    t.start()
    assert started.wait(60)
    t0 = time.monotonic()
    client.cancel_job(job_id)
    t.join(60)
    job = watcher_result[0]
    assert job.state == jobs_pb2.JOB_STATE_CANCELLED
    assert time.monotonic() - t0 < 20  # stopped within a few batches, not after 500 epochs
    assert job.last_event.step < 500


def test_kill_restart_resume(spawn_server, tmp_path: Path) -> None:
    """SIGKILL mid-encode, restart: the job resumes from its checkpoint; then SIGTERM drains it too."""
    data_dir = tmp_path / "data"
    # Enough epochs that the job is still training when each signal lands, on a fast machine too.
    options = {**TINY_ENCODE, "epochs": 24, "checkpoint_every": 1}

    def train_steps(client: CodecClient, job_id: str, until: int) -> list[int]:
        """The train steps the job reports from now on (every one, live), up to `until`."""
        steps: list[int] = []
        stream = client.jobs.WatchJob(common_pb2.JobRef(job_id=job_id), timeout=120)
        next(stream)  # the job as stored, whose event may be older than the last one reported
        for ev in stream:
            if ev.phase == "train":
                steps.append(ev.step)
                if ev.step >= until:
                    stream.cancel()
                    return steps
        raise AssertionError(f"job {job_id} ended before train step {until}; it reported {steps}")

    first = spawn_server(data_dir, env=ONE_THREAD)
    client = CodecClient(first.target)
    job_id = client.submit_job(ENCODE, options, CLIP)
    train_steps(client, job_id, 2)
    first.kill()

    second = spawn_server(data_dir, env=ONE_THREAD)
    client = CodecClient(second.target)
    after_kill = train_steps(client, job_id, 4)
    # continued from a checkpoint (events count completed epochs: a restart from scratch reports 0)
    assert min(after_kill) >= 1
    assert client.get_job(job_id).attempts == 2
    assert second.terminate() == 0  # graceful: the job checkpoints and is requeued
    assert any(e.get("msg", "").startswith("job interrupted by shutdown") for e in second.log_entries())

    third = spawn_server(data_dir, env=ONE_THREAD)
    client = CodecClient(third.target)
    job = client.watch_job(job_id)
    assert job.state == jobs_pb2.JOB_STATE_SUCCEEDED, job.error.message
    assert job.attempts == 2  # the graceful stop did not count
    assert job.result_bytes > 0


def test_twenty_concurrent_clients(spawn_server, tiny_bitstream: Path, tmp_path: Path) -> None:
    """Each client is served, or told RESOURCE_EXHAUSTED and served on retry; memory stays bounded."""
    import psutil

    from codec.video.hnerv.decode import decode_frames

    expected = np.stack(list(decode_frames(tiny_bitstream.read_bytes(), device="cpu")))
    srv = spawn_server(tmp_path / "data", "--max-queued-jobs", "2")
    proc = psutil.Process(srv.proc.pid)
    busy = []

    class CountingRetry(RetryPolicy):
        def delay(self, attempt, err):
            d = super().delay(attempt, err)
            if d is not None and err.code().name == "RESOURCE_EXHAUSTED":
                busy.append(err.details())
            return d

    def one_client(i: int, results: dict) -> None:
        client = CodecClient(
            srv.target, retry=CountingRetry(attempts=40, initial_backoff_s=0.05, max_backoff_s=1.0)
        )
        try:
            job_id = client.submit_job(ENCODE, {**TINY_ENCODE, "epochs": 1000}, CLIP)
            client.cancel_job(job_id)  # frees the queue slot for the next client
            frames = np.stack(list(client.decode_frames(bitstream=tiny_bitstream)))
            results[i] = bool(np.array_equal(frames, expected))
        except Exception as e:  # recorded, asserted below
            results[i] = e

    def round_of(n: int) -> dict:
        results: dict = {}
        threads = [threading.Thread(target=one_client, args=(i, results)) for i in range(n)]
        for t in threads:
            t.start()
        peak = 0
        while any(t.is_alive() for t in threads):
            peak = max(peak, proc.memory_info().rss)
            time.sleep(0.02)
        results["peak"] = peak
        return results

    warm = round_of(2)  # imports torch, builds a decoder: the baseline
    assert [warm[0], warm[1]] == [True, True]
    results = round_of(20)
    assert [results[i] for i in range(20)] == [True] * 20
    assert busy, "20 clients against a queue of 3 and 2 decode slots must have been told to retry"
    assert all("queue is full" in b or "decodes running" in b or "uploads in progress" in b for b in busy)
    assert results["peak"] < warm["peak"] + 300 * 2**20


def test_queue_limit_defaults_are_sane() -> None:
    limits = with_limits()
    assert limits.max_send_message_bytes >= 3840 * 2160 * 3 + 1024  # a raw 4K frame fits one message
