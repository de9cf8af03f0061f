"""RECOMBINER files: a prior reference and each level's block indices, and back (layout: header.py)."""

from __future__ import annotations

import numpy as np

from codec.container import Container, ImageMedia, ModelRef, Section
from codec.entropy.bitpack import pack_bits, packed_size, unpack_bits
from codec.errors import CorruptData
from codec.ids import CODEC_IDS
from codec.image.recombiner.header import ImageConfig


def build(width: int, height: int, transposed: bool, block_bits: int, indices: list[np.ndarray],
          prior: ModelRef) -> Container:  # fmt: skip
    params = {"transposed": transposed, "block_bits": block_bits}
    c = Container(CODEC_IDS["recombiner"], params, ImageMedia(width, height, 3), models=[prior])
    for k, idx in enumerate(indices):
        c.sections.append(Section(f"level{k}", pack_bits(np.asarray(idx, np.int64).reshape(-1), block_bits)))
    return c


def read_indices(c: Container, cfg: ImageConfig, blocks_per_level: list[int]) -> list[np.ndarray]:
    """Per level, (rows, blocks) int64; the sizes must be exactly what the prior's blocks imply."""
    out = []
    for k, (rows, nb) in enumerate(zip(cfg.rows, blocks_per_level, strict=True)):
        data = c.section(f"level{k}")
        n = rows * nb
        want = packed_size(n, cfg.block_bits)
        if len(data) != want:
            raise CorruptData(f"recombiner level {k} holds {len(data)} bytes; its prior needs {want}")
        out.append(unpack_bits(data, n, cfg.block_bits).astype(np.int64).reshape(rows, nb))
    return out
