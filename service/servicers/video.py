"""VideoService: upload a clip for an HNeRV encode job (resumable); decode a bitstream to frames or a file."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc

from codec.errors import InvalidInput, ResourceLimit
from codec.rpc import common_pb2, video_pb2, video_pb2_grpc
from service.bridge import iterate_in_thread
from service.config import Limits, MiB
from service.errors import Busy, ServiceError, rpc_errors
from service.jobs import JobManager, input_suffix
from service.jobstore import SUCCEEDED
from service.runners import VIDEO_ENCODE, video_encode_options
from service.uploads import Upload

QUOTA_CHECK_EVERY = 64 * MiB  # re-check the disk quota this often during an upload
FILE_CHUNK = MiB


def encode_options_to_dict(opts: video_pb2.EncodeOptions) -> dict[str, Any]:
    """The fields the client set, named as the library's EncodeOptions (plus filename/total_bytes)."""
    out: dict[str, Any] = {field.name: value for field, value in opts.ListFields()}
    if out.get("device") == "auto":
        del out["device"]
    if "filename" in out:
        out["filename"] = os.path.basename(out["filename"])[:200]
    return out


class IncompleteUpload(InvalidInput):
    """The bytes received so far are good, but more must follow: a resumable upload is kept."""


def _check_offset(chunk: common_pb2.Chunk, expected: int) -> None:
    if chunk.offset != expected:
        raise IncompleteUpload(f"chunk offset {chunk.offset} does not follow the {expected} bytes received")


class VideoServicer(video_pb2_grpc.VideoServiceServicer):
    def __init__(self, jobs: JobManager, limits: Limits, tmp_dir: Path, device: str = "auto") -> None:
        self.jobs = jobs
        self.limits = limits
        self.tmp_dir = tmp_dir
        self.device = device
        # Decodes and probes run here, apart from the job workers, so reads never wait behind encodes.
        self.executor = ThreadPoolExecutor(
            max_workers=limits.max_concurrent_decodes + 2, thread_name_prefix="codec-decode"
        )
        self._decodes = 0

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    # ---- SubmitEncode ----------------------------------------------------------------------------

    @rpc_errors
    async def SubmitEncode(self, request_iterator: AsyncIterator[video_pb2.EncodeChunk], context):
        first = await anext(aiter(request_iterator), None)
        which = None if first is None else first.WhichOneof("msg")
        if which == "options":
            up = await self._begin(first)
        elif which == "resume_upload_id":
            up = await self.jobs.resume_upload(first.resume_upload_id)
        else:
            raise InvalidInput("the first SubmitEncode message must carry the options (or resume_upload_id)")
        keep = False
        try:
            await self._receive(request_iterator, up)
            await asyncio.get_running_loop().run_in_executor(self.executor, self._check_video, up.path)
            rec = self.jobs.commit_upload(up)
        except (asyncio.CancelledError, IncompleteUpload):
            keep = True  # the stream broke (or stopped short): the bytes so far wait for a resume
            if up.evicted is asyncio.current_task():
                raise ServiceError(
                    grpc.StatusCode.ABORTED, "another call resumed this upload", "UPLOAD_TAKEN_OVER"
                ) from None
            raise
        finally:
            self.jobs.end_upload(up, keep)  # no-op once committed
        return common_pb2.JobRef(job_id=rec.id)

    @rpc_errors
    async def QueryUpload(self, request: video_pb2.QueryUploadRequest, context) -> video_pb2.UploadStatus:
        up, job_id = self.jobs.query_upload(request.upload_id)
        return video_pb2.UploadStatus(
            upload_id=up.upload_id, committed_bytes=up.received, total_bytes=up.declared, job_id=job_id
        )

    async def _begin(self, first: video_pb2.EncodeChunk) -> Upload:
        options = encode_options_to_dict(first.options)
        if options.get("epochs", 0) > self.limits.max_epochs:
            raise ResourceLimit(
                f"epochs {options['epochs']} exceeds the server's limit of {self.limits.max_epochs}"
            )
        # Bad options fail before a byte is uploaded (on a worker: the check imports torch once).
        await asyncio.get_running_loop().run_in_executor(self.executor, video_encode_options, options)
        name = f"input{input_suffix(options.get('filename', ''))}"
        total = options.get("total_bytes", 0)
        return self.jobs.begin_upload(VIDEO_ENCODE, total, first.upload_id, options, name)

    async def _receive(self, requests: AsyncIterator, up: Upload) -> None:
        limit = self.limits.max_upload_bytes
        metrics = self.jobs.metrics
        next_quota_check = up.received + QUOTA_CHECK_EVERY
        first = True
        with open(up.path, "r+b" if up.received else "wb") as f:
            f.seek(up.received)
            async for msg in requests:
                if msg.WhichOneof("msg") != "chunk":
                    raise InvalidInput("only chunks may follow the first SubmitEncode message")
                chunk = msg.chunk
                if first and 0 <= chunk.offset < up.received:
                    # A resumed upload may go back (its client asked QueryUpload before a stale
                    # call had stopped writing): what followed that offset is replaced.
                    f.seek(chunk.offset)
                    f.truncate()
                    up.received = chunk.offset
                first = False
                _check_offset(chunk, up.received)
                n = len(chunk.data)
                if up.received + n > limit:
                    raise ResourceLimit(f"upload exceeds the limit of {limit} bytes")
                if up.declared and up.received + n > up.declared:
                    raise InvalidInput(f"more bytes than the {up.declared} announced")
                f.write(chunk.data)
                up.received += n
                if metrics is not None:
                    metrics.upload_bytes.inc(n)
                if up.received >= next_quota_check:
                    next_quota_check += QUOTA_CHECK_EVERY
                    self.jobs.check_quota(0)
            await asyncio.to_thread(_flush_and_sync, f)
        if up.received == 0:
            raise InvalidInput("empty upload: no video bytes followed the options")
        if up.declared and up.received != up.declared:
            hint = "; QueryUpload tells where to resume" if up.upload_id else ""
            raise IncompleteUpload(
                f"upload ended after {up.received} of the {up.declared} bytes announced{hint}"
            )

    def _check_video(self, path: Path) -> None:
        """A readable video within the resolution and frame limits (runs on a worker thread)."""
        from codec.io.video import probe

        info = probe(path)
        lim = self.limits
        if info.width * info.height > lim.max_pixels:
            raise ResourceLimit(
                f"{info.width}x{info.height} frames exceed the limit of {lim.max_pixels} pixels per frame"
            )
        if info.frames > lim.max_frames:
            raise ResourceLimit(f"{info.frames} frames exceed the server's limit of {lim.max_frames} per job")

    # ---- Decode ----------------------------------------------------------------------------------

    @rpc_errors
    async def Decode(self, request_iterator: AsyncIterator[video_pb2.DecodeRequest], context):
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("msg") != "options":
            raise InvalidInput("the first Decode message must carry the options")
        opts = first.options
        if self._decodes >= self.limits.max_concurrent_decodes:
            raise Busy(f"{self._decodes} decodes running; try again shortly", 1.0)
        self._decodes += 1
        try:
            source = opts.WhichOneof("source")
            if source == "job_id":
                rec = self.jobs.get(opts.job_id)
                if rec.state != SUCCEEDED:
                    raise ServiceError(
                        grpc.StatusCode.FAILED_PRECONDITION,
                        f"job {rec.id} is {rec.state}, not succeeded",
                        "NO_RESULT",
                    )
                data: bytes | Path = self.jobs.result_path(rec.id)
            elif source == "bitstream_bytes":
                data = await self._receive_bitstream(request_iterator, opts.bitstream_bytes)
            else:
                raise InvalidInput("Decode needs a source: job_id or bitstream_bytes")
            async for msg in self._decode(data, opts):
                yield msg
        finally:
            self._decodes -= 1

    async def _receive_bitstream(self, requests: AsyncIterator, declared: int) -> bytes:
        if declared <= 0:
            raise InvalidInput("bitstream_bytes must be positive")
        if declared > self.limits.max_bitstream_bytes:
            raise ResourceLimit(
                f"bitstream of {declared} bytes exceeds the limit of {self.limits.max_bitstream_bytes}"
            )
        buf = bytearray()
        async for msg in requests:
            if msg.WhichOneof("msg") != "chunk":
                raise InvalidInput("only chunks may follow the options message")
            _check_offset(msg.chunk, len(buf))
            if len(buf) + len(msg.chunk.data) > declared:
                raise InvalidInput(f"more bitstream bytes than the {declared} announced")
            buf += msg.chunk.data
            if len(buf) == declared:
                break
        if len(buf) != declared:
            raise InvalidInput(f"bitstream ended after {len(buf)} of the {declared} bytes announced")
        return bytes(buf)

    async def _decode(self, data: bytes | Path, opts: video_pb2.DecodeOptions) -> AsyncIterator:
        loop = asyncio.get_running_loop()
        container, frames = await loop.run_in_executor(self.executor, _open_bitstream, data, opts)
        fmt = opts.format or video_pb2.DECODE_FORMAT_RAW_RGB
        if fmt == video_pb2.DECODE_FORMAT_RAW_RGB:
            media = container.media
            start, stop = frames or (0, media.frames)
            yield video_pb2.DecodeResponse(
                info=video_pb2.DecodeInfo(
                    width=media.width,
                    height=media.height,
                    start=start,
                    frames=max(0, stop - start),
                    fps_num=media.fps_num,
                    fps_den=media.fps_den,
                    total_frames=media.frames,
                )
            )
            index = start
            gen = iterate_in_thread(lambda: _decode_frames(container, frames, self.device), self.executor)
            async for frame in gen:
                h, w = frame.shape[:2]
                yield video_pb2.DecodeResponse(
                    frame=video_pb2.Frame(index=index, width=w, height=h, rgb=frame.tobytes())
                )
                index += 1
            return
        suffix = {video_pb2.DECODE_FORMAT_MP4: ".mp4", video_pb2.DECODE_FORMAT_MKV: ".mkv"}.get(fmt)
        if suffix is None:
            raise InvalidInput(f"unknown decode format {fmt}")
        async for chunk in self._decode_file(container, frames, suffix):
            yield video_pb2.DecodeResponse(chunk=chunk)

    async def _decode_file(
        self, container: Any, frames: tuple[int, int] | None, suffix: str
    ) -> AsyncIterator:

        work = self.tmp_dir / uuid.uuid4().hex
        work.mkdir(parents=True)
        try:
            out = work / f"decoded{suffix}"
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self.executor, _decode_to_file, container, out, frames, self.device)
            offset = 0
            with open(out, "rb") as f:
                while data := await asyncio.to_thread(f.read, FILE_CHUNK):
                    yield common_pb2.Chunk(offset=offset, data=data)
                    offset += len(data)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _flush_and_sync(f) -> None:
    f.flush()
    os.fsync(f.fileno())


# The library calls, run on worker threads: importing the decoder loads torch, which must not
# happen on the event loop.


def _open_bitstream(data: bytes | Path, opts: video_pb2.DecodeOptions) -> tuple[Any, tuple[int, int] | None]:
    from codec.video.hnerv.decode import open_file, parse_range

    container = open_file(data)
    frames = None
    if opts.HasField("frames"):
        end = opts.frames.end or container.media.frames
        frames = parse_range((int(opts.frames.start), int(end)), container.media.frames)
    return container, frames


def _decode_frames(container: Any, frames: tuple[int, int] | None, device: str):
    from codec.video.hnerv.decode import decode_frames

    return decode_frames(container, frames, device)


def _decode_to_file(container: Any, out: Path, frames: tuple[int, int] | None, device: str) -> int:
    from codec.video.hnerv.decode import decode_to_file

    return decode_to_file(container, out, frames, device)


def warm_imports() -> None:
    """Import the codec (and torch) ahead of the first request; run on a worker thread at start."""
    try:
        import torch._dynamo  # noqa: F401  (torch.optim imports it on first use: seconds on a cold start)

        import codec.io.video  # noqa: F401
        import codec.video.hnerv.decode  # noqa: F401
        import codec.video.hnerv.encode  # noqa: F401
    except Exception:  # the first request will report it properly
        logging.getLogger("service.video").exception("importing the codec failed")
