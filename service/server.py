"""Build and run the gRPC server.

`create_server(config)` binds the port (0: any free one) and returns `(server, port)` without
starting, so tests can run a real server on loopback; `serve(...)` is what `codec serve` calls:
it runs until SIGTERM/SIGINT, then drains (health NOT_SERVING, no new work, in-flight RPCs get
`grace_s`, running jobs checkpoint and are requeued to resume at the next start).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import shutil
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from codec.datadir import DataDirLock, resolve_data_dir
from codec.errors import InvalidInput
from service.admission import AdmissionInterceptor, BoundedHealthServicer
from service.auth import BearerAuthInterceptor, load_tokens
from service.config import Limits, ServerConfig, TlsConfig
from service.jobs import JobManager
from service.jobstore import JobStore
from service.logs import fields, setup_logging
from service.metrics import MetricsInterceptor, ServiceMetrics
from service.parsing import ParseInterceptor
from service.runners import Runner
from service.servicers import SERVICES, ServerParts
from service.servicers.video import warm_imports

log = logging.getLogger("service.server")

SERVICE_NAMES = tuple(s.name for s in SERVICES)
MAX_CALLS = 256  # authenticated calls in progress at once (health watches are capped apart)


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class CodecServer:
    """A grpc.aio server with the job manager, health and metrics that live and die with it."""

    def __init__(self, config: ServerConfig, runners: dict[str, Runner] | None = None) -> None:
        self.config = config
        self.runners = runners
        self.data_dir = config.data_dir
        self.lock = DataDirLock(self.data_dir, exclusive=True, owner="codec serve")
        self.metrics = ServiceMetrics()
        self.store: JobStore | None = None
        self.jobs: JobManager | None = None
        self.health = BoundedHealthServicer()
        self.grpc: grpc.aio.Server | None = None
        self.executor: ThreadPoolExecutor | None = None
        self.servicers: dict[str, object] = {}  # by full service name
        self.port = 0
        self.metrics_port: int | None = None
        self._stopped: asyncio.Event | None = None

    def _build(self) -> int:
        cfg, lim = self.config, self.config.limits
        self.lock.acquire()
        try:
            state_dir = self.data_dir / "service"
            self.store = JobStore(state_dir / "jobs.sqlite3")
            self.jobs = JobManager(
                self.store,
                state_dir,
                lim,
                workers=cfg.workers,
                device=cfg.device,
                metrics=self.metrics,
                runners=self.runners,
                home=self.data_dir,
            )
            self.metrics.bind_jobs(self.jobs)
            interceptors: list[grpc.aio.ServerInterceptor] = [MetricsInterceptor(self.metrics)]
            if cfg.tokens or cfg.read_only_tokens:
                interceptors.append(BearerAuthInterceptor(cfg.tokens, cfg.read_only_tokens))
            interceptors.append(
                AdmissionInterceptor(MAX_CALLS, lim.retry_after_s)
            )  # counts only what passed auth
            interceptors.append(ParseInterceptor())  # innermost: bodies are parsed after auth
            options = [
                ("grpc.max_receive_message_length", lim.max_receive_message_bytes),
                ("grpc.max_send_message_length", lim.max_send_message_bytes),
                ("grpc.so_reuseport", 0),  # a second server on the same port must fail, not share it
                ("grpc.keepalive_time_ms", 60_000),
                ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            ]
            server = grpc.aio.server(interceptors=interceptors, options=options)
            tmp_dir = state_dir / "tmp"
            shutil.rmtree(tmp_dir, ignore_errors=True)
            # Decodes, probes and input checks run here, apart from the job workers, so reads never
            # wait behind encodes.
            self.executor = ThreadPoolExecutor(
                max_workers=lim.max_concurrent_decodes + 2, thread_name_prefix="codec-io"
            )
            parts = ServerParts(self.jobs, lim, tmp_dir, self.data_dir, cfg.device, self.executor)
            for svc in SERVICES:
                self.servicers[svc.name] = svc.build(parts)
                svc.add(self.servicers[svc.name], server)
            health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
            reflection.enable_server_reflection(
                (
                    *SERVICE_NAMES,
                    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                    reflection.SERVICE_NAME,
                ),
                server,
            )
            if cfg.tls is not None:
                creds = _server_credentials(cfg.tls)
                port = server.add_secure_port(cfg.address, creds)
            else:
                port = server.add_insecure_port(cfg.address)
            if port == 0:
                raise InvalidInput(f"cannot listen on {cfg.address}")
            self.grpc = server
            self.port = port
            return port
        except BaseException:
            self._close_files()
            raise

    async def start(self) -> None:
        assert self.grpc is not None and self.jobs is not None
        self._stopped = asyncio.Event()
        await self.jobs.start(self.config.sweep_interval_s)
        asyncio.get_running_loop().run_in_executor(self.executor, warm_imports)  # not awaited
        await self.grpc.start()
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        if self.config.metrics_port is not None:
            self.metrics_port = self.metrics.serve_http(
                self.config.metrics_port, self.config.metrics_host or self.config.host
            )
        log.info(
            "listening",
            extra=fields(
                address=self.config.address,
                port=self.port,
                tls=self.config.tls is not None,
                mtls=bool(self.config.tls and self.config.tls.client_ca),
                auth=bool(self.config.tokens or self.config.read_only_tokens),
                data_dir=str(self.data_dir),
                workers=self.config.workers,
                metrics_port=self.metrics_port,
                pid=os.getpid(),
            ),
        )

    async def stop(self, grace_s: float | None = None) -> None:
        """Drain and stop; safe to call twice."""
        if self.grpc is None or self._stopped is None or self._stopped.is_set():
            return
        grace = self.config.grace_s if grace_s is None else grace_s
        log.info("draining", extra=fields(grace_s=grace))
        await self.health.enter_graceful_shutdown()  # every service NOT_SERVING, for load balancers
        assert self.jobs is not None
        self.jobs.stop_accepting()
        self.jobs.notify_draining()
        # In-flight RPCs get the grace period while running jobs checkpoint and stop.
        await asyncio.gather(self.grpc.stop(grace), self.jobs.shutdown(self.config.job_stop_timeout_s))
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        self.metrics.stop_http()
        self._close_files()
        self._stopped.set()
        log.info("stopped")

    def _close_files(self) -> None:
        for servicer in self.servicers.values():  # e.g. the index: its write-ahead log and lock
            close = getattr(servicer, "close", None)
            if close is not None:
                close()
        if self.store is not None:
            self.store.close()
            self.store = None
        self.lock.release()

    async def wait_for_termination(self) -> None:
        assert self._stopped is not None
        await self._stopped.wait()


def _server_credentials(tls: TlsConfig) -> grpc.ServerCredentials:
    try:
        cert, key = Path(tls.cert).read_bytes(), Path(tls.key).read_bytes()
        ca = Path(tls.client_ca).read_bytes() if tls.client_ca else None
    except OSError as e:
        raise InvalidInput(f"cannot read TLS file {e.filename}: {e.strerror}") from e
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=ca is not None
    )


def check_security(config: ServerConfig) -> None:
    """Refuse to expose an unauthenticated server beyond loopback unless told to."""
    if is_loopback(config.host):
        return
    if not (config.tokens or config.read_only_tokens) and not config.insecure:
        raise InvalidInput(
            f"refusing to listen on {config.host} without a token: pass --token-file (or set CODEC_TOKEN), "
            "or --insecure if the network is trusted"
        )
    if config.tls is None:
        log.warning("serving beyond loopback without TLS: tokens and data cross the network in clear text")


async def create_server(
    config: ServerConfig, runners: dict[str, Runner] | None = None
) -> tuple[CodecServer, int]:
    """Bind (port 0: a free one) and return the unstarted server and its port; `await server.start()`.

    `runners` replaces the job kinds' runners (default: service.runners.RUNNERS).
    """
    check_security(config)
    server = CodecServer(config, runners)
    port = server._build()
    return server, port


def build_config(
    host: str = "127.0.0.1",
    port: int = 50051,
    data_dir: str | os.PathLike[str] | None = None,
    workers: int = 1,
    token_file: str | os.PathLike[str] | None = None,
    tls_cert: str | os.PathLike[str] | None = None,
    tls_key: str | os.PathLike[str] | None = None,
    tls_client_ca: str | os.PathLike[str] | None = None,
    metrics_port: int | None = None,
    insecure: bool = False,
    device: str = "auto",
    grace_s: float = 30.0,
    limits: Limits | None = None,
) -> ServerConfig:
    """A ServerConfig from CLI-style arguments, with the checks that need no server."""
    if (tls_cert is None) != (tls_key is None):
        raise InvalidInput("--tls-cert and --tls-key go together")
    if tls_client_ca is not None and tls_cert is None:
        raise InvalidInput("--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key")
    if workers < 1:
        raise InvalidInput(f"--workers must be at least 1, got {workers}")
    tokens, read_only = load_tokens(token_file)
    tls = None
    if tls_cert is not None:
        tls = TlsConfig(Path(tls_cert), Path(tls_key), Path(tls_client_ca) if tls_client_ca else None)
    return ServerConfig(
        data_dir=resolve_data_dir(data_dir),
        host=host,
        port=port,
        workers=workers,
        tokens=tokens,
        read_only_tokens=read_only,
        tls=tls,
        insecure=insecure,
        metrics_port=metrics_port,
        device=device,
        grace_s=grace_s,
        limits=limits or Limits(),
    )


async def run_until_signal(config: ServerConfig) -> None:
    server, _ = await create_server(config)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await server.stop()


def serve(config: ServerConfig, log_level: str = "INFO") -> None:
    """Run a server until SIGTERM/SIGINT (what `codec serve` calls); build `config` with `build_config`."""
    setup_logging(log_level)
    asyncio.run(run_until_signal(config))
