"""What one decode may cost, checked from the header before anything is allocated.

Each codec states what decoding a file will take (`Codec.decode_cost`: peak memory, arithmetic,
items and pixels out), computed from its header alone; `check_decode_cost` refuses a file over
these limits with ResourceLimit. A crafted file cannot make a decoder reserve gigabytes or run for
hours: a 300-byte header claiming 16M frames, or 200M weights that entropy-code to nothing, is
refused up front. The CLI uses the defaults (environment variables raise them); the service passes
its own, per media kind (docs/SECURITY.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from codec.errors import ResourceLimit

GiB = 1 << 30


def _env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class DecodeCost:
    """What decoding a file takes, as the codec computes it from the header."""

    memory_bytes: int  # peak memory: decoded sections, tensors, model, working buffers
    work: float  # multiply-adds (or comparable elementary operations) of the whole decode
    items: int  # frames, images, vectors ... produced
    pixels: int = 0  # pixels produced in all (pixel media)


def half_the_memory() -> int:
    """Half of this machine's RAM (at most 64 GiB): a decode that fits never pushes it into swap."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 8 * GiB
    return min(ram // 2, 64 * GiB)


@dataclass(frozen=True)
class DecodeLimits:
    """Local defaults are generous (a user decodes their own files); the service sets its own."""

    max_memory_bytes: int = 4 * GiB
    max_work: float = 1e16  # multiply-adds: ~10 minutes of 1080p HNeRV at 1.2e11 per frame, 4.5 times over
    max_items: int = 1 << 22  # 4M frames: 39 hours at 30 fps
    max_pixels: int = 1 << 40  # 4K video for about 4 hours at 30 fps

    @classmethod
    def from_env(cls) -> DecodeLimits:
        """Memory: half this machine's RAM; each limit can be set by CODEC_MAX_DECODE_MEMORY (bytes),
        CODEC_MAX_DECODE_WORK, CODEC_MAX_DECODE_ITEMS and CODEC_MAX_DECODE_PIXELS."""
        d = cls()
        return cls(
            int(_env("CODEC_MAX_DECODE_MEMORY", half_the_memory())),
            _env("CODEC_MAX_DECODE_WORK", d.max_work),
            int(_env("CODEC_MAX_DECODE_ITEMS", d.max_items)),
            int(_env("CODEC_MAX_DECODE_PIXELS", d.max_pixels)),
        )


def _gib(n: float) -> str:
    return f"{n / GiB:.3g} GiB" if n >= GiB / 10 else f"{n / (1 << 20):.3g} MiB"


def check_decode_cost(codec: str, cost: DecodeCost, limits: DecodeLimits) -> None:
    """ResourceLimit naming what is over, and by how much, before the decoder allocates anything."""
    ops = lambda v: f"{v:.3g} multiply-adds"  # noqa: E731
    checks = (
        (cost.memory_bytes, limits.max_memory_bytes, "memory", _gib, "CODEC_MAX_DECODE_MEMORY"),
        (cost.work, limits.max_work, "arithmetic", ops, "CODEC_MAX_DECODE_WORK"),
        (cost.items, limits.max_items, "output", lambda v: f"{int(v)} items", "CODEC_MAX_DECODE_ITEMS"),
        (cost.pixels, limits.max_pixels, "output", lambda v: f"{int(v)} pixels", "CODEC_MAX_DECODE_PIXELS"),
    )
    for value, limit, what, show, env in checks:
        if value > limit:
            raise ResourceLimit(
                f"decoding this {codec} file needs {show(value)} of {what}, over the limit of {show(limit)} "
                f"(set by {env} locally, by the server's limits remotely)"
            )
