"""What an uploaded input is and whether it is within this server's limits for its media kind.

Run on a worker thread once an upload is complete, before the job is queued: a video's frame size
and count, an image's pixels, a vector file's count and dimension, each read from the header
only. Messages name the client's file, never the server's path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from codec.container import ImageMedia, LatentMedia, Media, VectorMedia, VideoMedia
from codec.errors import CodecError, InvalidInput, ResourceLimit
from codec.limits import DecodeLimits
from service.config import Limits


def _video(path: Path, lim: Limits) -> None:
    from codec.io.video import probe

    info = probe(path)
    v = lim.video
    if info.width * info.height > v.max_pixels:
        raise ResourceLimit(
            f"{info.width}x{info.height} frames exceed the limit of {v.max_pixels} pixels per frame"
        )
    if info.frames > v.max_frames:
        raise ResourceLimit(f"{info.frames} frames exceed the server's limit of {v.max_frames} per job")


def _image(path: Path, lim: Limits) -> None:
    from codec.io.image import probe_image

    info = probe_image(path)
    if info.width * info.height > lim.image.max_pixels:
        raise ResourceLimit(
            f"a {info.width}x{info.height} image exceeds the limit of {lim.image.max_pixels} pixels"
        )


def _vectors(path: Path, lim: Limits) -> None:
    import numpy as np

    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)  # reads the header, maps the data
    except (ValueError, OSError, EOFError) as e:
        raise InvalidInput(f"not a readable .npy file: {str(e).splitlines()[0][:200]}") from None
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.floating):
        raise InvalidInput(f"vectors must be a 2-D float array, got shape {arr.shape} of {arr.dtype}")
    count, dim = arr.shape
    if count > lim.vectors.max_count or dim > lim.vectors.max_dim:
        raise ResourceLimit(
            f"{count} vectors of dimension {dim} exceed the limits of {lim.vectors.max_count} vectors "
            f"and dimension {lim.vectors.max_dim}"
        )


CHECKS: dict[str, Callable[[Path, Limits], None]] = {"video": _video, "image": _image, "vectors": _vectors}


def decode_limits(lim: Limits, media: Media) -> DecodeLimits:
    """What this server lets one decode of a file with these media facts cost; the per-item limits
    of its media kind (frame size, image size, vector dimension) are checked here too."""
    items, pixels = 1, 0
    if isinstance(media, VideoMedia):
        if media.width * media.height > lim.video.max_pixels:
            raise ResourceLimit(
                f"{media.width}x{media.height} frames exceed the limit of {lim.video.max_pixels} pixels"
            )
        items, pixels = lim.video.max_frames, lim.video.max_frames * lim.video.max_pixels
    elif isinstance(media, ImageMedia):
        items, pixels = 1, lim.image.max_pixels
    elif isinstance(media, VectorMedia):
        if media.dim > lim.vectors.max_dim:
            raise ResourceLimit(f"vectors of dimension {media.dim} exceed the limit of {lim.vectors.max_dim}")
        items = lim.vectors.max_count
    elif isinstance(media, LatentMedia):
        items, pixels = lim.latents.max_items, lim.latents.max_pixels
    return DecodeLimits(lim.max_decode_memory_bytes, lim.max_decode_work, items, pixels)


def check_input(path: Path, accepted: tuple[str, ...], limits: Limits, filename: str) -> str:
    """The upload's input kind, if the job takes it and it is within the limits; `filename` (the
    client's name for it) replaces the server's path in any message."""
    from codec.io.detect import input_kind

    try:
        kind = input_kind(path)
        if kind not in accepted:
            raise InvalidInput(f"this job takes {' or '.join(accepted)} input; the upload is {kind}")
        CHECKS[kind](path, limits)
    except CodecError as e:
        text = str(e).replace(str(path), filename).replace(path.name, filename)
        raise type(e)(text) from None
    return kind


def image_from_bytes(data: bytes, max_pixels: int, what: str = "the image"):
    """Uploaded image file bytes -> upright (H, W, 3) uint8 RGB, the pixels `codec encode` reads from
    the same file (codec.io.image): the pixel count is checked from the header before any pixel is
    decoded (ResourceLimit), anything unreadable is InvalidInput; errors name `what`, not a path."""
    from codec.io.image import read_image_bytes

    return read_image_bytes(data, max_pixels, what)[0]


def png_bytes(img) -> bytes:
    """(H, W, 3) or (H, W) uint8 -> PNG file bytes."""
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG")
    return buf.getvalue()
