"""Malformed, truncated and bit-flipped streams: CorruptData or some decoded values, never a crash.

rANS payloads with flipped bits may decode to wrong values (the container CRC catches that); what
must hold is that every size is validated, so nothing reads out of bounds, allocates without limit,
hangs, or raises anything but CorruptData.
"""

from __future__ import annotations

import numpy as np
import pytest

from codec.entropy import decode_ints, encode_ints
from codec.entropy.byte_io import ByteWriter
from codec.errors import CorruptData

RNG = np.random.default_rng(11)
I32 = np.iinfo(np.int32)

STREAM_INPUTS = {
    "rans": np.round(RNG.laplace(0, 4, 2000)).astype(np.int64),
    "escape": np.concatenate([np.round(RNG.laplace(0, 2, 1500)), [I32.min, I32.max] * 4]).astype(np.int64),
    "shift": RNG.integers(0, 1 << 22, 600) // (1 + RNG.geometric(0.01, 600)),
    "raw": np.array([5, -3, 1000, 7, 0]),
    "const": np.full(40, 9),
    "binary": (RNG.random(3000) < 0.1).astype(np.int64),
}
STREAMS = {name: encode_ints(x) for name, x in STREAM_INPUTS.items()}


def check_decode(data: bytes, max_count: int) -> None:
    try:
        y = decode_ints(data, max_count=max_count)
    except CorruptData as e:
        assert "\n" not in str(e) and str(e)
        return
    assert y.dtype == np.int64 and y.ndim == 1 and len(y) <= max_count


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_every_truncation_is_rejected(name: str) -> None:
    data = STREAMS[name]
    cuts = sorted(set(range(min(len(data), 64))) | set(range(64, len(data), 7)) | {len(data) - 1})
    for cut in cuts:
        with pytest.raises(CorruptData):
            decode_ints(data[:cut])


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_bit_flips_and_overwrites_never_crash(name: str) -> None:
    data = STREAMS[name]
    limit = 4 * len(STREAM_INPUTS[name]) + 16
    rng = np.random.default_rng(len(data))
    for _ in range(200):
        buf = bytearray(data)
        for pos in rng.integers(0, len(buf), int(rng.integers(1, 4))):
            buf[pos] ^= 1 << int(rng.integers(0, 8))
        check_decode(bytes(buf), limit)
    for _ in range(60):
        buf = bytearray(data)
        start = int(rng.integers(0, len(buf)))
        chunk = rng.integers(0, 256, min(len(buf) - start, int(rng.integers(1, 16))), dtype=np.uint8)
        buf[start : start + len(chunk)] = chunk.tobytes()
        check_decode(bytes(buf), limit)


def test_random_garbage_never_crashes() -> None:
    rng = np.random.default_rng(12)
    for _ in range(500):
        body = rng.integers(0, 256, int(rng.integers(0, 200)), dtype=np.uint8).tobytes()
        check_decode(b"\x01" + body, 10_000)


def test_appended_bytes_are_rejected() -> None:
    for data in STREAMS.values():
        with pytest.raises(CorruptData, match="trailing"):
            decode_ints(data + b"\x00")


def test_count_above_max_count_is_rejected_before_decoding() -> None:
    data = encode_ints(np.arange(1000))
    assert len(decode_ints(data, max_count=1000)) == 1000
    with pytest.raises(CorruptData, match="count"):
        decode_ints(data, max_count=999)
    huge_const = b"\x01" + _varint_bytes(1 << 40) + b"\x00\x00\x01\x00"  # 2**40 zeros from 8 bytes
    with pytest.raises(CorruptData, match="count"):
        decode_ints(huge_const)


def _varint_bytes(v: int) -> bytes:
    w = ByteWriter()
    w.uvarint(v)
    return w.getvalue()


def _header(n: int, k: int, flags: int = 0, shift: int = 0, base: int = 0) -> ByteWriter:
    w = ByteWriter()
    w.byte(1)
    w.uvarint(n)
    w.svarint(base)
    w.byte(shift)
    w.uvarint(k)
    w.byte(flags)
    return w


def _crafted() -> dict[str, bytes]:
    cases = {"unknown version": b"\x02\x00", "empty input": b"", "varint too long": b"\x01" + b"\xff" * 11}
    w = _header(3, 2)  # rANS for fewer symbols than compressai's buffer needs
    w.raw(b"\x10\x10" + bytes(12))
    cases["rans below min symbols"] = w.getvalue()
    w = _header(100, 2, shift=65)
    cases["shift above 64"] = w.getvalue()
    w = _header(100, 1 << 13)
    cases["alphabet above cap"] = w.getvalue()
    w = _header(100, 0)
    cases["zero alphabet"] = w.getvalue()
    w = _header(100, 3, flags=4)
    cases["unknown flag"] = w.getvalue()
    w = _header(100, 3)
    w.raw(b"\x00\x02")  # one zero run covering all three entries
    cases["all-zero table"] = w.getvalue()
    w = _header(100, 3)
    w.raw(b"\x00\x05")  # zero run longer than the table
    cases["zero run overflows table"] = w.getvalue()
    w = _header(100, 2)
    w.raw(b"\x10\x10")
    w.uvarint(10)  # not a whole number of 32-bit words
    w.raw(bytes(10))
    cases["payload not word aligned"] = w.getvalue()
    w = _header(100, 2)
    w.raw(b"\x10\x10")
    w.uvarint(404)  # more than the encoder's 4 bytes/symbol buffer
    cases["payload too long"] = w.getvalue()
    nested = _header(20, 2, flags=1).getvalue()
    w = _header(20, 2, flags=1)
    w.raw(b"\x10\x00\x01")  # only the escape symbol (0) has a frequency: all 20 values escape
    w.uvarint(8)
    w.raw(bytes(8))
    w.uvarint(len(nested))
    w.raw(nested)
    cases["nested escape"] = w.getvalue()
    return cases


CRAFTED_REASON = {
    "unknown version": "version",
    "empty input": "truncated",
    "varint too long": "varint",
    "rans below min symbols": "cannot use rANS",
    "shift above 64": "shift",
    "alphabet above cap": "alphabet size",
    "zero alphabet": "alphabet size",
    "unknown flag": "flags",
    "all-zero table": "no nonzero",
    "zero run overflows table": "zero run",
    "payload not word aligned": "payload size",
    "payload too long": "payload size",
    "nested escape": "escape not allowed",
}


@pytest.mark.parametrize("name,data", sorted(_crafted().items()))
def test_crafted_malformed_streams(name: str, data: bytes) -> None:
    with pytest.raises(CorruptData, match=CRAFTED_REASON[name]):
        decode_ints(data)
