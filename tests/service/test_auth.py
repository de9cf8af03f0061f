"""Bearer tokens: every RPC but health needs one; read-only tokens only read; tokens never logged."""

from __future__ import annotations

import logging

import grpc
import pytest
from conftest import (
    CLIP,
    ENCODE,
    READ_TOKEN,
    TOKEN,
    fake_encode_runner,
    raw_call,
    service_methods,
    use_runner,
)
from grpc_health.v1 import health_pb2, health_pb2_grpc

from codec.client import CodecClient, RemoteError
from codec.rpc import jobs_pb2

# Every method of every service the server registers (a new service is covered without an edit).
ALL_METHODS = [
    *service_methods(),
    ("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", True, True),
]


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        (("authorization", "Bearer wrong-token-000000000000"),),
        (("authorization", TOKEN),),
        (("authorization", f"Basic {TOKEN}"),),
    ],
    ids=["missing", "wrong", "no-scheme", "basic"],
)
def test_every_rpc_rejects_bad_tokens(auth_server, metadata) -> None:
    channel = grpc.insecure_channel(auth_server.target)
    for path, cs, ss in ALL_METHODS:
        assert raw_call(channel, path, cs, ss, metadata) == grpc.StatusCode.UNAUTHENTICATED, path
    channel.close()


def test_health_is_exempt_and_good_token_works(auth_server) -> None:
    channel = grpc.insecure_channel(auth_server.target)
    resp = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert resp.status == health_pb2.HealthCheckResponse.SERVING
    channel.close()
    assert CodecClient(auth_server.target, token=TOKEN).list_jobs() == []
    with pytest.raises(RemoteError, match="UNAUTHENTICATED"):
        CodecClient(auth_server.target).list_jobs()


def test_read_only_token_reads_but_cannot_write(auth_server) -> None:
    use_runner(auth_server, fake_encode_runner(steps=2, step_s=0.01))
    writer = CodecClient(auth_server.target, token=TOKEN)
    job_id = writer.submit_job(ENCODE, {"size": 0.03}, CLIP)
    reader = CodecClient(auth_server.target, token=READ_TOKEN)
    assert reader.get_job(job_id).job_id == job_id
    assert reader.watch_job(job_id).state == jobs_pb2.JOB_STATE_SUCCEEDED
    assert "hnerv.encode" in {k.kind for k in reader.list_job_kinds()}
    assert "fmnist-mrl" in {m.name for m in reader.list_models()}  # the shipped embedder
    for action in (
        lambda: reader.cancel_job(job_id),
        lambda: reader.delete_job(job_id),
        lambda: reader.submit_job(ENCODE, {"size": 0.03}, CLIP),
    ):
        with pytest.raises(RemoteError, match="PERMISSION_DENIED"):
            action()


def test_tokens_never_reach_the_log(auth_server, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        CodecClient(auth_server.target, token=TOKEN).list_jobs()
        with pytest.raises(RemoteError):
            CodecClient(auth_server.target, token="a-wrong-but-secret-token-xyz").list_jobs()
    text = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert "ListJobs" in text  # the access log did run
    assert TOKEN not in text and "a-wrong-but-secret-token-xyz" not in text


GARBAGE = b"\xff\xff\xff\xff\x0f"  # not a protobuf message: an invalid field tag and a runaway varint


def test_auth_comes_before_parsing(auth_server) -> None:
    """No token and an undecodable body: UNAUTHENTICATED on every protected method, never a parse
    error. With the token, the same body is INVALID_ARGUMENT, and the server keeps serving."""
    channel = grpc.insecure_channel(auth_server.target)
    good = (("authorization", f"Bearer {TOKEN}"),)
    for path, cs, ss in ALL_METHODS:
        assert raw_call(channel, path, cs, ss, (), GARBAGE) == grpc.StatusCode.UNAUTHENTICATED, path
        if "ServerReflection" not in path:
            assert raw_call(channel, path, cs, ss, good, GARBAGE) == grpc.StatusCode.INVALID_ARGUMENT, path
    channel.close()
    assert CodecClient(auth_server.target, token=TOKEN).list_jobs() == []
