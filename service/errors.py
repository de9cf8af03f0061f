"""The one place that turns exceptions into gRPC status codes with google.rpc rich details.

Library errors (`codec.errors`) map one class to one code through the table the client shares
(`codec.rpc.status`); `ServiceError` carries codes that
only the service produces (NOT_FOUND, FAILED_PRECONDITION, UNAVAILABLE, ...). Anything else is a
bug: the client sees INTERNAL with a generic message and the traceback goes to the log.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any, NoReturn

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from codec.errors import CodecError, ResourceLimit
from codec.rpc.status import code_for

log = logging.getLogger("service.errors")

DOMAIN = "neural-codec"


class ServiceError(Exception):
    """An error with an explicit status code, raised by servicers and the job manager."""

    def __init__(self, code: grpc.StatusCode, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason or code.name


class Busy(ResourceLimit):
    """Queue or concurrency limit reached: try again after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _is_oom(exc: BaseException) -> bool:
    # torch.cuda.OutOfMemoryError, without importing torch here.
    return type(exc).__name__ == "OutOfMemoryError"


def code_and_message(exc: BaseException) -> tuple[grpc.StatusCode, str, str]:
    """(status code, client-facing message, ErrorInfo reason) for an exception."""
    if isinstance(exc, ServiceError):
        return exc.code, str(exc), exc.reason
    known = code_for(exc)
    if known is not None:
        return known[0], str(exc) or type(exc).__name__, known[1]
    if isinstance(exc, CodecError):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc), "CODEC_ERROR"
    if _is_oom(exc):
        return grpc.StatusCode.RESOURCE_EXHAUSTED, "GPU out of memory for this job", "OUT_OF_MEMORY"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded", "DEADLINE_EXCEEDED"
    return grpc.StatusCode.INTERNAL, "internal error (details are in the server log)", "INTERNAL"


MAX_MESSAGE_CHARS = 500  # well under gRPC's metadata limit, so the real error always arrives
# An absolute path in a message is the server's (clients' file names arrive without directories):
# only its last component is shown.
_ABS_PATH = re.compile(r"(?<![\w.~])/(?:[^\s/'\"(),;:]+/)+([^\s/'\"(),;:]*)")


def public_message(message: str) -> str:
    """What a client may see: one line, no server paths, bounded length."""
    text = _ABS_PATH.sub(lambda m: m.group(1) or "<dir>", " ".join(message.split()))
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def to_rpc_status(exc: BaseException, log_context: str = "") -> status_pb2.Status:
    """The google.rpc.Status for an exception; logs the traceback of unexpected ones."""
    code, message, reason = code_and_message(exc)
    message = public_message(message)
    if code == grpc.StatusCode.INTERNAL:
        log.error("unexpected error %s", log_context, exc_info=exc)
    status = status_pb2.Status(code=code.value[0], message=message)
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN)
    status.details.add().Pack(info)
    retry_after = getattr(exc, "retry_after_s", None)
    if retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(retry_after * 1e9))
        status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    return status


async def abort(context: grpc.aio.ServicerContext, exc: BaseException, log_context: str = "") -> NoReturn:
    await context.abort_with_status(rpc_status.to_status(to_rpc_status(exc, log_context)))
    raise AssertionError("unreachable")  # abort_with_status always raises


def rpc_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a servicer method (coroutine or async generator) so that exceptions become statuses."""
    name = fn.__qualname__

    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def gen_wrapper(
            self: Any, request: Any, context: grpc.aio.ServicerContext
        ) -> AsyncIterator[Any]:
            try:
                async for item in fn(self, request, context):
                    yield item
            except (grpc.aio.AbortError, asyncio.CancelledError):
                raise
            except Exception as exc:  # noqa: BLE001 - the whole point: every error becomes a status
                await abort(context, exc, name)

        return gen_wrapper

    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await fn(self, request, context)
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except Exception as exc:  # noqa: BLE001
            await abort(context, exc, name)

    return wrapper
