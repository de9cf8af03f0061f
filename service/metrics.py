"""Prometheus metrics and the interceptor that records every RPC (and writes the access log).

Each server gets its own CollectorRegistry, so tests can run several servers in one process.
The interceptor sees method names, status codes and peers, never metadata: tokens stay out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily

from service.handlers import aiter_result, rewrap
from service.logs import fields

log = logging.getLogger("service.access")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
JOB_BUCKETS = (1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400)


class _GpuMemoryCollector:
    """Reports CUDA memory only when torch is already imported and a GPU exists (never imports torch)."""

    def collect(self):
        torch = sys.modules.get("torch")
        if torch is None or not torch.cuda.is_available():
            return
        allocated = GaugeMetricFamily(
            "codec_gpu_memory_allocated_bytes", "CUDA memory held by tensors", labels=["device"]
        )
        reserved = GaugeMetricFamily(
            "codec_gpu_memory_reserved_bytes", "CUDA memory held by the caching allocator", labels=["device"]
        )
        for i in range(torch.cuda.device_count()):
            allocated.add_metric([str(i)], torch.cuda.memory_allocated(i))
            reserved.add_metric([str(i)], torch.cuda.memory_reserved(i))
        yield allocated
        yield reserved


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "codec_rpc_requests", "RPCs by method and status code", ["method", "code"], registry=r
        )
        self.latency = Histogram(
            "codec_rpc_latency_seconds", "RPC latency", ["method"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.in_flight = Gauge("codec_rpc_in_flight", "RPCs being served", registry=r)
        self.queue_depth = Gauge("codec_job_queue_depth", "jobs waiting for a worker", registry=r)
        self.jobs_running = Gauge("codec_jobs_running", "jobs running", registry=r)
        self.job_duration = Histogram(
            "codec_job_duration_seconds",
            "job run time by kind and final state",
            ["kind", "state"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.upload_bytes = Counter("codec_upload_bytes", "bytes received in uploads", registry=r)
        self.disk_used = Gauge("codec_disk_used_bytes", "bytes of stored uploads and results", registry=r)
        r.register(_GpuMemoryCollector())
        self._http = None

    def bind_jobs(self, jobs: Any) -> None:
        self.queue_depth.set_function(lambda: jobs.queue_depth)
        self.jobs_running.set_function(lambda: jobs.running_count)
        self.disk_used.set_function(jobs.store.used_bytes)

    def job_finished(self, kind: str, state: str, seconds: float) -> None:
        self.job_duration.labels(kind, state).observe(seconds)

    def serve_http(self, port: int, host: str = "") -> int:
        """Start /metrics on `port` (0: any free port); returns the bound port."""
        server, _thread = start_http_server(port, addr=host or "0.0.0.0", registry=self.registry)
        self._http = server
        return server.server_address[1]

    def stop_http(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts, times and logs every RPC, whatever ends it (handler, abort, auth failure, cancel)."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self.metrics = metrics

    async def intercept_service(self, continuation: Callable, details: grpc.HandlerCallDetails):
        handler = await continuation(details)
        if handler is None:
            return None
        return _wrap_handler(handler, details.method, self.metrics)


class _Call:
    """One RPC being served: counted and timed when gRPC reports it done."""

    def __init__(self, metrics: ServiceMetrics, method: str, context: grpc.aio.ServicerContext) -> None:
        self.metrics, self.method, self.context = metrics, method, context
        self.start = time.perf_counter()
        self.cancelled = False  # the handler was cancelled: the client went away (no status was set)
        # Read while the call is live: the done callback runs later from the event loop, possibly
        # after the server (and gRPC core's call) is torn down, and peer() then reads freed memory
        # (a segfault in CI).
        self.peer = context.peer()
        metrics.in_flight.inc()
        context.add_done_callback(lambda _ctx: self.record())

    def record(self) -> None:
        elapsed = time.perf_counter() - self.start
        code = self.context.code()
        if code is None:
            cancelled = self.cancelled or self.context.cancelled()
            code = grpc.StatusCode.CANCELLED if cancelled else grpc.StatusCode.OK
        name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        self.metrics.requests.labels(self.method, name).inc()
        self.metrics.latency.labels(self.method).observe(elapsed)
        self.metrics.in_flight.dec()
        quiet = ("OK", "CANCELLED", "NOT_FOUND", "RESOURCE_EXHAUSTED")
        level = logging.INFO if name in quiet else logging.WARNING
        if self.method.startswith("/grpc.health"):
            level = logging.DEBUG
        log.log(
            level,
            "rpc",
            extra=fields(
                method=self.method, code=name, ms=round(elapsed * 1000, 2), peer=self.peer
            ),
        )

    @contextlib.contextmanager
    def watch(self) -> Iterator[None]:
        try:
            yield
        except asyncio.CancelledError:
            self.cancelled = True
            raise


def _wrap_handler(
    handler: grpc.RpcMethodHandler, method: str, metrics: ServiceMetrics
) -> grpc.RpcMethodHandler:
    def make(inner: Callable, _request_streaming: bool, response_streaming: bool) -> Callable:
        if response_streaming:

            async def streaming(request, context):
                with _Call(metrics, method, context).watch():
                    async for item in aiter_result(inner(request, context)):
                        yield item

            return streaming

        async def unary(request, context):
            with _Call(metrics, method, context).watch():
                return await inner(request, context)

        return unary

    return rewrap(handler, make)
