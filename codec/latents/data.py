"""Procedural datasets with known factors of variation, rendered in numpy from a seed (offline).

Two generators stand in for the disentanglement benchmarks the QLAE paper uses; both have the
originals' factor grids, are sampled uniformly over that grid (every factor independent, as the
originals' full-grid datasets are), and render 64x64 images:

- `shapes3d`: floor hue 10, wall hue 10, object hue 10, scale 8, shape 4 (cube, cylinder, sphere,
  capsule), orientation 15. The original is a 3D rendering (MuJoCo) of a room seen by a camera
  orbiting the object over -30..30 degrees. Here the room is drawn in 2.5D: a floor below a fixed
  horizon with depth shading, a back wall and a darker side wall whose corner moves with the
  orientation, and a shaded object standing on the floor; the cube's two visible faces turn with the
  orientation, the round shapes look the same from every side (as in the original). Hues are
  HSV(h, 1, 1) with h in 0, 0.1, .. 0.9 (the original's values); scales 0.75..1.25.
- `dsprites`: shape 3 (square, ellipse, heart), scale 6 (0.5..1), rotation 40 (0..2pi), x 32,
  y 32, one channel of 0/255, as in the original; shapes are the original's outlines drawn from
  their implicit equations, not its bitmaps, and the square's and ellipse's rotations repeat with
  their symmetry, as they do in the original.

A folder of images is a third kind of data (no factors: training works, the metrics do not).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codec.errors import InvalidInput

SIZE = 64
BUILTIN = ("shapes3d", "dsprites")


@dataclass(frozen=True)
class FactorData:
    """A procedural dataset: its factors, their number of values, and a renderer."""

    name: str
    factors: tuple[str, ...]
    sizes: tuple[int, ...]
    channels: int
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def sample_factors(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, F) int64 factor indices, uniform over the grid."""
        return np.stack([rng.integers(0, s, n) for s in self.sizes], axis=1).astype(np.int64)

    def render(self, factors: np.ndarray) -> np.ndarray:
        """(n, F) factor indices -> (n, 64, 64, C) uint8 images."""
        f = np.asarray(factors, dtype=np.int64)
        if f.ndim != 2 or f.shape[1] != len(self.sizes):
            raise InvalidInput(f"{self.name} takes (n, {len(self.sizes)}) factor indices, got {f.shape}")
        if (f < 0).any() or (f >= np.asarray(self.sizes)).any():
            raise InvalidInput(f"{self.name} factor index out of range (sizes {self.sizes})")
        return _shapes3d(f, self._cache) if self.name == "shapes3d" else _dsprites(f)

    def batch(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        f = self.sample_factors(rng, n)
        return self.render(f), f


@dataclass(frozen=True)
class FolderData:
    """Images from a folder, resized to 64x64: no factors, so no disentanglement metrics."""

    name: str
    images: np.ndarray  # (n, 64, 64, C) uint8
    channels: int
    factors: tuple[str, ...] = ()
    sizes: tuple[int, ...] = ()

    def batch(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        idx = rng.integers(0, len(self.images), n)
        return self.images[idx], np.zeros((n, 0), dtype=np.int64)


Data = FactorData | FolderData

SHAPES3D = FactorData(
    "shapes3d",
    ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"),
    (10, 10, 10, 8, 4, 15),
    3,
)
DSPRITES = FactorData("dsprites", ("shape", "scale", "rotation", "x", "y"), (3, 6, 40, 32, 32), 1)


def load(name: str) -> Data:
    """A built-in generator by name, or a folder of images (PNG, JPEG, ...)."""
    if name == "shapes3d":
        return SHAPES3D
    if name == "dsprites":
        return DSPRITES
    p = Path(name)
    if not p.is_dir():
        raise InvalidInput(f"--data takes {' or '.join(BUILTIN)} or a folder of images, not {p.name!r}")
    return _folder(p)


def _folder(p: Path) -> FolderData:
    from codec.io.image import IMAGE_SUFFIXES
    from codec.latents.images import to_model_input

    files = sorted(f for f in os.listdir(p) if Path(f).suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InvalidInput(f"{p.name}: no images in the folder")
    from codec.io.image import read_image

    rgb = [read_image(p / f)[0] for f in files]
    gray = all((a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all() for a in rgb)
    channels = 1 if gray else 3
    images = np.stack([to_model_input(a, channels, SIZE)[0] for a in rgb])
    return FolderData(p.name, images, channels)


# --- shapes3d ---------------------------------------------------------------------------------

HUES = np.arange(10) / 10.0
SCALES3D = np.linspace(0.75, 1.25, 8)
ORIENTATIONS = np.linspace(-30.0, 30.0, 15)
HORIZON = 36  # rows above are wall, below floor
OBJECT_BASE = 54  # the row the object stands on


def hue_rgb(h: np.ndarray) -> np.ndarray:
    """HSV(h, 1, 1) -> RGB in [0, 1], vectorised."""
    h6 = (np.asarray(h, dtype=np.float64) % 1.0) * 6.0
    k = (np.array([5.0, 3.0, 1.0]) + h6[..., None]) % 6.0
    return 1.0 - np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def _grid() -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) + 0.5
    return y, x


def _background(o: int) -> tuple[np.ndarray, np.ndarray]:
    """Wall and floor shading for orientation index o: (H, W) each, zero outside the region."""
    y, x = _grid()
    corner = SIZE / 2 + ORIENTATIONS[o] / 30.0 * 40.0
    wall = (y < HORIZON) * np.where(x > corner, 0.72, 0.95)
    depth = np.clip((y - HORIZON) / (SIZE - HORIZON), 0.0, 1.0)
    floor = (y >= HORIZON) * (0.62 + 0.38 * depth)
    return wall, floor


def _object(shape: int, scale: float, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Alpha and shading of the object, (H, W) each; it stands on OBJECT_BASE, centred."""
    y, x = _grid()
    h = 11.0 * scale  # half-height
    cx, cy = SIZE / 2, OBJECT_BASE - h
    u, v = (x - cx) / h, (y - cy) / h  # object coordinates, about -1..1
    if shape == 0:  # cube: front and side face widths follow the rotation, a lit top band
        t = np.deg2rad(angle_deg + 45.0)
        wa, wb = abs(np.cos(t)), abs(np.sin(t))
        left, right = -(wa + wb) / 1.2, (wa + wb) / 1.2
        split = left + 2 * wa / 1.2
        inside = (u >= left) & (u <= right) & (v >= -1) & (v <= 1)
        top = inside & (v < -0.75)
        shade = np.where(top, 1.0, np.where(u < split, 0.85, 0.6))
    elif shape == 1:  # cylinder: cosine shading across, an elliptic lit top
        body = (np.abs(u) <= 0.8) & (v >= -0.8) & (v <= 1)
        cap = (u / 0.8) ** 2 + ((v + 0.8) / 0.2) ** 2 <= 1
        inside = body | cap
        shade = np.where(cap, 1.0, 0.55 + 0.4 * np.cos(np.clip(u / 0.8, -1, 1) * np.pi / 2))
    elif shape == 2:  # sphere: lit from the upper left
        r2 = u**2 + v**2
        inside = r2 <= 1
        lx, ly = u + 0.35, v + 0.35
        shade = 1.0 - 0.45 * np.clip(np.sqrt(lx**2 + ly**2) / 1.4, 0, 1)
    else:  # capsule: a stadium, shaded across
        core = np.clip(v, -0.55, 0.55)
        inside = u**2 / 0.45**2 + (v - core) ** 2 / 0.45**2 <= 1
        shade = 0.55 + 0.4 * np.cos(np.clip(u / 0.45, -1, 1) * np.pi / 2)
    alpha = inside.astype(np.float64)
    return alpha, alpha * shade


def _tables(cache: dict) -> dict:
    if "wall" not in cache:
        bg = [_background(o) for o in range(len(ORIENTATIONS))]
        cache["wall"] = np.stack([b[0] for b in bg]).astype(np.float32)
        cache["floor"] = np.stack([b[1] for b in bg]).astype(np.float32)
        alpha = np.zeros((4, len(SCALES3D), len(ORIENTATIONS), SIZE, SIZE), np.float32)
        shade = np.zeros_like(alpha)
        for s in range(4):
            for k, sc in enumerate(SCALES3D):
                for o, ang in enumerate(ORIENTATIONS):
                    alpha[s, k, o], shade[s, k, o] = _object(s, sc, ang)
        cache["alpha"], cache["shade"] = alpha, shade
        cache["rgb"] = hue_rgb(HUES).astype(np.float32)
    return cache


def _shapes3d(f: np.ndarray, cache: dict) -> np.ndarray:
    t = _tables(cache)
    floor_c, wall_c, obj_c = (t["rgb"][f[:, i]][:, None, None, :] for i in range(3))
    scale, shape, orient = f[:, 3], f[:, 4], f[:, 5]
    img = t["wall"][orient][..., None] * wall_c + t["floor"][orient][..., None] * floor_c
    a = t["alpha"][shape, scale, orient][..., None]
    img = img * (1 - a) + t["shade"][shape, scale, orient][..., None] * obj_c
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


# --- dsprites ---------------------------------------------------------------------------------

SCALES2D = np.linspace(0.5, 1.0, 6)
ROTATIONS = np.linspace(0.0, 2 * np.pi, 40)
POSITIONS = np.linspace(0.0, 1.0, 32)
SPRITE = 12.0  # half-size in pixels at scale 1
MARGIN = 14.0  # the centre ranges over MARGIN .. 64 - MARGIN


def _dsprites(f: np.ndarray) -> np.ndarray:
    y, x = _grid()
    shape, scale, rot = f[:, 0], SCALES2D[f[:, 1]], ROTATIONS[f[:, 2]]
    cx = MARGIN + POSITIONS[f[:, 3]] * (SIZE - 2 * MARGIN)
    cy = MARGIN + POSITIONS[f[:, 4]] * (SIZE - 2 * MARGIN)
    dx = (x[None] - cx[:, None, None]) / (SPRITE * scale[:, None, None])
    dy = (y[None] - cy[:, None, None]) / (SPRITE * scale[:, None, None])
    c, s = np.cos(rot)[:, None, None], np.sin(rot)[:, None, None]
    u, v = c * dx + s * dy, -s * dx + c * dy
    square = np.maximum(np.abs(u), np.abs(v)) <= 0.8
    ellipse = (u / 1.0) ** 2 + (v / 0.5) ** 2 <= 1.0
    hu, hv = u * 1.15, -(v * 1.15) + 0.25
    heart = (hu**2 + hv**2 - 1.0) ** 3 - hu**2 * hv**3 <= 0.0
    sel = shape[:, None, None]
    mask = np.where(sel == 0, square, np.where(sel == 1, ellipse, heart))
    return (mask[..., None] * 255).astype(np.uint8)
