"""RECOMBINER's network: a SIREN whose weights are linear maps of per-patch codes, fed Fourier
features of each pixel's position and upsampled learnable positional latents.

As in the paper and its official code (cambridge-mlg/RECOMBINER, the Kodak configuration):

- SIREN: 32 inputs, three hidden layers of 32, 3 outputs; sin(30 x) after every layer but the last.
  A layer's parameters are laid out [bias (out), weight (in x out)]: 1056 + 1056 + 1056 + 99 = 3267.
- Linear reparameterisation: layer l's parameters are h_l @ A_l, with h the per-patch code (the
  Bayesian part) and A_l a learned square matrix shared by every image (initialised U(+-1/n_l)).
- Inputs: 16 Fourier features of the pixel-centre coordinates in [-1, 1] of its 64x64 patch
  (frequencies exp(linspace(0, ln 1024, 4)), cos and sin of pi x f), then 16 channels of positional
  latents: a 4x4x128 grid per patch, all of an image's patches stitched into one map, upsampled by
  nearest x4 -> conv5x5 (128->64) -> leaky ReLU -> nearest x2 -> conv3x3 (64->64) -> leaky ReLU ->
  nearest x2 -> conv3x3 (64->16), and cut back into patches.

Shapes: h (patches, 3267), latents (patches, 128, 4, 4) for a (rows x cols) grid of patches, in
row-major patch order; the output is (3, 64 rows, 64 cols) pixel values (targets in [0, 1]).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

PATCH = 64
HIDDEN = (32, 32, 32)
IN_DIM, OUT_DIM = 32, 3
W0 = 30.0
FOURIER_FREQS = 4
LATENT_CH, LATENT_SCALE = 128, 16  # latent grid = PATCH / LATENT_SCALE per side
UP_CH = 16
DIMS = (IN_DIM, *HIDDEN, OUT_DIM)
LAYER_SIZES = tuple(o * (i + 1) for i, o in zip(DIMS[:-1], DIMS[1:], strict=True))
INR_PARAMS = sum(LAYER_SIZES)  # 3267
LATENT_GRID = PATCH // LATENT_SCALE  # 4
LATENT_PARAMS = LATENT_CH * LATENT_GRID * LATENT_GRID  # 2048


def fourier_features(size: int = PATCH) -> torch.Tensor:
    """(size*size, 16): [cos(pi x f) for x, y and 4 frequencies, then sin], pixel centres in [-1, 1]."""
    c = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    coords = torch.stack([yy, xx], dim=-1).reshape(-1, 2)  # (row, col) order, as the official grid
    freqs = torch.exp(torch.linspace(0, math.log(1024), FOURIER_FREQS))
    v = (coords[:, :, None] * freqs).reshape(-1, 2 * FOURIER_FREQS)
    return torch.cat([torch.cos(math.pi * v), torch.sin(math.pi * v)], dim=-1)


class Upsampler(nn.Module):
    """Positional latents (1, 128, 4R, 4C) -> (1, 16, 64R, 64C)."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(LATENT_CH, 64, 5, padding=2)
        self.c2 = nn.Conv2d(64, 64, 3, padding=1)
        self.c3 = nn.Conv2d(64, UP_CH, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = F.leaky_relu(self.c1(F.interpolate(z, scale_factor=4, mode="nearest")))
        z = F.leaky_relu(self.c2(F.interpolate(z, scale_factor=2, mode="nearest")))
        return self.c3(F.interpolate(z, scale_factor=2, mode="nearest"))


class LinearReparam(nn.Module):
    """h (B, 3267) -> per-layer parameters (B, n_l) = h_l @ A_l."""

    def __init__(self) -> None:
        super().__init__()
        self.A = nn.ParameterList(
            nn.Parameter(torch.empty(n, n).uniform_(-1.0 / n, 1.0 / n)) for n in LAYER_SIZES
        )

    def forward(self, h: torch.Tensor, enabled: bool = True) -> list[torch.Tensor]:
        parts = torch.split(h, LAYER_SIZES, dim=-1)
        return [p @ a if enabled else p for p, a in zip(parts, self.A, strict=True)]


def stitch_latents(latents: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """(rows*cols, C, g, g) row-major patches -> (1, C, rows*g, cols*g)."""
    n, c, g, _ = latents.shape
    return latents.reshape(rows, cols, c, g, g).permute(2, 0, 3, 1, 4).reshape(1, c, rows * g, cols * g)


def cut_patches(x: torch.Tensor, rows: int, cols: int, size: int = PATCH) -> torch.Tensor:
    """(1, C, rows*size, cols*size) -> (rows*cols, size*size, C), row-major patches, row-major pixels."""
    c = x.shape[1]
    return x.reshape(c, rows, size, cols, size).permute(1, 3, 2, 4, 0).reshape(rows * cols, size * size, c)


def join_patches(y: torch.Tensor, rows: int, cols: int, size: int = PATCH) -> torch.Tensor:
    """(rows*cols, size*size, C) -> (C, rows*size, cols*size): the inverse of cut_patches."""
    c = y.shape[-1]
    return y.reshape(rows, cols, size, size, c).permute(4, 0, 2, 1, 3).reshape(c, rows * size, cols * size)


class RecombinerINR(nn.Module):
    """The shared parts (A and the upsampler) and the rendering of codes and latents to pixels.

    `linear_reparam=False` and `positional=False` are the ablations: weights are h itself, and the
    latent channels of the input are zero (the latents then carry no information and cost nothing
    once their prior has collapsed onto them)."""

    def __init__(self, linear_reparam: bool = True, positional: bool = True) -> None:
        super().__init__()
        self.reparam = LinearReparam()
        self.upsampler = Upsampler()
        self.linear_reparam, self.positional = linear_reparam, positional
        self.register_buffer("fourier", fourier_features(), persistent=False)

    def forward(self, h: torch.Tensor, latents: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
        n = rows * cols
        if h.shape != (n, INR_PARAMS) or latents.shape != (n, LATENT_CH, LATENT_GRID, LATENT_GRID):
            raise ValueError(
                f"expected {n} patches of codes and latents, got {tuple(h.shape)}, {tuple(latents.shape)}"
            )
        if self.positional:
            pe = cut_patches(self.upsampler(stitch_latents(latents, rows, cols)), rows, cols)
        else:
            pe = self.fourier.new_zeros(n, PATCH * PATCH, UP_CH)
        x = torch.cat([self.fourier.expand(n, -1, -1), pe], dim=-1)  # (n, 4096, 32)
        layers = self.reparam(h, self.linear_reparam)
        for k, (p, d_in, d_out) in enumerate(zip(layers, DIMS[:-1], DIMS[1:], strict=True)):
            b, w = p[:, :d_out], p[:, d_out:].reshape(n, d_in, d_out)
            x = x @ w + b[:, None, :]
            if k < len(layers) - 1:
                x = torch.sin(W0 * x)
        return join_patches(x, rows, cols)
