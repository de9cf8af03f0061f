"""VideoService calls: frames, or an mp4/mkv file, decoded by the server from a bitstream or a job."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from codec.client.jobs import CHUNK_BYTES
from codec.client.transport import Connection, RemoteError, error_from_rpc
from codec.errors import CorruptData, InvalidInput
from codec.rpc import common_pb2, video_pb2, video_pb2_grpc
from codec.rpc.options import to_proto_map


class VideoApi(Connection):
    """VideoService calls."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.video = video_pb2_grpc.VideoServiceStub(self.channel)

    def decode_stream(
        self,
        bitstream: str | os.PathLike[str] | bytes | None = None,
        job_id: str | None = None,
        frames: tuple[int, int] | str | None = None,
        fmt: int = video_pb2.DECODE_FORMAT_RAW_RGB,
        chunk_size: int = CHUNK_BYTES,
        options: Mapping[str, Any] | None = None,
    ) -> Iterator[video_pb2.DecodeResponse]:
        """Raw Decode responses (DecodeInfo then Frames, or file Chunks); no retry once data flows.
        `options`: the codec's other decode options, by name."""
        if (bitstream is None) == (job_id is None):
            raise InvalidInput("decode needs exactly one source: a bitstream or a job id")
        opts = video_pb2.DecodeOptions(format=fmt)
        if frames is not None:
            opts.frames.start, opts.frames.end = parse_frames(frames)
        to_proto_map(options or {}, opts.options)
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
        options: Mapping[str, Any] | None = None,
    ) -> int:
        """Decode into .mp4/.mkv (written by the server) or .y4m / a PNG dir (written here);
        returns the frames written."""
        from codec.io.video import output_kind, write_video

        out = Path(output)
        kind = output_kind(out)
        if kind in ("mp4", "mkv"):
            fmt = video_pb2.DECODE_FORMAT_MP4 if kind == "mp4" else video_pb2.DECODE_FORMAT_MKV
            part = out.with_name(out.name + ".part")
            written = 0
            with open(part, "wb") as f:
                for resp in self.decode_stream(bitstream, job_id, frames, fmt, options=options):
                    if resp.chunk.offset != written:
                        raise CorruptData(
                            f"decoded file chunk at offset {resp.chunk.offset}, expected {written}"
                        )
                    f.write(resp.chunk.data)
                    written += len(resp.chunk.data)
            os.replace(part, out)
            from codec.io.video import probe

            return probe(out).frames
        stream = self.decode_stream(bitstream, job_id, frames, options=options)
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
