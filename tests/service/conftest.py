"""Real servers for the service tests: in-process (a thread with its own event loop) or a subprocess.

Both bind port 0 on loopback; the subprocess kind is for SIGKILL/SIGTERM tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from codec.client import close_channels
from service.config import Limits, ServerConfig
from service.server import CodecServer, create_server

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "tests" / "data" / "odd_37x29.mp4"  # 8 real frames, 37x29: encodes in seconds
CARPHONE = ROOT / "assets" / "carphone.mp4"
TOKEN = "test-token-0123456789abcdef"
READ_TOKEN = "read-only-token-0123456789"
# The smallest encode worth the name: two epochs of the 8-frame clip on the CPU (~10 s here).
TINY_ENCODE = {"size": 0.03, "epochs": 2, "seed": 1, "device": "cpu"}
ENCODE = "hnerv.encode"  # the job kind of an HNeRV encode


def spec(filename: str = "", total_bytes: int = 0, kind: str = ENCODE, **options):
    """A JobSpec for raw SubmitJob calls."""
    from codec.rpc import jobs_pb2
    from codec.rpc.options import to_proto_map

    msg = jobs_pb2.JobSpec(kind=kind, filename=filename, total_bytes=total_bytes)
    to_proto_map(options, msg.options)
    return msg


class ThreadedServer:
    """A CodecServer running on its own event loop in a daemon thread."""

    def __init__(self, config: ServerConfig, runners: dict | None = None) -> None:
        self.config = config
        self.runners = runners
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: CodecServer = self._run(self._start())
        self.port = self.server.port
        self.target = f"127.0.0.1:{self.port}"

    async def _start(self) -> CodecServer:
        server, _ = await create_server(self.config, self.runners)
        await server.start()
        return server

    def _run(self, coro, timeout: float = 60.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable, *args):
        """Run a plain function on the server's loop (to poke at the job manager safely)."""

        async def wrap():
            return fn(*args)

        return self._run(wrap())

    def stop(self, grace: float = 1.0) -> None:
        if self.loop.is_running():
            self._run(self.server.stop(grace))
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., ThreadedServer]]:
    """make_server(data_dir=, limits=, runner=, tokens=, ...) -> a started server, stopped at the end."""
    servers: list[ThreadedServer] = []

    def make(data_dir: Path | None = None, limits: Limits | None = None, runner=None, **kw) -> ThreadedServer:
        cfg = ServerConfig(
            data_dir=data_dir or tmp_path / "data",
            port=0,
            device="cpu",
            grace_s=1.0,
            sweep_interval_s=3600.0,
            job_stop_timeout_s=30.0,
            limits=limits or Limits(),
            **kw,
        )
        s = ThreadedServer(cfg, None if runner is None else {ENCODE: runner})
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()
    close_channels()


@pytest.fixture
def server(make_server) -> ThreadedServer:
    """A plain server: no auth, default limits, CPU."""
    return make_server()


@pytest.fixture
def auth_server(make_server) -> ThreadedServer:
    return make_server(tokens=(TOKEN,), read_only_tokens=(READ_TOKEN,))


class ServerProcess:
    """`python -m service` in a subprocess; `port` is read from its 'listening' log line."""

    def __init__(self, data_dir: Path, *args: str, env: dict | None = None) -> None:
        self.log_path = data_dir.parent / f"server-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w+")
        cmd = [
            sys.executable,
            "-m",
            "service",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--device",
            "cpu",
            "--grace",
            "2",
            *args,
        ]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        self.port = self._wait_for_port()
        self.target = f"127.0.0.1:{self.port}"

    def _wait_for_port(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.log_entries():
                if entry.get("msg") == "listening":
                    return int(entry["port"])
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_path.read_text()}")
            time.sleep(0.05)
        raise TimeoutError(f"server did not start:\n{self.log_path.read_text()}")

    def log_entries(self) -> list[dict]:
        out = []
        for line in self.log_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 60.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        self._log.close()


@pytest.fixture
def spawn_server() -> Iterator[Callable[..., ServerProcess]]:
    procs: list[ServerProcess] = []

    def spawn(data_dir: Path, *args: str, env: dict | None = None) -> ServerProcess:
        p = ServerProcess(data_dir, *args, env=env)
        procs.append(p)
        return p

    yield spawn
    for p in procs:
        p.close()
    close_channels()


def with_limits(**kw) -> Limits:
    return replace(Limits(), **kw)


def fake_encode_runner(steps: int = 20, step_s: float = 0.05, fail_with: Exception | None = None):
    """Stands in for the HNeRV encode where a test is about the job machinery, not the codec:
    reports `steps` progress events, honours cancel, 'encodes' by copying the input."""
    import shutil

    from codec.progress import ProgressEvent

    def run(ctx) -> dict[str, float]:
        for i in range(steps):
            ctx.cancel.check()
            time.sleep(step_s)
            loss = 1.0 / (i + 1)
            ctx.progress(ProgressEvent(phase="train", step=i + 1, total=steps, metrics={"loss": loss}))
        if fail_with is not None:
            raise fail_with
        shutil.copyfile(ctx.input_path, ctx.result_path)
        return {"steps": float(steps)}

    return run


def use_runner(server: ThreadedServer, runner) -> None:
    """Make the server's HNeRV encode jobs run `runner` instead."""
    import dataclasses

    tasks = server.server.jobs.tasks
    server.call(tasks.__setitem__, ENCODE, dataclasses.replace(tasks[ENCODE], run=runner))


@pytest.fixture(scope="session")
def tiny_bitstream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CLIP encoded locally with TINY_ENCODE: the reference for remote encodes and decodes."""
    from codec import api

    out = tmp_path_factory.mktemp("ref") / "clip.hnerv"
    api.encode(CLIP, out, "hnerv", TINY_ENCODE)
    return out


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server cert for 127.0.0.1/localhost and a client cert, all signed by the CA."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("certs")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    key = ("-newkey", "rsa:2048", "-nodes")
    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test-ca")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        sign = ("-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "san.ext")
        openssl("x509", "-req", "-in", f"{name}.csr", *sign, "-out", f"{name}.pem")
    return d


def raw_call(channel, path: str, client_stream: bool, server_stream: bool, metadata, body: bytes = b""):
    """Call any method with a raw body (not serialized: any bytes); returns the status code. A
    response stream is read to its first message (a health watch never ends)."""
    import grpc

    kind = {
        (False, False): channel.unary_unary,
        (False, True): channel.unary_stream,
        (True, False): channel.stream_unary,
        (True, True): channel.stream_stream,
    }[(client_stream, server_stream)]
    call = kind(path, request_serializer=None, response_deserializer=None)
    try:
        result = call(iter([body, body]) if client_stream else body, metadata=metadata, timeout=10)
        if server_stream:
            for _ in result:
                result.cancel()
                break
    except grpc.RpcError as e:
        return e.code()
    return grpc.StatusCode.OK


def service_methods() -> list[tuple[str, bool, bool]]:
    """(path, client streaming, server streaming) of every method of every registered service."""
    from google.protobuf import descriptor_pool

    from service.servicers import SERVICES

    return [
        (f"/{svc.full_name}/{m.name}", m.client_streaming, m.server_streaming)
        for svc in (descriptor_pool.Default().FindServiceByName(s.name) for s in SERVICES)
        for m in svc.methods
    ]
