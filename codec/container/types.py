"""What a container holds: plain dataclasses, no I/O (that is `format.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from codec.errors import CorruptData

ParamValue = int | float | str | bytes | bool | list[int]


@dataclass
class MediaInfo:
    """Facts about the original media, so decode can restore its exact shape and timing."""

    width: int
    height: int
    frames: int = 1
    fps_num: int = 0  # 0 = no frame rate (a still image, or items that are not frames)
    fps_den: int = 1
    pix_fmt: str = "rgb24"
    pad_h: int = 0  # rows/columns the encoder added to reach a size the model accepts; decode crops
    pad_w: int = 0


@dataclass
class ModelRef:
    """External weights a file was encoded against; decode refuses other weights (see check_model)."""

    name: str
    version: str
    sha256: bytes  # 32 raw bytes, not hex


@dataclass
class Section:
    name: str
    data: bytes


@dataclass
class Container:
    codec_id: int
    params: dict[str, ParamValue]
    media: MediaInfo
    sections: list[Section] = field(default_factory=list)
    model: ModelRef | None = None

    def section(self, name: str) -> bytes:
        """The payload of section `name`; a file without it is corrupt for the codec asking."""
        for sec in self.sections:
            if sec.name == name:
                return sec.data
        have = ", ".join(s.name for s in self.sections) or "none"
        raise CorruptData(f"missing section '{name}' (file has: {have})")
