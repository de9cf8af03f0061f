"""The committed RECOMBINER file (encoded on one thread) decodes, on this machine's thread count, to
bit-identical weights and the same picture (payload format and sample regeneration frozen)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from skimage import data as skdata

from codec import api
from codec.io.image import read_image
from codec.metrics import psnr
from tests.image.make_golden import CROP, rebuilt_weights, weights_sha256

GOLDEN = Path(__file__).resolve().parent / "golden"


def test_golden_file_rebuilds_the_recorded_weights_and_image(tmp_path):
    want = json.loads((GOLDEN / "coffee_crop.json").read_text())
    threads = torch.get_num_threads()
    torch.set_num_threads(want["encoder_threads"] + 1)  # another count than the encoder's
    try:
        check_golden(want, tmp_path)
    finally:
        torch.set_num_threads(threads)


def check_golden(want: dict, tmp_path: Path) -> None:
    f = api.open(GOLDEN / "coffee_crop.rcb")
    assert f.container.model("prior").spec == want["prior"]
    assert weights_sha256(rebuilt_weights(GOLDEN / "coffee_crop.rcb")) == want["weights_sha256"]
    api.decode(f, tmp_path / "out.png")
    got, _ = read_image(tmp_path / "out.png")
    ref = np.load(GOLDEN / "coffee_crop.decoded.npy")
    assert got.shape == (64, 96, 3)
    assert np.abs(got.astype(int) - ref.astype(int)).max() <= 2  # float32 rendering on another CPU
    original = np.ascontiguousarray(skdata.coffee()[CROP])
    assert abs(psnr(got[None], original[None]).mean - want["psnr"]) < 0.05
