"""codec.evaluate and `codec eval`: a real (tiny) RD sweep on carphone frames, scored from the files."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from codec.cli import main
from codec.errors import InvalidInput
from codec.evaluate import EvalReport, crf_grid, evaluate, parse_list, plot_rd, sweep_baseline
from codec.io.video import read_frames
from codec.metrics import ms_ssim, psnr
from codec.video.hnerv.decode import decode_frames

CARPHONE = Path(__file__).resolve().parents[1] / "assets" / "carphone.mp4"
TINY = {
    "rates": [0.003, 0.008],
    "options": {"epochs": 2, "device": "cpu"},
    "max_frames": 3,
    "baseline_points": 4,
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These tests check behaviour, not speed; on a busy 2-core box two OpenMP threads spin against the
    other processes and run these tiny trainings ~3x slower than one (measured)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    keep = tmp_path_factory.mktemp("eval")
    return evaluate(CARPHONE, baselines=["x264"], work_dir=keep, **TINY)


def test_hnerv_points_are_scored_from_the_files_on_disk(report):
    original, _ = read_frames(CARPHONE, 0, 3)
    assert (report.frames, report.height, report.width) == (3, 144, 176)
    assert [p.setting for p in report.points] == [{"size": 0.003}, {"size": 0.008}]
    for p in report.points:
        path = Path(p.path)
        assert p.file_bytes == path.stat().st_size > 0
        assert p.bpp == pytest.approx(p.file_bytes * 8 / (3 * 144 * 176))
        decoded = np.stack(list(decode_frames(path, device="cpu")))
        assert p.psnr == pytest.approx(psnr(decoded, original).mean)
        assert p.ms_ssim == pytest.approx(ms_ssim(decoded, original).value)
        assert p.psnr == pytest.approx(p.details["encoder_psnr"], abs=0.01)  # encoder predicts the decode
        assert set(p.details["stages"]) >= {"float", "quantized", "entropy_coded"}
        assert p.decode_fps > 0 and p.details["seconds_per_epoch"] > 0
    assert report.points[0].bpp < report.points[1].bpp  # a bigger budget makes a bigger file


def test_baseline_sweep_spans_hnervs_rates(report):
    pts = report.baselines["x264"]
    assert len(pts) >= 4 and len({p.setting["crf"] for p in pts}) == len(pts)
    assert [p.bpp for p in pts] == sorted(p.bpp for p in pts)
    assert pts[-1].psnr > pts[0].psnr + 5  # the sweep really moves along the curve
    lo, hi = min(p.bpp for p in report.points), max(p.bpp for p in report.points)
    assert pts[-1].bpp >= hi
    assert pts[0].bpp <= lo or pts[0].setting["crf"] == 51  # as low as x264 goes
    assert all(p.file_bytes > p.details["stream_bytes"] for p in pts)  # the whole .mp4 is counted


def test_small_frames_use_fewer_ms_ssim_scales_and_say_so(report):
    assert (report.ms_ssim_scales, report.ms_ssim_win) == (4, 11)
    assert any("4 scales" in n for n in report.notes)


def test_bd_is_a_number_or_explained(report):
    for name in report.baselines:
        for value in (report.bd_rate[name], report.bd_psnr[name]):
            assert value is None or np.isfinite(value)
        if report.bd_rate[name] is None:
            why = f"BD-rate of hnerv vs {name} not computed: hnerv's PSNR"
            assert any(n.startswith(why) for n in report.notes)
    # two epochs of training sit far below x264 at equal bpp: that is what BD-PSNR must say
    assert report.bd_psnr["x264"] < 0


def test_report_is_json_and_plots(report, tmp_path):
    doc = json.loads(report.to_json())
    assert doc["points"][0]["codec"] == "hnerv" and doc["baselines"]["x264"][0]["codec"] == "x264"
    assert doc["codec"] == "hnerv" and doc["options"] == {"epochs": 2, "device": "cpu"}
    assert doc["ms_ssim_scales"] == 4
    assert json.loads(EvalReport.from_dict(doc).to_json()) == doc  # a saved report can be re-plotted
    plot_rd(report, tmp_path / "rd.png")
    assert (tmp_path / "rd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_covers_a_psnr_range_beyond_the_bpp_range():
    frames, info = read_frames(CARPHONE, 0, 2)
    # a bpp range x264 covers with a handful of CRFs, and a PSNR range far below it
    pts = sweep_baseline("x264", frames, info.fps, (0.5, 0.6), (24.0, 26.0), points=4)
    assert min(p.psnr for p in pts) <= 24.0
    assert max(p.bpp for p in pts) >= 0.6 and min(p.bpp for p in pts) <= 0.5


def test_crf_grid():
    assert crf_grid(0, 51, 6, 0, 51)[0] == 0 and crf_grid(0, 51, 6, 0, 51)[-1] == 51
    assert len(crf_grid(0, 51, 6, 0, 51)) == 6
    narrow = crf_grid(30, 30, 4, 0, 51)  # one CRF asked for: widened around it
    assert len(narrow) == 4 and narrow[0] < 30 < narrow[-1] and narrow[-1] - narrow[0] <= 4
    assert crf_grid(51, 51, 4, 0, 51) == [48, 49, 50, 51]  # widened inward at the end of the range
    assert crf_grid(10, 20, 100, 0, 5) == [0, 1, 2, 3, 4, 5]  # never more CRFs than exist


def test_parse_list():
    assert parse_list("0.05, 0.1,0.3M", "sizes", suffix="M") == [0.05, 0.1, 0.3]
    assert parse_list(None, "sizes") is None
    for bad in ("a,b", "0.1,,0.2", "-1,2", "nan,1", "0"):
        with pytest.raises(InvalidInput):
            parse_list(bad, "sizes")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rates": [0.01, 0.02], "options": {"bpp": 0.1}},  # a rate option is what is swept
        {"rates": [0.01]},  # one point is no curve
        {"rates": [0.01, 0.01]},
        {"rates": [0.01, 0.02], "baselines": ["mpeg2"]},
        {"rates": [0.01, 0.02], "baselines": ["x264", "x264"]},
        {"rates": [0.01, 0.02], "baseline_points": 1},
        {"rates": [0.01, 0.02], "options": {"epochs": 0}},
        {"rates": [0.01, 500.0]},  # out of the codec's declared range: refused before training starts
        {"rates": [0.01, 0.02], "options": {"warp": 9}},
        {"rates": [0.01, 0.02], "rate_by": "lr"},  # not one of the codec's rate options
        {"rates": [0.01, 0.02], "codec": "nonesuch"},
    ],
)
def test_bad_arguments_are_invalid_input_before_any_work(kwargs):
    with pytest.raises(InvalidInput):
        evaluate(CARPHONE, **{"max_frames": 2, **kwargs})


def test_missing_and_non_video_inputs(tmp_path):
    with pytest.raises(InvalidInput, match="no such file"):
        evaluate(tmp_path / "nope.mp4", rates=[0.01, 0.02])
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(InvalidInput):
        evaluate(junk, rates=[0.01, 0.02], options={"epochs": 1})


def test_cli_eval_json_and_plot(tmp_path, capsys):
    plot = tmp_path / "rd.png"
    args = [
        "eval",
        str(CARPHONE),
        "--against",
        "x264",
        "--rates",
        "0.003,0.008",
        "--epochs",
        "1",
        "--max-frames",
        "2",
        "--baseline-points",
        "4",
        "--device",
        "cpu",
        "--json",
        "--plot",
        str(plot),
    ]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["points"]) == 2 and len(doc["baselines"]["x264"]) >= 4 and doc["frames"] == 2
    assert doc["options"] == {"epochs": 1, "device": "cpu"}
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "extra",
    [
        ["--against", "mpeg2"],
        ["--against", ","],
        ["--rates", "0.1,abc"],
        ["--rates", "0.1,0.2", "--rate-by", "lr"],
        ["--rates", "0.1,0.2", "--epochs", "many"],
        ["--rates", "0.1,0.2", "--warp", "9"],
        ["--plot", "rd.jpg"],
    ],
)
def test_cli_eval_bad_options_exit_2_with_one_line(extra, capsys):
    assert main(["eval", str(CARPHONE), "--max-frames", "2", *extra]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_fps_survives_into_the_report(report):
    assert Fraction(report.fps).limit_denominator(1001) == Fraction(30000, 1001)
