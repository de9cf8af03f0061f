"""Who gets a slot: authenticated calls and health watches are counted apart, so a flood of
unauthenticated streams cannot take the capacity authenticated calls need.

Unauthenticated calls to protected methods are answered by the auth interceptor at once and hold
nothing. What an unauthenticated peer can hold open is health watches: at most
`max_health_watches` in all and `max_watches_per_connection` per connection; beyond that it is
told RESOURCE_EXHAUSTED at once. Every other call (past auth) takes one of `max_calls` slots; a call
beyond them is told RESOURCE_EXHAUSTED with a retry hint, which the client honours.
"""

from __future__ import annotations

import collections
from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2
from grpc_health.v1._async import HealthServicer
from grpc_status import rpc_status

from service.errors import Busy, to_rpc_status
from service.handlers import aiter_result, rewrap

HEALTH_PREFIX = "/grpc.health.v1.Health/"
MAX_SERVICE_NAME = 200  # a health check names a service: ours are ~25 characters


class BoundedHealthServicer(HealthServicer):
    """grpc's health servicer with its Watch streams capped (they need no token)."""

    def __init__(self, max_health_watches: int = 32, max_watches_per_connection: int = 4) -> None:
        super().__init__()
        self.max_total, self.max_per_connection = max_health_watches, max_watches_per_connection
        self.total = 0
        self.per_connection: collections.Counter[str] = collections.Counter()

    async def Check(self, request: health_pb2.HealthCheckRequest, context):
        if len(request.service) > MAX_SERVICE_NAME:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "service name too long")
        return await super().Check(request, context)

    async def Watch(self, request: health_pb2.HealthCheckRequest, context) -> None:
        if len(request.service) > MAX_SERVICE_NAME:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "service name too long")
        peer = context.peer()
        if self.total >= self.max_total or self.per_connection[peer] >= self.max_per_connection:
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"too many health watches (at most {self.max_per_connection} per connection, "
                f"{self.max_total} in all); use Check, or watch again later",
            )
        self.total += 1
        self.per_connection[peer] += 1
        try:
            await super().Watch(request, context)
        finally:
            self.total -= 1
            self.per_connection[peer] -= 1
            if not self.per_connection[peer]:
                del self.per_connection[peer]


class AdmissionInterceptor(grpc.aio.ServerInterceptor):
    """At most `max_calls` calls (health excluded) in progress; placed after auth, so only
    authenticated calls count."""

    def __init__(self, max_calls: int = 256, retry_after_s: float = 1.0) -> None:
        self.max_calls, self.retry_after_s = max_calls, retry_after_s
        self.in_flight = 0

    async def _refuse(self, context: grpc.aio.ServicerContext) -> None:
        busy = Busy(f"{self.in_flight} calls in progress; try again shortly", self.retry_after_s)
        await context.abort_with_status(rpc_status.to_status(to_rpc_status(busy)))

    async def intercept_service(self, continuation: Callable, details: grpc.HandlerCallDetails):
        handler = await continuation(details)
        if handler is None or details.method.startswith(HEALTH_PREFIX):
            return handler

        def make(inner: Callable, _request_streaming: bool, response_streaming: bool) -> Callable:
            if response_streaming:

                async def streaming(request, context):
                    if self.in_flight >= self.max_calls:
                        await self._refuse(context)
                    self.in_flight += 1
                    try:
                        async for item in aiter_result(inner(request, context)):
                            yield item
                    finally:
                        self.in_flight -= 1

                return streaming

            async def unary(request, context):
                if self.in_flight >= self.max_calls:
                    await self._refuse(context)
                self.in_flight += 1
                try:
                    return await inner(request, context)
                finally:
                    self.in_flight -= 1

            return unary

        return rewrap(handler, make)
