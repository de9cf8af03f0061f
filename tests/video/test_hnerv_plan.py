"""Time-bounded HNeRV encodes (issue #12): the plan printed before training, --time-limit fitting
the epochs (and the size) to the limit and staying within it, refusal when nothing fits, and
checkpoint/resume of a time-limited encode. Real carphone frames."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from codec.durations import parse_duration
from codec.errors import Cancelled, InvalidInput
from codec.progress import CancelToken, ProgressEvent
from codec.video.hnerv.decode import decode_frames
from codec.video.hnerv.encode import EncodeOptions, encode_video
from codec.video.hnerv.plan import Plan, long_plan_advice
from codec.video.hnerv.train import Deadline


def test_durations_parse_as_users_write_them():
    assert [parse_duration(s) for s in ("90s", "10m", "2h", "1h30m", "45", "1.5m")] == [
        90,
        600,
        7200,
        5400,
        45,
        90,
    ]
    for bad in ("", "10x", "m", "-5s", "0s", "40d"):
        with pytest.raises(InvalidInput, match="time-limit"):
            parse_duration(bad)
    with pytest.raises(InvalidInput, match="time-limit"):
        EncodeOptions(time_limit="soon").check()


def test_the_deadline_refits_early_then_only_shrinks_and_keeps_a_floor():
    d = Deadline(end_at=100.0)  # fit(done, planned, s/epoch, later epochs, cap, now)
    assert d.fit(10, 30, 2.0, 4, cap=300, now=20.0) == 46  # faster than planned, early: grows
    assert d.fit(10, 30, 2.0, 4, now=20.0) == 30  # ... never past the asked epochs
    assert d.fit(23, 30, 2.0, 4, cap=300, now=40.0) == 30  # past three quarters: never more
    assert d.fit(10, 100, 5.0, 4, now=50.0) == 16  # slower: shrinks to what fits
    assert d.fit(1, 300, 90.0, 30, now=90.0) == 4  # over already: the floor
    plan = Plan(0.3, 300_000, 64, (720, 1280), 300, 30, 30, 14.0, 1960.0, 5.0, 0.01, "cpu", 2)
    assert "--time-limit" in long_plan_advice(plan) and "--server" in long_plan_advice(plan)
    assert "days" in plan.message() or "h" in plan.message()


def test_every_encode_prints_its_plan_before_training(tiny_clip, tmp_path):
    events: list[ProgressEvent] = []
    r = encode_video(tiny_clip, tmp_path / "a.hnerv", EncodeOptions(size=0.02, epochs=2), events.append)
    phases = [e.phase for e in events]
    plan = next(e for e in events if e.phase == "plan" and e.message.startswith("plan:"))
    assert phases.index("plan") < phases.index("train")
    assert "epochs" in plan.message and "s/epoch measured on cpu" in plan.message and "bpp" in plan.message
    assert plan.metrics["seconds_per_epoch"] > 0 and r.plan["epochs"] == 2 and r.plan["step_s"] > 0


def test_time_limit_fits_the_encode_and_holds(tiny_clip, tmp_path):
    limit = 15.0
    events: list[ProgressEvent] = []
    t0 = time.monotonic()
    r = encode_video(
        tiny_clip, tmp_path / "t.hnerv", EncodeOptions(size=0.02, time_limit="15s"), events.append
    )
    took = time.monotonic() - t0
    assert took <= limit * 1.1, took
    assert took >= limit * 0.5, took  # it used the time, not a token few epochs
    assert 4 <= r.plan["epochs"] < 300 and any("epochs instead of 300" in w for w in r.warnings)
    assert len(list(decode_frames(tmp_path / "t.hnerv"))) == 8  # a valid file


def test_a_limit_too_short_for_anything_is_refused_before_training(tiny_clip, tmp_path):
    events: list[ProgressEvent] = []
    with pytest.raises(InvalidInput, match=r"too short .* needs about"):
        encode_video(
            tiny_clip, tmp_path / "x.hnerv", EncodeOptions(size=0.02, time_limit="1s"), events.append
        )
    assert not any(e.phase == "train" for e in events) and not (tmp_path / "x.hnerv").exists()


def test_a_limit_may_choose_a_smaller_size(tiny_clip, tmp_path, monkeypatch):
    """When even four epochs of the asked size do not fit, a smaller model is fitted and said so
    (step times made proportional to the model's size here, so the choice is deterministic)."""
    monkeypatch.setattr("codec.video.hnerv.plan.time_step", lambda cfg, *a: cfg.decoder_params() * 1e-6)
    events: list[ProgressEvent] = []
    r = encode_video(tiny_clip, tmp_path / "s.hnerv", EncodeOptions(size=0.3, time_limit="6s"), events.append)
    assert 0.05 < r.plan["size_m"] < 0.3 and r.plan["epochs"] >= 4
    assert any("size was lowered from 0.3M" in e.message for e in events if e.phase == "plan")


def test_time_limited_encode_resumes_with_its_plan(tiny_clip, tmp_path):
    opts = EncodeOptions(size=0.02, time_limit="10s", checkpoint_every=1)
    token = CancelToken()

    def stop_in_training(ev: ProgressEvent) -> None:
        if ev.phase == "train" and ev.step == 2:
            token.cancel()

    work = tmp_path / "work"
    with pytest.raises(Cancelled):
        encode_video(tiny_clip, tmp_path / "r.hnerv", opts, stop_in_training, token, work_dir=work)
    planned = Plan.from_dict(json.loads((work / "plan.json").read_text()))
    events: list[ProgressEvent] = []
    r = encode_video(tiny_clip, tmp_path / "r.hnerv", opts, events.append, work_dir=work, resume=True)
    assert any(e.message.startswith("resumed plan:") for e in events)
    assert r.plan["epochs"] == planned.epochs
    assert next(e.step for e in events if e.phase == "train" and "batches" not in e.extra) == 3
    assert len(list(decode_frames(Path(tmp_path / "r.hnerv")))) == 8


def test_the_cli_prints_the_plan_and_step_lines_without_a_terminal(tiny_clip, tmp_path, capsys, monkeypatch):
    from codec.cli import main

    monkeypatch.setattr("codec.video.hnerv.train.IN_EPOCH_EVERY_S", 0.0)
    monkeypatch.setenv("CODEC_PROGRESS_INTERVAL", "0")  # every event a line (a log prints every few s)
    code = main(
        ["encode", str(tiny_clip), "-o", str(tmp_path / "c.hnerv"), "--size", "0.02", "--epochs", "2"]
    )
    cap = capsys.readouterr()
    lines = (cap.out + cap.err).splitlines()
    assert code == 0, cap.err
    plan = next(i for i, line in enumerate(lines) if "plan: " in line and "s/epoch measured" in line)
    first_train = next(i for i, line in enumerate(lines) if line.startswith("[train]"))
    assert plan < first_train
    assert any(line.startswith("[train]") and "batch 2/4" in line and "loss" in line for line in lines), lines


def test_without_a_rate_option_the_size_is_chosen_for_about_a_tenth_of_a_bit_per_pixel(tmp_path):
    from codec.video.hnerv.encode import default_budget
    from codec.video.hnerv.options import DEFAULT_BPP, DEFAULT_SIZE_RANGE

    root = Path(__file__).resolve().parents[2]
    clip = root / "assets" / "carphone.mp4"
    events: list[ProgressEvent] = []
    opts = EncodeOptions(epochs=2, max_frames=40, seed=1, device="cpu")
    r = encode_video(clip, tmp_path / "d.hnerv", opts, events.append)
    pixels = 40 * 176 * 144
    assert r.plan["size_m"] == pytest.approx(DEFAULT_BPP * pixels / 6 / 1e6, rel=1e-6)
    assert any("chosen for about 0.1 bpp" in e.message for e in events)
    assert 0.05 < r.bpp < 0.2  # the file lands near the default rate, whatever the clip's length
    lo, hi = DEFAULT_SIZE_RANGE
    assert default_budget(10, 1) == lo * 1e6 and default_budget(10**12, 2) == 2 * hi * 1e6  # per segment
