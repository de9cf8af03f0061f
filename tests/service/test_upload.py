"""SubmitJob checks (options, offsets, size, content, resolution, quota, queue) and Decode input checks."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import grpc
import pytest
from conftest import CLIP, ENCODE, fake_encode_runner, spec, use_runner, with_limits

from codec.client import CodecClient, retry_hint
from codec.errors import CorruptData, InvalidInput, ResourceLimit
from codec.rpc import common_pb2, jobs_pb2, jobs_pb2_grpc
from service.config import VideoLimits


def _raw_submit(target: str, job: jobs_pb2.JobSpec | None, chunks: list[tuple[int, bytes]]):
    stub = jobs_pb2_grpc.JobServiceStub(grpc.insecure_channel(target))
    msgs = [] if job is None else [jobs_pb2.SubmitRequest(spec=job)]
    msgs += [jobs_pb2.SubmitRequest(chunk=common_pb2.Chunk(offset=o, data=d)) for o, d in chunks]
    return stub.SubmitJob(iter(msgs), timeout=30)


def _code(fn) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value


def _uploads_left(server) -> list[Path]:
    return list((server.config.data_dir / "service" / "uploads").iterdir())


def test_options_are_checked_before_any_byte(server) -> None:
    client = CodecClient(server.target)
    with pytest.raises(InvalidInput, match="either --size or --bpp"):
        client.submit_job(ENCODE, {"size": 0.1, "bpp": 0.1}, CLIP)
    with pytest.raises(InvalidInput, match="epochs"):
        client.submit_job(ENCODE, {"epochs": -3}, CLIP)
    with pytest.raises(ResourceLimit, match="limit of 10000"):
        client.submit_job(ENCODE, {"epochs": 20000}, CLIP)
    err = _code(lambda: _raw_submit(server.target, None, [(0, b"abc")]))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "first SubmitJob message" in err.details()


def test_offsets_and_lengths_are_checked(server) -> None:
    data = CLIP.read_bytes()
    opts = spec(size=0.03)
    err = _code(lambda: _raw_submit(server.target, opts, [(0, data[:1000]), (1500, data[1000:])]))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "offset 1500" in err.details()
    opts.total_bytes = len(data) + 10
    err = _code(lambda: _raw_submit(server.target, opts, [(0, data)]))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and f"after {len(data)} of the" in err.details()
    err = _code(lambda: _raw_submit(server.target, spec(size=0.03), []))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "empty upload" in err.details()
    assert _uploads_left(server) == []


def test_not_a_video_is_invalid_argument(server, tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_bytes(b"this is not a video at all\n" * 100)
    with pytest.raises(InvalidInput, match="notes|video|read"):
        CodecClient(server.target).submit_job(ENCODE, {"size": 0.03}, fake)
    assert _uploads_left(server) == [] and CodecClient(server.target).list_jobs() == []


def test_oversized_upload_is_resource_exhausted(make_server) -> None:
    s = make_server(limits=with_limits(max_upload_bytes=1000))
    with pytest.raises(ResourceLimit, match="exceeds the limit of 1000"):
        CodecClient(s.target).submit_job(ENCODE, {"size": 0.03}, CLIP)  # refused on the announced size
    data = CLIP.read_bytes()
    err = _code(
        lambda: _raw_submit(
            s.target, spec(size=0.03), [(0, data[:800]), (800, data[800:])]
        )
    )
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # unannounced: stopped while streaming
    assert _uploads_left(s) == []


def test_resolution_and_frame_limits(make_server, tmp_path: Path) -> None:
    s = make_server(data_dir=tmp_path / "a", limits=with_limits(video=VideoLimits(max_pixels=30 * 30)))
    with pytest.raises(ResourceLimit, match="37x29 frames exceed the limit of 900 pixels"):
        CodecClient(s.target).submit_job(ENCODE, {"size": 0.03}, CLIP)
    s = make_server(data_dir=tmp_path / "b", limits=with_limits(video=VideoLimits(max_frames=4)))
    with pytest.raises(ResourceLimit, match="8 frames exceed the server's limit of 4"):
        CodecClient(s.target).submit_job(ENCODE, {"size": 0.03}, CLIP)


def test_disk_quota(make_server) -> None:
    size = CLIP.stat().st_size
    s = make_server(limits=with_limits(disk_quota_bytes=2 * size + 100))
    use_runner(s, fake_encode_runner(steps=1, step_s=0.0))
    client = CodecClient(s.target)
    first = client.submit_job(ENCODE, {"size": 0.03}, CLIP)
    assert client.watch_job(first).result_bytes == size  # input + result now count against the quota
    with pytest.raises(ResourceLimit, match="disk quota"):
        client.submit_job(ENCODE, {"size": 0.03}, CLIP)
    client.delete_job(first)
    client.submit_job(ENCODE, {"size": 0.03}, CLIP)


def test_full_queue_says_when_to_retry(make_server) -> None:
    s = make_server(workers=1, limits=with_limits(max_queued_jobs=1, retry_after_s=0.5))
    use_runner(s, fake_encode_runner(steps=100, step_s=0.02))
    client = CodecClient(s.target)
    running = client.submit_job(ENCODE, {"size": 0.03}, CLIP)
    queued = client.submit_job(ENCODE, {"size": 0.03}, CLIP)
    err = _code(lambda: _raw_submit(s.target, spec(size=0.03), [(0, CLIP.read_bytes())]))
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "queue is full" in err.details()
    assert retry_hint(err) == pytest.approx(0.5)
    client.cancel_job(running)
    third = client.submit_job(ENCODE, {"size": 0.03}, CLIP)  # the client retries until there is room
    assert client.get_job(third).state in (jobs_pb2.JOB_STATE_QUEUED, jobs_pb2.JOB_STATE_RUNNING)
    for job_id in (queued, third):
        client.cancel_job(job_id)


def test_abandoned_upload_leaves_nothing(server) -> None:
    data = CLIP.read_bytes()
    gave_up = threading.Event()

    def slow_requests():
        yield jobs_pb2.SubmitRequest(spec=spec(size=0.03))
        yield jobs_pb2.SubmitRequest(chunk=common_pb2.Chunk(offset=0, data=data[:1000]))
        gave_up.wait(30)  # never finishes: the client gives up first

    stub = jobs_pb2_grpc.JobServiceStub(grpc.insecure_channel(server.target))
    future = stub.SubmitJob.future(slow_requests())
    deadline = time.monotonic() + 10
    while not _uploads_left(server) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(_uploads_left(server)) == 1
    future.cancel()
    while _uploads_left(server) and time.monotonic() < deadline:
        time.sleep(0.02)
    gave_up.set()
    assert _uploads_left(server) == []
    assert CodecClient(server.target).list_jobs() == []


def test_decode_rejects_corrupt_and_missing_sources(server) -> None:
    client = CodecClient(server.target)
    with pytest.raises(CorruptData):
        list(client.decode_frames(bitstream=b"\x00garbage, not an hnerv file" * 10))
    data = CLIP.read_bytes()  # a real file, but not a bitstream
    with pytest.raises(CorruptData):
        list(client.decode_frames(bitstream=data))
    with pytest.raises(Exception, match="NOT_FOUND"):
        list(client.decode_frames(job_id="nope"))
