"""One mapping from exceptions to status codes, with google.rpc rich details."""

from __future__ import annotations

import logging

import grpc
import pytest
from google.rpc import error_details_pb2

from codec.errors import Cancelled, CorruptData, InvalidInput, ModelMismatch, ResourceLimit
from service.errors import Busy, ServiceError, code_and_message, to_rpc_status


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (InvalidInput("bad"), grpc.StatusCode.INVALID_ARGUMENT),
        (CorruptData("crc"), grpc.StatusCode.DATA_LOSS),
        (ResourceLimit("big"), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (ModelMismatch("weights"), grpc.StatusCode.FAILED_PRECONDITION),
        (Cancelled("stop"), grpc.StatusCode.CANCELLED),
        (ServiceError(grpc.StatusCode.NOT_FOUND, "no job"), grpc.StatusCode.NOT_FOUND),
        (TimeoutError(), grpc.StatusCode.DEADLINE_EXCEEDED),
    ],
)
def test_library_errors_keep_their_message(exc: Exception, code: grpc.StatusCode) -> None:
    got, message, _ = code_and_message(exc)
    assert got == code
    if str(exc):
        assert message == str(exc)


def test_unexpected_error_is_internal_generic_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    try:
        {}["secret-internal-detail"]
    except KeyError as e:
        exc = e
    with caplog.at_level(logging.ERROR, logger="service.errors"):
        status = to_rpc_status(exc, "in test")
    assert status.code == grpc.StatusCode.INTERNAL.value[0]
    assert "secret-internal-detail" not in status.message
    assert "secret-internal-detail" in caplog.text and "Traceback" in caplog.text


def test_busy_carries_retry_info() -> None:
    status = to_rpc_status(Busy("queue full", retry_after_s=2.5))
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    infos = [d for d in status.details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
    assert len(infos) == 1
    retry = error_details_pb2.RetryInfo()
    infos[0].Unpack(retry)
    assert retry.retry_delay.ToNanoseconds() == 2_500_000_000
    reasons = []
    for d in status.details:
        if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            d.Unpack(info)
            reasons.append((info.domain, info.reason))
    assert reasons == [("neural-codec", "RESOURCE_LIMIT")]


def test_messages_hide_server_paths_and_stay_short() -> None:
    from service.errors import MAX_MESSAGE_CHARS

    status = to_rpc_status(
        InvalidInput("/srv/codec/data/service/uploads/0123abcd/input.mp4: cannot read video")
    )
    assert status.message == "input.mp4: cannot read video"
    status = to_rpc_status(CorruptData("bad " + "x" * 100_000))
    assert len(status.message) == MAX_MESSAGE_CHARS


def test_hostile_requests_get_clear_short_answers(server, tmp_path) -> None:
    """Found by poking the service: each gets the right code, a short message, no server path."""
    from conftest import CLIP, ENCODE

    from codec.client import CodecClient, RemoteError
    from codec.rpc import jobs_pb2, jobs_pb2_grpc

    stub = jobs_pb2_grpc.JobServiceStub(grpc.insecure_channel(server.target))
    for limit in (-1, -(2**31)):
        with pytest.raises(grpc.RpcError) as info:
            stub.ListJobs(jobs_pb2.ListJobsRequest(limit=limit), timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    client = CodecClient(server.target)
    with pytest.raises(RemoteError, match="NOT_FOUND") as info:
        client.get_job("j" * (4 << 20))  # a 4 MB job id
    assert len(str(info.value)) < 300
    with pytest.raises(InvalidInput) as info:
        client.submit_job(ENCODE, {"loss": "l" * 100_000}, CLIP)  # a 100 KB option string
    assert "--loss must be one of l2, fusion" in str(info.value) and len(str(info.value)) < 300
    fake = tmp_path / "notes.mp4"
    fake.write_bytes(b"not a video\n" * 100)
    with pytest.raises(InvalidInput) as info:
        client.submit_job(ENCODE, {}, fake)
    message = str(info.value)
    assert "notes.mp4" in message and str(server.config.data_dir) not in message and "/" not in message
