"""Varint byte writer and bounds-checked reader for the entropy streams.

Every read checks the remaining length first, so a truncated or hostile stream ends in
`CorruptData` and never in an IndexError or a huge allocation.
"""

from __future__ import annotations

from codec.errors import CorruptData

_U64_MAX = (1 << 64) - 1


def zigzag(v: int) -> int:
    """Map a signed int64 to an unsigned one so small magnitudes get short varints."""
    return -2 * v - 1 if v < 0 else 2 * v


def unzigzag(u: int) -> int:
    return -(u >> 1) - 1 if u & 1 else u >> 1


class ByteWriter:
    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def byte(self, v: int) -> None:
        self._parts.append(bytes((v,)))

    def raw(self, b: bytes) -> None:
        self._parts.append(bytes(b))

    def uvarint(self, v: int) -> None:
        if not 0 <= v <= _U64_MAX:
            raise ValueError(f"uvarint out of range: {v}")
        out = bytearray()
        while v >= 0x80:
            out.append((v & 0x7F) | 0x80)
            v >>= 7
        out.append(v)
        self._parts.append(bytes(out))

    def svarint(self, v: int) -> None:
        self.uvarint(zigzag(v))

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class ByteReader:
    def __init__(self, data: bytes | bytearray | memoryview, what: str = "entropy stream") -> None:
        self._buf = memoryview(data).cast("B")
        self._pos = 0
        self.what = what

    @property
    def remaining(self) -> int:
        return len(self._buf) - self._pos

    def fail(self, msg: str) -> CorruptData:
        return CorruptData(f"{self.what}: {msg}")

    def byte(self) -> int:
        if self._pos >= len(self._buf):
            raise self.fail("truncated")
        v = self._buf[self._pos]
        self._pos += 1
        return v

    def raw(self, n: int) -> bytes:
        if n < 0 or n > self.remaining:
            raise self.fail(f"truncated (needs {n} bytes, {self.remaining} left)")
        out = bytes(self._buf[self._pos : self._pos + n])
        self._pos += n
        return out

    def uvarint(self, limit: int = _U64_MAX, name: str = "value") -> int:
        """Read an unsigned LEB128 varint and check it against `limit` (inclusive)."""
        v = 0
        for i in range(10):  # 64 bits need at most 10 groups of 7
            b = self.byte()
            v |= (b & 0x7F) << (7 * i)
            if not b & 0x80:
                if v > limit:
                    raise self.fail(f"{name} {v} exceeds limit {limit}")
                return v
        raise self.fail(f"{name}: varint longer than 10 bytes")

    def svarint(self, name: str = "value") -> int:
        return unzigzag(self.uvarint(name=name))

    def expect_end(self) -> None:
        if self.remaining:
            raise self.fail(f"{self.remaining} trailing bytes")
