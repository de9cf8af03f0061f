"""The latent autoencoders: one encoder, one style decoder, four latents (QLAE and its baselines).

The architecture is the official code's "small" one at a quarter of its widths (so that a model
trains in minutes on two CPU cores): the encoder is four 4x4 stride-2 convolutions with instance
norm and leaky ReLU, then a dense layer; the decoder maps the latent through a dense layer to a
style vector that scales and shifts, after instance norm, each of four 4x4 stride-2 transposed
convolutions grown from a learned constant 4x4 map, then a 3x3 convolution to pixel logits.

Latents (`LATENTS`), everything else the same:

- `qlae`: n scalar latents, each quantized to the nearest of its own K learnable values
  (initialised to linspace(-0.5, 0.5)), straight-through; losses 0.01 quantization, 0.01 commitment.
- `ae`: n continuous latents.
- `vae`: n Gaussian latents (beta-VAE), KL weighted by beta against the summed reconstruction.
- `vqvae`: n latents, each a 64-d vector quantized to one global codebook of 512 (VQ-VAE),
  losses 1.0 codebook, 0.25 commitment.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LATENTS = ("qlae", "ae", "vae", "vqvae")
VQ_EMBEDDING = 64
VQ_CODEBOOK = 512


def to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(B, H, W, C) uint8 -> (B, C, H, W) float in [0, 1]."""
    return torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float().div_(255.0)


def to_images(x: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) in [0, 1] -> (B, H, W, C) uint8."""
    return (x.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


class Encoder(nn.Module):
    def __init__(self, channels: int, width: int, out: int) -> None:
        super().__init__()
        widths = [width, 2 * width, 4 * width, 8 * width]
        layers: list[nn.Module] = []
        c = channels
        for w in widths:
            layers += [nn.Conv2d(c, w, 4, 2, 1), nn.InstanceNorm2d(w, affine=True), nn.LeakyReLU(0.2)]
            c = w
        self.conv = nn.Sequential(*layers)
        self.dense = nn.Sequential(
            nn.Flatten(), nn.Linear(c * 16, 16 * width), nn.ReLU(), nn.Linear(16 * width, out)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(self.conv(x))


class StyleUp(nn.Module):
    """Transposed conv -> leaky ReLU -> instance norm -> per-channel scale and shift from w."""

    def __init__(self, cin: int, cout: int, w: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, 4, 2, 1)
        self.style = nn.Linear(w, 2 * cout)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = F.instance_norm(F.leaky_relu(self.conv(x), 0.2), eps=1e-6)
        scale, shift = self.style(w)[:, :, None, None].chunk(2, dim=1)
        return x * scale + shift


class Decoder(nn.Module):
    def __init__(self, channels: int, width: int, latent: int) -> None:
        super().__init__()
        wdim = 16 * width
        widths = [8 * width, 4 * width, 2 * width, width]
        self.dense = nn.Sequential(nn.Linear(latent, wdim), nn.ReLU())
        self.start = nn.Parameter(torch.full((1, widths[0], 4, 4), 0.1))
        self.ups = nn.ModuleList(
            StyleUp(a, b, wdim) for a, b in zip([widths[0], *widths[:-1]], widths, strict=True)
        )
        self.out = nn.Conv2d(widths[-1], channels, 3, 1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        w = self.dense(z)
        x = self.start.expand(len(z), -1, -1, -1)
        for up in self.ups:
            x = up(x, w)
        return self.out(x)  # logits


class ScalarQuantizer(nn.Module):
    """One learnable codebook of K values per latent dim; nearest value, straight-through."""

    def __init__(self, n: int, levels: int) -> None:
        super().__init__()
        self.values = nn.Parameter(torch.linspace(-0.5, 0.5, levels).repeat(n, 1))

    def indices(self, z: torch.Tensor) -> torch.Tensor:
        return (z[:, :, None] - self.values[None]).abs().argmin(dim=2)

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        return self.values.gather(1, idx.T).T if idx.ndim == 2 else self.values[torch.arange(len(idx)), idx]

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        idx = self.indices(z)
        q = self.lookup(idx)
        quant = F.mse_loss(q, z.detach())  # moves the values
        commit = F.mse_loss(z, q.detach())  # keeps the encoder near them
        return z + (q - z).detach(), idx, quant, commit


class VectorQuantizer(nn.Module):
    """VQ-VAE: each latent is a d-vector quantized to one global codebook."""

    def __init__(self, n: int, dim: int = VQ_EMBEDDING, size: int = VQ_CODEBOOK) -> None:
        super().__init__()
        self.n, self.dim = n, dim
        lim = (3.0 / dim) ** 0.5
        self.codebook = nn.Parameter(torch.empty(size, dim).uniform_(-lim, lim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        v = x.view(len(x), self.n, self.dim)
        d = (v[:, :, None, :] - self.codebook[None, None]).pow(2).sum(-1)
        idx = d.argmin(-1)
        q = self.codebook[idx]
        quant = F.mse_loss(q, v.detach())
        commit = F.mse_loss(v, q.detach())
        return (v + (q - v).detach()).flatten(1), idx, quant, commit


class LatentAE(nn.Module):
    """Encoder -> latent -> decoder, for every kind in LATENTS; `loss` gives the training loss."""

    def __init__(self, arch: dict[str, Any]) -> None:
        super().__init__()
        self.arch = dict(arch)
        kind, n, ch, width = arch["latent"], int(arch["latents"]), int(arch["channels"]), int(arch["width"])
        self.kind, self.n = kind, n
        enc_out = {"qlae": n, "ae": n, "vae": 2 * n, "vqvae": n * VQ_EMBEDDING}[kind]
        dec_in = n * VQ_EMBEDDING if kind == "vqvae" else n
        self.encoder = Encoder(ch, width, enc_out)
        self.decoder = Decoder(ch, width, dec_in)
        if kind == "qlae":
            self.quantizer = ScalarQuantizer(n, int(arch["levels"]))
        elif kind == "vqvae":
            self.quantizer = VectorQuantizer(n)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> what the metrics read: code indices (qlae, vqvae) or means (ae, vae)."""
        h = self.encoder(x)
        if self.kind == "qlae":
            return self.quantizer.indices(h)
        if self.kind == "vqvae":
            return self.quantizer(h)[1]
        return h[:, : self.n]

    def decode_indices(self, idx: torch.Tensor) -> torch.Tensor:
        """QLAE code indices (B, n) -> images in [0, 1]."""
        return torch.sigmoid(self.decoder(self.quantizer.lookup(idx)))

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        h = self.encoder(x)
        parts: dict[str, torch.Tensor] = {}
        if self.kind in ("qlae", "vqvae"):
            z, _, quant, commit = self.quantizer(h)
            wq, wc = (0.01, 0.01) if self.kind == "qlae" else (1.0, 0.25)
            parts["quantization"], parts["commitment"] = quant, commit
            extra = wq * quant + wc * commit
        elif self.kind == "vae":
            mu, logvar = h[:, : self.n], h[:, self.n :].clamp(-12, 12)
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
            parts["kl"] = kl
            extra = float(self.arch.get("beta", 4.0)) * kl / x[0].numel()  # beta-VAE on the summed BCE
        else:
            z, extra = h, h.new_zeros(())
        logits = self.decoder(z)
        bce = F.binary_cross_entropy_with_logits(logits, x)
        parts["bce"] = bce
        return bce + extra, parts


def weight_decay_groups(model: nn.Module, decay: float) -> list[dict[str, Any]]:
    """AdamW groups: weights decay; codebooks, biases, norms and the constant map do not."""
    no = {id(p) for m in model.modules() if isinstance(m, nn.InstanceNorm2d) for p in m.parameters()}
    decayed, kept = [], []
    for name, p in model.named_parameters():
        skip = p.ndim < 2 or id(p) in no or name.endswith(("values", "codebook", "start"))
        (kept if skip else decayed).append(p)
    return [{"params": decayed, "weight_decay": decay}, {"params": kept, "weight_decay": 0.0}]
