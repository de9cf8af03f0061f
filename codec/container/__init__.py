"""The neural-codec file format: one versioned container for every codec's output.

Layout and policy: docs/FORMAT.md. Typical use:

    data = write(Container(CODEC_IDS["hnerv"], params, MediaInfo(w, h, frames), [Section("latents", b)]))
    c = read(data, expected_codec=CODEC_IDS["hnerv"]); c.section("latents")
"""

from codec.container.describe import describe
from codec.container.format import read, read_file, write
from codec.container.header import FORMAT_VERSION, MAGIC
from codec.container.limits import (
    MAX_DIM,
    MAX_FILE_BYTES,
    MAX_FRAME_PIXELS,
    MAX_FRAMES,
    MAX_HEADER_BYTES,
    MAX_NAME_BYTES,
    MAX_PARAMS,
    MAX_SECTIONS,
)
from codec.container.model_check import check_model
from codec.container.types import Container, MediaInfo, ModelRef, ParamValue, Section

__all__ = [
    "MAGIC",
    "FORMAT_VERSION",
    "MAX_DIM",
    "MAX_FILE_BYTES",
    "MAX_FRAME_PIXELS",
    "MAX_FRAMES",
    "MAX_HEADER_BYTES",
    "MAX_NAME_BYTES",
    "MAX_PARAMS",
    "MAX_SECTIONS",
    "Container",
    "MediaInfo",
    "ModelRef",
    "ParamValue",
    "Section",
    "check_model",
    "describe",
    "read",
    "read_file",
    "write",
]
