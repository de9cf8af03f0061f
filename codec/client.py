"""Client for a `codec serve` server: what `codec encode/decode --server` and `codec jobs` use.

One channel per (server, credentials) is kept for the life of the process. Unary calls have a
deadline; every call is retried with exponential backoff and jitter on UNAVAILABLE, and on
RESOURCE_EXHAUSTED when the server says when to retry (a full queue, not a too-large input).
Uploads are resumable: a retry asks the server how much it holds (QueryUpload) and sends the rest;
downloads resume from the last offset received.
"""

from __future__ import annotations

import dataclasses
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import grpc
import numpy as np
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from codec.errors import Cancelled, CodecError, CorruptData, InvalidInput, ModelMismatch, ResourceLimit
from codec.progress import ProgressCallback, ProgressEvent, null_progress
from codec.rpc import common_pb2, jobs_pb2, jobs_pb2_grpc, video_pb2, video_pb2_grpc

T = TypeVar("T")

CHUNK_BYTES = 1 << 20  # upload chunk: 1 MiB (see bench/grpc_bench.py for the sweep)
MAX_SEND_BYTES = 8 << 20  # the server's default receive limit
MAX_RECEIVE_BYTES = 64 << 20  # one raw 4K frame is 24 MiB
TOKEN_ENV = "CODEC_TOKEN"

STATE_NAMES = {
    jobs_pb2.JOB_STATE_QUEUED: "queued",
    jobs_pb2.JOB_STATE_RUNNING: "running",
    jobs_pb2.JOB_STATE_SUCCEEDED: "succeeded",
    jobs_pb2.JOB_STATE_FAILED: "failed",
    jobs_pb2.JOB_STATE_CANCELLED: "cancelled",
}
TERMINAL_STATES = frozenset(
    {jobs_pb2.JOB_STATE_SUCCEEDED, jobs_pb2.JOB_STATE_FAILED, jobs_pb2.JOB_STATE_CANCELLED}
)


class RemoteError(CodecError):
    """A server answer with no library equivalent (UNAUTHENTICATED, NOT_FOUND, UNAVAILABLE, ...)."""

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.code = code


_CODE_TO_ERROR: dict[grpc.StatusCode, type[CodecError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidInput,
    grpc.StatusCode.OUT_OF_RANGE: InvalidInput,
    grpc.StatusCode.DATA_LOSS: CorruptData,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceLimit,
    grpc.StatusCode.CANCELLED: Cancelled,
}


def error_from_rpc(err: grpc.RpcError, server: str = "") -> CodecError:
    """The library error for a failed call, so the CLI prints one clear line and exits 2."""
    code = err.code() if hasattr(err, "code") else None
    details = (err.details() if hasattr(err, "details") else "") or str(code)
    where = f"server {server}: " if server else ""
    if code == grpc.StatusCode.FAILED_PRECONDITION and "MODEL_MISMATCH" in _reasons(err):
        return ModelMismatch(where + details)
    cls = _CODE_TO_ERROR.get(code)
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


# ---- the client ------------------------------------------------------------------------------------


class CodecClient:
    """Calls to one server. Cheap to create: the channel underneath is shared."""

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
        self.jobs = jobs_pb2_grpc.JobServiceStub(self.channel)
        self.video = video_pb2_grpc.VideoServiceStub(self.channel)

    # ---- plumbing ----

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

    # ---- jobs ----

    def get_job(self, job_id: str) -> jobs_pb2.Job:
        return self._unary(self.jobs.GetJob, common_pb2.JobRef(job_id=job_id))

    def list_jobs(self, states: tuple[str, ...] = (), kind: str = "", limit: int = 0) -> list[jobs_pb2.Job]:
        by_name = {v: k for k, v in STATE_NAMES.items()}
        unknown = [s for s in states if s not in by_name]
        if unknown:
            raise InvalidInput(f"unknown job state(s) {unknown}; use {', '.join(by_name)}")
        req = jobs_pb2.ListJobsRequest(states=[by_name[s] for s in states], kind=kind, limit=limit)
        return list(self._unary(self.jobs.ListJobs, req).jobs)

    def cancel_job(self, job_id: str) -> jobs_pb2.Job:
        return self._unary(self.jobs.CancelJob, common_pb2.JobRef(job_id=job_id))

    def delete_job(self, job_id: str) -> None:
        self._unary(self.jobs.DeleteJob, common_pb2.JobRef(job_id=job_id))

    def watch_job(
        self, job_id: str, progress: ProgressCallback = null_progress, reconnect_for_s: float = 600.0
    ) -> jobs_pb2.Job:
        """Follow a job to its end, feeding `progress`.

        Reconnects across server restarts, giving up once the server has been unreachable for
        `reconnect_for_s` seconds in a row.
        """
        attempt = 0
        down_since: float | None = None
        while True:
            try:
                for event in self.jobs.WatchJob(common_pb2.JobRef(job_id=job_id), metadata=self.metadata):
                    attempt, down_since = 0, None
                    if event.state in TERMINAL_STATES:
                        return self.get_job(job_id)
                    if event.phase:
                        progress(progress_event(event))
            except grpc.RpcError as err:
                down_since = down_since or time.monotonic()
                delay = self.retry.delay(min(attempt, 3), err)
                if delay is None or time.monotonic() - down_since > reconnect_for_s:
                    raise error_from_rpc(err, self.server) from None
                time.sleep(delay)
                attempt += 1
                continue
            # The stream ended without a final state: look, and watch again if it is still going.
            job = self.get_job(job_id)
            if job.state in TERMINAL_STATES:
                return job

    def read_result(self, job_id: str, output: str | os.PathLike[str], chunk_size: int = CHUNK_BYTES) -> int:
        """Download a succeeded job's result to `output` (atomically); returns its size."""
        out = Path(output)
        part = out.with_name(out.name + ".part")
        received = 0
        with open(part, "wb") as f:

            def download() -> None:
                nonlocal received
                req = jobs_pb2.ReadResultRequest(job_id=job_id, offset=received, chunk_size=chunk_size)
                for chunk in self.jobs.ReadResult(req, metadata=self.metadata):
                    if chunk.offset != received:
                        raise CorruptData(f"result chunk at offset {chunk.offset}, expected {received}")
                    f.write(chunk.data)
                    received += len(chunk.data)

            self._call(download)  # a retry continues from `received`
        os.replace(part, out)
        return received

    # ---- video ----

    def submit_encode(
        self,
        input_path: str | os.PathLike[str],
        options: Any = None,
        chunk_size: int = CHUNK_BYTES,
        resumable: bool = True,
    ) -> str:
        """Upload a video with options (library EncodeOptions, dict or None); returns the job id.

        A resumable upload whose stream breaks continues where the server's copy ends, and one
        whose reply was lost is not sent twice; a server that lost it (a restart) gets it again.
        """
        path = Path(input_path)
        if not path.is_file():
            raise InvalidInput(f"{path}: no such file")
        if not 0 < chunk_size <= MAX_SEND_BYTES - 4096:
            raise InvalidInput(f"chunk size must be in 1..{MAX_SEND_BYTES - 4096}")
        opts = encode_options_proto(options)
        opts.filename = path.name
        opts.total_bytes = path.stat().st_size
        upload_id = uuid.uuid4().hex if resumable else ""

        def requests(first: video_pb2.EncodeChunk, offset: int) -> Iterator[video_pb2.EncodeChunk]:
            yield first
            with open(path, "rb") as f:
                f.seek(offset)
                while data := f.read(chunk_size):
                    yield video_pb2.EncodeChunk(chunk=common_pb2.Chunk(offset=offset, data=data))
                    offset += len(data)

        resume_from: int | None = None  # None: send the options and the whole file
        attempt = 0
        while True:
            if resume_from is None:
                first = video_pb2.EncodeChunk(options=opts, upload_id=upload_id)
            else:
                first = video_pb2.EncodeChunk(resume_upload_id=upload_id)
            try:
                ref = self.video.SubmitEncode(requests(first, resume_from or 0), metadata=self.metadata)
                return ref.job_id
            except grpc.RpcError as err:
                gone = resume_from is not None and err.code() == grpc.StatusCode.NOT_FOUND  # expired
                delay = 0.0 if gone and attempt + 1 < self.retry.attempts else self.retry.delay(attempt, err)
                if delay is None:
                    raise error_from_rpc(err, self.server) from None
                time.sleep(delay)
                attempt += 1
            if upload_id:
                status = self.query_upload(upload_id)
                if status is not None and status.job_id:
                    return status.job_id  # it went through; only the reply was lost
                resume_from = None if status is None else status.committed_bytes

    def query_upload(self, upload_id: str) -> video_pb2.UploadStatus | None:
        """How much of a resumable upload the server holds; None if it holds none of it."""
        try:
            return self._unary(self.video.QueryUpload, video_pb2.QueryUploadRequest(upload_id=upload_id))
        except RemoteError as e:
            if e.code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNIMPLEMENTED):  # an older server
                return None
            raise

    def decode_stream(
        self,
        bitstream: str | os.PathLike[str] | bytes | None = None,
        job_id: str | None = None,
        frames: tuple[int, int] | str | None = None,
        fmt: int = video_pb2.DECODE_FORMAT_RAW_RGB,
        chunk_size: int = CHUNK_BYTES,
    ) -> Iterator[video_pb2.DecodeResponse]:
        """Raw Decode responses (DecodeInfo then Frames, or file Chunks); no retry once data flows."""
        if (bitstream is None) == (job_id is None):
            raise InvalidInput("decode needs exactly one source: a bitstream or a job id")
        opts = video_pb2.DecodeOptions(format=fmt)
        if frames is not None:
            opts.frames.start, opts.frames.end = parse_frames(frames)
        data = b""
        if job_id is not None:
            opts.job_id = job_id
        else:
            data = bitstream if isinstance(bitstream, bytes) else Path(bitstream).read_bytes()
            opts.bitstream_bytes = len(data)

        def requests() -> Iterator[video_pb2.DecodeRequest]:
            yield video_pb2.DecodeRequest(options=opts)
            for off in range(0, len(data), chunk_size):
                yield video_pb2.DecodeRequest(
                    chunk=common_pb2.Chunk(offset=off, data=data[off : off + chunk_size])
                )

        def first_and_rest() -> tuple[video_pb2.DecodeResponse | None, Iterator]:
            call = self.video.Decode(requests(), metadata=self.metadata)
            return next(call, None), call

        first, rest = self._call(first_and_rest)  # busy servers answer before the first message
        if first is None:
            return
        yield first
        try:
            yield from rest
        except grpc.RpcError as err:
            raise error_from_rpc(err, self.server) from None

    def decode_frames(
        self,
        bitstream: str | os.PathLike[str] | bytes | None = None,
        job_id: str | None = None,
        frames: tuple[int, int] | str | None = None,
    ) -> Iterator[np.ndarray]:
        """(H, W, 3) uint8 RGB frames decoded by the server, in order."""
        for resp in self.decode_stream(bitstream, job_id, frames):
            if resp.WhichOneof("msg") == "frame":
                f = resp.frame
                yield np.frombuffer(f.rgb, dtype=np.uint8).reshape(f.height, f.width, 3)

    def decode_to_file(
        self,
        output: str | os.PathLike[str],
        bitstream: str | os.PathLike[str] | bytes | None = None,
        job_id: str | None = None,
        frames: tuple[int, int] | str | None = None,
    ) -> int:
        """Decode into .mp4/.mkv (written by the server) or .y4m / a PNG dir (written here).

        Returns the bytes received for .mp4/.mkv, else the frames written.
        """
        from codec.io.video import output_kind, write_video

        out = Path(output)
        kind = output_kind(out)
        if kind in ("mp4", "mkv"):
            fmt = video_pb2.DECODE_FORMAT_MP4 if kind == "mp4" else video_pb2.DECODE_FORMAT_MKV
            part = out.with_name(out.name + ".part")
            written = 0
            with open(part, "wb") as f:
                for resp in self.decode_stream(bitstream, job_id, frames, fmt):
                    if resp.chunk.offset != written:
                        raise CorruptData(
                            f"decoded file chunk at offset {resp.chunk.offset}, expected {written}"
                        )
                    f.write(resp.chunk.data)
                    written += len(resp.chunk.data)
            os.replace(part, out)
            return written
        stream = self.decode_stream(bitstream, job_id, frames)
        first = next(stream, None)
        if first is None or first.WhichOneof("msg") != "info":
            raise RemoteError(f"server {self.server}: Decode did not start with DecodeInfo")
        info = first.info
        fps = Fraction(info.fps_num, info.fps_den or 1) if info.fps_num else Fraction(25)
        count = 0

        def frames_iter() -> Iterator[np.ndarray]:
            nonlocal count
            for resp in stream:
                f = resp.frame
                count += 1
                yield np.frombuffer(f.rgb, dtype=np.uint8).reshape(f.height, f.width, 3)

        write_video(out, frames_iter(), fps)
        return count

    def health(self, service: str = "") -> str:
        """'SERVING', 'NOT_SERVING', ... for the whole server or one service."""
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        stub = health_pb2_grpc.HealthStub(self.channel)
        resp = self._unary(stub.Check, health_pb2.HealthCheckRequest(service=service), 5.0)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)


def parse_frames(frames: tuple[int, int] | str) -> tuple[int, int]:
    """'A:B' (either end optional) or (A, B) -> (start, end), end 0 meaning the last frame."""
    if isinstance(frames, str):
        try:
            a, b = frames.split(":")
            return int(a or 0), int(b or 0)
        except ValueError:
            raise InvalidInput(f"--frames must look like A:B (e.g. 10:20), got {frames!r}") from None
    a, b = frames
    return int(a), int(b)


def encode_options_proto(options: Any = None) -> video_pb2.EncodeOptions:
    """EncodeOptions proto from the library dataclass or a dict; None values are left unset."""
    if options is None:
        values: dict[str, Any] = {}
    elif isinstance(options, dict):
        values = dict(options)
    elif dataclasses.is_dataclass(options):
        values = dataclasses.asdict(options)
    else:
        raise TypeError(f"encode options must be a dataclass or dict, not {type(options).__name__}")
    msg = video_pb2.EncodeOptions()
    fields = msg.DESCRIPTOR.fields_by_name
    for name, value in values.items():
        if value is None or name in ("filename", "total_bytes"):
            continue
        if name not in fields:
            if name == "compile" and not value:
                continue  # a local speed switch with no effect on the file
            raise InvalidInput(f"option {name!r} cannot be sent to a server")
        setattr(msg, name, value)
    return msg


def progress_event(event: jobs_pb2.JobEvent) -> ProgressEvent:
    """A JobEvent as the library's ProgressEvent, so remote and local encodes draw the same bar."""
    return ProgressEvent(
        phase=event.phase,
        step=event.step,
        total=event.total,
        loss=event.loss if event.HasField("loss") else None,
        psnr=event.psnr if event.HasField("psnr") else None,
        eta_s=event.eta_s if event.HasField("eta_s") else None,
        message=event.message,
        extra=dict(event.extra),
    )


def job_error(job: jobs_pb2.Job, server: str = "") -> CodecError:
    """The library error for a job that ended FAILED or CANCELLED."""
    where = f"server {server}: " if server else ""
    state = STATE_NAMES.get(job.state, "ended")
    message = f"{where}job {job.job_id} {state}: {job.error.message or 'no reason given'}"
    code = next((c for c in grpc.StatusCode if c.value[0] == job.error.code), None)
    if job.state == jobs_pb2.JOB_STATE_CANCELLED:
        return Cancelled(message)
    cls = _CODE_TO_ERROR.get(code)
    return cls(message) if cls is not None else RemoteError(message, code)


# ---- one-call helpers for the CLI ------------------------------------------------------------------


def remote_encode(
    server: str,
    input_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    options: Any = None,
    token: str | None = None,
    progress: ProgressCallback = null_progress,
    token_file: str | os.PathLike[str] | None = None,
    tls: TlsFiles | bool | None = None,
) -> jobs_pb2.Job:
    """Upload, follow progress, download the result to `output`. Ctrl-C cancels the remote job."""
    client = CodecClient(server, token=token, token_file=token_file, tls=tls)
    progress(ProgressEvent(phase="upload", message=f"uploading {Path(input_path).name} to {server}"))
    job_id = client.submit_encode(input_path, options)
    try:
        job = client.watch_job(job_id, progress)
    except KeyboardInterrupt:
        try:
            client.cancel_job(job_id)
        finally:
            raise
    if job.state != jobs_pb2.JOB_STATE_SUCCEEDED:
        raise job_error(job, server)
    progress(ProgressEvent(phase="download", message=f"downloading job {job_id}"))
    client.read_result(job_id, output)
    return job


def remote_decode(
    server: str,
    input_path: str | os.PathLike[str] | None,
    output: str | os.PathLike[str],
    frames: tuple[int, int] | str | None = None,
    token: str | None = None,
    job_id: str | None = None,
    token_file: str | os.PathLike[str] | None = None,
    tls: TlsFiles | bool | None = None,
) -> int:
    """Decode a local .hnerv file (or a job's result) on the server into `output` (.mp4/.mkv/.y4m/dir)."""
    client = CodecClient(server, token=token, token_file=token_file, tls=tls)
    return client.decode_to_file(output, bitstream=input_path, job_id=job_id, frames=frames)


def list_jobs(
    server: str, states: tuple[str, ...] = (), token: str | None = None, **kw: Any
) -> list[jobs_pb2.Job]:
    return CodecClient(server, token=token, **kw).list_jobs(states)


def watch_job(
    server: str, job_id: str, progress: ProgressCallback = null_progress, token: str | None = None, **kw: Any
) -> jobs_pb2.Job:
    return CodecClient(server, token=token, **kw).watch_job(job_id, progress)


def cancel_job(server: str, job_id: str, token: str | None = None, **kw: Any) -> jobs_pb2.Job:
    return CodecClient(server, token=token, **kw).cancel_job(job_id)
