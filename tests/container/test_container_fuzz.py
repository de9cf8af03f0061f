"""Bounded, seeded fuzzing: whatever the bytes, the reader raises a CodecError or returns a container.

Never IndexError, struct.error, UnicodeDecodeError, MemoryError or a hang. Mutations are also
re-signed with a fresh header CRC so they reach the parser behind the CRC check.
"""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codec.container import Container, ModelRef, Section, VectorMedia, VideoMedia, read, write
from codec.errors import CodecError, CorruptData

SAMPLE = write(
    Container(
        255,
        {"i": -3, "f": 0.25, "s": "héllo", "b": b"\x00\xff", "l": [1, 2, 3], "t": True},
        VideoMedia(32, 24, frames=2, fps_num=25, pix_fmt="yuv420p"),
        [Section("one", b"first payload"), Section("two", bytes(range(40)))],
        [ModelRef("m", "v1", bytes(range(32)), "new"), ModelRef("old", "v3", bytes(32), "old")],
    )
)
SAMPLES = {
    "v2-video": SAMPLE,
    "v2-vectors": write(
        Container(255, {"dims": [8, 16]}, VectorMedia(1000, 16), [Section("q", b"\x01" * 30)])
    ),
    "v1": (Path(__file__).parent / "golden" / "v1" / "with_model.ncdc").read_bytes(),
}
HEADER_LEN = struct.unpack_from("<I", SAMPLE, 6)[0]


def resign(data: bytes) -> bytes:
    """Recompute the header CRC when the declared header length still fits the data."""
    if len(data) < 10:
        return data
    n = struct.unpack_from("<I", data, 6)[0]
    if not 14 <= n <= len(data):
        return data
    return data[: n - 4] + struct.pack("<I", zlib.crc32(data[: n - 4])) + data[n:]


def read_or_codec_error(data: bytes) -> Container | None:
    try:
        return read(data)
    except CodecError:
        return None


def test_sample_is_valid():
    assert read(SAMPLE).section("two") == bytes(range(40))


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_truncation_is_corrupt(name):
    sample = SAMPLES[name]
    for n in range(len(sample)):
        try:
            read(sample[:n])
        except CorruptData as exc:
            assert "truncated" in str(exc) or "empty" in str(exc), (n, exc)
        else:
            raise AssertionError(f"truncation to {n} bytes was accepted")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_single_bit_flip_is_detected(name):
    sample = SAMPLES[name]
    for pos in range(len(sample)):
        for bit in range(8):
            flipped = bytearray(sample)
            flipped[pos] ^= 1 << bit
            try:
                read(bytes(flipped))
            except CodecError:
                continue
            raise AssertionError(f"flip of bit {bit} at byte {pos} went unnoticed")


def test_random_bytes():
    rng = random.Random(1234)
    for i in range(3000):
        junk = rng.randbytes(rng.randrange(0, 200))
        if i % 2:  # get past the magic/version checks half the time
            junk = SAMPLE[: rng.randrange(4, 14)] + junk
        assert read_or_codec_error(junk) is None or i % 2


def test_resigned_header_mutations_reach_the_parser():
    rng = random.Random(99)
    accepted = 0
    for _ in range(4000):
        data = bytearray(SAMPLE)
        for _ in range(rng.randrange(1, 4)):
            pos = rng.randrange(10, HEADER_LEN - 4)  # keep magic/version/length, mutate the rest
            data[pos] = rng.randrange(256)
        accepted += read_or_codec_error(resign(bytes(data))) is not None
    assert accepted < 4000  # most mutations must be caught by structural checks, not just CRC


def test_resigned_insertions_and_deletions():
    rng = random.Random(7)
    for _ in range(2000):
        data = bytearray(SAMPLE)
        pos = rng.randrange(10, len(data))
        if rng.random() < 0.5:
            del data[pos : pos + rng.randrange(1, 8)]
        else:
            data[pos:pos] = rng.randbytes(rng.randrange(1, 8))
        read_or_codec_error(resign(bytes(data)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.integers(0, 400))
def test_hypothesis_splices(junk, cut):
    read_or_codec_error(junk)
    read_or_codec_error(resign(SAMPLE[:cut] + junk))
    read_or_codec_error(resign(SAMPLE[:10] + junk))
