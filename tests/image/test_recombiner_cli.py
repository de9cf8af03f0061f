"""`codec encode photo.png` / `codec decode` with the shipped prior, offline on the CPU, and every bad
input (not an image, huge dimensions, a corrupt or truncated file, a missing or mismatched prior)
exits 2 with one line."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from skimage import data as skdata

from codec import container
from codec.cli import main
from codec.container import ModelRef
from codec.io.image import read_image, write_image
from codec.metrics import psnr

FAST = ["--steps", "10", "--samples", "1", "--finetune-steps", "2"]


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def clean_error(code: int, err: str, *needles: str) -> None:
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for n in needles:
        assert n.lower() in err.lower(), err


@pytest.fixture(scope="module")
def coded(tmp_path_factory) -> tuple[Path, Path]:
    """A 64x64 crop of chelsea (never seen in prior training), coded with the default prior."""
    home = tmp_path_factory.mktemp("rcb")
    src = home / "cat.png"
    write_image(src, np.ascontiguousarray(skdata.chelsea()[100:164, 150:214]))
    out = home / "cat.rcb"
    assert main(["encode", str(src), "-o", str(out), *FAST, "--data-dir", str(home / "data")]) == 0
    return src, out


def test_photo_round_trips_with_the_shipped_prior(coded, tmp_path, capsys) -> None:
    src, rcb = coded
    code, out, err = run(["info", str(rcb), "--json"], capsys)
    assert code == 0, err
    info = json.loads(out)
    assert info["codec"] == "recombiner" and info["codec_info"]["prior"].startswith("recombiner-")
    code, _, err = run(["decode", str(rcb), "-o", str(tmp_path / "out.png")], capsys)
    assert code == 0, err
    got, _ = read_image(tmp_path / "out.png")
    original, _ = read_image(src)
    assert got.shape == original.shape == (64, 64, 3)
    assert psnr(got[None], original[None]).mean > 12  # 10 fitting steps: far from converged, not noise


def test_bad_inputs_exit_2_with_one_line(coded, tmp_path, capsys) -> None:
    src, rcb = coded
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    clean_error(*run(["encode", str(text), "-o", str(tmp_path / "a.rcb"), *FAST], capsys)[::2])
    huge = tmp_path / "huge.png"  # a header claiming 60000x60000, no pixel data
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk
                     + struct.pack(">I", zlib.crc32(chunk)) + b"\0\0\0\0IEND\xaeB`\x82")  # fmt: skip
    clean_error(*run(["encode", str(huge), "-o", str(tmp_path / "b.rcb"), *FAST], capsys)[::2], "pixels")
    clean_error(
        *run(["encode", str(src), "-o", str(tmp_path / "c.rcb"), "--prior", "no-such"], capsys)[::2],
        "no-such",
    )
    data = rcb.read_bytes()
    (tmp_path / "cut.rcb").write_bytes(data[: len(data) // 2])
    clean_error(*run(["decode", str(tmp_path / "cut.rcb"), "-o", str(tmp_path / "d.png")], capsys)[::2])
    c = container.read_file(rcb)
    i = max(range(len(c.sections)), key=lambda k: len(c.sections[k].data))  # the patches' indices
    c.sections[i] = type(c.sections[i])(c.sections[i].name, c.sections[i].data[:-1])
    container.write_file(tmp_path / "short.rcb", c)  # CRCs recomputed: the codec's own check
    clean_error(*run(["decode", str(tmp_path / "short.rcb"), "-o", str(tmp_path / "e.png")], capsys)[::2])
    ref = c.models[0]
    c = container.read_file(rcb)
    c.models[0] = ModelRef(ref.name, ref.version, bytes(32), ref.role)  # same name, other weights
    container.write_file(tmp_path / "other.rcb", c)
    code, _, err = run(["decode", str(tmp_path / "other.rcb"), "-o", str(tmp_path / "f.png")], capsys)
    clean_error(code, err, "needs model", ref.name)
    assert not (tmp_path / "d.png").exists() and not (tmp_path / "f.png").exists()
