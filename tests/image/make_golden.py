"""Write the RECOMBINER golden file: `python -m tests.image.make_golden`.

A 64x96 crop of scikit-image's coffee coded with the default shipped prior, by an encoder on one
torch thread (the tests decode on the default count), with the SHA-256 of the weights the decoder
rebuilds and the decoded image beside it: a later decoder that regenerates other samples, or reads
the file differently, fails tests/image/test_recombiner_golden.py. The fuzzer takes its recombiner
seeds from this directory.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from skimage import data as skdata

from codec import api
from codec.io.image import read_image, write_image

HERE = Path(__file__).resolve().parent / "golden"
CROP = (slice(40, 104), slice(200, 296))  # 64 high, 96 wide: two patches, the second padded
OPTIONS = {"steps": 60, "samples": 1, "seed": 7}


def rebuilt_weights(path: Path) -> list[np.ndarray]:
    """The weights the decoder rebuilds from the file's indices (per level, float32)."""
    from codec.image.recombiner.bitstream import read_indices
    from codec.image.recombiner.coding import decode_weights
    from codec.image.recombiner.patches import Layout
    from codec.image.recombiner.zoo import load_prior_ref
    from codec.models import default_store

    f = api.open(path)
    ref = f.container.model("prior")
    _, model = load_prior_ref(ref.name, ref.version, ref.sha256, default_store())
    h, w = f.config.coded_hw
    indices = read_indices(f.container, f.config, [len(b) for b in model.blocks])
    return decode_weights(model, Layout(h, w, f.config.transposed), indices)


def weights_sha256(weights: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for w in weights:
        h.update(np.ascontiguousarray(w, "<f4").tobytes())
    return h.hexdigest()


if __name__ == "__main__":
    torch.set_num_threads(1)
    HERE.mkdir(exist_ok=True)
    src = HERE / "coffee_crop.png"
    write_image(src, np.ascontiguousarray(skdata.coffee()[CROP]))
    r = api.encode(src, HERE / "coffee_crop.rcb", "recombiner", OPTIONS)
    api.decode(api.open(HERE / "coffee_crop.rcb"), HERE / "out.png")
    decoded, _ = read_image(HERE / "out.png")
    np.save(HERE / "coffee_crop.decoded.npy", decoded)
    (HERE / "out.png").unlink()
    src.unlink()
    want = {"prior": r.details["prior"], "options": OPTIONS, "encoder_threads": 1, "psnr": r.metrics["psnr"],
            "weights_sha256": weights_sha256(rebuilt_weights(HERE / "coffee_crop.rcb"))}  # fmt: skip
    (HERE / "coffee_crop.json").write_text(json.dumps(want, indent=1) + "\n")
