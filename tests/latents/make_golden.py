"""Write the qlae golden file: `python -m tests.latents.make_golden`.

Three procedural Shapes3D-like images (seed 2026) coded with the shipped shapes3d@v1 model, in a
named multi-image file; their codes and decoded images are kept beside it, so a later decoder that
reads the file differently fails tests/latents/test_golden.py. The fuzzer takes its qlae seeds
from this directory.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from codec import api
from codec.latents.data import SHAPES3D

HERE = Path(__file__).resolve().parent / "golden"

if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    tmp = HERE / "in"
    tmp.mkdir(exist_ok=True)
    images, factors = SHAPES3D.batch(np.random.default_rng(2026), 3)
    for i, a in enumerate(images):
        Image.fromarray(a).save(tmp / f"shape{i}.png")
    try:
        api.encode(tmp, HERE / "shapes3d_three.qla", "qlae", {"model": "shapes3d", "device": "cpu"})
        out = HERE / "out"
        api.decode(api.open(HERE / "shapes3d_three.qla"), out, {"device": "cpu"})
        decoded = np.stack([np.asarray(Image.open(out / f"shape{i}.png")) for i in range(3)])
        np.save(HERE / "shapes3d_three.decoded.npy", decoded)
        f = api.open(HERE / "shapes3d_three.qla")
        from codec.latents.decode import open_codes

        codes = open_codes(f.container, f.config).codes
        (HERE / "shapes3d_three.json").write_text(
            json.dumps(
                {"codes": codes.tolist(), "factors": factors.tolist(), "model": "shapes3d@v1"}, indent=1
            )
            + "\n"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(HERE / "out", ignore_errors=True)
