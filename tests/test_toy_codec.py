"""A codec defined only in a test goes through `codec encode/decode/info/--help` with no change to
the CLI: the platform derives everything from the codec's declarations (see tests/toy_codec.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from skimage import data as skdata

from codec.cli import main
from codec.io.image import read_image, write_image
from codec.metrics import psnr
from tests.toy_codec import _dequantize, _quantize, register_toy, unregister_toy


@pytest.fixture(scope="module", autouse=True)
def toy():
    codec = register_toy()
    yield codec
    unregister_toy()


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("toy") / "astronaut.png"
    write_image(path, skdata.astronaut()[100:196, 150:278])  # a real photo, 128x96
    return path


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_help_lists_the_codecs_own_options(capsys):
    code, out, _ = run(["encode", "--codec", "toy", "--help"], capsys)
    assert code == 0
    assert "Options of codec toy (image)" in out and "--bits INT" in out and "bits kept per channel" in out
    assert "1..8; default 4" in out and "--dither/--no-dither" in out
    assert "--epochs" not in out  # another codec's flags are not shown
    code, out, _ = run(["encode", "--help"], capsys)
    assert code == 0 and "Options of codec toy" in out and "Options of codec hnerv" in out


def test_encode_info_decode_round_trip(photo, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CODEC_PROGRESS_INTERVAL", "0")  # every event becomes a plain line
    out = tmp_path / "photo.toy"
    # No --codec: an image input picks the registered image codec.
    code, stdout, err = run(
        ["encode", str(photo), "-o", str(out), "--bits", "3", "--step-delay", "0.01"], capsys
    )
    assert code == 0, err
    assert stdout.startswith(f"wrote {out}") and "psnr" in stdout
    lines = err.strip().splitlines()
    assert any(line.startswith("[quantize] 6/6") and "rows 96" in line for line in lines)
    assert any(line.startswith("[quantize]") and "ETA" in line for line in lines)  # from the measured steps
    assert [line.split("]")[0] for line in lines][0] == "[read"

    code, stdout, _ = run(["info", str(out), "--json"], capsys)
    info = json.loads(stdout)
    size = out.stat().st_size
    assert (info["codec"], info["codec_id"], info["media_kind"]) == ("toy", 250, "image")
    assert info["media"] == {"width": 128, "height": 96, "channels": 3}
    assert info["rate"] == pytest.approx(size * 8 / (128 * 96)) and info["rate_unit"] == "bpp"
    assert info["params"] == {"bits": 3, "dither": False} and info["codec_info"] == {"levels_per_channel": 8}

    code, stdout, _ = run(["decode", str(out), "-o", str(tmp_path / "back.png")], capsys)
    assert code == 0 and stdout.strip() == f"wrote 1 images to {tmp_path / 'back.png'}"
    original, _ = read_image(photo)
    back, _ = read_image(tmp_path / "back.png")
    np.testing.assert_array_equal(back, _dequantize(_quantize(original, 3, False), 3))
    assert psnr(back, original).mean > 25  # 3 bits per channel of a real photo


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--bits", "9"], "--bits must be in 1..8"),
        (["--bits", "two"], "--bits must be an integer"),
        (["--epochs", "3"], "--epochs is not an option of codec toy"),
        (["--codec", "nonesuch"], "unknown codec 'nonesuch'"),
        (["--codec", "hnerv"], "codec hnerv encodes video input"),
        (["--nope", "1"], "no such option: --nope"),
    ],
)
def test_bad_options_exit_2_with_one_line(args, needle, photo, tmp_path, capsys):
    code, _, err = run(["encode", str(photo), "-o", str(tmp_path / "x.toy"), *args], capsys)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x.toy").exists()


def test_a_file_of_a_codec_this_build_lacks_is_a_clear_error(photo, tmp_path, capsys):
    out = tmp_path / "p.toy"
    assert run(["encode", str(photo), "-o", str(out)], capsys)[0] == 0
    unregister_toy()
    try:
        code, _, err = run(["decode", str(out), "-o", str(tmp_path / "b.png")], capsys)
        assert code == 2 and "codec id 250" in err and len(err.strip().splitlines()) == 1
        code, _, err = run(["info", str(out)], capsys)
        assert code == 2 and "codec id 250" in err
    finally:
        register_toy()


def test_eval_puts_the_registered_image_codec_beside_the_baselines(photo, capsys):
    code, out, err = run(
        ["eval", str(photo), "--codec", "toy", "--rates", "2,3,4,5", "--against", "jpeg420,webp", "--json"],
        capsys,
    )
    assert code == 0, err
    doc = json.loads(out)
    toy = doc["points"]["toy"]
    assert [p["setting"]["bits"] for p in sorted(toy, key=lambda p: p["setting"]["bits"])] == [2, 3, 4, 5]
    assert all(p["bpp"] == pytest.approx(p["file_bytes"] * 8 / (128 * 96)) for p in toy)
    # the baselines are run at the rates the toy reached: matched rates
    assert doc["target_bpps"] == sorted({round(p["bpp"], 4) for p in toy})
    assert "toy" in doc["bd_rate"] and "webp" in doc["bd_rate"]
