"""Video in and out through PyAV: frames are always (H, W, 3) uint8 RGB arrays.

Reading
- Audio streams are ignored (reported in `VideoInfo.has_audio` only): the codecs here code pictures.
  So are subtitle streams and display-rotation metadata; only the first video stream is read.
- Variable frame rate is normalised: frames come out in presentation order, one array per decoded
  frame, and `fps` is the average rate (the mean over the timestamps); per-frame timing is dropped and
  `variable_frame_rate` says so. Constant-rate streams report the header's exact rate (30000/1001).
- A directory is read as a sequence of PNG frames in natural name order, at `PNG_DIR_FPS`.
- YUV -> RGB uses the stream's colour tags (BT.601 limited range when untagged) and bicubic chroma
  upsampling, the ffmpeg command-line default, so numbers compare with ffmpeg-based pipelines.

Writing (`write_video` picks by suffix)
- `.mp4`: x264 CRF 12, yuv420p (plays anywhere); odd sizes use yuv444p because 4:2:0 needs even sizes
  and padding would change the size read back. High quality, not lossless.
- `.mkv`: FFV1 in bgr0, i.e. RGB kept as is: bit-exact.
- `.y4m`: raw yuv444p (BT.601 limited range): within two code values of the RGB input (~52 dB).
- a directory (an existing one, a path ending in '/', or a path without suffix): `frame_00001.png`...
  lossless.

Every PyAV/FFmpeg failure becomes `InvalidInput` with a one-line message.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from codec.errors import InvalidInput, ResourceLimit, one_line

PNG_DIR_FPS = Fraction(25)  # PNG sequences carry no timing; 25 is ffmpeg's image2 default
MP4_CRF = 12  # visually lossless for x264; decoded outputs are for viewing, use .mkv for exact
SWS_INTERPOLATION = "BICUBIC"  # ffmpeg CLI default for chroma resampling
PNG_NAME = "frame_{:05d}.png"
_PNG_NAME_RE = re.compile(r"^frame_\d{5,}\.png$")

# ITU-R BT.601 limited range, tagged in the stream so players and our reader undo it the same way.
_BT601 = {"colorspace": 6, "color_primaries": 6, "color_trc": 6, "color_range": 1}  # AVCOL_* SMPTE170M/MPEG


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    frames: int
    fps: Fraction  # average rate; exact for constant-rate streams
    has_audio: bool  # audio is never read, only reported
    variable_frame_rate: bool  # timestamps were uneven; reading drops them (see module doc)
    codec: str  # decoder name, e.g. "h264", "ffv1", "png"


# FFmpeg's words for common failures, said plainly (FFmpeg's own text names errno codes and paths).
_PLAIN = {
    "InvalidDataError": "not a video file, or a damaged one (the demuxer found invalid data)",
    "EOFError": "the file ends early",
    "FileNotFoundError": "no such file",
    "PermissionError": "permission denied",
    "IsADirectoryError": "it is a directory",
    "DecoderNotFoundError": "no decoder for its video codec in this build of FFmpeg",
    "PatchWelcomeError": "uses a feature FFmpeg does not support",
    "BufferTooSmallError": "damaged: a packet is larger than its buffer",
}


def plain_error(exc: BaseException) -> str:
    """A PyAV/FFmpeg/OS failure in plain words, without the errno number or the path."""
    for cls in type(exc).__mro__:
        if cls.__name__ in _PLAIN:
            return _PLAIN[cls.__name__]
    strerror = getattr(exc, "strerror", None)
    return (strerror or one_line(exc)).rstrip(".").lower()


@contextlib.contextmanager
def av_errors(path: str | os.PathLike, action: str) -> Iterator[None]:
    """Turn FFmpeg/OS failures inside the block into one-line InvalidInput errors naming the path."""
    try:
        yield
    except (av.FFmpegError, OSError) as exc:
        raise InvalidInput(f"{os.fspath(path)}: cannot {action}: {plain_error(exc)}") from exc


def _natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _png_files(directory: Path) -> list[Path]:
    files = sorted((p for p in directory.iterdir() if p.suffix.lower() == ".png" and p.is_file()),
                   key=lambda p: _natural_key(p.name))
    if not files:
        raise InvalidInput(f"{directory}: directory holds no .png frames")
    return files


def _check_exists(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise InvalidInput(f"{p}: no such file or directory")
    return p


def frame_to_rgb(frame: av.VideoFrame, reformatter: VideoReformatter | None = None) -> np.ndarray:
    """A decoded frame as (H, W, 3) uint8 RGB, converted the same way for every reader here."""
    # Untagged range means limited (MPEG) range to swscale, which is what FFmpeg does too. A reused
    # reformatter keeps its scaler context: building one per frame costs more than decoding.
    reformatter = reformatter or VideoReformatter()
    rgb = reformatter.reformat(frame, format="rgb24", src_color_range=frame.color_range,
                               interpolation=SWS_INTERPOLATION)
    return rgb.to_ndarray()


def _read_png(path: Path) -> np.ndarray:
    with av_errors(path, "read PNG frame"), av.open(os.fspath(path)) as container:
        for frame in container.decode(video=0):
            return frame_to_rgb(frame)
    raise InvalidInput(f"{path}: PNG file holds no image")


def _probe_png_dir(directory: Path) -> VideoInfo:
    files = _png_files(directory)
    first = _read_png(files[0])
    return VideoInfo(width=first.shape[1], height=first.shape[0], frames=len(files), fps=PNG_DIR_FPS,
                     has_audio=False, variable_frame_rate=False, codec="png")


def _is_variable(pts: list[int]) -> bool:
    """True when frame durations differ by more than timestamp rounding (1 tick or 2%)."""
    if len(pts) < 3:
        return False
    deltas = np.diff(np.sort(np.asarray(pts, dtype=np.int64)))
    median = float(np.median(deltas))
    return bool(np.max(np.abs(deltas - median)) > max(1.0, 0.02 * median))


def probe(path: str | os.PathLike) -> VideoInfo:
    """Describe the first video stream; frames are counted by decoding when the container has no count."""
    p = _check_exists(path)
    if p.is_dir():
        return _probe_png_dir(p)
    with av_errors(p, "read video"), av.open(os.fspath(p)) as container:
        if not container.streams.video:
            raise InvalidInput(f"{p}: no video stream")
        stream = container.streams.video[0]
        has_audio = bool(container.streams.audio)
        declared = stream.frames or 0
        pts: list[int] = []
        decoded = 0
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # the flush packet at end of stream
            if packet.pts is not None:
                pts.append(packet.pts)
            if declared == 0:
                decoded += len(packet.decode())
        if declared == 0:
            decoded += len(stream.codec_context.decode(None))  # frames held back by the decoder
        frames = declared or decoded
        if frames == 0:
            raise InvalidInput(f"{p}: video stream has no frames")
        variable = _is_variable(pts)
        return VideoInfo(width=stream.codec_context.width, height=stream.codec_context.height, frames=frames,
                         fps=_stream_fps(stream, pts, variable), has_audio=has_audio,
                         variable_frame_rate=variable, codec=stream.codec_context.name)


def _stream_fps(stream: av.video.stream.VideoStream, pts: list[int], variable: bool) -> Fraction:
    """The header's rate for constant-rate streams (exact, e.g. 30000/1001); the timestamps' mean otherwise.

    Some containers (Matroska) put a nominal rate in the header that VFR timestamps do not follow.
    """
    if stream.average_rate and not variable:
        return Fraction(stream.average_rate)
    if len(pts) >= 2 and stream.time_base and max(pts) > min(pts):
        span = (max(pts) - min(pts)) * Fraction(stream.time_base)
        return (Fraction(len(pts) - 1) / span).limit_denominator(1001 * 1000)
    if stream.average_rate:
        return Fraction(stream.average_rate)
    if stream.guessed_rate:
        return Fraction(stream.guessed_rate)
    return PNG_DIR_FPS


def _decode_rgb(p: Path) -> Iterator[np.ndarray]:
    """Decoded frames of the first video stream in presentation order (decoders emit them so)."""
    with av_errors(p, "decode video"), av.open(os.fspath(p)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        reformatter = VideoReformatter()
        for frame in container.decode(stream):
            yield frame_to_rgb(frame, reformatter)


def iter_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 RGB frames one at a time; the path is checked before the first frame."""
    p = _check_exists(path)
    if p.is_dir():
        files = _png_files(p)
        return (_read_png(f) for f in files)
    probe(p)  # fail now, not on first next(), for a missing stream or zero frames
    return _decode_rgb(p)


def read_frames(path: str | os.PathLike, start: int = 0,
                stop: int | None = None) -> tuple[np.ndarray, VideoInfo]:
    """Frames [start, stop) as one (T, H, W, 3) uint8 RGB array, with the info of the whole file."""
    info = probe(path)
    stop = info.frames if stop is None else min(stop, info.frames)
    if start < 0 or stop < 0:
        raise InvalidInput(f"frame range must be non-negative, got start={start} stop={stop}")
    if start >= stop:
        raise InvalidInput(f"{os.fspath(path)}: frame range [{start}, {stop}) is empty "
                           f"(the video has {info.frames} frames)")
    try:
        out = np.empty((stop - start, info.height, info.width, 3), dtype=np.uint8)
    except MemoryError as exc:
        raise ResourceLimit(f"{os.fspath(path)}: {stop - start} frames of {info.width}x{info.height} "
                            "do not fit in memory; read a smaller range") from exc
    n = 0
    frames = iter_frames(path)
    try:
        for i, rgb in enumerate(frames):
            if i < start:
                continue
            if i >= stop:
                break
            if rgb.shape != out.shape[1:]:
                raise InvalidInput(f"{os.fspath(path)}: frame {i} is {rgb.shape[1]}x{rgb.shape[0]}, "
                                   f"expected {info.width}x{info.height}; size changes are not supported")
            out[n] = rgb
            n += 1
    finally:
        if hasattr(frames, "close"):
            frames.close()
    if n == 0:
        raise InvalidInput(f"{os.fspath(path)}: no frames decoded in [{start}, {stop})")
    return out[:n], info  # the container's count can exceed what actually decodes


def _check_frame(frame: np.ndarray, shape: tuple[int, ...] | None, index: int) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise InvalidInput(f"frame {index}: expected (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
    if shape is not None and frame.shape != shape:
        raise InvalidInput(f"frame {index}: size {frame.shape} differs from frame 0 {shape}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InvalidInput(f"frame {index}: empty frame {frame.shape}")
    return np.ascontiguousarray(frame)


def _check_fps(fps: Fraction | int | float) -> Fraction:
    try:
        rate = Fraction(fps).limit_denominator(1001 * 1000)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"fps must be a positive number, got {fps!r}") from exc
    if rate <= 0:
        raise InvalidInput(f"fps must be positive, got {fps}")
    return rate


def write_with_encoder(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: Fraction, *, encoder: str,
                       pix_fmt: str, options: dict[str, str] | None = None,
                       container_format: str | None = None) -> int:
    """Encode RGB frames with any FFmpeg encoder into `path`; returns the coded payload bytes.

    The file is written under a temporary name and moved into place, so a failure leaves no partial
    file. YUV pixel formats get BT.601 limited-range conversion and tags.
    """
    out_path = Path(path)
    rate = _check_fps(fps)
    tmp = out_path.with_name(f".{out_path.stem}.partial{out_path.suffix}")
    time_base = 1 / rate  # fixed here: the muxer may change stream.time_base once it starts
    reformatter = VideoReformatter()
    payload = 0
    shape = None
    try:
        with av_errors(out_path, f"write video with {encoder}"):
            out_path.parent.mkdir(parents=True, exist_ok=True)
            with av.open(os.fspath(tmp), "w", format=container_format) as container:
                stream = None
                for i, raw in enumerate(frames):
                    rgb = _check_frame(raw, shape, i)
                    if stream is None:
                        shape = rgb.shape
                        stream = container.add_stream(encoder, rate=rate, options=dict(options or {}))
                        stream.width, stream.height, stream.pix_fmt = rgb.shape[1], rgb.shape[0], pix_fmt
                        stream.time_base = time_base
                        if pix_fmt.startswith("yuv"):
                            for key, value in _BT601.items():
                                setattr(stream.codec_context, key, value)
                    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                    if pix_fmt.startswith("yuv"):
                        frame = reformatter.reformat(frame, format=pix_fmt, dst_colorspace="ITU601",
                                                     dst_color_range="MPEG", interpolation=SWS_INTERPOLATION)
                    frame.pts = i
                    frame.time_base = time_base
                    for packet in stream.encode(frame):
                        payload += _checked_size(packet, i + 1, encoder)
                        container.mux(packet)
                if stream is None:
                    raise InvalidInput(f"{out_path}: no frames to write")
                for packet in stream.encode(None):
                    payload += _checked_size(packet, i + 1, encoder)
                    container.mux(packet)
        os.replace(tmp, out_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return payload


def _checked_size(packet: av.Packet, frames_sent: int, encoder: str) -> int:
    """Packet size, after refusing timestamps no encoder could mean (x265 emits such for 2-frame clips).

    Muxers abort the process on some of these instead of returning an error, so they are caught here.
    Timestamps count frames here (time base = 1/fps), so a decode delay cannot exceed the frames sent.
    """
    if packet.pts is not None and packet.dts is not None and abs(packet.pts - packet.dts) > frames_sent + 16:
        raise InvalidInput(f"{encoder} produced invalid timestamps (pts {packet.pts}, dts {packet.dts})")
    return packet.size


def _write_png_dir(directory: Path, frames: Iterable[np.ndarray]) -> None:
    with av_errors(directory, "write PNG frames"):
        directory.mkdir(parents=True, exist_ok=True)
        ctx = None
        shape = None
        n = 0
        for i, raw in enumerate(frames):
            rgb = _check_frame(raw, shape, i)
            if ctx is None:
                shape = rgb.shape
                ctx = av.CodecContext.create("png", "w")
                ctx.width, ctx.height, ctx.pix_fmt = rgb.shape[1], rgb.shape[0], "rgb24"
            data = b"".join(bytes(p) for p in ctx.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            (directory / PNG_NAME.format(i + 1)).write_bytes(data)
            n += 1
        if n == 0:
            raise InvalidInput(f"{directory}: no frames to write")
        # Frames from an earlier, longer write would otherwise be read back as part of this video.
        for old in directory.iterdir():
            if _PNG_NAME_RE.match(old.name) and int(old.name[6:-4]) > n:
                old.unlink()


def output_kind(path: str | os.PathLike) -> str:
    """'mp4', 'mkv', 'y4m' or 'png-dir' for an output path; InvalidInput for anything else."""
    text = os.fspath(path)
    p = Path(text)
    if text.endswith(("/", os.sep)) or p.is_dir() or p.suffix == "":
        return "png-dir"
    kind = p.suffix.lower().lstrip(".")
    if kind not in ("mp4", "mkv", "y4m"):
        raise InvalidInput(f"{text}: unknown output type {p.suffix!r}; use .mp4, .mkv, .y4m or a directory")
    return kind


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: Fraction) -> None:
    """Write (H, W, 3) uint8 RGB frames; the container and quality follow from the path (module doc)."""
    kind = output_kind(path)
    if kind == "png-dir":
        _write_png_dir(Path(path), frames)
        return
    if kind == "mkv":
        write_with_encoder(path, frames, fps, encoder="ffv1", pix_fmt="bgr0", container_format="matroska")
    elif kind == "y4m":
        write_with_encoder(path, frames, fps, encoder="rawvideo", pix_fmt="yuv444p",
                           container_format="yuv4mpegpipe")
    else:
        it = iter(frames)
        first = next(it, None)
        if first is None:
            raise InvalidInput(f"{os.fspath(path)}: no frames to write")
        h, w = np.asarray(first).shape[:2]
        pix_fmt = "yuv420p" if h % 2 == 0 and w % 2 == 0 else "yuv444p"
        write_with_encoder(path, _chain(first, it), fps, encoder="libx264", pix_fmt=pix_fmt,
                           options={"crf": str(MP4_CRF), "preset": "medium"}, container_format="mp4")


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest
