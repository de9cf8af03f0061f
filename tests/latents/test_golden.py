"""The committed qlae file keeps decoding to the same codes and images (payload format frozen)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from codec import api
from codec.latents.decode import open_codes

GOLDEN = Path(__file__).resolve().parent / "golden"


def test_golden_file_decodes_to_the_committed_codes_and_images(tmp_path):
    f = api.open(GOLDEN / "shapes3d_three.qla")
    want = json.loads((GOLDEN / "shapes3d_three.json").read_text())
    d = open_codes(f.container, f.config)
    assert d.codes.tolist() == want["codes"]
    assert d.names == ["shape0.png", "shape1.png", "shape2.png"]
    api.decode(f, tmp_path / "out", {"device": "cpu"})
    ref = np.load(GOLDEN / "shapes3d_three.decoded.npy").astype(int)
    got = np.stack([np.asarray(Image.open(tmp_path / "out" / f"shape{i}.png")) for i in range(3)]).astype(int)
    assert np.abs(got - ref).max() <= 2  # float32 convolutions may round differently on another CPU
