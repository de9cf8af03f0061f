"""Write the HNeRV golden file: `python -m tests.video.make_golden [--force]`.

The file freezes HNeRV payload v1: a later change that cannot decode it to the same picture fails
CI. Decoded pixels are compared by PSNR against the source, not bit for bit, because float conv
results may differ in the last bit across CPUs.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from codec.io.video import read_frames, write_video
from codec.metrics import psnr
from codec.video.hnerv.decode import decode_frames
from codec.video.hnerv.encode import EncodeOptions, encode_video

HERE = Path(__file__).resolve().parent / "golden"
SOURCE = Path(__file__).resolve().parents[1] / "data" / "odd_37x29.mp4"


def main() -> None:
    out = HERE / "odd_37x29.hnerv"
    if out.exists() and "--force" not in sys.argv:
        sys.exit(f"{out} exists; pass --force to replace the frozen file")
    frames, info = read_frames(SOURCE, 0, 4)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src.mkv"
        write_video(src, frames, info.fps)
        encode_video(src, out, EncodeOptions(size=0.005, epochs=30, segment_frames=2, seed=1))
    decoded = list(decode_frames(out))
    expected = {
        "frames": len(decoded),
        "height": 29,
        "width": 37,
        "psnr": psnr(np.stack(decoded), frames).mean,
        "source": "tests/data/odd_37x29.mp4, frames 0..3",
    }
    (HERE / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    print(expected)


if __name__ == "__main__":
    main()
