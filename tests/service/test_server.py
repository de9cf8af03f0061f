"""Server setup: health, reflection, refusing unsafe binds, the data-dir lock, TLS, metrics, drain."""

from __future__ import annotations

import asyncio
import threading
import urllib.request
from pathlib import Path

import grpc
import pytest
from conftest import TOKEN, ThreadedServer
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from codec.client import CodecClient, RemoteError, TlsFiles
from codec.datadir import DataDirLocked
from codec.errors import InvalidInput
from service.config import ServerConfig
from service.server import build_config, create_server


def test_health_and_reflection_answer(server) -> None:
    channel = grpc.insecure_channel(server.target)
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", "codec.v1.JobService", "codec.v1.VideoService"):
        assert health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status == 1  # SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    reqs = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="codec.v1.VideoService"),
    ]
    listed, files = list(stub.ServerReflectionInfo(iter(reqs), timeout=5))
    names = {s.name for s in listed.list_services_response.service}
    assert {"codec.v1.JobService", "codec.v1.VideoService", "grpc.health.v1.Health"} <= names
    assert files.file_descriptor_response.file_descriptor_proto  # the .proto, for grpcurl
    channel.close()


def test_health_goes_not_serving_while_draining(server) -> None:
    channel = grpc.insecure_channel(server.target)
    watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    stopper = threading.Thread(target=server.stop, kwargs={"grace": 2.0})
    stopper.start()
    assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
    stopper.join(15)
    channel.close()


def _build(config: ServerConfig):
    async def go():
        server, port = await create_server(config)
        server._close_files()  # built but never started
        return port

    return asyncio.run(go())


def test_refuses_to_expose_an_unauthenticated_server(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="without a token"):
        _build(ServerConfig(data_dir=tmp_path, host="0.0.0.0", port=0))
    assert _build(ServerConfig(data_dir=tmp_path, host="0.0.0.0", port=0, insecure=True)) > 0
    assert _build(ServerConfig(data_dir=tmp_path, host="0.0.0.0", port=0, tokens=(TOKEN,))) > 0
    assert _build(ServerConfig(data_dir=tmp_path, host="127.0.0.1", port=0)) > 0


def test_second_server_on_the_same_data_dir_refuses(server, tmp_path: Path) -> None:
    with pytest.raises(DataDirLocked, match="in use by codec serve"):
        _build(ServerConfig(data_dir=server.config.data_dir, port=0))


def test_bad_flag_combinations(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="go together"):
        build_config(data_dir=tmp_path, tls_cert=tmp_path / "c.pem")
    with pytest.raises(InvalidInput, match="needs --tls-cert"):
        build_config(data_dir=tmp_path, tls_client_ca=tmp_path / "ca.pem")
    (tmp_path / "tokens").write_text("short\n")
    with pytest.raises(InvalidInput, match="too short"):
        build_config(data_dir=tmp_path, token_file=tmp_path / "tokens")
    (tmp_path / "tokens").write_text(f"# admin\n{TOKEN}\n{TOKEN}-ro read-only\n")
    cfg = build_config(data_dir=tmp_path, token_file=tmp_path / "tokens")
    assert cfg.tokens == (TOKEN,) and cfg.read_only_tokens == (f"{TOKEN}-ro",)


# ---- TLS --------------------------------------------------------------------------------------------


def test_tls_and_mutual_tls(make_server, certs: Path, tmp_path: Path) -> None:
    from service.config import TlsConfig

    tls_server = make_server(
        data_dir=tmp_path / "a", tls=TlsConfig(certs / "server.pem", certs / "server.key")
    )
    ok = CodecClient(tls_server.target, tls=TlsFiles(ca=certs / "ca.pem"), retry=None)
    assert ok.list_jobs() == []
    plain = CodecClient(tls_server.target, timeout_s=3)
    plain.retry.attempts = 1
    with pytest.raises(RemoteError, match="UNAVAILABLE"):
        plain.list_jobs()

    mtls = make_server(
        data_dir=tmp_path / "b",
        tokens=(TOKEN,),
        tls=TlsConfig(certs / "server.pem", certs / "server.key", certs / "ca.pem"),
    )
    with_cert = CodecClient(
        mtls.target,
        token=TOKEN,
        tls=TlsFiles(ca=certs / "ca.pem", cert=certs / "client.pem", key=certs / "client.key"),
    )
    assert with_cert.list_jobs() == []
    no_cert = CodecClient(mtls.target, token=TOKEN, tls=TlsFiles(ca=certs / "ca.pem"), timeout_s=3)
    no_cert.retry.attempts = 1
    with pytest.raises(RemoteError, match="UNAVAILABLE"):
        no_cert.list_jobs()


# ---- metrics ----------------------------------------------------------------------------------------


def test_metrics_endpoint_counts_requests(make_server) -> None:
    s: ThreadedServer = make_server(metrics_port=0)
    client = CodecClient(s.target)
    client.list_jobs()
    with pytest.raises(RemoteError, match="NOT_FOUND"):
        client.get_job("missing")
    body = (
        urllib.request.urlopen(f"http://127.0.0.1:{s.server.metrics_port}/metrics", timeout=5).read().decode()
    )
    assert 'codec_rpc_requests_total{code="OK",method="/codec.v1.JobService/ListJobs"} 1.0' in body
    assert 'codec_rpc_requests_total{code="NOT_FOUND",method="/codec.v1.JobService/GetJob"} 1.0' in body
    assert "codec_rpc_latency_seconds_bucket" in body
    assert "codec_job_queue_depth 0.0" in body
    assert "codec_disk_used_bytes 0.0" in body


def test_stubs_are_generated_from_the_protos() -> None:
    from codec.rpc import generate

    assert generate.ensure_stubs() == generate.OUT_DIR
    assert generate._is_fresh(generate._fingerprint())
    assert "from codec._proto import common_pb2" in (generate.OUT_DIR / "jobs_pb2.py").read_text()
