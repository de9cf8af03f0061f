"""The v1 header layout as field tables, plus the sanity checks both sides apply to it.

These tables ARE the format: `format.py` packs and unpacks through them and nothing else, so
the writer and the reader cannot disagree. Changing a table means a new FORMAT_VERSION and new
golden files (docs/FORMAT.md).
"""

from __future__ import annotations

from typing import Any

from codec.container import fields
from codec.container.limits import MAX_DIM, MAX_FRAME_PIXELS, MAX_FRAMES
from codec.container.params import check_name
from codec.errors import CodecError

MAGIC = b"NCDC"
FORMAT_VERSION = 1

# Frozen for every version, so any reader can say "newer version" instead of "corrupt".
PREAMBLE: fields.Table = (
    ("magic", "4s"),
    ("version", "H"),
    ("header_len", "I"),  # bytes from the first magic byte through the header CRC
)
PREAMBLE_SIZE = fields.fixed_size(PREAMBLE)

HEADER_V1: fields.Table = (
    ("codec_id", "H"),  # codec.registry.CODEC_IDS
    ("flags", "H"),  # bit 0: a model reference follows
    ("width", "I"),
    ("height", "I"),
    ("frames", "I"),
    ("fps_num", "I"),
    ("fps_den", "I"),
    ("pad_h", "H"),
    ("pad_w", "H"),
    ("pix_fmt", "str8"),
    ("n_params", "H"),
    ("n_sections", "H"),
)
FLAG_MODEL = 0x0001
KNOWN_FLAGS = FLAG_MODEL

MODEL_REF: fields.Table = (("model_name", "str8"), ("model_version", "str8"), ("model_sha256", "32s"))

SECTION_ENTRY: fields.Table = (("name", "str8"), ("length", "Q"), ("crc32", "I"))

HEADER_CRC: fields.Table = (("header_crc", "I"),)  # CRC-32 of every header byte before it
CRC_SIZE = fields.fixed_size(HEADER_CRC)


def check_media(h: dict[str, Any], error: type[CodecError]) -> None:
    """Limits on the media facts; `h` holds HEADER_V1 values that already fit their fields."""
    for name in ("width", "height"):
        if not 1 <= h[name] <= MAX_DIM:
            raise error(f"{name} {h[name]} is outside the limit 1..{MAX_DIM}")
    if h["width"] * h["height"] > MAX_FRAME_PIXELS:
        raise error(f"frame size {h['width']}x{h['height']} is more than {MAX_FRAME_PIXELS} pixels")
    if not 1 <= h["frames"] <= MAX_FRAMES:
        raise error(f"frame count {h['frames']} is outside the limit 1..{MAX_FRAMES}")
    if h["fps_den"] == 0:
        raise error("fps_den must be at least 1")
    check_name(h["pix_fmt"], "pix_fmt", error)
