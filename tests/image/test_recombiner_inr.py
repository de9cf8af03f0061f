"""RECOMBINER's network and patch layout (issue #10, first step): sizes as in the official code,
patches cut and joined losslessly, the ablation switches real."""

from __future__ import annotations

import math

import numpy as np
import torch

from codec.image.recombiner.inr import (
    INR_PARAMS,
    LATENT_CH,
    LATENT_PARAMS,
    LAYER_SIZES,
    RecombinerINR,
    cut_patches,
    fourier_features,
    join_patches,
    stitch_latents,
)
from codec.image.recombiner.patches import from_patched, layout_for, to_patched


def test_sizes_are_the_official_kodak_configurations() -> None:
    assert LAYER_SIZES == (1056, 1056, 1056, 99) and INR_PARAMS == 3267
    assert LATENT_PARAMS == 2048  # 4 x 4 x 128 per patch


def test_fourier_features_of_a_pixel() -> None:
    f = fourier_features()
    assert f.shape == (64 * 64, 16)
    y, x = (5 + 0.5) / 64 * 2 - 1, (9 + 0.5) / 64 * 2 - 1  # pixel (row 5, col 9)
    freqs = [math.exp(k * math.log(1024) / 3) for k in range(4)]
    v = [y * w for w in freqs] + [x * w for w in freqs]
    want = [math.cos(math.pi * a) for a in v] + [math.sin(math.pi * a) for a in v]
    assert np.allclose(f[5 * 64 + 9].numpy(), want, atol=1e-4)


def test_patches_cut_and_join_losslessly() -> None:
    x = torch.randn(1, 5, 3 * 64, 2 * 64)
    p = cut_patches(x, 3, 2)
    assert p.shape == (6, 64 * 64, 5)
    assert torch.equal(p[3].reshape(64, 64, 5).permute(2, 0, 1), x[0, :, 64:128, 64:128])  # patch (1, 1)
    assert torch.equal(join_patches(p, 3, 2)[None], x)
    lat = torch.randn(6, LATENT_CH, 4, 4)
    assert torch.equal(stitch_latents(lat, 3, 2)[0, :, 4:8, 4:8], lat[3])


def test_images_pad_transpose_and_crop_back() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (150, 90, 3), dtype=np.uint8)  # portrait
    x, lay = to_patched(rgb)
    assert lay.transposed and (lay.height, lay.width) == (90, 150) and x.shape == (3, 128, 192)
    assert np.array_equal(from_patched(x, lay), rgb)
    assert layout_for(64 * 9, 64 * 9).groups == 9 and layout_for(64 * 9, 64 * 9).group_of_patch()[40] == 4


def test_the_network_renders_and_its_ablations_change_it() -> None:
    torch.manual_seed(0)
    h = torch.randn(4, INR_PARAMS) * 0.01
    z = torch.randn(4, LATENT_CH, 4, 4)
    full = RecombinerINR()
    y = full(h, z, 2, 2)
    assert y.shape == (3, 128, 128)
    no_pe = RecombinerINR(positional=False)
    no_pe.load_state_dict(full.state_dict())
    assert not torch.allclose(no_pe(h, z, 2, 2), y)
    assert torch.equal(no_pe(h, z, 2, 2), no_pe(h, torch.zeros_like(z), 2, 2))  # latents unused
    no_a = RecombinerINR(linear_reparam=False)
    no_a.load_state_dict(full.state_dict())
    assert not torch.allclose(no_a(h, z, 2, 2), y)
