"""HNeRV model: ConvNeXt encoder -> tiny per-frame embedding -> HNeRV-block decoder.

Follows the paper and the official code's shapes. Only the decoder and the embeddings are stored;
the encoder exists to produce good embeddings while training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from codec.video.hnerv.config import HNeRVConfig


class LayerNorm2d(nn.Module):
    """LayerNorm over channels of an NCHW tensor (ConvNeXt's channels_first variant)."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), x.shape[1:2], self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7 -> LN -> 4x MLP -> layer scale, residual (Liu et al. 2022)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pw1 = nn.Linear(dim, 4 * dim)
        self.pw2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(1e-6 * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)  # (B, H, W, C)
        y = self.pw2(F.gelu(self.pw1(self.norm(y)))) * self.gamma
        return x + y.permute(0, 3, 1, 2)


class ConvNeXtEncoder(nn.Module):
    """One stage per stride: patchify/downsample conv + one ConvNeXt block; last stage -> embed_dim."""

    def __init__(self, strides: tuple[int, ...], dim: int, embed_dim: int) -> None:
        super().__init__()
        dims = [dim] * (len(strides) - 1) + [embed_dim]
        layers: list[nn.Module] = []
        c_in = 3
        for i, (s, c) in enumerate(zip(strides, dims, strict=True)):
            down = (
                [nn.Conv2d(c_in, c, s, s), LayerNorm2d(c)]
                if i == 0
                else [LayerNorm2d(c_in), nn.Conv2d(c_in, c, s, s)]
            )
            layers += down + [ConvNeXtBlock(c)]
            c_in = c
        self.net = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, E, h, w)
        return self.net(x)


class HNeRVBlock(nn.Module):
    """conv(k) -> PixelShuffle(s) -> GELU: upsample by s with a learned sub-pixel conv."""

    def __init__(self, c_in: int, c_out: int, stride: int, ks: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out * stride * stride, ks, 1, (ks - 1) // 2)
        self.shuffle = nn.PixelShuffle(stride) if stride > 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.shuffle(self.conv(x)))


class HNeRVDecoder(nn.Module):
    """The stored network: 1x1 stem -> five HNeRV blocks -> 3x3 conv -> tanh head in [0, 1]."""

    def __init__(self, cfg: HNeRVConfig) -> None:
        super().__init__()
        self.stem = nn.Conv2d(cfg.embed_dim, cfg.fc_dim, 1)
        blocks, ngf = [], cfg.fc_dim
        for s, k, w in zip(cfg.strides, cfg.ks, cfg.widths(), strict=True):
            blocks.append(HNeRVBlock(ngf, w, s, k))
            ngf = w
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv2d(ngf, 3, 3, 1, 1)

    def forward(self, embed: torch.Tensor) -> torch.Tensor:  # (B, E, h, w) -> (B, 3, H, W)
        x = self.blocks(F.gelu(self.stem(embed)))
        return torch.tanh(self.head(x)) * 0.5 + 0.5


class HNeRV(nn.Module):
    def __init__(self, cfg: HNeRVConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = ConvNeXtEncoder(cfg.strides, cfg.enc_dim, cfg.embed_dim)
        self.decoder = HNeRVDecoder(cfg)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embed = self.encoder(frames)
        return self.decoder(embed), embed
