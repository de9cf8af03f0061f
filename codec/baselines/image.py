"""Still-image baselines (JPEG, WebP, AVIF) through Pillow, scored like the neural codecs.

Each encode writes a real file into a temporary folder; the rate is that whole file's size on disk
(headers and container included, as a user stores it) and the quality is measured on the file decoded
back by `codec.io.image.read_image` to 8-bit RGB, the reader every codec here is scored with.

Settings are the slow, high-efficiency ones papers compare against; `params` records them all:
- `jpeg420` / `jpeg444`: libjpeg-turbo, chroma 4:2:0 / 4:4:4, optimised Huffman tables, baseline.
- `webp`: libwebp lossy, method 6 (slowest, best). Lossy WebP is always 4:2:0.
- `avif`: libavif (libaom), 4:4:4, speed 2, one thread. Speed: measured on a 512x512 photo on a
  2-core VM, one thread, speed 0 takes 10-23 s per encode, speed 2 3-6 s for a BD-rate within 0.5% of
  speed 0, speed 4 1.6-2.5 s but +3.7%; at speed 0 an RD sweep (~30 encodes) would take ~8 minutes
  for AVIF alone. 4:4:4 rather than Pillow's 4:2:0 default: -7% BD-rate in RGB PSNR on two photos
  (and avifenc's default). One thread because libavif's automatic tiling follows the thread count:
  with the default (all cores) the file would depend on the machine.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, features

from codec.errors import InvalidInput
from codec.io.image import read_image
from codec.metrics import bpp
from codec.progress import CancelToken


@dataclass(frozen=True)
class _Encoder:
    format: str  # Pillow's format name
    feature: str  # PIL.features name: the library that must be present
    suffix: str
    options: dict  # fixed save options; quality is added per encode
    quality_range: tuple[int, int]  # inclusive; a larger quality gives a larger file
    description: str

    @property
    def version(self) -> str:
        """The library's version; for JPEG libjpeg-turbo's own, not the libjpeg API level (6.2)."""
        if self.feature == "jpg" and features.check("libjpeg_turbo"):
            return str(features.version("libjpeg_turbo"))
        return str(features.version(self.feature))


_ENCODERS: dict[str, _Encoder] = {
    "jpeg420": _Encoder("JPEG", "jpg", ".jpg", {"subsampling": 2, "optimize": True}, (1, 100),
                        "JPEG 4:2:0 (optimised Huffman), libjpeg-turbo"),
    "jpeg444": _Encoder("JPEG", "jpg", ".jpg", {"subsampling": 0, "optimize": True}, (1, 100),
                        "JPEG 4:4:4 (optimised Huffman), libjpeg-turbo"),
    "webp": _Encoder("WEBP", "webp", ".webp", {"lossless": False, "method": 6}, (0, 100),
                     "WebP lossy (method 6), libwebp"),
    "avif": _Encoder("AVIF", "avif", ".avif",
                     {"speed": 2, "subsampling": "4:4:4", "range": "full", "max_threads": 1},
                     (0, 100), "AVIF 4:4:4 (speed 2), libavif"),
}
IMAGE_BASELINE_CODECS = tuple(_ENCODERS)


@dataclass(frozen=True)
class ImageBaselineResult:
    bytes_on_disk: int  # the whole file
    bpp: float  # bytes_on_disk * 8 / (width * height)
    decoded: np.ndarray  # (H, W, 3) uint8 RGB read back from the file
    params: dict = field(default_factory=dict)  # codec, format, quality, options, library, timings...


def image_encoder_for(codec: str) -> _Encoder:
    """A baseline's encoder settings; InvalidInput, listing the known names, when unknown or unavailable."""
    if codec not in _ENCODERS:
        known = ", ".join(IMAGE_BASELINE_CODECS)
        raise InvalidInput(f"unknown image baseline {codec!r}; choose from {known}")
    enc = _ENCODERS[codec]
    if not features.check(enc.feature):
        raise InvalidInput(f"image baseline {codec!r} is unavailable: this Pillow has no {enc.format} "
                           f"support; available: {', '.join(available_image_baselines()) or 'none'}")
    return enc


def available_image_baselines() -> dict[str, str]:
    """Baseline name -> description with library version, for the ones this Pillow build can run."""
    return {name: f"{enc.description} {enc.version}"
            for name, enc in _ENCODERS.items() if features.check(enc.feature)}


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        raise InvalidInput(f"image baselines need (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    return np.ascontiguousarray(rgb)


class ImageBaselineSearch:
    """One codec's encodes of one image, cached by quality: the files stay in a temporary folder (the
    decoded pixels are not kept, they are read back when asked for). Close it, or use `with`.
    `cancel` is checked before every encode."""

    def __init__(self, rgb: np.ndarray, codec: str, cancel: CancelToken | None = None) -> None:
        self.rgb = _check_rgb(rgb)
        self.codec, self.cancel = codec, cancel
        self.enc = image_encoder_for(codec)
        self.lo, self.hi = self.enc.quality_range
        self._tmp = tempfile.TemporaryDirectory(prefix=f"image-baseline-{codec}-")
        self._files: dict[int, tuple[Path, float]] = {}  # quality -> (file, encode seconds)
        self._image = Image.fromarray(self.rgb)

    def __enter__(self) -> ImageBaselineSearch:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._tmp.cleanup()

    @property
    def qualities(self) -> list[int]:
        """The qualities encoded so far."""
        return sorted(self._files)

    def _check_quality(self, quality: int) -> int:
        if not (isinstance(quality, int | np.integer) and self.lo <= quality <= self.hi):
            raise InvalidInput(f"quality for {self.codec} must be an integer in [{self.lo}, {self.hi}], "
                               f"got {quality!r}")
        return int(quality)

    def _file(self, quality: int) -> tuple[Path, float]:
        quality = self._check_quality(quality)
        if quality not in self._files:
            if self.cancel is not None:
                self.cancel.check()
            path = Path(self._tmp.name) / f"q{quality:03d}{self.enc.suffix}"
            started = time.perf_counter()
            try:
                self._image.save(path, format=self.enc.format, quality=quality, **self.enc.options)
            except (OSError, ValueError) as exc:  # e.g. WebP refuses sides over 16383
                h, w = self.rgb.shape[:2]
                raise InvalidInput(f"{self.codec} cannot encode a {w}x{h} image: {exc}") from exc
            self._files[quality] = (path, time.perf_counter() - started)
        return self._files[quality]

    def bpp(self, quality: int) -> float:
        """File bpp at a quality (encodes once, then cached)."""
        h, w = self.rgb.shape[:2]
        return bpp(self._file(quality)[0].stat().st_size, w, h)

    def result(self, quality: int) -> ImageBaselineResult:
        """The encode at `quality`, its file read back to RGB."""
        path, encode_s = self._file(quality)
        started = time.perf_counter()
        decoded, _ = read_image(path)
        decode_s = time.perf_counter() - started
        if decoded.shape != self.rgb.shape:  # would be a Pillow bug; the scores would be meaningless
            raise InvalidInput(f"{self.codec} decoded {decoded.shape} for {self.rgb.shape}")
        size = path.stat().st_size
        params = {
            "codec": self.codec, "format": self.enc.format, "quality": int(quality),
            "options": dict(self.enc.options), "encoder": self.enc.description,
            "library_version": self.enc.version,
            "bpp": self.bpp(quality), "encode_s": encode_s, "decode_s": decode_s,
        }
        return ImageBaselineResult(bytes_on_disk=size, bpp=params["bpp"], decoded=decoded, params=params)

    def quality_for_bpp(self, target_bpp: float) -> int:
        """The quality whose file bpp is closest to `target_bpp` in log terms (ties: the smaller file).

        Bisection finds the largest quality at or under the target (file size grows with quality),
        which is then compared with the next quality up. When even the lowest quality overshoots, or
        the highest undershoots, that end of the range is the answer: check the bpp you got.
        """
        if not (isinstance(target_bpp, int | float) and np.isfinite(target_bpp) and target_bpp > 0):
            raise InvalidInput(f"target bpp must be a positive number, got {target_bpp!r}")
        lo, hi = self.lo - 1, self.hi  # invariant: the answer is in [lo, hi]; lo - 1 stands for "none fits"
        for q in self.qualities:  # earlier encodes narrow the bracket: a sweep's later targets cost less
            lo, hi = (max(lo, q), hi) if self.bpp(q) <= target_bpp else (lo, min(hi, q - 1))
        hi = max(lo, hi)  # only if sizes were not monotone in quality
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if self.bpp(mid) <= target_bpp else (lo, mid - 1)
        candidates = [q for q in (lo, lo + 1) if self.lo <= q <= self.hi]
        return min(candidates, key=lambda q: (abs(np.log(self.bpp(q) / target_bpp)), q))

    def at_bpp(self, target_bpp: float) -> ImageBaselineResult:
        result = self.result(self.quality_for_bpp(target_bpp))
        result.params["target_bpp"] = float(target_bpp)
        result.params["search"] = [(q, self.bpp(q)) for q in self.qualities]
        return result


def encode_image_baseline(rgb: np.ndarray, codec: str, quality: int) -> ImageBaselineResult:
    """Encode (H, W, 3) uint8 RGB with a baseline at one quality and read the file back."""
    with ImageBaselineSearch(rgb, codec) as search:
        return search.result(quality)


def image_baseline_at_bpp(rgb: np.ndarray, codec: str, target_bpp: float) -> ImageBaselineResult:
    """The encode whose file bpp is closest to `target_bpp` (rule: `ImageBaselineSearch.quality_for_bpp`);
    `params["search"]` lists every (quality, bpp) tried."""
    with ImageBaselineSearch(rgb, codec) as search:
        return search.at_bpp(target_bpp)
