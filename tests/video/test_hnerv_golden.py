"""The committed HNeRV file must keep decoding to the same picture (freezes payload v1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from codec import container
from codec.io.video import read_frames
from codec.metrics import psnr
from codec.video.hnerv.decode import decode_frames

GOLDEN = Path(__file__).resolve().parent / "golden"
SOURCE = Path(__file__).resolve().parents[1] / "data" / "odd_37x29.mp4"


def test_golden_file_decodes_to_the_frozen_picture():
    expected = json.loads((GOLDEN / "expected.json").read_text())
    c = container.read_file(GOLDEN / "odd_37x29.hnerv")
    assert c.params["payload"] == 1 and c.params["segments"] == [2, 2]
    decoded = np.stack(list(decode_frames(GOLDEN / "odd_37x29.hnerv", device="cpu")))
    assert decoded.shape == (expected["frames"], expected["height"], expected["width"], 3)
    source, _ = read_frames(SOURCE, 0, expected["frames"])
    assert psnr(decoded, source).mean == pytest.approx(expected["psnr"], abs=0.05)
