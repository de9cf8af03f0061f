"""HNeRV architecture config: everything the decoder needs is in here and in the file header.

Defaults follow the HNeRV paper (Chen et al., CVPR 2023) and its official code: kernel sizes 1,3,5,5,5
(min(ks1 + 2i, ks2) with ks1=1, ks2=5), channel reduction r=1.2 with a floor of 12 channels, 16-channel
embeddings, GELU, tanh head. The stem width `fc_dim` is solved from a parameter budget.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from codec.errors import InvalidInput

KS_FIRST, KS_MAX = 1, 5  # block i uses kernel min(KS_FIRST + 2 i, KS_MAX): 1, 3, 5, 5, 5
NUM_BLOCKS = 5
MAX_FC_DIM = 4096  # beyond this the budget is absurd for one clip


@dataclass
class HNeRVConfig:
    height: int  # padded frame height (multiple of the stride product)
    width: int  # padded frame width
    strides: tuple[int, ...]  # decoder upsampling strides; the encoder mirrors them
    fc_dim: int  # stem width, solved from the parameter budget
    embed_dim: int = 16  # channels of each per-frame embedding
    reduce: float = 1.2  # channel reduction per block
    lower_width: int = 12  # channel floor, so late high-resolution blocks keep capacity
    enc_dim: int = 64  # ConvNeXt width; the encoder is not stored, so its size is free
    ks: tuple[int, ...] = field(
        default_factory=lambda: tuple(min(KS_FIRST + 2 * i, KS_MAX) for i in range(5))
    )

    @property
    def stride_product(self) -> int:
        return math.prod(self.strides)

    @property
    def embed_hw(self) -> tuple[int, int]:
        return self.height // self.stride_product, self.width // self.stride_product

    def widths(self) -> list[int]:
        """Output channels of each decoder block (official code: max(round(ngf / r), lower_width))."""
        out, ngf = [], self.fc_dim
        for _ in self.strides:
            ngf = int(max(round(ngf / self.reduce), self.lower_width))
            out.append(ngf)
        return out

    def decoder_params(self) -> int:
        """Parameters of the stored decoder (stem + blocks + head), counted without building it."""
        n = self.embed_dim * self.fc_dim + self.fc_dim  # 1x1 stem conv
        ngf = self.fc_dim
        for s, k, w in zip(self.strides, self.ks, self.widths(), strict=True):
            n += ngf * w * s * s * k * k + w * s * s
            ngf = w
        return n + ngf * 3 * 9 + 3  # 3x3 head

    def embed_params(self, frames: int) -> int:
        h, w = self.embed_hw
        return frames * self.embed_dim * h * w


def choose_strides(
    height: int, width: int, frames: int = 1, budget_params: float = 1e6, embed_dim: int = 16
) -> tuple[int, ...]:
    """Strides from the frame size: trade padded area against embedding size.

    Padding, not cropping: the pad is excluded from the loss and cropped on decode, so it costs
    compute but no rate. Embeddings do cost rate, so small grids are preferred; the cost is
    padded-area ratio + 2 x (embedding share of the budget), over grids of at least 2 cells a side
    (the paper's 2x4 bunny grid). A 640x1280 crop gets the paper's 5,4,4,2,2.
    """
    if height < 1 or width < 1:
        raise InvalidInput(f"frame size {width}x{height} is empty")
    best_ok, best_any = None, None
    for combo in itertools.product((5, 4, 3, 2, 1), repeat=NUM_BLOCKS):
        if list(combo) != sorted(combo, reverse=True) or combo[0] < 2:
            continue
        p = math.prod(combo)
        gh, gw = math.ceil(height / p), math.ceil(width / p)
        overhead = gh * gw * p * p / (height * width)
        embed_share = gh * gw * embed_dim * frames / budget_params
        key = (round(overhead + 2 * embed_share, 6), combo.count(1), -p)
        if min(gh, gw) >= 2 and (best_ok is None or key < best_ok[0]):
            best_ok = (key, combo)
        if best_any is None or key < best_any[0]:
            best_any = (key, combo)
    return (best_ok or best_any)[1]


def padded_size(height: int, width: int, strides: tuple[int, ...]) -> tuple[int, int]:
    p = math.prod(strides)
    return math.ceil(height / p) * p, math.ceil(width / p) * p


def solve_config(height: int, width: int, frames: int, budget_params: float, **overrides) -> HNeRVConfig:
    """Largest stem width whose decoder + embeddings fit the parameter budget (as in the paper,
    the budget counts embeddings too). Raises InvalidInput when even the narrowest model does not fit."""
    strides = overrides.pop("strides", None) or choose_strides(
        height, width, frames, budget_params, overrides.get("embed_dim", 16)
    )
    ph, pw = padded_size(height, width, strides)
    base = HNeRVConfig(height=ph, width=pw, strides=tuple(strides), fc_dim=1, **overrides)
    embed = base.embed_params(frames)

    def fits(fc: int) -> bool:
        base.fc_dim = fc
        return base.decoder_params() + embed <= budget_params

    def widest() -> int:  # largest stem width that fits, 0 if none
        lo, hi = 0, MAX_FC_DIM
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
        return lo

    # Tiny budgets: lower the channel floor (12 in the paper) until the stem is at least as wide
    # as the floor; otherwise the floor-wide late blocks eat the budget and the stem starves.
    lo = widest()
    while lo < base.lower_width and base.lower_width > 2:
        base.lower_width -= 1
        lo = widest()
    if lo == 0:
        base.fc_dim = 1
        raise InvalidInput(
            f"parameter budget {budget_params / 1e6:.4g}M is too small for {frames} frames of "
            f"{width}x{height}: the smallest model needs {(base.decoder_params() + embed) / 1e6:.4g}M"
        )
    base.fc_dim = lo
    return base
