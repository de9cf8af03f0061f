"""codec.baselines: x264 / x265 / AV1 through PyAV on real carphone frames."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from codec.baselines import available_baselines, baseline_at_bpp, decode_speed, encode_baseline, encoder_for
from codec.errors import InvalidInput
from codec.io import read_frames
from codec.metrics import psnr

CARPHONE = Path(__file__).resolve().parents[1] / "assets" / "carphone.mp4"
FPS = Fraction(30000, 1001)


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return read_frames(CARPHONE, 0, 4)[0]  # (4, 144, 176, 3)


def test_the_installed_pyav_has_all_three():
    assert set(available_baselines()) == {"x264", "x265", "av1"}


@pytest.mark.parametrize("codec", ["x264", "x265", "av1"])
def test_higher_crf_gives_smaller_file_and_lower_quality(frames, codec):
    fine = encode_baseline(frames, FPS, codec, 20)
    coarse = encode_baseline(frames, FPS, codec, 45)
    assert coarse.bytes_on_disk < fine.bytes_on_disk
    assert fine.decoded.shape == frames.shape and fine.decoded.dtype == np.uint8
    assert psnr(frames, fine.decoded).mean > psnr(frames, coarse.decoded).mean > 20.0
    assert psnr(frames, fine.decoded).mean > 33.0
    assert fine.bytes_on_disk > fine.params["stream_bytes"] > 0  # the container is counted too
    assert fine.params["crf"] == 20 and fine.params["pix_fmt"] == "yuv420p"
    assert fine.params["bpp"] == pytest.approx(fine.bytes_on_disk * 8 / (4 * 144 * 176))


@pytest.mark.parametrize("codec", ["x264", "x265", "av1"])
def test_odd_and_tiny_sizes_are_padded_and_cropped(frames, codec):
    odd = np.ascontiguousarray(frames[:2, 40:69, 70:107])  # 37x29
    result = encode_baseline(odd, FPS, codec, 25)
    assert result.decoded.shape == odd.shape
    assert result.params["coded_size"][0] % 2 == 0 and result.params["coded_size"][1] % 2 == 0
    assert psnr(odd, result.decoded).mean > 30.0
    tiny = np.ascontiguousarray(frames[:2, :5, :3])
    assert encode_baseline(tiny, FPS, codec, 25).decoded.shape == tiny.shape


def test_baseline_at_bpp_finds_the_crf(frames):
    target = encode_baseline(frames, FPS, "x264", 30).params["bpp"]
    result = baseline_at_bpp(frames, FPS, "x264", target)
    assert abs(result.params["crf"] - 30) <= 1
    assert result.params["bpp"] == pytest.approx(target, rel=0.1)
    assert result.params["target_bpp"] == target
    crfs = [crf for crf, _ in result.params["search"]]
    assert len(crfs) <= 8  # bisection, not a sweep


def test_baseline_at_bpp_out_of_reach_returns_the_end_of_the_range(frames):
    result = baseline_at_bpp(frames[:2], FPS, "x264", 1e-6)
    assert result.params["crf"] == 51


def test_bad_arguments(frames):
    with pytest.raises(InvalidInput, match="unknown baseline"):
        encode_baseline(frames, FPS, "mpeg2", 20)
    with pytest.raises(InvalidInput, match=r"\[0, 51\]"):
        encode_baseline(frames, FPS, "x264", 52)
    with pytest.raises(InvalidInput, match="uint8"):
        encode_baseline(frames.astype(np.float32), FPS, "x264", 20)
    with pytest.raises(InvalidInput, match="target bpp"):
        baseline_at_bpp(frames, FPS, "x264", 0.0)


def test_av1_falls_back_then_reports_unavailable(monkeypatch):
    monkeypatch.setattr(av, "codecs_available", (av.codecs_available - {"libsvtav1"}) | {"libaom-av1"})
    assert encoder_for("av1").name == "libaom-av1"
    monkeypatch.setattr(av, "codecs_available", av.codecs_available - {"libsvtav1", "libaom-av1"})
    with pytest.raises(InvalidInput, match="unavailable"):
        encoder_for("av1")
    assert "av1" not in available_baselines()


def test_decode_speed(tmp_path):
    fps = decode_speed(CARPHONE)
    assert np.isfinite(fps) and fps > 10  # QCIF H.264 decodes at thousands of frames/s; 10 is a sanity floor
    assert decode_speed(CARPHONE, to_rgb=False, repeats=2) > 10
    with pytest.raises(InvalidInput, match="no such file"):
        decode_speed(tmp_path / "missing.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(InvalidInput, match="cannot decode video"):
        decode_speed(bad)
