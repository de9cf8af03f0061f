"""Each way a file can be wrong gives CorruptData with a one-line message naming the problem.

The crafted files below carry a *valid* header CRC, so they reach the checks behind it: sizes
and counts must be refused before anything is allocated.
"""

from __future__ import annotations

import struct
import tracemalloc
import zlib

import pytest

from codec.container import MAX_HEADER_BYTES, Container, Section, VectorMedia, VideoMedia, fields, read, write
from codec.container.header import HEADER_V1, HEADER_V2, MODEL_REF_V2, PREAMBLE, SECTION_ENTRY
from codec.container.media import ImageMedia
from codec.errors import CorruptData

GOOD = write(
    Container(
        255, {"q": 4, "name": "x"}, VideoMedia(16, 8, frames=3), [Section("a", b"AAAA"), Section("b", b"BB")]
    )
)
BASE = {"codec_id": 255, "flags": 0, "media_kind": 1, "n_models": 0, "n_params": 0, "n_sections": 0}
VIDEO = {
    "width": 16,
    "height": 8,
    "frames": 1,
    "fps_num": 0,
    "fps_den": 1,
    "pad_h": 0,
    "pad_w": 0,
    "pix_fmt": "rgb24",
}
BASE_V1 = {**BASE, **VIDEO}
del BASE_V1["media_kind"], BASE_V1["n_models"]


def _sign(body: bytes, version: int, payload: bytes) -> bytes:
    header_len = 10 + len(body) + 4
    head = fields.pack(PREAMBLE, {"magic": b"NCDC", "version": version, "header_len": header_len}) + body
    return head + struct.pack("<I", zlib.crc32(head)) + payload


def craft(
    tail: bytes = b"", payload: bytes = b"", version: int = 2, media: dict | None = None, **header
) -> bytes:
    """A v2 file whose header CRC is right, whatever nonsense its fields hold. `media` replaces the
    video fields (give the table of the media kind named in `header`)."""
    table = (
        VideoMedia.TABLE
        if media is None
        else {1: VideoMedia, 2: ImageMedia, 3: VectorMedia}[header.get("media_kind", 1)].TABLE
    )
    values = {**VIDEO, **(media or {})} if media is None or header.get("media_kind", 1) == 1 else media
    body = fields.pack(HEADER_V2, {**BASE, **header}) + fields.pack(table, values) + tail
    return _sign(body, version, payload)


def craft_v1(tail: bytes = b"", payload: bytes = b"", **header) -> bytes:
    return _sign(fields.pack(HEADER_V1, {**BASE_V1, **header}) + tail, 1, payload)


def ref(role: str, name: str = "m", version: str = "v1") -> bytes:
    return fields.pack(MODEL_REF_V2, {"role": role, "name": name, "version": version, "sha256": bytes(32)})


def entry(name: str, length: int, crc: int = 0) -> bytes:
    return fields.pack(SECTION_ENTRY, {"name": name, "length": length, "crc32": crc})


def resign(data: bytes) -> bytes:
    """Recompute the header CRC of an otherwise edited file."""
    n = struct.unpack_from("<I", data, 6)[0]
    return data[: n - 4] + struct.pack("<I", zlib.crc32(data[: n - 4])) + data[n:]


def test_crafted_helper_makes_a_valid_file():
    assert read(craft()) == Container(255, {}, VideoMedia(16, 8), [])
    assert read(craft_v1()) == Container(255, {}, VideoMedia(16, 8), [])
    assert read(craft(media={"count": 5, "dim": 3, "dtype": "f32"}, media_kind=3)).media == VectorMedia(
        5, 3, "f32"
    )
    assert read(resign(GOOD)) == read(GOOD)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty file"),
        (b"PK\x03\x04" + bytes(40), "not a neural-codec file"),
        (b"\x00" * 100, "not a neural-codec file"),
        (b"NC", "truncated file: 2 bytes"),
        (GOOD[:9], "truncated file: 9 bytes"),
        (craft(version=3), r"format version 3 is newer than this reader \(2\); upgrade neural-codec"),
        (craft(version=3)[:7], "format version 3 is newer"),
        (craft(version=0), "unknown format version 0"),
        (GOOD[:30], "truncated file: header needs"),
        (GOOD[:-1], "truncated file: section 'b' needs 2 bytes, only 1 remain"),
        (GOOD + b"\x00", "1 bytes of trailing garbage after the last section"),
        (GOOD[:20] + bytes([GOOD[20] ^ 1]) + GOOD[21:], "header CRC mismatch"),
        (GOOD[:-1] + b"C", "CRC mismatch in section 'b'"),
        (GOOD[:-3] + b"X" + GOOD[-2:], "CRC mismatch in section 'a'"),
        (craft(media={"width": 0}), "width 0 is outside"),
        (craft(media={"width": 2**32 - 1}), "width 4294967295 is outside"),
        (craft(media={"height": 70000}), "height 70000 is outside"),
        (craft(media={"width": 60000, "height": 60000}), "pixels"),
        (craft(media={"frames": 2**32 - 1}), "frame count 4294967295"),
        (craft(media={"frames": 0}), "frame count 0"),
        (craft(media={"fps_den": 0}), "fps_den"),
        (craft(media={"pix_fmt": "a b"}), "pix_fmt"),
        (craft(flags=0x8000), "unknown flags 0x8000"),
        (craft(flags=1), "unknown flags 0x0001"),
        (craft(n_sections=65535), "65535 sections is more than the limit of 4096"),
        (craft(n_params=65535), "65535 params is more than the limit of 256"),
        (craft(n_sections=1), "truncated header: field 'name'"),
        (craft(n_params=1), "truncated header: field 'key'"),
        (craft(n_models=1), "truncated header: field 'role'"),
        (craft(n_models=9), "9 model references is more than 8"),
        (craft(ref("a") + ref("a"), n_models=2), "model role 'a' appears twice"),
        (craft(ref("a", name="bad name"), n_models=1), "model name 'bad name'"),
        (craft(ref("a b"), n_models=1), "model role 'a b'"),
        (craft(media_kind=0), "unknown media kind 0"),
        (craft(media_kind=9), "unknown media kind 9"),
        (craft(media={"count": 0, "dim": 3, "dtype": "f32"}, media_kind=3), "vector count 0"),
        (
            craft(media={"count": 2**63, "dim": 3, "dtype": "f32"}, media_kind=3),
            "vector count 9223372036854775808",
        ),
        (craft(media={"count": 5, "dim": 2**20, "dtype": "f32"}, media_kind=3), "vector dimension 1048576"),
        (craft(media={"width": 4, "height": 4, "channels": 0}, media_kind=2), "channel count 0"),
        (craft_v1(flags=1), "truncated header: field 'name'"),
        (craft_v1(flags=0x8000), "unknown flags 0x8000"),
        (craft_v1(width=0), "width 0 is outside"),
        (craft_v1(frames=0), "frame count 0"),
        (craft_v1(n_sections=65535), "65535 sections is more than the limit of 64"),
        (craft_v1(n_params=1), "truncated header: field 'key'"),
        (craft(b"\x00\x00"), "2 unexpected bytes before the header CRC"),
        (craft(entry("a", 2**64 - 1), n_sections=1), "section 'a' needs 18446744073709551615 bytes, only 0"),
        (craft(entry("a", 5) + entry("b", 5), b"x" * 7, n_sections=2), "section 'b' needs 5 bytes, only 2"),
        (craft(entry("a", 0) + entry("a", 0), n_sections=2), "section 'a' appears twice"),
        (craft(entry("", 0), n_sections=1), "section name ''"),
        (craft(b"\x01k\x09", n_params=1), "param 'k' has unknown type tag 9"),
        (craft(b"\x01k\x06\x02", n_params=1), "bool param 'k' has value 2"),
        (craft(b"\x01k\x01" + bytes(8) + b"\x01k\x01" + bytes(8), n_params=2), "param 'k' appears twice"),
        (craft(b"\x01k\x03\x02\x00\x00\x00\xff\xfe", n_params=1), "'k' is not valid UTF-8"),
        (craft(b"\x01k\x04\xff\xff\xff\xff", n_params=1), "field 'k' needs 4294967295 bytes"),
        (craft(b"\x01k\x05\xff\xff\xff\xff", n_params=1), "field 'k' needs 34359738360 bytes"),
        (craft(b"\x01k\x03\x00\x00\x00\x80", n_params=1), "field 'k' needs 2147483648 bytes"),
    ],
)
def test_corrupt_files_are_rejected_with_a_clear_message(data, message):
    with pytest.raises(CorruptData, match=message) as info:
        read(data)
    assert "\n" not in str(info.value)


def test_header_length_limits():
    big = GOOD[:6] + struct.pack("<I", MAX_HEADER_BYTES + 1) + GOOD[10:]
    with pytest.raises(CorruptData, match="header length 1048577 is outside 14..1048576"):
        read(big)
    with pytest.raises(CorruptData, match="header length 3 is outside"):
        read(GOOD[:6] + struct.pack("<I", 3) + GOOD[10:])


@pytest.mark.parametrize(
    "tail",
    [
        b"\x01k\x05\xff\xff\xff\xff" + bytes(64),  # a list of 2**32-1 ints
        b"\x01k\x04\xff\xff\xff\xff" + bytes(64),  # 4 GiB of bytes
    ],
)
def test_absurd_lengths_are_refused_before_allocating(tail):
    data = craft(tail, n_params=1)
    tracemalloc.start()
    try:
        with pytest.raises(CorruptData):
            read(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_section_lengths_are_checked_before_payloads_are_copied():
    data = craft(entry("a", 2**40), b"x" * 10, n_sections=1)
    tracemalloc.start()
    try:
        with pytest.raises(CorruptData, match="truncated file"):
            read(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
