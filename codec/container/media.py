"""What a file's media was: one small dataclass per media kind, each with its field table and limits.

The header stores a media-kind code, then that kind's fields (its `TABLE`), so every codec gets a
shape that fits it: frames and timing for video, pixels and channels for an image, count and
dimension for vectors, count and codes per item for latents. Each kind also says what its rate is
measured in (bits per pixel, bytes per vector, ...), so `codec info` reports a unit that means
something for the media. Adding a kind is a format change (a new code; see docs/FORMAT.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from codec.container import fields
from codec.container.limits import MAX_COUNT, MAX_DIM, MAX_FRAME_PIXELS, MAX_FRAMES, MAX_VECTOR_DIM
from codec.container.params import check_name
from codec.errors import CodecError


def _in_range(value: int, lo: int, hi: int, what: str, error: type[CodecError]) -> None:
    if not lo <= value <= hi:
        raise error(f"{what} {value} is outside the limit {lo}..{hi}")


def _check_pixels(width: int, height: int, error: type[CodecError]) -> None:
    _in_range(width, 1, MAX_DIM, "width", error)
    _in_range(height, 1, MAX_DIM, "height", error)
    if width * height > MAX_FRAME_PIXELS:
        raise error(f"frame size {width}x{height} is more than {MAX_FRAME_PIXELS} pixels")


@dataclass
class VideoMedia:
    """Frames with timing; `pad_*` are rows/columns the encoder added (decode crops them)."""

    KIND: ClassVar[str] = "video"
    CODE: ClassVar[int] = 1
    TABLE: ClassVar[fields.Table] = (
        ("width", "I"),
        ("height", "I"),
        ("frames", "I"),
        ("fps_num", "I"),
        ("fps_den", "I"),
        ("pad_h", "H"),
        ("pad_w", "H"),
        ("pix_fmt", "str8"),
    )
    RATE_UNIT: ClassVar[str] = "bpp"

    width: int
    height: int
    frames: int = 1
    fps_num: int = 0  # 0 = no frame rate
    fps_den: int = 1
    pix_fmt: str = "rgb24"
    pad_h: int = 0
    pad_w: int = 0

    def check(self, error: type[CodecError]) -> None:
        _check_pixels(self.width, self.height, error)
        _in_range(self.frames, 1, MAX_FRAMES, "frame count", error)
        if self.fps_den == 0:
            raise error("fps_den must be at least 1")
        check_name(self.pix_fmt, "pix_fmt", error)

    def rate(self, file_bytes: int) -> float:
        """Bits per pixel of every frame: what video papers report."""
        return file_bytes * 8 / (self.width * self.height * self.frames)


@dataclass
class ImageMedia:
    KIND: ClassVar[str] = "image"
    CODE: ClassVar[int] = 2
    TABLE: ClassVar[fields.Table] = (("width", "I"), ("height", "I"), ("channels", "B"))
    RATE_UNIT: ClassVar[str] = "bpp"

    width: int
    height: int
    channels: int = 3

    def check(self, error: type[CodecError]) -> None:
        _check_pixels(self.width, self.height, error)
        _in_range(self.channels, 1, 4, "channel count", error)

    def rate(self, file_bytes: int) -> float:
        return file_bytes * 8 / (self.width * self.height)


@dataclass
class VectorMedia:
    """`count` vectors of `dim` components; `dtype` names what the caller gave (e.g. float32)."""

    KIND: ClassVar[str] = "vectors"
    CODE: ClassVar[int] = 3
    TABLE: ClassVar[fields.Table] = (("count", "Q"), ("dim", "I"), ("dtype", "str8"))
    RATE_UNIT: ClassVar[str] = "bytes/vector"

    count: int
    dim: int
    dtype: str = "float32"

    def check(self, error: type[CodecError]) -> None:
        _in_range(self.count, 1, MAX_COUNT, "vector count", error)
        _in_range(self.dim, 1, MAX_VECTOR_DIM, "vector dimension", error)
        check_name(self.dtype, "dtype", error)

    def rate(self, file_bytes: int) -> float:
        """Bytes per vector: what an index pays per stored item."""
        return file_bytes / self.count


@dataclass
class LatentMedia:
    """`count` items (images), each `codes` quantized latent codes."""

    KIND: ClassVar[str] = "latents"
    CODE: ClassVar[int] = 4
    TABLE: ClassVar[fields.Table] = (("count", "Q"), ("codes", "I"))
    RATE_UNIT: ClassVar[str] = "bytes/item"

    count: int
    codes: int

    def check(self, error: type[CodecError]) -> None:
        _in_range(self.count, 1, MAX_COUNT, "item count", error)
        _in_range(self.codes, 1, MAX_VECTOR_DIM, "codes per item", error)

    def rate(self, file_bytes: int) -> float:
        return file_bytes / self.count


Media = VideoMedia | ImageMedia | VectorMedia | LatentMedia
MEDIA_TYPES: tuple[type, ...] = (VideoMedia, ImageMedia, VectorMedia, LatentMedia)
BY_CODE: dict[int, type] = {m.CODE: m for m in MEDIA_TYPES}
BY_KIND: dict[str, type] = {m.KIND: m for m in MEDIA_TYPES}
MEDIA_KINDS: tuple[str, ...] = tuple(BY_KIND)


def media_values(media: Media) -> dict[str, Any]:
    """The media's fields by name, as its TABLE packs them."""
    return asdict(media)
