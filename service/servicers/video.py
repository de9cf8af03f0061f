"""VideoService: decode any video codec's file to raw frames or an mp4/mkv stream.

Encodes are jobs (JobService.SubmitJob); what stays here is video-specific: frames streamed with
backpressure. The decoder is the registry codec the file's header names; its decode options come
from its declaration, with the frame range from the request and the server's device.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc

from codec import api
from codec.errors import InvalidInput, ResourceLimit
from codec.rpc import common_pb2, video_pb2, video_pb2_grpc
from codec.rpc.options import from_proto_map
from service.bridge import iterate_in_thread
from service.config import Limits, MiB
from service.errors import Busy, ServiceError, rpc_errors
from service.inputs import decode_limits
from service.jobs import JobManager
from service.jobstore import SUCCEEDED
from service.uploads import check_offset

FILE_CHUNK = MiB


class VideoServicer(video_pb2_grpc.VideoServiceServicer):
    def __init__(
        self,
        jobs: JobManager,
        limits: Limits,
        tmp_dir: Path,
        executor: ThreadPoolExecutor,
        device: str = "auto",
    ) -> None:
        self.jobs = jobs
        self.limits = limits
        self.tmp_dir = tmp_dir
        self.device = device
        self.executor = executor
        self._decodes = 0

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
            check_offset(msg.chunk.offset, len(buf))
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
        opened, decode_opts, frames = await loop.run_in_executor(
            self.executor, _open_bitstream, data, opts, self.device, self.limits
        )
        container = opened.container
        fmt = opts.format or video_pb2.DECODE_FORMAT_RAW_RGB
        if fmt == video_pb2.DECODE_FORMAT_RAW_RGB:
            media = container.media
            start, stop = frames
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
            gen = iterate_in_thread(lambda: api.decode_stream(opened, decode_opts), self.executor)
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
        async for chunk in self._decode_file(opened, decode_opts, suffix):
            yield video_pb2.DecodeResponse(chunk=chunk)

    async def _decode_file(self, opened: Any, decode_opts: Any, suffix: str) -> AsyncIterator:
        work = self.tmp_dir / uuid.uuid4().hex
        work.mkdir(parents=True)
        try:
            out = work / f"decoded{suffix}"
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self.executor, api.decode, opened, out, decode_opts)
            offset = 0
            with open(out, "rb") as f:
                while data := await asyncio.to_thread(f.read, FILE_CHUNK):
                    yield common_pb2.Chunk(offset=offset, data=data)
                    offset += len(data)
        finally:
            shutil.rmtree(work, ignore_errors=True)


# The library calls, run on worker threads: a decoder may load torch, which must not happen on the
# event loop.


def _open_bitstream(
    data: bytes | Path, opts: video_pb2.DecodeOptions, device: str, limits: Limits
) -> tuple[Any, Any, tuple[int, int]]:
    """(the opened file, its codec's decode options, frame range) for a video file of any codec."""
    from codec import api
    from codec.io.frame_range import parse_frame_range
    from codec.options import from_mapping

    f = api.open(data, limits=lambda media: decode_limits(limits, media))
    if f.codec.media != "video":
        raise InvalidInput(f"this is a {f.codec.name} file ({f.codec.media}); VideoService decodes video")
    total = f.container.media.frames
    frames = (0, total)
    if opts.HasField("frames"):
        frames = parse_frame_range((int(opts.frames.start), int(opts.frames.end) or total), total)
    values = {**from_proto_map(opts.options), "frames": f"{frames[0]}:{frames[1]}"}
    if "device" in f.codec.DecodeOptions.__dataclass_fields__:
        values["device"] = device  # the server's choice, whatever the client asked
    return f, from_mapping(f.codec.DecodeOptions, values), frames


def warm_imports() -> None:
    """Import the codecs (and torch) ahead of the first request; run on a worker thread at start."""
    try:
        import torch._dynamo  # noqa: F401  (torch.optim imports it on first use: seconds on a cold start)

        import codec.io.video  # noqa: F401
        from codec.api import load_codecs

        load_codecs()
    except Exception:  # the first request will report it properly
        logging.getLogger("service.video").exception("importing the codecs failed")
