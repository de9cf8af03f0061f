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
