"""A plain-dict summary of a container for `codec info` and the service (JSON-serializable)."""

from __future__ import annotations

from typing import Any

from codec.container.media import media_values
from codec.container.types import Container
from codec.ids import codec_name

_BYTES_SHOWN = 32  # bytes params are shown as a hex prefix; the full value can be large


def _show(value: Any) -> Any:
    if isinstance(value, bytes):
        more = f"... (+{len(value) - _BYTES_SHOWN} bytes)" if len(value) > _BYTES_SHOWN else ""
        return f"<{len(value)} bytes> {value[:_BYTES_SHOWN].hex()}{more}"
    return value


def describe(c: Container, file_size: int) -> dict[str, Any]:
    """Header fields, params, models, per-section sizes, and the rate in the media's own unit
    (bits per pixel for pixels, bytes per vector for vectors), counted from the whole file."""
    payload = sum(s.length for s in c.sections)
    return {
        "format_version": c.format_version,
        "codec_id": c.codec_id,
        "codec": codec_name(c.codec_id),
        "file_bytes": file_size,
        "header_bytes": file_size - payload,
        "media_kind": c.media.KIND,
        "media": media_values(c.media),
        "rate": c.media.rate(file_size),
        "rate_unit": c.media.RATE_UNIT,
        "params": {k: _show(v) for k, v in c.params.items()},
        "models": [
            {"role": m.role, "name": m.name, "version": m.version, "sha256": m.sha256.hex()} for m in c.models
        ],
        "sections": [{"name": s.name, "bytes": s.length, "crc32": f"0x{s.crc32:08x}"} for s in c.sections],
    }
