"""Write and read container files: preamble, header (CRC-protected), then section payloads.

Every size the reader trusts is checked against the bytes actually present before it slices or
allocates, and every failure is CorruptData with a one-line message naming what is wrong. Files
are read section by section: `read_file` parses the header, checks every section's CRC in one
bounded-memory pass, and hands back sections that load from the file when used.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from codec.container import fields
from codec.container.header import (
    CRC_SIZE,
    FLAG_MODEL_V1,
    FORMAT_VERSION,
    HEADER_CRC,
    HEADER_V1,
    HEADER_V2,
    KNOWN_FLAGS_V2,
    MAGIC,
    MODEL_REF_V1,
    MODEL_REF_V2,
    PREAMBLE,
    PREAMBLE_SIZE,
    READABLE_VERSIONS,
    SECTION_ENTRY,
    V1_MODEL_ROLE,
)
from codec.container.limits import (
    MAX_FILE_BYTES,
    MAX_HEADER_BYTES,
    MAX_MODELS,
    MAX_PARAMS,
    MAX_SECTIONS,
    MAX_SECTIONS_V1,
)
from codec.container.media import BY_CODE, MEDIA_TYPES, Media, VideoMedia, media_values
from codec.container.params import check_name, decode_params, encode_params
from codec.container.types import Container, ModelRef, Section, check_crc
from codec.errors import CorruptData, InvalidInput, ResourceLimit
from codec.ids import codec_name

_CRC_CHUNK = 1 << 20  # read_file verifies section CRCs this many bytes at a time


def write(c: Container) -> bytes:
    """Serialize `c` as the newest version; InvalidInput if any value does not fit or breaks a limit."""
    if not isinstance(c, Container):
        raise InvalidInput(f"write() needs a Container, got {type(c).__name__}")
    if not isinstance(c.media, MEDIA_TYPES):
        raise InvalidInput(f"Container.media must be a media dataclass, got {type(c.media).__name__}")
    if not isinstance(c.sections, list | tuple) or not isinstance(c.models, list | tuple):
        raise InvalidInput("Container.sections and Container.models must be lists")
    sections, models = list(c.sections), list(c.models)
    if len(sections) > MAX_SECTIONS:
        raise InvalidInput(f"{len(sections)} sections is more than the limit of {MAX_SECTIONS}")
    if len(models) > MAX_MODELS:
        raise InvalidInput(f"{len(models)} model references is more than the limit of {MAX_MODELS}")
    params = encode_params(c.params)  # checks the type and count of params first

    head = {
        "codec_id": c.codec_id,
        "flags": 0,
        "media_kind": c.media.CODE,
        "n_models": len(models),
        "n_params": len(c.params),
        "n_sections": len(sections),
    }
    body = [fields.pack(HEADER_V2, head)]  # type- and range-checks every field
    body.append(fields.pack(c.media.TABLE, media_values(c.media)))
    c.media.check(InvalidInput)
    _pack_models(models, body)
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
        body.append(
            fields.pack(SECTION_ENTRY, {"name": sec.name, "length": len(data), "crc32": zlib.crc32(data)})
        )
        payloads.append(data)

    body_bytes = b"".join(body)
    header_len = PREAMBLE_SIZE + len(body_bytes) + CRC_SIZE
    if header_len > MAX_HEADER_BYTES:
        raise InvalidInput(
            f"header of {header_len} bytes is over the {MAX_HEADER_BYTES}-byte limit; "
            "put large data in a section, not a param"
        )
    pre = fields.pack(PREAMBLE, {"magic": MAGIC, "version": FORMAT_VERSION, "header_len": header_len})
    head_bytes = pre + body_bytes
    return b"".join([head_bytes, fields.pack(HEADER_CRC, {"header_crc": zlib.crc32(head_bytes)}), *payloads])


def _pack_models(models: list[ModelRef], body: list[bytes]) -> None:
    roles = set()
    for ref in models:
        if not isinstance(ref, ModelRef):
            raise InvalidInput(f"Container.models must hold ModelRef objects, got {type(ref).__name__}")
        check_name(ref.role, "model role", InvalidInput)
        check_name(ref.name, "model name", InvalidInput)
        check_name(ref.version, "model version", InvalidInput)
        if ref.role in roles:
            raise InvalidInput(f"model role '{ref.role}' appears twice")
        roles.add(ref.role)
        body.append(
            fields.pack(
                MODEL_REF_V2,
                {"role": ref.role, "name": ref.name, "version": ref.version, "sha256": ref.sha256},
            )
        )


def write_file(path: str | os.PathLike[str], c: Container) -> int:
    """Write `c` to `path` atomically (a kill mid-write leaves no half file); returns its size."""
    blob = write(c)
    dst = Path(path)
    tmp = dst.with_name(dst.name + ".part")
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, dst)
    return len(blob)


def read(data: bytes | bytearray | memoryview, expected_codec: int | None = None) -> Container:
    """Parse and fully verify a container held in memory. CorruptData for a bad file; InvalidInput
    for the wrong codec."""
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
        check_crc(name, crc, zlib.crc32(payload))
        sections.append(Section(name, payload, crc32=crc))
    return Container(head.codec_id, head.params, head.media, sections, head.models, head.version)


def read_file(
    path: str | os.PathLike[str], expected_codec: int | None = None, verify: bool = True
) -> Container:
    """Read a container file's header; its sections load from the file when used.

    The header is checked against the file size before anything else is read. With `verify` every
    section's CRC is checked now, a chunk at a time, so a damaged file fails before decoding starts
    (and before any output is written); each section is checked again when it is loaded."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(
            f"no such file: {path.name}" if not path.exists() else f"not a regular file: {path.name}"
        )
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_FILE_BYTES:
            raise ResourceLimit(f"{path.name} is {size} bytes, over the {MAX_FILE_BYTES}-byte limit")
        header_len = _check_preamble(f.read(PREAMBLE_SIZE), size)
        f.seek(0)
        head = _parse_header(memoryview(f.read(header_len)))
        _check_codec(head.codec_id, expected_codec)
        _check_payload_size(head.entries, size - header_len)
        sections, pos = [], header_len
        for name, length, crc in head.entries:
            if verify:
                _verify_crc(f, pos, length, crc, name)
            sections.append(Section(name, length=length, crc32=crc, path=path, offset=pos))
            pos += length
    return Container(head.codec_id, head.params, head.media, sections, head.models, head.version)


def _verify_crc(f, offset: int, length: int, crc: int, name: str) -> None:
    f.seek(offset)
    computed, left = 0, length
    while left:
        chunk = f.read(min(left, _CRC_CHUNK))
        if not chunk:
            raise CorruptData(f"truncated file: section '{name}' ends early")
        computed = zlib.crc32(chunk, computed)
        left -= len(chunk)
    check_crc(name, crc, computed)


@dataclass
class _Header:
    version: int
    codec_id: int
    media: Media
    params: dict
    models: list[ModelRef]
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
    if version not in READABLE_VERSIONS:
        raise CorruptData(f"corrupt header: unknown format version {version}")


def _parse_header(head: memoryview) -> _Header:
    """Verify the header CRC, then unpack it; `head` is exactly header_len bytes."""
    crc_at = len(head) - CRC_SIZE
    stored = fields.unpack(HEADER_CRC, fields.Reader(head, crc_at))["header_crc"]
    computed = zlib.crc32(head[:crc_at])
    if stored != computed:
        raise CorruptData(f"header CRC mismatch (stored 0x{stored:08x}, computed 0x{computed:08x})")
    version = int.from_bytes(head[4:6], "little")
    r = fields.Reader(head, PREAMBLE_SIZE, crc_at)
    if version == 1:
        codec_id, media, models, n_params, n_sections = _parse_v1_fixed(r)
        max_sections = MAX_SECTIONS_V1
    else:
        codec_id, media, models, n_params, n_sections = _parse_v2_fixed(r)
        max_sections = MAX_SECTIONS
    if n_params > MAX_PARAMS:
        raise CorruptData(f"corrupt header: {n_params} params is more than the limit of {MAX_PARAMS}")
    if n_sections > max_sections:
        raise CorruptData(f"corrupt header: {n_sections} sections is more than the limit of {max_sections}")
    params = decode_params(r, n_params)
    entries: list[tuple[str, int, int]] = []
    seen: set[str] = set()
    for _ in range(n_sections):
        e = fields.unpack(SECTION_ENTRY, r)
        name = check_name(e["name"], "section name", CorruptData)
        if name in seen:
            raise CorruptData(f"corrupt header: section '{name}' appears twice")
        seen.add(name)
        entries.append((name, e["length"], e["crc32"]))
    if r.remaining:
        raise CorruptData(f"corrupt header: {r.remaining} unexpected bytes before the header CRC")
    return _Header(version, codec_id, media, params, models, entries)


def _parse_v1_fixed(r: fields.Reader) -> tuple[int, Media, list[ModelRef], int, int]:
    h = fields.unpack(HEADER_V1, r)
    if h["flags"] & ~FLAG_MODEL_V1:
        raise CorruptData(f"corrupt header: unknown flags 0x{h['flags']:04x}")
    media = VideoMedia(**{name: h[name] for name, _ in VideoMedia.TABLE})
    media.check(CorruptData)
    models = []
    if h["flags"] & FLAG_MODEL_V1:
        m = fields.unpack(MODEL_REF_V1, r)
        models.append(ModelRef(m["name"], m["version"], m["sha256"], V1_MODEL_ROLE))
    return h["codec_id"], media, models, h["n_params"], h["n_sections"]


def _parse_v2_fixed(r: fields.Reader) -> tuple[int, Media, list[ModelRef], int, int]:
    h = fields.unpack(HEADER_V2, r)
    if h["flags"] & ~KNOWN_FLAGS_V2:
        raise CorruptData(f"corrupt header: unknown flags 0x{h['flags']:04x}")
    kind = BY_CODE.get(h["media_kind"])
    if kind is None:
        raise CorruptData(f"corrupt header: unknown media kind {h['media_kind']}")
    media = kind(**fields.unpack(kind.TABLE, r))
    media.check(CorruptData)
    if h["n_models"] > MAX_MODELS:
        raise CorruptData(f"corrupt header: {h['n_models']} model references is more than {MAX_MODELS}")
    models: list[ModelRef] = []
    for _ in range(h["n_models"]):
        m = fields.unpack(MODEL_REF_V2, r)
        role = check_name(m["role"], "model role", CorruptData)
        check_name(m["name"], "model name", CorruptData)
        check_name(m["version"], "model version", CorruptData)
        if any(ref.role == role for ref in models):
            raise CorruptData(f"corrupt header: model role '{role}' appears twice")
        models.append(ModelRef(m["name"], m["version"], m["sha256"], role))
    return h["codec_id"], media, models, h["n_params"], h["n_sections"]


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
