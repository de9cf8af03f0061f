"""Media in and out. Video goes through PyAV (`codec.io.video`), still images through Pillow
(`codec.io.image`); see those modules for formats and limits. `codec.io.detect` says which kind
an input is.

The names below load their module on first use, so importing one light submodule (such as
`codec.io.frame_range`) does not load PyAV and Pillow.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "codec.io.image": (
        "IMAGE_SUFFIXES",
        "MAX_PIXELS",
        "ImageInfo",
        "is_image_file",
        "probe_image",
        "read_image",
        "read_image_bytes",
        "write_image",
    ),
    "codec.io.video": (
        "PNG_DIR_FPS",
        "VideoInfo",
        "iter_frames",
        "output_kind",
        "probe",
        "read_frames",
        "write_video",
        "write_with_encoder",
    ),
}
_WHERE = {name: module for module, names in _NAMES.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'codec.io' has no attribute {name!r}")
