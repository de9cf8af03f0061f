"""The vector codec's header: its parameters, the rules across them, and what a decode costs.

No torch, no heavy imports: the service checks uploads and `codec info` describes files with this
alone. Layout of the sections: `bitstream.py`; docs/FORMAT.md has both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from codec.container import MAX_SECTIONS, Container, VectorMedia
from codec.errors import CorruptData
from codec.interface import HeaderParam
from codec.limits import DecodeCost

BASIS_PREFIX = 0  # the vectors' own leading dimensions (a Matryoshka prefix)
BASIS_PCA = 1  # principal axes of the batch, stored in the file
BASIS_NAMES = {BASIS_PREFIX: "prefix", BASIS_PCA: "pca"}
MAX_BLOCK_ROWS = 1 << 24
MAX_CODE = 1 << 31  # |code| bound a decoder accepts; step * code must stay a float32

PARAMS: tuple[HeaderParam, ...] = (
    HeaderParam("basis", int, 0, 1, help="0: leading dimensions as given (Matryoshka), 1: stored PCA"),
    HeaderParam("kept", int, 1, 1 << 16, help="coordinates coded per vector"),
    HeaderParam(
        "step", float, 1e-12, 1e12, help="the uniform quantizer's step, the same for every kept coordinate"
    ),
    HeaderParam("centered", bool, help="a float16 mean is stored and added back"),
    HeaderParam("unit_norm", bool, help="decoded vectors are renormalised to unit length"),
    HeaderParam("block_rows", int, 1, MAX_BLOCK_ROWS, help="vectors per codes section"),
)


@dataclass(frozen=True)
class VectorConfig:
    """What the decoder builds from: the header's values, checked against each other and the media."""

    count: int
    dim: int
    basis: int
    kept: int
    step: float
    centered: bool
    unit_norm: bool
    block_rows: int

    @property
    def blocks(self) -> int:
        return -(-self.count // self.block_rows)

    def block_sizes(self) -> list[int]:
        return [min(self.block_rows, self.count - b * self.block_rows) for b in range(self.blocks)]

    def section_names(self) -> list[str]:
        names = ["mean"] if self.centered else []
        if self.basis == BASIS_PCA:
            names.append("basis")
        return names + [f"codes{b}" for b in range(self.blocks)]

    def section_bytes(self) -> dict[str, int]:
        """Exact sizes of the fixed-size sections (float16 values)."""
        out = {"mean": 2 * self.dim} if self.centered else {}
        if self.basis == BASIS_PCA:
            out["basis"] = 2 * self.dim * self.kept
        return out


def config_from_header(c: Container, params: dict[str, Any]) -> VectorConfig:
    m = c.media
    if not isinstance(m, VectorMedia):
        raise CorruptData("a vectors file holds vectors media")
    if not math.isfinite(params["step"]):
        raise CorruptData("vectors header: the quantizer step is not a finite number")
    cfg = VectorConfig(
        m.count, m.dim, *(params[k] for k in ("basis", "kept", "step", "centered", "unit_norm", "block_rows"))
    )
    if cfg.kept > cfg.dim:
        raise CorruptData(f"vectors header keeps {cfg.kept} coordinates of {cfg.dim}-d vectors")
    if cfg.blocks > MAX_SECTIONS - 2:
        raise CorruptData(f"{cfg.blocks} blocks of {cfg.block_rows} vectors exceed the section limit")
    want = cfg.section_names()
    have = [s.name for s in c.sections]
    if have != want:
        shown = ", ".join(have[:6]) + (" ..." if len(have) > 6 else "")
        raise CorruptData(
            f"vectors file sections are [{shown}], expected {len(want)} in order mean?, basis?, codes0.."
        )
    sizes = {s.name: s.length for s in c.sections}
    for name, n in cfg.section_bytes().items():
        if sizes[name] != n:
            raise CorruptData(f"vectors section '{name}' holds {sizes[name]} bytes, expected {n}")
    return cfg


def decode_cost(c: Container, cfg: VectorConfig) -> DecodeCost:
    """One block at a time: its int64 codes, float64 coordinates and float32 vectors, plus the basis.

    Work: an entropy-decoded symbol and a multiply-add per kept coordinate, a basis product
    (kept x dim per vector) when the basis is stored, and a pass over each output value."""
    rows = min(cfg.block_rows, cfg.count)
    memory = rows * cfg.kept * (8 + 8) + rows * cfg.dim * (4 + 8) + cfg.dim * cfg.kept * 8 + cfg.dim * 8
    per_vector = 4 * cfg.kept + 4 * cfg.dim + (2 * cfg.kept * cfg.dim if cfg.basis == BASIS_PCA else 0)
    return DecodeCost(memory_bytes=int(memory), work=float(cfg.count) * per_vector, items=cfg.count)
