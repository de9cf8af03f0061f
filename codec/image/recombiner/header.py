"""RECOMBINER files' header: parameters, rules, and the decode cost. No torch.

media    image: width x height x 3 (as given; a portrait image is coded transposed)
models   role "prior": the image prior (its network, per-level priors and blocks)
params   transposed (bool), block_bits (the index width: 2^block_bits candidates per block)
sections level0, level1, level2: per level (patches, groups of 4x4 patches, the image), the
         blocks' indices of each row in canonical order (row-major, blocks in the prior's
         order), block_bits bits each, packed LSB-first (codec/entropy/bitpack.py)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from codec.container import Container, ImageMedia
from codec.errors import CorruptData
from codec.interface import HeaderParam
from codec.limits import DecodeCost

PATCH, GROUP = 64, 4
MAX_BLOCK_BITS = 20
WORK_PER_PIXEL = 4.0e4  # the SIREN (3.2e3 multiply-adds) and the latent upsampler (~3e4) per pixel
MEMORY_PER_PIXEL = 1024  # bytes: the upsampler's activations and the SIREN's inputs, float32
LEVEL_SIZES = (3267 + 2048, 3267, 3267)

PARAMS: tuple[HeaderParam, ...] = (
    HeaderParam("transposed", bool, help="a portrait image, coded as its transpose"),
    HeaderParam("block_bits", int, 1, MAX_BLOCK_BITS, help="bits of each block's index"),
)


@dataclass(frozen=True)
class ImageConfig:
    width: int
    height: int
    transposed: bool
    block_bits: int

    @property
    def coded_hw(self) -> tuple[int, int]:
        return (self.width, self.height) if self.transposed else (self.height, self.width)

    @property
    def rows(self) -> tuple[int, int, int]:
        """Rows of each level: patches, groups, 1."""
        h, w = self.coded_hw
        pr, pc = math.ceil(h / PATCH), math.ceil(w / PATCH)
        return pr * pc, math.ceil(pr / GROUP) * math.ceil(pc / GROUP), 1

    @property
    def padded_pixels(self) -> int:
        h, w = self.coded_hw
        return math.ceil(h / PATCH) * PATCH * math.ceil(w / PATCH) * PATCH


def config_from_header(c: Container, params: dict[str, Any]) -> ImageConfig:
    m = c.media
    if not isinstance(m, ImageMedia) or m.channels != 3:
        raise CorruptData("a recombiner file holds a 3-channel image")
    cfg = ImageConfig(m.width, m.height, params["transposed"], params["block_bits"])
    if cfg.transposed != (m.height > m.width):
        raise CorruptData("recombiner header: 'transposed' disagrees with the image's orientation")
    if [s.name for s in c.sections] != ["level0", "level1", "level2"]:
        raise CorruptData("recombiner file sections must be level0, level1, level2")
    if len([r for r in c.models if r.role == "prior"]) != 1:
        raise CorruptData("a recombiner file names exactly one image prior (role 'prior')")
    for rows, sec, n in zip(cfg.rows, c.sections, LEVEL_SIZES, strict=True):
        # at most one block per coordinate: a bound before the prior is loaded
        if sec.length * 8 > rows * n * cfg.block_bits + 7:
            raise CorruptData(f"recombiner section {sec.name} is longer than its level can hold")
    return cfg


def decode_cost(c: Container, cfg: ImageConfig) -> DecodeCost:
    indices = sum(s.length * 8 // cfg.block_bits for s in c.sections)
    weights = sum(r * n for r, n in zip(cfg.rows, LEVEL_SIZES, strict=True))
    memory = cfg.padded_pixels * MEMORY_PER_PIXEL + weights * 4 * 3
    work = cfg.padded_pixels * WORK_PER_PIXEL + weights * 40.0 + indices * 10.0
    return DecodeCost(int(memory), float(work), 1, cfg.width * cfg.height)
