"""Refuse to decode with weights other than those a file was encoded against.

Decoding with the wrong weights does not fail: it silently produces garbage. So codecs that rely
on external weights store a ModelRef per model and call `check_model` (or the model store's
`resolve_ref`, which does the same against what is installed) before decoding.
"""

from __future__ import annotations

from codec.container.types import Container
from codec.errors import InvalidInput, ModelMismatch
from codec.ids import codec_name


def _sha_bytes(sha256: bytes | str) -> bytes:
    try:
        raw = bytes.fromhex(sha256) if isinstance(sha256, str) else bytes(sha256)
    except (ValueError, TypeError):
        raise InvalidInput(f"sha256 must be 32 bytes or 64 hex digits, got {sha256!r}") from None
    if len(raw) != 32:
        raise InvalidInput(f"sha256 must be 32 bytes or 64 hex digits, got {len(raw)} bytes")
    return raw


def check_model(
    container: Container, name: str, version: str, sha256: bytes | str, role: str = "model"
) -> None:
    """ModelMismatch unless `container`'s reference for `role` is model `name` `version` of digest
    `sha256` (raw bytes or hex)."""
    have = _sha_bytes(sha256)
    ref = next((r for r in container.models if r.role == role), None)
    if ref is None:
        raise ModelMismatch(
            f"this {codec_name(container.codec_id)} file names no '{role}' model, "
            f"but the decoder needs model {name}@{version}"
        )
    if (ref.name, ref.version, ref.sha256) != (name, version, have):
        same = (
            " (same name and version, different weights)"
            if (ref.name, ref.version) == (name, version)
            else ""
        )
        raise ModelMismatch(
            f"file was encoded with model {ref.spec} (sha256 {ref.sha256.hex()[:16]}), "
            f"but the loaded model is {name}@{version} (sha256 {have.hex()[:16]}){same}"
        )
