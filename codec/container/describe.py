"""A plain-dict summary of a container for `codec info` and the service (JSON-serializable)."""

from __future__ import annotations

import zlib
from dataclasses import asdict
from typing import Any

from codec.container.header import FORMAT_VERSION
from codec.container.types import Container
from codec.registry import codec_name

_BYTES_SHOWN = 32  # bytes params are shown as a hex prefix; the full value can be large


def _show(value: Any) -> Any:
    if isinstance(value, bytes):
        more = f"... (+{len(value) - _BYTES_SHOWN} bytes)" if len(value) > _BYTES_SHOWN else ""
        return f"<{len(value)} bytes> {value[:_BYTES_SHOWN].hex()}{more}"
    return value


def describe(c: Container, file_size: int) -> dict[str, Any]:
    """Header fields, params, per-section sizes and bits per pixel (file bytes * 8 / all pixels)."""
    media = asdict(c.media)
    payload = sum(len(s.data) for s in c.sections)
    pixels = c.media.width * c.media.height * c.media.frames
    return {
        "format_version": FORMAT_VERSION,
        "codec_id": c.codec_id,
        "codec": codec_name(c.codec_id),
        "file_bytes": file_size,
        "header_bytes": file_size - payload,
        "media": media,
        "params": {k: _show(v) for k, v in c.params.items()},
        "model": None
        if c.model is None
        else {"name": c.model.name, "version": c.model.version, "sha256": c.model.sha256.hex()},
        "sections": [
            {"name": s.name, "bytes": len(s.data), "crc32": f"0x{zlib.crc32(s.data):08x}"} for s in c.sections
        ],
        "bpp": file_size * 8 / pixels if pixels else 0.0,
    }
