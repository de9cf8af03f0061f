"""Write and read container files: preamble, header (CRC-protected), then section payloads.

Every size the reader trusts is checked against the bytes actually present before it slices or
allocates, and every failure is CorruptData with a one-line message naming what is wrong.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from codec.container import fields
from codec.container.header import (
    CRC_SIZE,
    FLAG_MODEL,
    FORMAT_VERSION,
    HEADER_CRC,
    HEADER_V1,
    KNOWN_FLAGS,
    MAGIC,
    MODEL_REF,
    PREAMBLE,
    PREAMBLE_SIZE,
    SECTION_ENTRY,
    check_media,
)
from codec.container.limits import MAX_FILE_BYTES, MAX_HEADER_BYTES, MAX_PARAMS, MAX_SECTIONS
from codec.container.params import check_name, decode_params, encode_params
from codec.container.types import Container, MediaInfo, ModelRef, Section
from codec.errors import CorruptData, InvalidInput, ResourceLimit
from codec.registry import codec_name

_MEDIA_FIELDS = ("width", "height", "frames", "fps_num", "fps_den", "pix_fmt", "pad_h", "pad_w")


def write(c: Container) -> bytes:
    """Serialize `c`; InvalidInput if any value does not fit its field or breaks a limit."""
    if not isinstance(c, Container):
        raise InvalidInput(f"write() needs a Container, got {type(c).__name__}")
    if not isinstance(c.media, MediaInfo):
        raise InvalidInput(f"Container.media must be a MediaInfo, got {type(c.media).__name__}")
    if not isinstance(c.sections, list | tuple):
        raise InvalidInput(f"Container.sections must be a list, got {type(c.sections).__name__}")
    sections = list(c.sections)
    if len(sections) > MAX_SECTIONS:
        raise InvalidInput(f"{len(sections)} sections is more than the limit of {MAX_SECTIONS}")
    params = encode_params(c.params)  # checks the type and count of params first

    values = {name: getattr(c.media, name) for name in _MEDIA_FIELDS}
    values.update(codec_id=c.codec_id, flags=FLAG_MODEL if c.model is not None else 0)
    values.update(n_params=len(c.params), n_sections=len(sections))
    body = [fields.pack(HEADER_V1, values)]  # type- and range-checks every field
    check_media(values, InvalidInput)
    if c.model is not None:
        if not isinstance(c.model, ModelRef):
            raise InvalidInput(f"Container.model must be a ModelRef, got {type(c.model).__name__}")
        model = {"model_name": c.model.name, "model_version": c.model.version, "model_sha256": c.model.sha256}
        body.append(fields.pack(MODEL_REF, model))
    body.append(params)

    payloads, seen = [], set()
    for sec in sections:
        if not isinstance(sec, Section):
            raise InvalidInput(f"Container.sections must hold Section objects, got {type(sec).__name__}")
        check_name(sec.name, "section name", InvalidInput)
        if sec.name in seen:
            raise InvalidInput(f"section '{sec.name}' appears twice")
        seen.add(sec.name)
        data = fields.pack_value("bytes32", sec.data, sec.name)[4:]  # type check only
        entry = {"name": sec.name, "length": len(data), "crc32": zlib.crc32(data)}
        body.append(fields.pack(SECTION_ENTRY, entry))
        payloads.append(data)

    body_bytes = b"".join(body)
    header_len = PREAMBLE_SIZE + len(body_bytes) + CRC_SIZE
    if header_len > MAX_HEADER_BYTES:
        raise InvalidInput(
            f"header of {header_len} bytes is over the {MAX_HEADER_BYTES}-byte limit; "
            "put large data in a section, not a param"
        )
    head = fields.pack(PREAMBLE, {"magic": MAGIC, "version": FORMAT_VERSION, "header_len": header_len})
    head += body_bytes
    return b"".join([head, fields.pack(HEADER_CRC, {"header_crc": zlib.crc32(head)}), *payloads])


def read(data: bytes | bytearray | memoryview, expected_codec: int | None = None) -> Container:
    """Parse and fully verify a container. CorruptData for a bad file; InvalidInput for the wrong codec."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput(f"read() needs bytes, got {type(data).__name__}")
    try:
        buf = memoryview(data).cast("B")
    except TypeError as exc:
        raise InvalidInput(f"read() needs a flat byte buffer: {exc}") from None
    header_len = _check_preamble(buf[:PREAMBLE_SIZE], len(buf))
    head = _parse_header(buf[:header_len])
    _check_codec(head.codec_id, expected_codec)
    _check_payload_size(head.entries, len(buf) - header_len)

    sections, pos = [], header_len
    for name, length, crc in head.entries:
        payload = bytes(buf[pos : pos + length])
        pos += length
        if zlib.crc32(payload) != crc:
            raise CorruptData(
                f"CRC mismatch in section '{name}' (stored 0x{crc:08x}, computed 0x{zlib.crc32(payload):08x})"
            )
        sections.append(Section(name, payload))
    return Container(head.codec_id, head.params, head.media, sections, head.model)


def read_file(path: str | os.PathLike[str], expected_codec: int | None = None) -> Container:
    """Read a container file, checking its header against the file size before reading the rest."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}" if not path.exists() else f"not a regular file: {path}")
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_FILE_BYTES:
            raise ResourceLimit(f"{path} is {size} bytes, over the {MAX_FILE_BYTES}-byte limit")
        header_len = _check_preamble(f.read(PREAMBLE_SIZE), size)
        f.seek(0)
        head = _parse_header(memoryview(f.read(header_len)))
        _check_codec(head.codec_id, expected_codec)
        _check_payload_size(head.entries, size - header_len)
        f.seek(0)
        data = f.read()
    return read(data, expected_codec)


@dataclass
class _Header:
    codec_id: int
    media: MediaInfo
    params: dict
    model: ModelRef | None
    entries: list[tuple[str, int, int]]  # (name, length, crc32) per section, in file order


def _check_preamble(prefix: bytes | memoryview, file_size: int) -> int:
    """Magic, version and header length from the first bytes; returns header_len."""
    prefix = bytes(prefix)
    if prefix[:4] != MAGIC[: len(prefix)]:
        raise CorruptData(f"not a neural-codec file (starts with {prefix[:4]!r}, expected {MAGIC!r})")
    if len(prefix) < PREAMBLE_SIZE:
        if len(prefix) >= 6:  # a truncated newer file still deserves the version message
            _check_version(int.from_bytes(prefix[4:6], "little"))
        what = "empty file" if not prefix else f"truncated file: {len(prefix)} bytes"
        raise CorruptData(f"{what}, not a complete neural-codec file (the preamble is {PREAMBLE_SIZE} bytes)")
    pre = fields.unpack(PREAMBLE, fields.Reader(prefix))
    _check_version(pre["version"])
    header_len = pre["header_len"]
    if not PREAMBLE_SIZE + CRC_SIZE <= header_len <= MAX_HEADER_BYTES:
        raise CorruptData(
            f"corrupt header: header length {header_len} is outside "
            f"{PREAMBLE_SIZE + CRC_SIZE}..{MAX_HEADER_BYTES}"
        )
    if header_len > file_size:
        raise CorruptData(f"truncated file: header needs {header_len} bytes, file has {file_size}")
    return header_len


def _check_version(version: int) -> None:
    if version > FORMAT_VERSION:
        raise CorruptData(
            f"format version {version} is newer than this reader ({FORMAT_VERSION}); upgrade neural-codec"
        )
    if version < 1:
        raise CorruptData(f"corrupt header: unknown format version {version}")


def _parse_header(head: memoryview) -> _Header:
    """Verify the header CRC, then unpack it; `head` is exactly header_len bytes."""
    crc_at = len(head) - CRC_SIZE
    stored = fields.unpack(HEADER_CRC, fields.Reader(head, crc_at))["header_crc"]
    computed = zlib.crc32(head[:crc_at])
    if stored != computed:
        raise CorruptData(f"header CRC mismatch (stored 0x{stored:08x}, computed 0x{computed:08x})")

    r = fields.Reader(head, PREAMBLE_SIZE, crc_at)
    h = fields.unpack(HEADER_V1, r)
    if h["flags"] & ~KNOWN_FLAGS:
        raise CorruptData(f"corrupt header: unknown flags 0x{h['flags']:04x}")
    check_media(h, CorruptData)
    if h["n_params"] > MAX_PARAMS:
        raise CorruptData(f"corrupt header: {h['n_params']} params is more than the limit of {MAX_PARAMS}")
    if h["n_sections"] > MAX_SECTIONS:
        raise CorruptData(
            f"corrupt header: {h['n_sections']} sections is more than the limit of {MAX_SECTIONS}"
        )
    model = None
    if h["flags"] & FLAG_MODEL:
        m = fields.unpack(MODEL_REF, r)
        model = ModelRef(m["model_name"], m["model_version"], m["model_sha256"])
    params = decode_params(r, h["n_params"])
    entries: list[tuple[str, int, int]] = []
    for _ in range(h["n_sections"]):
        e = fields.unpack(SECTION_ENTRY, r)
        name = check_name(e["name"], "section name", CorruptData)
        if any(name == seen for seen, _, _ in entries):
            raise CorruptData(f"corrupt header: section '{name}' appears twice")
        entries.append((name, e["length"], e["crc32"]))
    if r.remaining:
        raise CorruptData(f"corrupt header: {r.remaining} unexpected bytes before the header CRC")
    media = MediaInfo(**{name: h[name] for name in _MEDIA_FIELDS})
    return _Header(h["codec_id"], media, params, model, entries)


def _check_codec(codec_id: int, expected: int | None) -> None:
    if expected is not None and codec_id != expected:
        raise InvalidInput(f"this is a {codec_name(codec_id)} file, expected {codec_name(expected)}")


def _check_payload_size(entries: list[tuple[str, int, int]], available: int) -> None:
    """Section lengths must account for every byte after the header: no more, no less."""
    left = available
    for name, length, _ in entries:
        if length > left:
            raise CorruptData(f"truncated file: section '{name}' needs {length} bytes, only {left} remain")
        left -= length
    if left:
        raise CorruptData(f"{left} bytes of trailing garbage after the last section")
