"""The neural-codec file format: one versioned container for every codec's output.

Layout and policy: docs/FORMAT.md. Typical use:

    c = Container(CODEC_IDS["hnerv"], params, VideoMedia(w, h, frames), [Section("w0", b)])
    write_file("clip.hnerv", c)
    c = read_file("clip.hnerv", expected_codec=CODEC_IDS["hnerv"]); c.section("w0")
"""

from codec.container.describe import describe
from codec.container.format import read, read_file, write, write_file
from codec.container.header import FORMAT_VERSION, MAGIC, READABLE_VERSIONS
from codec.container.limits import (
    MAX_COUNT,
    MAX_DIM,
    MAX_FILE_BYTES,
    MAX_FRAME_PIXELS,
    MAX_FRAMES,
    MAX_HEADER_BYTES,
    MAX_MODELS,
    MAX_NAME_BYTES,
    MAX_PARAMS,
    MAX_SECTIONS,
    MAX_VECTOR_DIM,
)
from codec.container.media import (
    MEDIA_KINDS,
    ImageMedia,
    LatentMedia,
    Media,
    VectorMedia,
    VideoMedia,
)
from codec.container.model_check import check_model
from codec.container.types import Container, ModelRef, ParamValue, Section

__all__ = [
    "MAGIC",
    "FORMAT_VERSION",
    "READABLE_VERSIONS",
    "MAX_COUNT",
    "MAX_DIM",
    "MAX_FILE_BYTES",
    "MAX_FRAME_PIXELS",
    "MAX_FRAMES",
    "MAX_HEADER_BYTES",
    "MAX_MODELS",
    "MAX_NAME_BYTES",
    "MAX_PARAMS",
    "MAX_SECTIONS",
    "MAX_VECTOR_DIM",
    "MEDIA_KINDS",
    "Container",
    "ImageMedia",
    "LatentMedia",
    "Media",
    "ModelRef",
    "ParamValue",
    "Section",
    "VectorMedia",
    "VideoMedia",
    "check_model",
    "describe",
    "read",
    "read_file",
    "write",
    "write_file",
]
