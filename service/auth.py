"""Bearer-token auth as a server interceptor; health checks are exempt so load balancers need no token.

Tokens come from a file (one per line; `# comments`; a line `TOKEN read-only` grants read access
only) or from `$CODEC_TOKEN`. Comparison is constant-time; tokens are never logged or echoed.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from pathlib import Path

import grpc

from codec.errors import InvalidInput
from service.handlers import rewrap

ENV_VAR = "CODEC_TOKEN"
EXEMPT_PREFIXES = ("/grpc.health.v1.Health/",)
# Methods a read-only token may call; everything else needs a full token.
READ_ONLY_METHODS = frozenset(
    {
        "/codec.v1.JobService/GetJob",
        "/codec.v1.JobService/ListJobs",
        "/codec.v1.JobService/WatchJob",
        "/codec.v1.JobService/ReadResult",
        "/codec.v1.JobService/ListJobKinds",
        "/codec.v1.VideoService/Decode",
        "/codec.v1.ModelService/ListModels",
        "/codec.v1.ModelService/GetModel",
        "/codec.v1.EmbeddingService/Embed",
        "/codec.v1.EmbeddingService/DecodeVectors",
        "/codec.v1.IndexService/GetCollection",
        "/codec.v1.IndexService/ListCollections",
        "/codec.v1.IndexService/Search",
        "/codec.v1.IndexService/Snapshot",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    }
)


def load_tokens(token_file: str | os.PathLike[str] | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(full tokens, read-only tokens) from `token_file`, else from $CODEC_TOKEN, else none."""
    full: list[str] = []
    read_only: list[str] = []
    if token_file:
        path = Path(token_file).expanduser()
        try:
            text = path.read_text()
        except OSError as e:
            raise InvalidInput(f"cannot read token file {path}: {e.strerror}") from e
        for n, line in enumerate(text.splitlines(), 1):
            parts = line.split("#", 1)[0].split()
            if not parts:
                continue
            if len(parts) > 2 or (len(parts) == 2 and parts[1] != "read-only"):
                raise InvalidInput(f"{path}:{n}: expected 'TOKEN' or 'TOKEN read-only'")
            if len(parts[0]) < 16:
                raise InvalidInput(f"{path}:{n}: token too short (use at least 16 characters)")
            (read_only if len(parts) == 2 else full).append(parts[0])
        if not full and not read_only:
            raise InvalidInput(f"token file {path} holds no token")
    elif os.environ.get(ENV_VAR):
        full.append(os.environ[ENV_VAR].strip())
    return tuple(full), tuple(read_only)


def _matches(candidate: bytes, tokens: tuple[str, ...]) -> bool:
    # Compare against every token so the time taken does not say which one was close.
    found = False
    for t in tokens:
        found |= hmac.compare_digest(candidate, t.encode())
    return found


class BearerAuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, tokens: tuple[str, ...], read_only_tokens: tuple[str, ...] = ()) -> None:
        self.tokens = tokens
        self.read_only_tokens = read_only_tokens

    async def intercept_service(self, continuation: Callable, details: grpc.HandlerCallDetails):
        method = details.method
        if method.startswith(EXEMPT_PREFIXES):
            return await continuation(details)
        header = ""
        for key, value in details.invocation_metadata or ():
            if key == "authorization":
                header = value if isinstance(value, str) else value.decode("latin-1")
                break
        scheme, _, token = header.partition(" ")
        if not header:
            denial = (grpc.StatusCode.UNAUTHENTICATED, "missing 'authorization: Bearer <token>' metadata")
        elif scheme.lower() != "bearer" or not token:
            denial = (grpc.StatusCode.UNAUTHENTICATED, "authorization metadata must be 'Bearer <token>'")
        else:
            candidate = token.strip().encode()
            if _matches(candidate, self.tokens):
                return await continuation(details)
            if _matches(candidate, self.read_only_tokens):
                if method in READ_ONLY_METHODS:
                    return await continuation(details)
                denial = (grpc.StatusCode.PERMISSION_DENIED, f"a read-only token may not call {method}")
            else:
                denial = (grpc.StatusCode.UNAUTHENTICATED, "invalid token")
        handler = await continuation(details)
        return _denying_handler(handler, *denial)


def _denying_handler(handler: grpc.RpcMethodHandler | None, code: grpc.StatusCode, message: str):
    if handler is None:
        return None  # unknown method: let gRPC answer UNIMPLEMENTED

    def make(_inner: Callable, _request_streaming: bool, response_streaming: bool) -> Callable:
        async def deny(_request, context):
            await context.abort(code, message)

        async def deny_stream(_request, context):
            await context.abort(code, message)
            yield  # an async generator, as streaming handlers are

        return deny_stream if response_streaming else deny

    # No request deserializer: the body stays raw bytes and is never parsed, so an unauthenticated
    # caller gets UNAUTHENTICATED whatever it sent, and no parser runs on its bytes.
    return rewrap(handler, make, request_deserializer=None)
