"""How an image becomes patches and the patches a three-level hierarchy.

The image is padded (edge-replicated) to whole 64x64 patches, landscape first as in the official
code (a portrait image is transposed; the file says so). Patches are row-major. Level 2 groups
4x4 patches (fewer at the right and bottom edges), level 3 is the whole image; a patch's INR code
is the sum of its level-1 code, its group's level-2 code and the image's level-3 code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from codec.image.recombiner.inr import PATCH

GROUP = 4  # patches per side of a level-2 group


@dataclass(frozen=True)
class Layout:
    height: int  # of the image as coded (after the transpose, before padding)
    width: int
    transposed: bool

    @property
    def rows(self) -> int:
        return math.ceil(self.height / PATCH)

    @property
    def cols(self) -> int:
        return math.ceil(self.width / PATCH)

    @property
    def patches(self) -> int:
        return self.rows * self.cols

    @property
    def group_rows(self) -> int:
        return math.ceil(self.rows / GROUP)

    @property
    def group_cols(self) -> int:
        return math.ceil(self.cols / GROUP)

    @property
    def groups(self) -> int:
        return self.group_rows * self.group_cols

    @property
    def level_rows(self) -> tuple[int, int, int]:
        """Rows of each level of the hierarchy: one per patch, one per group, one for the image."""
        return self.patches, self.groups, 1

    def group_of_patch(self) -> np.ndarray:
        """(patches,) the level-2 group of each patch."""
        r, c = np.divmod(np.arange(self.patches), self.cols)
        return (r // GROUP) * self.group_cols + c // GROUP


def layout_for(height: int, width: int) -> Layout:
    if height > width:
        return Layout(width, height, True)
    return Layout(height, width, False)


def to_patched(rgb: np.ndarray) -> tuple[np.ndarray, Layout]:
    """(H, W, 3) uint8 -> (3, rows*64, cols*64) float32 in [0, 1] (edge-padded), and its layout."""
    lay = layout_for(*rgb.shape[:2])
    a = rgb.transpose(1, 0, 2) if lay.transposed else rgb
    pad = ((0, lay.rows * PATCH - lay.height), (0, lay.cols * PATCH - lay.width), (0, 0))
    a = np.pad(a, pad, mode="edge")
    return np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32) / 255.0, lay


def from_patched(x: np.ndarray, lay: Layout) -> np.ndarray:
    """(3, rows*64, cols*64) floats -> (H, W, 3) uint8: cropped, transposed back, rounded."""
    a = np.clip(np.rint(x[:, : lay.height, : lay.width] * 255.0), 0, 255).astype(np.uint8).transpose(1, 2, 0)
    return np.ascontiguousarray(a.transpose(1, 0, 2) if lay.transposed else a)
