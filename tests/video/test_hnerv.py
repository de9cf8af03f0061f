"""HNeRV end to end on real frames: file on disk, predicted vs decoded quality, random access,
segments, resume, rate control, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codec import container
from codec.errors import Cancelled, CorruptData, InvalidInput
from codec.io.video import read_frames
from codec.metrics import psnr
from codec.progress import CancelToken, ProgressEvent
from codec.video.hnerv.decode import decode_frames, decode_to_file
from codec.video.hnerv.encode import EncodeOptions, encode_video
from codec.video.hnerv.header import parse_header

FAST = dict(epochs=4, batch_size=2, checkpoint_every=1)


@pytest.fixture(scope="module")
def encoded(tiny_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("enc") / "clip.hnerv"
    events: list[ProgressEvent] = []
    result = encode_video(tiny_clip, out, EncodeOptions(size=0.02, **FAST), events.append)
    assert {e.phase for e in events} >= {"read", "train", "quant", "entropy", "done"}
    return out, result


def test_round_trip_rate_is_the_file(encoded, tiny_clip):
    out, result = encoded
    original, _ = read_frames(tiny_clip)
    assert result.file_bytes == out.stat().st_size
    assert result.bpp == pytest.approx(out.stat().st_size * 8 / original[..., 0].size)
    c = container.read_file(out)
    assert (c.media.width, c.media.height, c.media.frames) == (176, 144, 8)
    decoded = np.stack(list(decode_frames(out.read_bytes())))
    assert decoded.shape == original.shape and decoded.dtype == np.uint8
    # The quality the encoder predicts is exactly what the decoder produces (Cool-Chic's sanity check).
    assert psnr(decoded, original).mean == pytest.approx(result.psnr, abs=1e-9)
    assert result.psnr > 10  # 16 training steps on a 0.02M budget: far from good, but a picture
    assert set(result.stages) >= {"float", "quantized", "entropy_coded"}


def test_decode_is_deterministic(encoded):
    out, _ = encoded
    a = np.stack(list(decode_frames(out)))
    b = np.stack(list(decode_frames(out)))
    assert np.array_equal(a, b)


def test_random_access_matches_full_decode(encoded):
    out, _ = encoded
    full = np.stack(list(decode_frames(out)))
    part = np.stack(list(decode_frames(out, "3:6")))
    assert np.array_equal(part, full[3:6])
    with pytest.raises(InvalidInput):
        list(decode_frames(out, "6:3"))
    with pytest.raises(InvalidInput):
        list(decode_frames(out, "0:99"))


def test_decode_to_each_output_kind(encoded, tmp_path):
    out, _ = encoded
    full = np.stack(list(decode_frames(out)))
    n = decode_to_file(out, tmp_path / "x.mkv")
    assert n == 8
    back, info = read_frames(tmp_path / "x.mkv")
    assert np.array_equal(back, full)  # FFV1 is lossless
    assert decode_to_file(out, tmp_path / "frames", "0:2") == 2
    assert len(list((tmp_path / "frames").glob("*.png"))) == 2
    assert decode_to_file(out, tmp_path / "x.mp4") == 8
    assert decode_to_file(out, tmp_path / "x.y4m") == 8


def test_odd_size_pads_and_crops(odd_clip, tmp_path):
    out = tmp_path / "odd.hnerv"
    result = encode_video(odd_clip, out, EncodeOptions(size=0.01, **FAST))
    c = container.read_file(out)
    assert (c.media.width, c.media.height) == (37, 29)
    # padded up to the stride product, and no further: the pad costs compute, so it is minimal
    prod = parse_header(c).cfg.stride_product
    assert (c.media.width + c.media.pad_w) % prod == 0 and (c.media.height + c.media.pad_h) % prod == 0
    assert 0 <= c.media.pad_w < prod and 0 <= c.media.pad_h < prod and c.media.pad_w + c.media.pad_h > 0
    frames = np.stack(list(decode_frames(out)))
    assert frames.shape == (6, 29, 37, 3)
    assert result.bpp == pytest.approx(out.stat().st_size * 8 / (6 * 29 * 37))


def test_segments_decode_independently(tiny_clip, tmp_path):
    out = tmp_path / "seg.hnerv"
    encode_video(tiny_clip, out, EncodeOptions(size=0.02, segment_frames=3, **FAST))
    c = container.read_file(out)
    assert c.params["segments"] == [3, 3, 2]
    assert [s.name for s in c.sections] == ["w0", "e0", "w1", "e1", "w2", "e2"]
    full = np.stack(list(decode_frames(out)))
    assert np.array_equal(np.stack(list(decode_frames(out, "2:5"))), full[2:5])


def test_cancel_then_resume_gives_the_same_file(encoded, tiny_clip, tmp_path):
    opts = dict(size=0.02, **FAST)  # the options of the `encoded` fixture: its file is the reference
    ref, _ = encoded

    token = CancelToken()
    seen = []

    def stop_after_two(ev: ProgressEvent) -> None:
        seen.append(ev)
        if ev.phase == "train" and ev.step == 2:
            token.cancel()

    work = tmp_path / "work"
    out = tmp_path / "resumed.hnerv"
    with pytest.raises(Cancelled):
        encode_video(tiny_clip, out, EncodeOptions(**opts), stop_after_two, token, work_dir=work)
    assert not out.exists() and (work / "seg0.ckpt").exists()
    resumed_events: list[ProgressEvent] = []
    encode_video(tiny_clip, out, EncodeOptions(**opts), resumed_events.append, work_dir=work, resume=True)
    first_train = [e.step for e in resumed_events if e.phase == "train" and "batches" not in e.extra]
    assert first_train[0] == 3  # continued, not restarted
    assert out.read_bytes() == ref.read_bytes()  # bit-identical to an uninterrupted encode


def test_bpp_target_is_met_within_ten_percent(tiny_clip, tmp_path):
    out = tmp_path / "bpp.hnerv"
    result = encode_video(tiny_clip, out, EncodeOptions(bpp=0.6, **FAST))
    assert result.bpp == pytest.approx(0.6, rel=0.10)


@pytest.mark.parametrize(
    "bad",
    [
        dict(size=0.02, bpp=0.1),
        dict(size=-1),
        dict(epochs=0),
        dict(bpp=1e9),
        dict(loss="l3"),
        dict(prune=1.5),
        dict(device="tpu"),
    ],
)
def test_bad_options_are_invalid_input(bad, tiny_clip, tmp_path):
    with pytest.raises(InvalidInput):
        encode_video(tiny_clip, tmp_path / "x.hnerv", EncodeOptions(**{**FAST, **bad}))


def test_budget_too_small_is_a_clear_error(tiny_clip, tmp_path):
    with pytest.raises(InvalidInput, match="too small"):
        encode_video(tiny_clip, tmp_path / "x.hnerv", EncodeOptions(size=0.001, **FAST))


def test_corrupt_payload_is_data_loss(encoded):
    out, _ = encoded
    c = container.read_file(out)
    c.params["fc_dim"] = 10**6  # absurd architecture: refused before building anything
    with pytest.raises(CorruptData):
        list(decode_frames(container.write(c)))
    c = container.read_file(out)
    w0 = c.sections[0]
    c.sections[0] = container.Section(w0.name, w0.data[: len(w0.data) // 2])
    with pytest.raises(CorruptData):
        list(decode_frames(container.write(c)))


def test_progress_moves_inside_an_epoch(tiny_clip, tmp_path, monkeypatch):
    """The phase is named when training starts, and long epochs report their batches (at most every
    IN_EPOCH_EVERY_S; 0 here), with the loss so far and an ETA."""
    monkeypatch.setattr("codec.video.hnerv.train.IN_EPOCH_EVERY_S", 0.0)
    events: list[ProgressEvent] = []
    opts = EncodeOptions(size=0.02, **{**FAST, "epochs": 1})
    encode_video(tiny_clip, tmp_path / "p.hnerv", opts, events.append)
    train = [e for e in events if e.phase == "train"]
    assert train[0].step == 0 and train[0].extra["batch"] == 0  # before the first step
    inside = [e for e in train if e.extra.get("batch")]
    assert [e.extra["batch"] for e in inside] == list(range(1, 4))  # 8 frames, batch 2: batches 1..3 of 4
    assert all(e.extra["batches"] == 4 and "loss" in e.metrics and e.eta_s is not None for e in inside)
    assert train[-1].step == 1 and "batches" not in train[-1].extra  # the epoch's end
