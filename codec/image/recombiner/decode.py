"""Decode a RECOMBINER file: the prior it names, its indices, the rebuilt weights, the picture.

Imports no training code: candidates come from `codec.rec`, the network from `inr.py`."""

from __future__ import annotations

import numpy as np

from codec.container import Container
from codec.image.recombiner.bitstream import read_indices
from codec.image.recombiner.coding import PriorModel, decode_weights, render
from codec.image.recombiner.header import ImageConfig
from codec.image.recombiner.patches import Layout, from_patched


def decode_image(c: Container, cfg: ImageConfig) -> np.ndarray:
    """(H, W, 3) uint8."""
    from codec.image.recombiner.zoo import load_prior_ref
    from codec.models import default_store

    ref = c.model("prior")
    _, model = load_prior_ref(ref.name, ref.version, ref.sha256, default_store())
    if model.block_bits != cfg.block_bits:
        from codec.errors import CorruptData

        raise CorruptData(f"the file's blocks are {cfg.block_bits} bits; its prior's {model.block_bits}")
    h, w = cfg.coded_hw
    lay = Layout(h, w, cfg.transposed)
    return picture(model, lay, read_indices(c, cfg, [len(b) for b in model.blocks]))


def picture(model: PriorModel, lay: Layout, indices: list[np.ndarray]) -> np.ndarray:
    """The (H, W, 3) uint8 picture of coded indices: the weights rebuilt from them, rendered, the
    padding cropped (what the encoder's own render shows, bit for bit in the weights)."""
    return from_patched(render(model, lay, decode_weights(model, lay, indices)), lay)
