"""Write the HNeRV golden files: `python -m tests.video.make_golden [--force]`.

`odd_37x29.hnerv` (container v1, written before the codec registry) and `odd_37x29_v2.hnerv`
(container v2) freeze HNeRV payload v1; `*.frames.npy` hold what each decodes to with one CPU
thread. A later change that cannot decode them to the same picture (within one code value: float
conv results may differ in the last bit across CPUs) fails CI. The v2 file is encoded with one
thread, the setting in which the encoder is reproducible on one machine.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from codec import api, container
from codec.io.video import read_frames, write_video
from codec.metrics import psnr
from codec.video.hnerv.decode import decode_frames

HERE = Path(__file__).resolve().parent / "golden"
SOURCE = Path(__file__).resolve().parents[1] / "data" / "odd_37x29.mp4"
OPTIONS = {"size": 0.005, "epochs": 30, "segment_frames": 2, "seed": 1, "device": "cpu"}
V1, V2 = HERE / "odd_37x29.hnerv", HERE / "odd_37x29_v2.hnerv"


def frames_file(bitstream: Path) -> Path:
    return bitstream.with_suffix(".frames.npy")


def main() -> None:
    torch.set_num_threads(1)
    if V2.exists() and "--force" not in sys.argv:
        sys.exit(f"{V2} exists; pass --force to replace the frozen file")
    source, info = read_frames(SOURCE, 0, 4)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src.mkv"
        write_video(src, source, info.fps)
        api.encode(src, V2, "hnerv", OPTIONS)
    expected = {"source": "tests/data/odd_37x29.mp4, frames 0..3", "encode_options": OPTIONS, "files": {}}
    for path in (V1, V2):
        decoded = np.stack(list(decode_frames(path, device="cpu")))
        np.save(frames_file(path), decoded)
        c = container.read_file(path)
        expected["files"][path.name] = {
            "format_version": c.format_version,
            "frames": len(decoded),
            "height": 29,
            "width": 37,
            "psnr": psnr(decoded, source).mean,
            "sections_sha256": {s.name: hashlib.sha256(s.data).hexdigest() for s in c.sections},
        }
    (HERE / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    print(json.dumps(expected, indent=2))


if __name__ == "__main__":
    main()
