"""The `codec` command line: real encode/decode/info on a real clip, and every bad input exits 2
with one line on stderr and no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codec.cli import main
from codec.io.image import write_image
from codec.io.video import read_frames, write_video

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_RAW = ROOT / "tests" / "container" / "golden" / "v2" / "minimal.ncdc"
ENC = ["--epochs", "3", "--size", "0.02", "--checkpoint-every", "1"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    frames, info = read_frames(ROOT / "assets" / "carphone.mp4", 0, 6)
    path = tmp_path_factory.mktemp("cli") / "six.mkv"
    write_video(path, frames, info.fps)
    return path


@pytest.fixture(scope="module")
def hnerv_file(clip, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "six.hnerv"
    data = tmp_path_factory.mktemp("data")
    assert main(["encode", str(clip), "-o", str(out), *ENC, "--data-dir", str(data)]) == 0
    return out


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def assert_clean_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    for n in needles:
        assert n.lower() in err.lower(), err


def test_encode_decode_info_round_trip(hnerv_file, clip, tmp_path, capsys):
    code, out, _ = run(["info", str(hnerv_file), "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["codec"] == "hnerv" and info["file_bytes"] == hnerv_file.stat().st_size
    assert info["rate"] == pytest.approx(hnerv_file.stat().st_size * 8 / (176 * 144 * 6))
    assert info["rate_unit"] == "bpp" and info["codec_info"]["segments"] == 1
    code, out, _ = run(["decode", str(hnerv_file), "-o", str(tmp_path / "d.mkv"), "--frames", "1:4"], capsys)
    assert code == 0 and "3 frames" in out
    frames, _ = read_frames(tmp_path / "d.mkv")
    assert frames.shape == (3, 144, 176, 3)
    code, out, _ = run(["info", str(hnerv_file)], capsys)
    assert code == 0 and "sections" in out


def test_missing_input(tmp_path, capsys):
    code, _, err = run(["encode", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "x.hnerv")], capsys)
    assert_clean_error(code, err, "nope.mp4")
    code, _, err = run(["decode", str(tmp_path / "nope.hnerv"), "-o", str(tmp_path / "x.mkv")], capsys)
    assert_clean_error(code, err, "nope.hnerv")


def test_not_a_video(tmp_path, capsys):
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is not a video\n" * 50)
    code, _, err = run(["encode", str(fake), "-o", str(tmp_path / "x.hnerv"), *ENC], capsys)
    assert_clean_error(code, err)


def test_zero_frames(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()  # a directory is read as PNG frames: none here
    code, _, err = run(["encode", str(empty), "-o", str(tmp_path / "x.hnerv"), *ENC], capsys)
    assert_clean_error(code, err)


@pytest.mark.parametrize("mangle", ["garbage", "truncate", "flip", "wrong-codec"])
def test_bad_bitstreams(mangle, hnerv_file, tmp_path, capsys):
    data = hnerv_file.read_bytes()
    bad = tmp_path / "bad.hnerv"
    if mangle == "garbage":
        bad.write_bytes(np.random.default_rng(0).bytes(5000))
    elif mangle == "truncate":
        bad.write_bytes(data[: len(data) - 100])
    elif mangle == "flip":
        b = bytearray(data)
        b[len(b) // 2] ^= 0x10
        bad.write_bytes(bytes(b))
    else:
        bad.write_bytes(GOLDEN_RAW.read_bytes())
    code, _, err = run(["decode", str(bad), "-o", str(tmp_path / "out.mkv")], capsys)
    assert_clean_error(code, err)
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.mkv").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--epochs", "0"],
        ["--size", "-1"],
        ["--size", "0.1", "--bpp", "0.1"],
        ["--device", "tpu"],
        ["--epochs", "many"],
        ["--loss", "l7"],
        ["--prune", "2"],
    ],
)
def test_bad_encode_options(args, clip, tmp_path, capsys):
    code, _, err = run(["encode", str(clip), "-o", str(tmp_path / "x.hnerv"), *args], capsys)
    assert_clean_error(code, err)
    assert not (tmp_path / "x.hnerv").exists()


@pytest.mark.parametrize("frames", ["5:2", "0:999", "a:b", "7"])
def test_bad_frame_range(frames, hnerv_file, tmp_path, capsys):
    code, _, err = run(["decode", str(hnerv_file), "-o", str(tmp_path / "o.mkv"), "--frames", frames], capsys)
    assert_clean_error(code, err, "frame")


def test_unknown_output_kind(hnerv_file, tmp_path, capsys):
    code, _, err = run(["decode", str(hnerv_file), "-o", str(tmp_path / "o.xyz")], capsys)
    assert_clean_error(code, err)


def test_process_exit_code_and_single_line(tmp_path):
    """The installed entry point as a user runs it: exit status 2 and one line, no traceback."""
    bad = tmp_path / "bad.hnerv"
    bad.write_bytes(b"NCDC" + bytes(40))
    proc = subprocess.run(
        [sys.executable, "-m", "codec.cli", "decode", str(bad), "-o", str(tmp_path / "o.mkv")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_ctrl_c_keeps_checkpoint_and_resume_finishes(clip, tmp_path):
    """SIGINT (Ctrl-C) mid-encode: exit 130 with a hint, checkpoint kept; --resume completes the file."""
    import signal
    import time

    data = tmp_path / "data"
    out = tmp_path / "c.hnerv"
    args = [
        sys.executable,
        "-m",
        "codec.cli",
        "encode",
        str(clip),
        "-o",
        str(out),
        "--epochs",
        "20",
        "--size",
        "0.02",
        "--checkpoint-every",
        "1",
        "--data-dir",
        str(data),
    ]
    # 2 threads on 2 busy cores is many times slower; every progress event as a plain line
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CODEC_PROGRESS_INTERVAL": "0"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and not list(data.glob("work/*/seg0.ckpt")):
        time.sleep(0.1)
    assert list(data.glob("work/*/seg0.ckpt")), "no checkpoint appeared"
    proc.send_signal(signal.SIGINT)
    stdout, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (stdout, err)
    assert "--resume" in err and "Traceback" not in err
    # no terminal: progress comes as plain lines (phase, counts, metrics, ETA), not a bar
    train = [line for line in err.splitlines() if line.startswith("[train]")]
    assert train[0].startswith("[train] 0/20")  # named as training starts
    assert any("loss" in line and "psnr" in line and "ETA" in line for line in train)
    assert not out.exists()
    done = subprocess.run([*args, "--resume", "--json"], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["file_bytes"] == out.stat().st_size


@pytest.mark.parametrize("args", [["--against", "x266"], ["--sizes", "0.1,abc"], ["--epochs", "0"]])
def test_eval_bad_arguments(args, clip, capsys):
    code, _, err = run(["eval", str(clip), *args], capsys)
    assert_clean_error(code, err)


def test_the_codec_is_picked_from_the_input(tmp_path, capsys):
    vectors = tmp_path / "emb.npy"
    np.save(vectors, np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32))
    code, out, err = run(["encode", str(vectors), "--bytes-per-vector", "4"], capsys)
    assert code == 0, err
    assert "emb.ncv" in out and (tmp_path / "emb.ncv").exists()  # the vectors codec, its suffix
    photo = tmp_path / "p.png"
    write_image(photo, np.zeros((32, 32, 3), np.uint8))
    code, _, err = run(["encode", str(photo), "--round-blocks", "0"], capsys)  # images pick RECOMBINER
    assert_clean_error(code, err, "--round-blocks")
    code, out, _ = run(["decode", "--help"], capsys)
    assert code == 0 and "Options of codec hnerv" in out and "--frames STR" in out
    code, out, _ = run(["encode", "--help"], capsys)
    assert code == 0 and "--size FLOAT" in out and "[M params; [0.001, 100]]" in out


def test_output_is_checked_before_any_work(clip, hnerv_file, tmp_path, capsys):
    taken, video = tmp_path / "taken.hnerv", tmp_path / "taken.mkv"
    for path in (taken, video):
        path.write_bytes(b"keep me")
    for args in (
        ["encode", str(clip), "-o", str(taken), *ENC],
        ["decode", str(hnerv_file), "-o", str(video)],
    ):
        code, _, err = run(args, capsys)
        assert_clean_error(code, err, "exists; pass --force")
        assert taken.read_bytes() == video.read_bytes() == b"keep me"
    code, _, err = run(["encode", str(clip), "-o", str(tmp_path / "no" / "such" / "x.hnerv"), *ENC], capsys)
    assert_clean_error(code, err, "does not exist")
    code, _, err = run(["encode", str(clip), "-o", str(tmp_path), *ENC], capsys)
    assert_clean_error(code, err, "is a directory")
    code, out, _ = run(["decode", str(hnerv_file), "-o", str(video), "--force"], capsys)
    assert code == 0 and read_frames(video)[0].shape == (6, 144, 176, 3)


@pytest.mark.parametrize("args", [["info"], ["encode", "x.mp4", "--epochs"], ["jobs", "nope"], ["bogus"]])
def test_usage_errors_are_one_line_with_a_hint(args, capsys):
    code, _, err = run(args, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--help" in err, err


def test_degenerate_inputs_are_coded_with_a_warning(tmp_path, capsys):
    frames, info = read_frames(ROOT / "assets" / "carphone.mp4", 0, 2)
    tiny = tmp_path / "tiny.mkv"
    write_video(tiny, frames[:1, 60:72, 80:92], info.fps)  # one 12x12 frame
    out = tmp_path / "tiny.hnerv"
    code, _, err = run(["encode", str(tiny), "-o", str(out), "--epochs", "1", "--size", "0.005"], capsys)
    assert code == 0, err
    assert "warning: 12x12 frames are tiny" in err and "warning: a single frame" in err
    assert read_frames(tiny)[0].shape == (1, 12, 12, 3) and out.stat().st_size > 0
