"""Request bodies are parsed here, after auth, so an undecodable message is INVALID_ARGUMENT.

gRPC would otherwise deserialize a request before any of our code runs: an undecodable unary body
became UNKNOWN/INTERNAL, and one in a request stream a traceback. This interceptor gives every
handler a raw-bytes deserializer and parses the bytes itself with the method's message type, one
message at a time for streams, answering INVALID_ARGUMENT with a one-line reason. It sits after the
auth interceptor, whose denials never parse anything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from codec.errors import InvalidInput
from service.handlers import aiter_result, rewrap


def _parse(des: Callable[[bytes], Any], raw: Any, method: str) -> Any:
    try:
        return des(raw)
    except (DecodeError, ValueError, TypeError) as e:
        reason = " ".join(str(e).split())[:120] or type(e).__name__
        raise InvalidInput(f"undecodable request message for {method.rsplit('/', 1)[-1]}: {reason}") from None


class ParseInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(self, continuation: Callable, details: grpc.HandlerCallDetails):
        handler = await continuation(details)
        if handler is None or handler.request_deserializer is None:
            return handler
        des, method = handler.request_deserializer, details.method

        async def parsed_stream(requests: AsyncIterator[bytes]) -> AsyncIterator[Any]:
            async for raw in requests:
                yield _parse(des, raw, method)  # raised inside the servicer: rpc_errors maps it

        async def prepare(request: Any, context: grpc.aio.ServicerContext, streaming: bool) -> Any:
            if streaming:
                return parsed_stream(request)
            try:
                return _parse(des, request, method)
            except InvalidInput as e:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))

        def make(inner: Callable, request_streaming: bool, response_streaming: bool) -> Callable:
            if response_streaming:

                async def streaming(request, context):
                    parsed = await prepare(request, context, request_streaming)
                    async for item in aiter_result(inner(parsed, context)):
                        yield item

                return streaming

            async def unary(request, context):
                return await inner(await prepare(request, context, request_streaming), context)

            return unary

        return rewrap(handler, make, request_deserializer=None)
