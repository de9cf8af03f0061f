"""Resumable uploads: a broken SubmitJob continues from the bytes the server holds (QueryUpload)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from conftest import CLIP, ENCODE, fake_encode_runner, spec, use_runner, with_limits

from codec.client import CodecClient, RetryPolicy
from codec.rpc import common_pb2, jobs_pb2, jobs_pb2_grpc

DATA = CLIP.read_bytes()
UPLOAD_ID = "test-upload-0123456789"


def _stub(target: str) -> jobs_pb2_grpc.JobServiceStub:
    return jobs_pb2_grpc.JobServiceStub(grpc.insecure_channel(target))


def _options(upload_id: str = UPLOAD_ID) -> jobs_pb2.SubmitRequest:
    return jobs_pb2.SubmitRequest(spec=spec(CLIP.name, len(DATA), size=0.03), upload_id=upload_id)


def _chunks(start: int, stop: int, size: int = 500) -> list[jobs_pb2.SubmitRequest]:
    return [
        jobs_pb2.SubmitRequest(chunk=common_pb2.Chunk(offset=o, data=DATA[o : min(o + size, stop)]))
        for o in range(start, stop, size)
    ]


def _resume(upload_id: str = UPLOAD_ID) -> jobs_pb2.SubmitRequest:
    return jobs_pb2.SubmitRequest(resume_upload_id=upload_id)


def _query(stub, upload_id: str = UPLOAD_ID) -> jobs_pb2.UploadStatus:
    return stub.QueryUpload(jobs_pb2.QueryUploadRequest(upload_id=upload_id), timeout=10)


def _code(fn) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value


def _uploaded_bytes(server) -> float:
    return server.server.metrics.registry.get_sample_value("codec_upload_bytes_total") or 0.0


def _result(server, job_id: str, tmp_path: Path) -> bytes:
    client = CodecClient(server.target)
    client.watch_job(job_id)
    client.read_result(job_id, tmp_path / "result.bin")
    return (tmp_path / "result.bin").read_bytes()


def test_upload_stopped_short_resumes_from_the_committed_offset(server, tmp_path: Path) -> None:
    use_runner(server, fake_encode_runner(steps=1, step_s=0.0))  # 'encodes' by copying the input
    stub = _stub(server.target)
    err = _code(lambda: stub.SubmitJob(iter([_options(), *_chunks(0, 1500)]), timeout=30))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "ended after 1500 of the" in err.details()
    status = _query(stub)
    assert (status.committed_bytes, status.total_bytes, status.job_id) == (1500, len(DATA), "")

    # Checked offsets still apply: a gap is refused, and the upload stays as it was.
    err = _code(lambda: stub.SubmitJob(iter([_resume(), *_chunks(2000, len(DATA))]), timeout=30))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "offset 2000" in err.details()
    assert _query(stub).committed_bytes == 1500
    # An id in use cannot start a second upload; unknown and malformed ids are refused.
    err = _code(lambda: stub.SubmitJob(iter([_options(), *_chunks(0, len(DATA))]), timeout=30))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    assert _code(lambda: _query(stub, "no-such-upload-0000")).code() == grpc.StatusCode.NOT_FOUND
    err = _code(lambda: stub.SubmitJob(iter([_options("short"), *_chunks(0, 100)]), timeout=30))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "upload_id" in err.details()

    ref = stub.SubmitJob(iter([_resume(), *_chunks(1500, len(DATA))]), timeout=30)
    assert _result(server, ref.job_id, tmp_path) == DATA
    assert _uploaded_bytes(server) == len(DATA)  # no byte was sent twice
    # A client whose reply was lost learns that the upload became a job; resuming again is refused.
    status = _query(stub)
    assert (status.job_id, status.committed_bytes) == (ref.job_id, len(DATA))
    err = _code(lambda: stub.SubmitJob(iter([_resume()]), timeout=30))
    assert err.code() == grpc.StatusCode.NOT_FOUND and f"became job {ref.job_id}" in err.details()
    assert list((server.config.data_dir / "service" / "uploads").iterdir()) == []


def test_resume_may_go_back_and_replaces_what_followed(server, tmp_path: Path) -> None:
    use_runner(server, fake_encode_runner(steps=1, step_s=0.0))
    stub = _stub(server.target)
    garbage = [jobs_pb2.SubmitRequest(chunk=common_pb2.Chunk(offset=1000, data=b"\0" * 500))]
    _code(lambda: stub.SubmitJob(iter([_options(), *_chunks(0, 1000), *garbage]), timeout=30))
    assert _query(stub).committed_bytes == 1500
    ref = stub.SubmitJob(iter([_resume(), *_chunks(1000, len(DATA))]), timeout=30)
    assert _result(server, ref.job_id, tmp_path) == DATA


def test_resume_takes_over_from_a_call_the_server_thinks_alive(server, tmp_path: Path) -> None:
    """A half-open connection: the old call still holds the upload when its client resumes elsewhere."""
    use_runner(server, fake_encode_runner(steps=1, step_s=0.0))
    release = threading.Event()

    def stalled() -> Iterator[jobs_pb2.SubmitRequest]:
        yield _options()
        yield from _chunks(0, 1000)
        release.wait(30)

    old = _stub(server.target).SubmitJob.future(stalled())
    try:
        stub = _stub(server.target)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if _query(stub).committed_bytes == 1000:
                    break
            except grpc.RpcError:  # not registered yet (the first options check imports torch)
                pass
            time.sleep(0.02)
        ref = stub.SubmitJob(iter([_resume(), *_chunks(1000, len(DATA))]), timeout=30)
        assert old.exception(timeout=10).code() == grpc.StatusCode.ABORTED
        assert _result(server, ref.job_id, tmp_path) == DATA
    finally:
        release.set()


def test_parked_uploads_expire_and_are_capped(make_server) -> None:
    s = make_server(limits=with_limits(upload_resume_ttl_s=0.5, max_parked_uploads=1))
    stub = _stub(s.target)
    first, second = "first-upload-000000", "second-upload-00000"
    for upload_id in (first, second):
        _code(lambda upload_id=upload_id: stub.SubmitJob(iter([_options(upload_id), *_chunks(0, 1000)])))
    assert _code(lambda: _query(stub, first)).code() == grpc.StatusCode.NOT_FOUND  # beyond the cap
    assert _query(stub, second).committed_bytes == 1000
    time.sleep(0.6)
    assert _code(lambda: _query(stub, second)).code() == grpc.StatusCode.NOT_FOUND  # expired
    assert list((s.config.data_dir / "service" / "uploads").iterdir()) == []


class CuttingProxy:
    """TCP proxy to a server. Its first connection stops forwarding after `pause_after` client bytes
    and is cut (both sockets closed) on `cut()`; later connections pass freely."""

    def __init__(self, target_port: int, pause_after: int) -> None:
        self.target_port = target_port
        self.pause_after = pause_after
        self.paused = threading.Event()
        self._cut = threading.Event()
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.target = f"127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        self._cut.set()

    def close(self) -> None:
        self._cut.set()
        self.sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            limit = self.pause_after if self.connections == 1 else None
            threading.Thread(target=self._pipe, args=(client, upstream, limit), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, None), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while data := src.recv(65536):
                if limit is not None and sent + len(data) >= limit:
                    dst.sendall(data[: limit - sent])
                    self.paused.set()
                    self._cut.wait(30)
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def test_client_resumes_after_the_connection_breaks(server, tmp_path: Path) -> None:
    use_runner(server, fake_encode_runner(steps=1, step_s=0.0))
    proxy = CuttingProxy(server.port, pause_after=2000)
    try:
        client = CodecClient(proxy.target, retry=RetryPolicy(initial_backoff_s=0.05))
        statuses: list[jobs_pb2.UploadStatus] = []
        query = client.query_upload
        client.query_upload = lambda upload_id: statuses.append(query(upload_id)) or statuses[-1]
        result: list = []
        thread = threading.Thread(
            target=lambda: result.append(client.submit_job(ENCODE, {"size": 0.03}, CLIP, chunk_size=256))
        )
        thread.start()
        assert proxy.paused.wait(30)
        deadline = time.monotonic() + 30  # let the server store what got through, then break the line
        while server.call(lambda: server.server.jobs.uploads.bytes_held) == 0:
            assert time.monotonic() < deadline, "no upload bytes reached the server"
            time.sleep(0.02)
        proxy.cut()
        thread.join(60)
    finally:
        proxy.close()
    assert result, "submit_encode did not finish"
    assert proxy.connections >= 2  # it really reconnected
    assert 0 < statuses[0].committed_bytes < len(DATA)  # and continued from the middle
    assert _uploaded_bytes(server) == len(DATA)  # sending no byte twice
    assert _result(server, result[0], tmp_path) == DATA
