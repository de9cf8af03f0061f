"""The connection to a codec server: channels, TLS, bearer tokens, deadlines and retries.

One channel per (server, credentials) is kept for the life of the process. Unary calls have a
deadline; every call is retried with exponential backoff and jitter on UNAVAILABLE, and on
RESOURCE_EXHAUSTED when the server says when to retry (a full queue, not a too-large input).
Failures become the library's errors through the status table the server uses too
(`codec.rpc.status`), so a remote failure reads like a local one.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from codec.errors import CodecError, InvalidInput
from codec.rpc.status import error_for

T = TypeVar("T")

MAX_SEND_BYTES = 8 << 20  # the server's default receive limit
MAX_RECEIVE_BYTES = 64 << 20  # one raw 4K frame is 24 MiB
TOKEN_ENV = "CODEC_TOKEN"


class RemoteError(CodecError):
    """A server answer with no library equivalent (UNAUTHENTICATED, NOT_FOUND, UNAVAILABLE, ...)."""

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.code = code


def error_from_rpc(err: grpc.RpcError, server: str = "") -> CodecError:
    """The library error for a failed call, so the CLI prints one clear line and exits 2."""
    code = err.code() if hasattr(err, "code") else None
    details = (err.details() if hasattr(err, "details") else "") or str(code)
    where = f"server {server}: " if server else ""
    cls = error_for(code, _reasons(err))
    if cls is not None:
        return cls(where + details)
    label = code.name if code is not None else "error"
    return RemoteError(f"{where}{label}: {details}", code)


def _rich_details(err: grpc.RpcError) -> list[Any]:
    try:
        status = rpc_status.from_call(err)
    except (ValueError, AttributeError):
        return []
    if status is None:
        return []
    out = []
    for any_msg in status.details:
        for cls in (error_details_pb2.RetryInfo, error_details_pb2.ErrorInfo):
            if any_msg.Is(cls.DESCRIPTOR):
                msg = cls()
                any_msg.Unpack(msg)
                out.append(msg)
    return out


def _reasons(err: grpc.RpcError) -> set[str]:
    return {d.reason for d in _rich_details(err) if isinstance(d, error_details_pb2.ErrorInfo)}


def retry_hint(err: grpc.RpcError) -> float | None:
    """The server's RetryInfo delay in seconds, if it sent one."""
    for d in _rich_details(err):
        if isinstance(d, error_details_pb2.RetryInfo):
            return d.retry_delay.ToNanoseconds() / 1e9
    return None


@dataclass
class RetryPolicy:
    attempts: int = 8  # calls in all, the first included
    initial_backoff_s: float = 0.2
    max_backoff_s: float = 15.0
    multiplier: float = 2.0

    def delay(self, attempt: int, err: grpc.RpcError) -> float | None:
        """Seconds to wait before the next try, or None if `err` is not worth retrying."""
        if attempt + 1 >= self.attempts:
            return None
        code = err.code() if hasattr(err, "code") else None
        hint = retry_hint(err)
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            # Only a busy server says when to come back; a too-large input never gets smaller.
            # gRPC's own concurrency limit sends no details at all and is worth a retry too.
            if hint is None and (_rich_details(err) or "larger than max" in (err.details() or "")):
                return None
        elif code != grpc.StatusCode.UNAVAILABLE:
            return None
        backoff = min(self.max_backoff_s, self.initial_backoff_s * self.multiplier**attempt)
        base = max(backoff, hint or 0.0)
        return min(self.max_backoff_s, base) * random.uniform(0.8, 1.2)  # jitter: no thundering herd


# ---- channels --------------------------------------------------------------------------------------

_CHANNELS: dict[tuple, grpc.Channel] = {}
_CHANNELS_LOCK = threading.Lock()


@dataclass(frozen=True)
class TlsFiles:
    ca: Path | None = None  # None with tls on: the system roots
    cert: Path | None = None  # client certificate for mutual TLS
    key: Path | None = None
    server_name: str = ""  # override the name checked against the server's certificate

    @classmethod
    def from_flags(
        cls, ca: Path | None = None, cert: Path | None = None, key: Path | None = None
    ) -> TlsFiles | None:
        """TLS from `--tls-ca/--tls-cert/--tls-key`; None when none is given (then $CODEC_TLS_* apply)."""
        if not (ca or cert or key):
            return None
        if (cert is None) != (key is None):
            raise InvalidInput("--tls-cert and --tls-key go together (mutual TLS needs both)")
        return cls(ca=ca, cert=cert, key=key, server_name=os.environ.get("CODEC_TLS_SERVER_NAME", ""))

    @classmethod
    def from_env(cls) -> TlsFiles | None:
        """$CODEC_TLS_CA / $CODEC_TLS_CERT / $CODEC_TLS_KEY, or $CODEC_TLS=1 for the system roots."""
        env = os.environ
        ca, cert, key = env.get("CODEC_TLS_CA"), env.get("CODEC_TLS_CERT"), env.get("CODEC_TLS_KEY")
        if not (ca or cert or key or env.get("CODEC_TLS") == "1"):
            return None
        return cls(
            ca=Path(ca) if ca else None,
            cert=Path(cert) if cert else None,
            key=Path(key) if key else None,
            server_name=env.get("CODEC_TLS_SERVER_NAME", ""),
        )


def get_channel(target: str, tls: TlsFiles | None = None) -> grpc.Channel:
    """A shared channel per (target, TLS files): created once, reused by every client in the process."""
    key = (target, tls)
    with _CHANNELS_LOCK:
        channel = _CHANNELS.get(key)
        if channel is None:
            options: list[tuple[str, Any]] = [
                ("grpc.max_send_message_length", MAX_SEND_BYTES),
                ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
                ("grpc.keepalive_time_ms", 60_000),
                ("grpc.enable_retries", 0),  # retries are ours, with the server's hints
            ]
            if tls is None:
                channel = grpc.insecure_channel(target, options=options)
            else:
                if tls.server_name:
                    options.append(("grpc.ssl_target_name_override", tls.server_name))
                creds = grpc.ssl_channel_credentials(
                    root_certificates=_read(tls.ca),
                    private_key=_read(tls.key),
                    certificate_chain=_read(tls.cert),
                )
                channel = grpc.secure_channel(target, creds, options=options)
            _CHANNELS[key] = channel
        return channel


def close_channels() -> None:
    with _CHANNELS_LOCK:
        for channel in _CHANNELS.values():
            channel.close()
        _CHANNELS.clear()


def _read(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as e:
        raise InvalidInput(f"cannot read {path}: {e.strerror}") from e


def read_token(token: str | None = None, token_file: str | os.PathLike[str] | None = None) -> str | None:
    """The token: given, else the first one in `token_file`, else $CODEC_TOKEN, else None."""
    if token:
        return token
    if token_file:
        path = Path(token_file).expanduser()
        try:
            for line in path.read_text().splitlines():
                parts = line.split("#", 1)[0].split()
                if parts:
                    return parts[0]
        except OSError as e:
            raise InvalidInput(f"cannot read token file {path}: {e.strerror}") from e
        raise InvalidInput(f"token file {path} holds no token")
    return os.environ.get(TOKEN_ENV) or None


class Connection:
    """One server: the shared channel, the token as call metadata, deadlines and retries.

    The per-concern API classes (jobs, video, models) build on this; `CodecClient` is all of them."""

    def __init__(
        self,
        server: str,
        token: str | None = None,
        token_file: str | os.PathLike[str] | None = None,
        tls: TlsFiles | bool | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.server = server
        if tls is True:
            tls = TlsFiles()
        elif tls is None:
            tls = TlsFiles.from_env()
        self.channel = get_channel(server, tls or None)
        token = read_token(token, token_file)
        self.metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()

    def _call(self, fn: Callable[[], T]) -> T:
        """Run `fn` (one RPC) with retries; failures become library errors."""
        attempt = 0
        while True:
            try:
                return fn()
            except grpc.RpcError as err:
                delay = self.retry.delay(attempt, err)
                if delay is None:
                    raise error_from_rpc(err, self.server) from None
                time.sleep(delay)
                attempt += 1

    def _unary(self, method: Callable, request: Any, timeout_s: float | None = None) -> Any:
        return self._call(
            lambda: method(request, timeout=timeout_s or self.timeout_s, metadata=self.metadata)
        )

    def health(self, service: str = "") -> str:
        """'SERVING', 'NOT_SERVING', ... for the whole server or one service."""
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        stub = health_pb2_grpc.HealthStub(self.channel)
        resp = self._unary(stub.Check, health_pb2.HealthCheckRequest(service=service), 5.0)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
