"""Still images in and out through Pillow: pixels are always (H, W, 3) uint8 RGB arrays.

Reading (`read_image`, or `read_image_bytes` for an upload; `probe_image` reads the header only)
- Any format Pillow opens; PNG, JPEG, WebP, AVIF, TIFF and PPM/PGM are tested. `ImageInfo.notes` says,
  one sentence each, what was changed to make 8-bit RGB:
  - grayscale (1, L, I;16...) is repeated into three equal channels;
  - alpha is dropped, not composited: the codecs code colour, and a background would be a guess;
  - 16-bit samples are rounded, v8 = round(v16 * 255 / 65535). Pillow keeps only the high byte of
    16-bit colour PNG/TIFF (a truncation, up to one code value low), so those are decoded again by
    FFmpeg through PyAV and cross-checked: FFmpeg's high bytes must equal Pillow's pixels exactly
    (FFmpeg silently misreads tiled TIFFs, for one). When they do not, Pillow's pixels are kept and a
    note says so;
  - palettes, CMYK, YCbCr... are converted by Pillow; embedded ICC profiles are not applied;
  - EXIF orientation is applied, so the array is upright as viewers show it, and width/height are
    those of the upright array;
  - multi-frame files (GIF, TIFF pages) give their first frame.
- The pixel count is checked from the header before anything is decoded: a file declaring a huge
  size (a decompression bomb) is `ResourceLimit`, without allocating. Pillow's own guard still stands
  behind ours and refuses files over 2 * `PIL.Image.MAX_IMAGE_PIXELS` (179M pixels by default) even
  when `max_pixels` is larger; it is reported as `ResourceLimit` too, and its warning is silenced.
- Missing files, directories, non-images, truncated or corrupt data: `InvalidInput`, one line.

Writing (`write_image`): PNG, lossless, through a temporary file in the same folder moved into place.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import struct
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import av
import numpy as np
from PIL import Image, UnidentifiedImageError

from codec.errors import InvalidInput, ResourceLimit, one_line
from codec.io.atomic import atomic_path

# 134M pixels (e.g. 16384x8192): any camera's photo, 400 MB as RGB. Kept below Pillow's own hard limit
# (2 * MAX_IMAGE_PIXELS = 179M) so that ours is the check that answers, with our message.
MAX_PIXELS = 2**27
# GIF is left out on purpose: it is mostly animation, which `codec.io.video` reads; read_image still
# reads a GIF's first frame.
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".avif", ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm", ".bmp"}
)
_SNIFF_FORMATS = ("PNG", "JPEG", "WEBP", "AVIF", "TIFF", "PPM", "BMP")  # Pillow's names for the suffixes
_ORIENTATION_TAG = 0x0112
# What Pillow's plugins and decoders raise on data they cannot read (see its fuzzing tests).
_PIL_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error)
_RAW16 = re.compile(r"(RGB|RGBA|LA);16[BLN]")  # 16-bit colour rawmodes Pillow truncates to 8 bits
_FFMPEG_DEMUXER = {"PNG": "png_pipe", "TIFF": "tiff_pipe"}  # *_pipe: no image2 '%d' name patterns

ALPHA_NOTE = "alpha channel dropped (colours kept as stored, not composited onto a background)"
GRAY_NOTE = "grayscale expanded to RGB (three equal channels)"
ROUND16_NOTE = "16-bit samples rounded to 8 bits"

# EXIF orientation -> what makes the stored pixels upright (as ImageOps.exif_transpose does), and how.
_ORIENTATIONS: dict[int, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    2: ("mirrored left-right", lambda a: a[:, ::-1]),
    3: ("rotated 180 degrees", lambda a: a[::-1, ::-1]),
    4: ("mirrored top-bottom", lambda a: a[::-1]),
    5: ("transposed", lambda a: a.transpose(1, 0, 2)),
    6: ("rotated 90 degrees clockwise", lambda a: np.rot90(a, -1)),
    7: ("transversed", lambda a: a[::-1, ::-1].transpose(1, 0, 2)),
    8: ("rotated 90 degrees counter-clockwise", lambda a: np.rot90(a, 1)),
}


@dataclass(frozen=True)
class ImageInfo:
    width: int  # of the array read_image returns, i.e. after EXIF orientation
    height: int
    format: str  # Pillow's name: "PNG", "JPEG", "WEBP", "AVIF", "TIFF", "PPM", "GIF"...
    mode: str  # Pillow's mode of the source: "RGB", "RGBA", "L", "I;16", "P", "CMYK"...
    bits: int  # per sample in the file: 8, 16 (1 for bilevel, 32 for Pillow's I and F modes)
    frames: int  # frames or pages in the file; only the first is read
    notes: tuple[str, ...] = ()  # what reading changes to make upright 8-bit RGB, one sentence each

    @property
    def pixels(self) -> int:
        return self.width * self.height


@contextlib.contextmanager
def _pillow_errors(path: Path | str, action: str) -> Iterator[None]:
    """Pillow failures inside the block -> one-line InvalidInput / ResourceLimit naming the file.

    Pillow's decompression-bomb warning is silenced: our own pixel check is the one that decides.
    (catch_warnings swaps the process-wide filters; the worst a concurrent thread sees is that one
    warning silenced too.)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            yield
        except Image.DecompressionBombError as exc:
            raise ResourceLimit(f"{path}: image too large to read: {one_line(exc)}") from exc
        except MemoryError as exc:
            raise ResourceLimit(f"{path}: image does not fit in memory") from exc
        except UnidentifiedImageError as exc:
            raise InvalidInput(f"{path}: not an image, or in a format Pillow cannot read") from exc
        except _PIL_ERRORS as exc:
            raise InvalidInput(f"{path}: cannot {action}: {one_line(exc)}") from exc


def _check_file(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise InvalidInput(f"{p}: no such file")
    if p.is_dir():
        raise InvalidInput(f"{p}: is a directory, not an image file")
    return p


def _rawmode(im: Image.Image) -> str:
    """How the file stores its pixels, where Pillow says (e.g. 'RGB;16B' for a 16-bit colour PNG)."""
    tile = getattr(im, "tile", None) or []
    args = tile[0].args if tile else None
    if isinstance(args, tuple) and args:
        args = args[0]
    return args if isinstance(args, str) else ""


def _is_16bit_colour(im: Image.Image) -> bool:
    return im.format in _FFMPEG_DEMUXER and _RAW16.fullmatch(_rawmode(im)) is not None


def _bits(im: Image.Image) -> int:
    if im.mode.startswith("I;16") or _is_16bit_colour(im):
        return 16
    return {"1": 1, "I": 32, "F": 32}.get(im.mode, 8)


def _orientation(im: Image.Image) -> int:
    """EXIF orientation 1..8 (1 when absent, unreadable or invalid), read without decoding pixels."""
    try:
        if im.format == "PNG" and "exif" not in im.info:
            # PNG's getexif() decodes the whole image to look for an eXIf chunk after the pixels; the
            # standard puts it before them, so the header has it or there is none.
            exif = Image.Image.getexif(im)
        else:
            exif = im.getexif()
        value = exif.get(_ORIENTATION_TAG, 1)
    except _PIL_ERRORS:
        return 1  # broken EXIF is no reason to refuse the pixels
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _frame_count(im: Image.Image) -> int:
    try:
        return max(1, int(getattr(im, "n_frames", 1)))
    except _PIL_ERRORS:
        return 1  # a damaged later frame: the first one may still read


_PALETTE_NOTE = "palette image converted to RGB"
_MODE_NOTES = {
    "RGB": [],
    "RGBX": [],
    "RGBA": [ALPHA_NOTE],
    "RGBa": [ALPHA_NOTE],
    "L": [GRAY_NOTE],
    "1": ["bilevel image read as black 0 and white 255", GRAY_NOTE],
    "LA": [GRAY_NOTE, ALPHA_NOTE],
    "La": [GRAY_NOTE, ALPHA_NOTE],
    "I": ["32-bit integer samples clipped to 0..65535 and rounded to 8 bits", GRAY_NOTE],
    "F": ["floating-point samples clipped to 0..1 and rounded to 8 bits", GRAY_NOTE],
    "P": [_PALETTE_NOTE],
    "PA": [_PALETTE_NOTE, ALPHA_NOTE],
    "CMYK": ["CMYK converted to RGB by Pillow's simple formula, without colour management"],
}


def _mode_notes(im: Image.Image) -> list[str]:
    """What turning this mode into 8-bit RGB does to it (decided from the header alone)."""
    if _is_16bit_colour(im):
        stored = _rawmode(im).split(";")[0]  # "RGB", "RGBA" or "LA"
        gray, alpha = [GRAY_NOTE] if stored == "LA" else [], [ALPHA_NOTE] if "A" in stored else []
        return [ROUND16_NOTE, *gray, *alpha]
    if im.mode.startswith("I;16"):
        return [ROUND16_NOTE, GRAY_NOTE]
    if im.mode == "P" and "transparency" in im.info:
        return [_PALETTE_NOTE, "palette transparency dropped (colours kept as stored)"]
    return list(_MODE_NOTES.get(im.mode, [f"{im.mode} converted to RGB by Pillow"]))


def _describe(im: Image.Image) -> tuple[ImageInfo, int]:
    """(ImageInfo, EXIF orientation) from the header; nothing is decoded."""
    width, height = im.size
    orientation = _orientation(im)
    notes = _mode_notes(im)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    if orientation != 1:
        notes.append(f"EXIF orientation {orientation} applied: pixels {_ORIENTATIONS[orientation][0]}")
    frames = _frame_count(im)
    if frames > 1:
        notes.append(f"first of {frames} frames read")
    info = ImageInfo(
        width=width,
        height=height,
        format=im.format or "unknown",
        mode=im.mode,
        bits=_bits(im),
        frames=frames,
        notes=tuple(notes),
    )
    return info, orientation


def probe_image(path: str | os.PathLike) -> ImageInfo:
    """Describe an image from its header alone (no pixels decoded), e.g. to check limits before work.

    No pixel limit is applied here (compare `info.pixels` yourself), but Pillow's own guard still
    refuses sizes past 2 * PIL.Image.MAX_IMAGE_PIXELS with ResourceLimit.
    """
    p = _check_file(path)
    with _pillow_errors(p, "read image header"), Image.open(p) as im:
        return _describe(im)[0]


def _round16(a: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 as round(v * 255 / 65535) = round(v / 257), without a wider temporary."""
    q, r = np.divmod(np.asarray(a, dtype=np.uint16), 257)
    q += r > 128  # v = 257 q + r rounds up exactly when r > 128.5
    return q.astype(np.uint8)


def _gray_to_rgb(g: np.ndarray) -> np.ndarray:
    return np.repeat(g[:, :, None], 3, axis=2)


def _pillow_rgb(im: Image.Image) -> np.ndarray:
    """Decode with Pillow into (H, W, 3) uint8 following `_mode_notes` (16-bit colour: high byte)."""
    mode = im.mode
    if mode in ("RGB", "RGBA"):
        return np.asarray(im)[:, :, :3]
    if mode.startswith("I;16"):
        return _gray_to_rgb(_round16(np.asarray(im)))
    if mode == "I":
        return _gray_to_rgb(_round16(np.clip(np.asarray(im), 0, 65535)))
    if mode == "F":
        return _gray_to_rgb(np.rint(np.clip(np.asarray(im), 0.0, 1.0) * 255.0).astype(np.uint8))
    if mode in ("1", "L"):
        return _gray_to_rgb(np.asarray(im.convert("L")))
    if mode in ("LA", "La"):
        return _gray_to_rgb(np.asarray(im.convert("LA"))[:, :, 0])  # La is premultiplied: undone first
    if mode in ("RGBa", "PA") or (mode == "P" and "transparency" in im.info):
        return np.asarray(im.convert("RGBA"))[:, :, :3]
    return np.asarray(im.convert("RGB"))


def _ffmpeg_rgb48(src: Path | bytes, fmt: str) -> np.ndarray:
    """First frame as (H, W, 3) uint16 through FFmpeg (which keeps all 16 bits; alpha is dropped)."""
    file = io.BytesIO(src) if isinstance(src, bytes) else os.fspath(src)
    with av.open(file, format=_FFMPEG_DEMUXER[fmt]) as container:
        for frame in container.decode(video=0):
            return frame.reformat(format="rgb48le").to_ndarray()
    raise ValueError("FFmpeg decoded no frame")


def _rgb_16bit_colour(im: Image.Image, p: Path | bytes) -> tuple[np.ndarray, list[str]]:
    """Rounded 16-bit colour when FFmpeg's decode agrees with Pillow's, else Pillow's high bytes."""
    high_bytes = _pillow_rgb(im)
    try:
        rgb48 = _ffmpeg_rgb48(p, im.format)
    except (av.FFmpegError, OSError, ValueError) as exc:
        reason = f"FFmpeg could not decode it ({one_line(exc)})"
    else:
        if rgb48.shape == high_bytes.shape and np.array_equal(rgb48 >> 8, high_bytes):
            return _round16(rgb48), []
        reason = "FFmpeg's decode disagreed with Pillow's"
    return high_bytes, [f"16-bit samples truncated to their high byte, not rounded: {reason}"]


def read_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, ImageInfo]:
    """The image as upright (H, W, 3) uint8 RGB, and what it was (module doc: conversions, limits)."""
    p = _check_file(path)
    return _read(p, p, max_pixels)


def read_image_bytes(
    data: bytes, max_pixels: int = MAX_PIXELS, what: str = "the image"
) -> tuple[np.ndarray, ImageInfo]:
    """`read_image` of an image file's bytes (an upload), the same pixels as from the file; errors
    name it `what`, never a path."""
    return _read(bytes(data), what, max_pixels)


def _read(src: Path | bytes, name: str | Path, max_pixels: int) -> tuple[np.ndarray, ImageInfo]:
    file = io.BytesIO(src) if isinstance(src, bytes) else src
    with _pillow_errors(name, "read image"), Image.open(file) as im:
        info, orientation = _describe(im)
        if info.pixels > max_pixels:  # from the header, before any pixel is decoded
            raise ResourceLimit(
                f"{name}: {info.width}x{info.height} is {info.pixels} pixels, over the limit of {max_pixels}"
            )
        if _is_16bit_colour(im):
            rgb, extra = _rgb_16bit_colour(im, src)
        else:
            rgb, extra = _pillow_rgb(im), []
    if extra:
        notes = [n for n in info.notes if n != ROUND16_NOTE] + extra
        info = replace(info, notes=tuple(notes))
    if orientation != 1:
        rgb = _ORIENTATIONS[orientation][1](rgb)
    return np.ascontiguousarray(rgb, dtype=np.uint8), info


def write_image(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write (H, W, 3) RGB or (H, W) gray uint8 as a PNG; a failure leaves no partial file behind."""
    p = Path(path)
    if p.suffix.lower() != ".png":
        raise InvalidInput(f"{p}: images are written as PNG; give a .png path")
    a = np.asarray(rgb)
    if a.dtype != np.uint8 or not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)) or 0 in a.shape:
        raise InvalidInput(f"{p}: expected (H, W, 3) or (H, W) uint8, got {a.shape} {a.dtype}")
    im = Image.fromarray(np.ascontiguousarray(a))
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"{p}: cannot write image: {one_line(exc)}") from exc
    with atomic_path(p, "image") as tmp, open(tmp, "xb") as f:  # the umask applies, unlike tempfile's 0600
        im.save(f, format="PNG")


def is_image_file(path: str | os.PathLike) -> bool:
    """True for a still-image path: an `IMAGE_SUFFIXES` suffix, or else content Pillow identifies as
    one of those formats (header only). Directories and missing files without such a suffix are not."""
    p = Path(path)
    if p.is_dir():
        return False
    if p.suffix.lower() in IMAGE_SUFFIXES:
        return True
    if not p.is_file():
        return False
    Image.init()  # registers every plugin, so the check below sees AVIF when Pillow has it
    formats = [f for f in _SNIFF_FORMATS if f in Image.OPEN]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(p, formats=formats):
                return True
    except Image.DecompressionBombError:
        return True  # an image, if too large to read
    except _PIL_ERRORS:
        return False
