"""What a container holds: plain data, no parsing (that is `format.py`)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

from codec.container.media import Media
from codec.container.params import ParamValue
from codec.errors import CorruptData


@dataclass(frozen=True)
class ModelRef:
    """External weights a file was encoded against; decode refuses other weights.

    `role` says what the codec uses them for, so a file can name several models (a BT2 file names
    the embedder and the one it stays compatible with)."""

    name: str
    version: str
    sha256: bytes  # 32 raw bytes, not hex
    role: str = "model"

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


def check_crc(section: str, stored: int, computed: int) -> None:
    if stored != computed:
        raise CorruptData(
            f"CRC mismatch in section '{section}' (stored 0x{stored:08x}, computed 0x{computed:08x})"
        )


class Section:
    """A named payload: held in memory, or read from its file on first use (CRC-checked then).

    Reading a file's sections one by one keeps a decode's memory at one section, not the file."""

    __slots__ = ("name", "length", "crc32", "_data", "_path", "_offset")

    def __init__(
        self,
        name: str,
        data: bytes | None = None,
        *,
        length: int | None = None,
        crc32: int | None = None,
        path: Path | None = None,
        offset: int = 0,
    ) -> None:
        self.name = name
        self._data = data
        self._path, self._offset = path, offset
        if data is not None:
            is_bytes = isinstance(data, bytes | bytearray | memoryview)  # else write() refuses it
            self.length = len(data) if is_bytes else 0
            self.crc32 = crc32 if crc32 is not None else (zlib.crc32(data) if is_bytes else 0)
        else:
            if path is None or length is None or crc32 is None:
                raise ValueError("a file section needs path, length and crc32")
            self.length, self.crc32 = length, crc32

    @property
    def data(self) -> bytes:
        if self._data is not None:
            return self._data
        with open(self._path, "rb") as f:  # type: ignore[arg-type]
            f.seek(self._offset)
            payload = f.read(self.length)
        if len(payload) != self.length:
            raise CorruptData(f"truncated file: section '{self.name}' ends early (the file changed?)")
        check_crc(self.name, self.crc32, zlib.crc32(payload))
        return payload

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Section) and (self.name, self.data) == (other.name, other.data)

    def __repr__(self) -> str:
        where = "memory" if self._data is not None else "file"
        return f"Section({self.name!r}, {self.length} bytes in {where})"


@dataclass
class Container:
    codec_id: int
    params: dict[str, ParamValue]
    media: Media
    sections: list[Section] = field(default_factory=list)
    models: list[ModelRef] = field(default_factory=list)
    format_version: int = field(default=2, compare=False)  # as read; `write` always writes the newest

    def section(self, name: str) -> bytes:
        """The payload of section `name`; a file without it is corrupt for the codec asking."""
        for sec in self.sections:
            if sec.name == name:
                return sec.data
        have = ", ".join(s.name for s in self.sections) or "none"
        raise CorruptData(f"missing section '{name}' (file has: {have})")

    def model(self, role: str) -> ModelRef:
        """The model reference with this role; a file without it is corrupt for the codec asking."""
        for ref in self.models:
            if ref.role == role:
                return ref
        have = ", ".join(r.role for r in self.models) or "none"
        raise CorruptData(f"missing model reference '{role}' (file has: {have})")
