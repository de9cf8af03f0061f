"""Traditional-codec baselines (x264, x265, AV1) run through PyAV, scored like the neural codecs.

Each baseline takes RGB frames, converts them to yuv420p (BT.601 limited range, bicubic chroma, as
`codec.io.video` does), encodes an .mp4 in a temporary folder, decodes it back to RGB and crops the
padding. The rate is the whole file on disk, container included: that is what a user stores, and it
is how the neural codecs' files are counted. `params["stream_bytes"]` holds the coded payload alone.

Odd sizes are padded to even (edge pixels repeated) because 4:2:0 needs even sizes, and small frames
are padded up to each encoder's safe minimum (x265: 64 px, SVT-AV1: 8 px); the padding costs a few bits
and is cropped after decoding. `params["coded_size"]` says what was coded.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from codec.errors import InvalidInput
from codec.io.video import av_errors, frame_to_rgb, read_frames, write_with_encoder
from codec.metrics import bpp

# SVT-AV1 prints its whole configuration to stderr unless told otherwise; 1 = errors only.
os.environ.setdefault("SVT_LOG", "1")


@dataclass(frozen=True)
class _Encoder:
    name: str  # FFmpeg encoder
    options: dict[str, str]
    crf_range: tuple[int, int]  # inclusive; larger = smaller file
    min_side: int  # the encoder refuses smaller frames


# Presets are the slow, high-efficiency settings papers compare against.
_ENCODERS: dict[str, list[_Encoder]] = {
    "x264": [_Encoder("libx264", {"preset": "veryslow", "tune": "psnr"}, (0, 51), 2)],
    # x265 refuses frames under 16 px and, in this build, aborts the process now and then on frames
    # smaller than one 64x64 CTU; padding to 64 avoided it in 100 of 100 runs.
    "x265": [_Encoder("libx265", {"preset": "slow", "x265-params": "log-level=error"}, (0, 51), 64)],
    "av1": [
        _Encoder("libsvtav1", {"preset": "5"}, (1, 63), 8),
        _Encoder("libaom-av1", {"cpu-used": "4", "row-mt": "1"}, (0, 63), 2),  # when the wheel lacks SVT
    ],
}
BASELINE_CODECS = tuple(_ENCODERS)


@dataclass(frozen=True)
class BaselineResult:
    bytes_on_disk: int  # the whole .mp4 file
    decoded: np.ndarray  # (T, H, W, 3) uint8 RGB, same shape as the input
    params: dict = field(default_factory=dict)  # codec, encoder, crf, options, pix_fmt, padded size, bpp...


def encoder_for(codec: str) -> _Encoder:
    """The encoder this PyAV build provides for a baseline name; InvalidInput when none."""
    if codec not in _ENCODERS:
        raise InvalidInput(f"unknown baseline codec {codec!r}; choose from {', '.join(BASELINE_CODECS)}")
    for enc in _ENCODERS[codec]:
        if enc.name in av.codecs_available:
            return enc
    names = " or ".join(e.name for e in _ENCODERS[codec])
    raise InvalidInput(f"baseline {codec!r} is unavailable: this PyAV build has no {names} encoder")


def available_baselines() -> dict[str, str]:
    """Baseline name -> FFmpeg encoder, for the baselines this PyAV build can run."""
    found = {}
    for codec in BASELINE_CODECS:
        try:
            found[codec] = encoder_for(codec).name
        except InvalidInput:
            pass
    return found


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or 0 in frames.shape:
        raise InvalidInput(f"baselines need (T, H, W, 3) uint8 RGB frames, got {frames.shape} {frames.dtype}")
    return frames


def _pad(frames: np.ndarray, min_side: int) -> np.ndarray:
    _, h, w, _ = frames.shape
    ph = max(h + h % 2, min_side + min_side % 2)
    pw = max(w + w % 2, min_side + min_side % 2)
    if (ph, pw) == (h, w):
        return frames
    return np.pad(frames, ((0, 0), (0, ph - h), (0, pw - w), (0, 0)), mode="edge")


def encode_baseline(frames: np.ndarray, fps: Fraction, codec: str, crf: int) -> BaselineResult:
    """Encode (T, H, W, 3) uint8 RGB frames with a traditional codec at a CRF and decode them back."""
    frames = _check_frames(frames)
    enc = encoder_for(codec)
    lo, hi = enc.crf_range
    if not (isinstance(crf, int | np.integer) and lo <= crf <= hi):
        raise InvalidInput(f"crf for {codec} ({enc.name}) must be an integer in [{lo}, {hi}], got {crf!r}")
    t, h, w, _ = frames.shape
    padded = _pad(frames, enc.min_side)
    options = {**enc.options, "crf": str(int(crf))}
    if enc.name == "libx265" and t < 3:
        # x265 gives 2-frame clips with B-frames garbage decode timestamps; no B-frames fit there anyway.
        options["x265-params"] += ":bframes=0"
    with tempfile.TemporaryDirectory(prefix="baseline-") as tmp:
        path = Path(tmp) / f"{codec}.mp4"
        started = time.perf_counter()
        stream_bytes = write_with_encoder(path, padded, fps, encoder=enc.name, pix_fmt="yuv420p",
                                          options=options, container_format="mp4")
        encode_s = time.perf_counter() - started
        size = path.stat().st_size
        decoded, _ = read_frames(path)
    if decoded.shape[0] != t:
        raise InvalidInput(f"{enc.name} returned {decoded.shape[0]} frames for {t}")  # should not happen
    decoded = np.ascontiguousarray(decoded[:, :h, :w])
    params = {
        "codec": codec, "encoder": enc.name, "crf": int(crf), "options": options, "pix_fmt": "yuv420p",
        "container": "mp4", "coded_size": (padded.shape[1], padded.shape[2]), "stream_bytes": stream_bytes,
        "bpp": bpp(size, w, h, t), "encode_s": encode_s,
    }
    return BaselineResult(bytes_on_disk=size, decoded=decoded, params=params)


def baseline_at_bpp(frames: np.ndarray, fps: Fraction, codec: str, target_bpp: float) -> BaselineResult:
    """The baseline run whose file bpp is closest to `target_bpp` (in log terms), found by CRF bisection.

    File size falls as CRF rises, so bisection finds the lowest CRF at or under the target and then
    compares it with the next CRF down. `params["search"]` lists every (crf, bpp) tried; when the target
    is out of reach the nearest end of the CRF range is returned, so check `params["bpp"]`.
    """
    if not (isinstance(target_bpp, int | float) and np.isfinite(target_bpp) and target_bpp > 0):
        raise InvalidInput(f"target bpp must be a positive number, got {target_bpp!r}")
    lo, hi = encoder_for(codec).crf_range
    tried: dict[int, BaselineResult] = {}

    def run(crf: int) -> BaselineResult:
        if crf not in tried:
            tried[crf] = encode_baseline(frames, fps, codec, crf)
        return tried[crf]

    while lo < hi:  # invariant: the answer (lowest crf with bpp <= target, else hi) lies in [lo, hi]
        mid = (lo + hi) // 2
        if run(mid).params["bpp"] > target_bpp:
            lo = mid + 1
        else:
            hi = mid
    candidates = [run(lo)] + ([run(lo - 1)] if lo - 1 >= encoder_for(codec).crf_range[0] else [])
    best = min(candidates, key=lambda r: abs(np.log(r.params["bpp"] / target_bpp)))
    best.params["target_bpp"] = float(target_bpp)
    best.params["search"] = sorted((crf, r.params["bpp"]) for crf, r in tried.items())
    return best


def decode_speed(path: str | os.PathLike, to_rgb: bool = True, repeats: int = 1) -> float:
    """Frames per second PyAV decodes `path` at (best of `repeats`), with RGB conversion when `to_rgb`.

    Meant for H.264 files as the speed reference for the neural decoders; any codec works. Uses
    FFmpeg's own frame threading, i.e. all cores.
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"{p}: no such file")
    if repeats < 1:
        raise InvalidInput(f"repeats must be >= 1, got {repeats}")
    best = 0.0
    for _ in range(repeats):
        with av_errors(p, "decode video"), av.open(os.fspath(p)) as container:
            if not container.streams.video:
                raise InvalidInput(f"{p}: no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            reformatter = VideoReformatter()
            started = time.perf_counter()
            n = 0
            for frame in container.decode(stream):
                if to_rgb:
                    frame_to_rgb(frame, reformatter)
                n += 1
            elapsed = time.perf_counter() - started
        if n == 0:
            raise InvalidInput(f"{p}: video stream has no frames")
        best = max(best, n / max(elapsed, 1e-9))
    return best
