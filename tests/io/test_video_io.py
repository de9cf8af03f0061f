"""codec.io.video: probing, reading and writing real video, odd sizes, and every bad-input path."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from codec.errors import InvalidInput
from codec.io import PNG_DIR_FPS, iter_frames, output_kind, probe, read_frames, write_video

ROOT = Path(__file__).resolve().parents[2]
CARPHONE = ROOT / "assets" / "carphone.mp4"
ODD_CLIP = ROOT / "tests" / "data" / "odd_37x29.mp4"
NTSC = Fraction(30000, 1001)


@pytest.fixture(scope="module")
def carphone() -> np.ndarray:
    frames, _ = read_frames(CARPHONE, 0, 8)
    return frames


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _mux_ffv1(path: Path, frames: list[np.ndarray], pts: list[int], with_audio: bool = False) -> None:
    """An FFV1 .mkv with the given timestamps (1 ms ticks), optionally with a silent audio track."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("ffv1", rate=25)
        video.width, video.height, video.pix_fmt = frames[0].shape[1], frames[0].shape[0], "bgr0"
        video.time_base = video.codec_context.time_base = Fraction(1, 1000)  # keep the ms ticks as given
        audio = out.add_stream("pcm_s16le", rate=8000, layout="mono") if with_audio else None
        out.start_encoding()
        for rgb, t in zip(frames, pts, strict=True):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if audio is not None:
            samples = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
            samples.sample_rate, samples.pts = 8000, 0
            for packet in audio.encode(samples):
                out.mux(packet)
            for packet in audio.encode(None):
                out.mux(packet)


# --- reading real data ---------------------------------------------------------------------------------

def test_probe_carphone():
    info = probe(CARPHONE)
    assert (info.width, info.height, info.frames) == (176, 144, 120)
    assert info.fps == NTSC
    assert info.codec == "h264"
    assert not info.has_audio and not info.variable_frame_rate


def test_read_slice_matches_full_read_and_iter(carphone):
    part, info = read_frames(CARPHONE, 3, 6)
    assert part.shape == (3, 144, 176, 3) and part.dtype == np.uint8
    assert info.frames == 120  # info describes the file, not the slice
    np.testing.assert_array_equal(part, carphone[3:6])
    it = iter_frames(CARPHONE)
    for expected in carphone[:4]:
        np.testing.assert_array_equal(next(it), expected)
    assert carphone.std() > 20  # real picture content, not a blank decode


def test_read_stop_past_end_is_clamped():
    frames, info = read_frames(ODD_CLIP, 5, 1000)
    assert frames.shape == (3, 29, 37, 3) and info.frames == 8


def test_read_odd_clip():
    frames, info = read_frames(ODD_CLIP)
    assert frames.shape == (8, 29, 37, 3)
    assert (info.width, info.height, info.fps) == (37, 29, NTSC)


def test_variable_frame_rate_is_flagged_and_frames_kept_in_order(tmp_path):
    levels = [0, 40, 80, 120, 160, 200]
    frames = [np.full((16, 24, 3), v, np.uint8) for v in levels]
    path = tmp_path / "vfr.mkv"
    _mux_ffv1(path, frames, pts=[0, 40, 60, 140, 160, 300])
    info = probe(path)
    assert info.variable_frame_rate
    assert info.frames == 6
    assert info.fps == Fraction(5, 1) / Fraction(300, 1000)  # mean over the timestamps, not the header's 25
    out, _ = read_frames(path)
    assert [int(f.mean()) for f in out] == levels


def test_constant_rate_mkv_with_rounded_ticks_is_not_vfr(tmp_path):
    frames = [np.full((8, 8, 3), 10 * i, np.uint8) for i in range(10)]
    path = tmp_path / "ntsc.mkv"
    _mux_ffv1(path, frames, pts=[round(i * 1001 / 30) for i in range(10)])  # 33/34 ms alternating
    assert not probe(path).variable_frame_rate


def test_audio_is_reported_and_ignored(tmp_path, carphone):
    path = tmp_path / "with_audio.mkv"
    _mux_ffv1(path, list(carphone[:3]), pts=[0, 40, 80], with_audio=True)
    info = probe(path)
    assert info.has_audio
    frames, _ = read_frames(path)
    np.testing.assert_array_equal(frames, carphone[:3])


# --- writing ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "min_psnr", "expect_fps"),
    [("out.mp4", 35.0, NTSC), ("out.mkv", float("inf"), NTSC), ("out.y4m", 45.0, NTSC),
     ("frames/", float("inf"), PNG_DIR_FPS)],
)
def test_odd_size_round_trip_each_output_kind(tmp_path, carphone, name, min_psnr, expect_fps):
    odd = np.ascontiguousarray(carphone[:5, 11:40, 20:57])  # (5, 29, 37, 3)
    path = tmp_path / name
    write_video(path, odd, NTSC)
    back, info = read_frames(path)
    assert back.shape == odd.shape and back.dtype == np.uint8
    assert (info.width, info.height, info.frames, info.fps) == (37, 29, 5, expect_fps)
    assert _psnr(odd, back) >= min_psnr


def test_y4m_is_within_two_code_values(tmp_path, carphone):
    path = tmp_path / "v.y4m"
    write_video(path, carphone[:2], NTSC)
    back, _ = read_frames(path)
    assert np.abs(back.astype(int) - carphone[:2]).max() <= 2


def test_ffv1_mkv_is_bit_exact_on_noise(tmp_path):
    noise = np.random.default_rng(1).integers(0, 256, (4, 31, 45, 3), dtype=np.uint8)
    write_video(tmp_path / "n.mkv", noise, Fraction(24))
    back, info = read_frames(tmp_path / "n.mkv")
    np.testing.assert_array_equal(back, noise)
    assert info.codec == "ffv1" and info.fps == 24


def test_mp4_pixel_format_follows_parity(tmp_path, carphone):
    write_video(tmp_path / "even.mp4", carphone[:2], NTSC)
    write_video(tmp_path / "odd.mp4", carphone[:2, :29, :37], NTSC)
    with av.open(str(tmp_path / "even.mp4")) as even, av.open(str(tmp_path / "odd.mp4")) as odd:
        assert even.streams.video[0].codec_context.pix_fmt == "yuv420p"
        assert odd.streams.video[0].codec_context.pix_fmt == "yuv444p"


def test_png_dir_names_and_stale_frames_removed(tmp_path, carphone):
    out = tmp_path / "seq"  # no suffix -> directory
    write_video(out, carphone[:4], NTSC)
    assert sorted(p.name for p in out.iterdir()) == [f"frame_{i:05d}.png" for i in range(1, 5)]
    write_video(out, carphone[4:6], NTSC)
    assert sorted(p.name for p in out.iterdir()) == ["frame_00001.png", "frame_00002.png"]
    back, _ = read_frames(out)
    np.testing.assert_array_equal(back, carphone[4:6])


def test_write_accepts_a_generator(tmp_path, carphone):
    write_video(tmp_path / "g.mkv", (f for f in carphone[:3]), NTSC)
    np.testing.assert_array_equal(read_frames(tmp_path / "g.mkv")[0], carphone[:3])


def test_output_kind():
    assert output_kind("a.MP4") == "mp4"
    assert output_kind("dir/") == "png-dir"
    assert output_kind("plain") == "png-dir"
    with pytest.raises(InvalidInput, match="unknown output type"):
        output_kind("a.avi")


# --- bad inputs ---------------------------------------------------------------------------------------

def _one_line_error(call, *args, match: str) -> None:
    with pytest.raises(InvalidInput, match=match) as err:
        call(*args)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("call", [probe, read_frames, iter_frames])
def test_missing_file(tmp_path, call):
    _one_line_error(call, tmp_path / "nope.mp4", match="no such file")


def test_text_file_named_mp4(tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is not a video\n" * 10)
    for call in (probe, read_frames, iter_frames):
        _one_line_error(call, fake, match="fake.mp4: cannot read video")


@pytest.mark.parametrize("suffix", ["mkv", "mp4"])
def test_zero_frame_file(tmp_path, suffix):
    path = tmp_path / f"empty.{suffix}"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1" if suffix == "mkv" else "libx264", rate=25)
        stream.width, stream.height = 16, 16
        stream.pix_fmt = "bgr0" if suffix == "mkv" else "yuv420p"
        out.start_encoding()
    assert path.stat().st_size > 0
    _one_line_error(read_frames, path, match="no frames|no video stream|cannot read video")


def test_audio_only_file(tmp_path):
    path = tmp_path / "audio.wav"
    with av.open(str(path), "w") as out:
        audio = out.add_stream("pcm_s16le", rate=8000, layout="mono")
        samples = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        samples.sample_rate, samples.pts = 8000, 0
        for packet in audio.encode(samples):
            out.mux(packet)
    _one_line_error(probe, path, match="no video stream")


def test_empty_dir_and_bad_ranges(tmp_path):
    _one_line_error(read_frames, tmp_path, match="no .png frames")
    _one_line_error(read_frames, ODD_CLIP, 4, 4, match="empty")
    _one_line_error(read_frames, ODD_CLIP, 8, 10, match="empty")


def test_write_rejects_bad_frames_and_leaves_no_file(tmp_path, carphone):
    _one_line_error(write_video, tmp_path / "x.avi", carphone[:1], NTSC, match="unknown output type")
    _one_line_error(write_video, tmp_path / "f.mkv", carphone[:2].astype(np.float32), NTSC, match="uint8")
    _one_line_error(write_video, tmp_path / "g.mkv", [carphone[0], carphone[1, :20]], NTSC, match="differs")
    _one_line_error(write_video, tmp_path / "e.mp4", [], NTSC, match="no frames")
    _one_line_error(write_video, tmp_path / "e.mkv", [], NTSC, match="no frames")
    _one_line_error(write_video, tmp_path / "r.mkv", carphone[:1], Fraction(0), match="fps")
    assert list(tmp_path.iterdir()) == []  # nothing half-written, not even temporary files
