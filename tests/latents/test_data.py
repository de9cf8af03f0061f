"""The procedural datasets: the originals' factor grids, deterministic, every factor visible."""

from __future__ import annotations

import numpy as np
import pytest

from codec.errors import InvalidInput
from codec.latents.data import DSPRITES, SHAPES3D, load


def test_grids_are_the_originals() -> None:
    assert dict(zip(SHAPES3D.factors, SHAPES3D.sizes, strict=True)) == {
        "floor_hue": 10, "wall_hue": 10, "object_hue": 10, "scale": 8, "shape": 4, "orientation": 15,
    }  # fmt: skip
    assert dict(zip(DSPRITES.factors, DSPRITES.sizes, strict=True)) == {
        "shape": 3,
        "scale": 6,
        "rotation": 40,
        "x": 32,
        "y": 32,
    }
    assert SHAPES3D.channels == 3 and DSPRITES.channels == 1


@pytest.mark.parametrize("data", [SHAPES3D, DSPRITES], ids=lambda d: d.name)
def test_rendering_is_deterministic_from_the_seed(data) -> None:
    a, fa = data.batch(np.random.default_rng(7), 16)
    b, fb = data.batch(np.random.default_rng(7), 16)
    assert a.shape == (16, 64, 64, data.channels) and a.dtype == np.uint8
    assert np.array_equal(a, b) and np.array_equal(fa, fb)


@pytest.mark.parametrize("data", [SHAPES3D, DSPRITES], ids=lambda d: d.name)
def test_every_factor_changes_the_image(data) -> None:
    base = np.array([[s // 2 for s in data.sizes]])
    ref = data.render(base)
    for i, size in enumerate(data.sizes):
        for v in (0, size - 1):
            if v == base[0, i]:
                continue
            f = base.copy()
            f[0, i] = v
            if data is DSPRITES and data.factors[i] == "rotation":
                f[0, i] = base[0, i] + 3  # 0 and 2pi are the same angle, as in the original
            assert not np.array_equal(data.render(f), ref), f"{data.factors[i]} = {f[0, i]} changed nothing"


def test_out_of_range_factors_and_unknown_data_are_refused() -> None:
    with pytest.raises(InvalidInput):
        SHAPES3D.render(np.array([[10, 0, 0, 0, 0, 0]]))
    with pytest.raises(InvalidInput):
        load("no-such-data")


def test_a_folder_of_images_is_data_without_factors(tmp_path) -> None:
    from PIL import Image

    imgs, _ = SHAPES3D.batch(np.random.default_rng(0), 3)
    for i, a in enumerate(imgs):
        Image.fromarray(np.kron(a, np.ones((2, 2, 1), np.uint8))).save(tmp_path / f"{i}.png")  # 128x128
    d = load(str(tmp_path))
    x, f = d.batch(np.random.default_rng(0), 5)
    assert x.shape == (5, 64, 64, 3) and f.shape == (5, 0)
