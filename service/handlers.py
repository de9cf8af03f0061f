"""One way to wrap a gRPC method handler, whatever its kind (unary or streaming either way).

Interceptors (metrics, request parsing) replace a handler's behavior with one of the same kind;
`rewrap` builds the right `grpc.*_rpc_method_handler` for it, so each interceptor writes its logic
once instead of once per kind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

_SAME = object()
# (request streaming, response streaming) -> the handler attribute and its constructor
_KINDS = {
    (False, False): ("unary_unary", grpc.unary_unary_rpc_method_handler),
    (True, False): ("stream_unary", grpc.stream_unary_rpc_method_handler),
    (False, True): ("unary_stream", grpc.unary_stream_rpc_method_handler),
    (True, True): ("stream_stream", grpc.stream_stream_rpc_method_handler),
}

Make = Callable[[Callable, bool, bool], Callable]  # (inner behavior, request streaming, response streaming)


def rewrap(
    handler: grpc.RpcMethodHandler, make: Make, request_deserializer: Any = _SAME
) -> grpc.RpcMethodHandler:
    """The handler with its behavior replaced by `make(inner, request_streaming, response_streaming)`;
    a response-streaming replacement must be an async generator."""
    key = (bool(handler.request_streaming), bool(handler.response_streaming))
    attr, build = _KINDS[key]
    des = handler.request_deserializer if request_deserializer is _SAME else request_deserializer
    return build(make(getattr(handler, attr), *key), des, handler.response_serializer)


async def aiter_result(result: Any) -> AsyncIterator[Any]:
    """A response-streaming behavior's output: an async generator, or a coroutine that wrote its
    responses with context.write (grpc.aio allows both)."""
    if hasattr(result, "__aiter__"):
        async for item in result:
            yield item
    else:
        await result
