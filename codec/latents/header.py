"""QLAE files' header: parameters, the rules across them, and what a decode costs.

No torch: the service checks uploads and `codec info` describes files with this alone.

    media    latents: count items, `codes` codes per item (the model's latent dims)
    models   role "model": the latent model (name, version, SHA-256); its per-dim code tables
             and its decoder are needed to read the codes and render them
    params   levels, height, width, channels (below)
    sections codes   encode_indexed of the count x codes code indices (row-major), value j of an
                     item coded with the model's table for dim j
             names   (optional) the items' file names, UTF-8, one per line, in item order
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codec.container import Container, LatentMedia
from codec.errors import CorruptData
from codec.interface import HeaderParam
from codec.limits import DecodeCost

MAX_SIDE = 1024
MAX_NAME = 255
# Multiply-adds per output value the decoder network may spend: the shipped width-8 decoder takes
# about 2.6e3 per value (8.0e6 per 64x64 RGB image), so this allows models up to ~16x wider.
WORK_PER_VALUE = 4.0e4
BATCH = 64  # items decoded at once
ACTIVATION_FACTOR = 64  # float32 activations per output value while decoding (widest layer, x2)

PARAMS: tuple[HeaderParam, ...] = (
    HeaderParam("levels", int, 2, 256, help="values in each dim's codebook; codes are 0 .. levels-1"),
    HeaderParam("height", int, 1, MAX_SIDE, help="rows of a decoded image"),
    HeaderParam("width", int, 1, MAX_SIDE, help="columns of a decoded image"),
    HeaderParam("channels", int, 1, 3, help="1 (gray) or 3 (RGB)"),
)


@dataclass(frozen=True)
class LatentConfig:
    count: int
    codes: int
    levels: int
    height: int
    width: int
    channels: int
    named: bool

    @property
    def values_per_item(self) -> int:
        return self.height * self.width * self.channels


def config_from_header(c: Container, params: dict[str, Any]) -> LatentConfig:
    m = c.media
    if not isinstance(m, LatentMedia):
        raise CorruptData("a qlae file holds latents media")
    if params["channels"] not in (1, 3):
        raise CorruptData(f"qlae header: {params['channels']} channels (1 or 3)")
    names = [s.name for s in c.sections]
    if names not in (["codes"], ["codes", "names"]):
        raise CorruptData(f"qlae file sections are {names[:4]}, expected codes and optionally names")
    if len([r for r in c.models if r.role == "model"]) != 1:
        raise CorruptData("a qlae file names exactly one latent model (role 'model')")
    if "names" in names and c.sections[1].length > m.count * (MAX_NAME + 1):
        raise CorruptData("qlae names section is longer than its items' names can be")
    p = params
    return LatentConfig(
        m.count, m.codes, p["levels"], p["height"], p["width"], p["channels"], "names" in names
    )


def decode_cost(c: Container, cfg: LatentConfig) -> DecodeCost:
    """Codes: 8 bytes each plus the indexes; images: a batch of activations and outputs at a time."""
    codes = cfg.count * cfg.codes
    per_item = cfg.values_per_item
    batch = min(BATCH, cfg.count)
    memory = 24 * codes + batch * per_item * 4 * ACTIVATION_FACTOR + cfg.count * (MAX_NAME + 1) * cfg.named
    work = float(codes) * 8 + float(cfg.count) * per_item * WORK_PER_VALUE
    return DecodeCost(
        memory_bytes=int(memory), work=work, items=cfg.count, pixels=cfg.count * cfg.height * cfg.width
    )
