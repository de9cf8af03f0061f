"""Images to a latent model's input and back: its size and channel count, said out loud.

A model takes 64x64 images with its own channel count. Anything else is converted, not refused,
and each conversion is reported as a warning: another size is resized (Pillow, bicubic, aspect
not kept), colour becomes gray by ITU-R 601 luma for a one-channel model, and gray is repeated
into three channels for an RGB one. No torch import.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_model_input(rgb: np.ndarray, channels: int, size: int) -> tuple[np.ndarray, list[str]]:
    """(H, W, 3) uint8 RGB -> (size, size, channels) uint8, and what was changed."""
    warnings: list[str] = []
    h, w = rgb.shape[:2]
    gray = bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())
    if channels == 1:
        if not gray:
            warnings.append("colour converted to gray: the model takes one channel")
        a = np.asarray(Image.fromarray(rgb).convert("L"))[..., None]
    else:
        if gray:
            warnings.append("gray image repeated into three channels: the model takes RGB")
        a = rgb
    if (h, w) != (size, size):
        warnings.append(f"resized from {w}x{h} to {size}x{size}: the model takes {size}x{size}")
        mode = "L" if channels == 1 else "RGB"
        im = Image.fromarray(a[..., 0] if channels == 1 else a, mode)
        a = np.asarray(im.resize((size, size), Image.Resampling.BICUBIC))
        a = a[..., None] if channels == 1 else a
    return np.ascontiguousarray(a, dtype=np.uint8), warnings


def to_rgb(img: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 model output -> (H, W, 3) or (H, W) for writing as PNG."""
    return img[..., 0] if img.shape[-1] == 1 else img


def grid(images: np.ndarray, rows: int, cols: int, pad: int = 2) -> np.ndarray:
    """(rows * cols, H, W, C) uint8 -> one image, row-major, with a white gutter."""
    n, h, w, c = images.shape
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i in range(min(n, rows * cols)):
        r, k = divmod(i, cols)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + k * (w + pad) : pad + k * (w + pad) + w] = (
            images[i]
        )
    return to_rgb(out)
