"""What kind of input a path is, so `codec encode IN` can pick a codec without being told.

By suffix first, then by content for unknown suffixes: a directory is a PNG frame sequence
(video), `.npy` float vectors, common image suffixes images, anything else goes to the video
reader (which says clearly when it cannot read it).
"""

from __future__ import annotations

import os
from pathlib import Path

from codec.errors import InvalidInput

INPUT_KINDS = ("video", "image", "vectors")
VIDEO_SUFFIXES = frozenset(
    ".mp4 .m4v .mkv .mov .avi .webm .y4m .ts .mts .mpg .mpeg .flv .wmv .3gp .ogv .gif".split()
)
NPY_MAGIC = b"\x93NUMPY"


def input_kind(path: str | os.PathLike[str]) -> str:
    """'video', 'image' or 'vectors' for an existing path; InvalidInput when it does not exist."""
    from codec.io.image import IMAGE_SUFFIXES, is_image_file

    p = Path(path)
    if not p.exists():
        raise InvalidInput(f"{p.name}: no such file or directory")
    if p.is_dir():
        return "video"
    suffix = p.suffix.lower()
    if suffix == ".npy":
        return "vectors"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    try:
        with open(p, "rb") as f:
            head = f.read(len(NPY_MAGIC))
    except OSError as e:
        raise InvalidInput(f"{p.name}: cannot read: {e.strerror}") from None
    if head == NPY_MAGIC:
        return "vectors"
    return "image" if is_image_file(p) else "video"
