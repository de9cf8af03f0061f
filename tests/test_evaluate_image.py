"""codec.evaluate_image: a real (small) RD sweep of JPEG / WebP / AVIF on a photo, scored from the files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from skimage import data

from codec.errors import Cancelled, InvalidInput
from codec.evaluate.image import ImageEvalReport, evaluate_image, format_table, plot_image_rd
from codec.io import read_image, write_image
from codec.metrics import psnr
from codec.progress import CancelToken

BPPS = (1.0, 2.0)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """MS-SSIM of an 80x80 image gains nothing from two OpenMP threads, and on a busy 2-core box they
    spin against the encoders and the other processes (as in tests/test_evaluate.py)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def photo_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("eval_image") / "chelsea_crop.png"
    write_image(path, np.ascontiguousarray(data.chelsea()[80:160, 180:260]))  # 80x80 of the cat: AVIF is slow
    return path


@pytest.fixture(scope="module")
def events():
    return []


@pytest.fixture(scope="module")
def report(photo_path, events):
    return evaluate_image(photo_path, bpps=BPPS, progress=events.append)


def test_every_baseline_has_finite_points_near_the_targets(report):
    assert (report.width, report.height, report.format) == (80, 80, "PNG")
    assert list(report.points) == ["jpeg420", "jpeg444", "webp", "avif"]
    for name, pts in report.points.items():
        assert [p.details["target_bpps"] for p in pts] == [[1.0], [2.0]], name
        assert [p.bpp for p in pts] == sorted(p.bpp for p in pts)
        for p, target in zip(pts, BPPS, strict=True):
            assert p.codec == name and p.bpp == pytest.approx(target, rel=0.1)
            assert p.bpp == p.file_bytes * 8 / (80 * 80)
            assert math.isfinite(p.psnr) and 20 < p.psnr < 60 and 0 < p.ms_ssim <= 1
            assert p.encode_seconds >= 0 and isinstance(p.setting["quality"], int)
        assert pts[1].psnr > pts[0].psnr
    assert set(report.seconds_by_codec) == set(report.points) and report.seconds > 0


def test_webp_and_avif_beat_jpeg(report):
    assert report.anchor == "jpeg420" and set(report.bd_rate) == {"jpeg444", "webp", "avif"}
    for name in ("webp", "avif"):
        assert math.isfinite(report.bd_rate[name]) and report.bd_rate[name] < 0
        assert report.bd_psnr[name] > 0
    assert report.bd_rate["avif"] < report.bd_rate["jpeg444"]


def test_small_images_say_ms_ssim_uses_fewer_scales(report):
    assert (report.ms_ssim_scales, report.ms_ssim_win) == (3, 11)
    assert any("MS-SSIM uses 3 scales" in n for n in report.notes)


def test_progress_is_reported_per_point(report, events):
    assert [e.phase for e in events] == ["baseline"] * 9
    assert [e.step for e in events] == list(range(9)) and {e.total for e in events} == {8}
    assert events[0].message == "jpeg420: quality for 1 bpp" and events[-1].message == "done"


def test_json_round_trip_table_and_plot(report, tmp_path):
    doc = json.loads(report.to_json())
    assert doc["points"]["avif"][0]["codec"] == "avif" and doc["bd_rate"]["webp"] == report.bd_rate["webp"]
    assert json.loads(ImageEvalReport.from_dict(doc).to_json()) == doc
    table = format_table(report)
    assert len([line for line in table.splitlines() if line.startswith(("jpeg", "webp", "avif"))]) == 8
    assert "BD vs jpeg420" in table and f"{report.bd_rate['avif']:+.1f}%" in table
    assert "note: " in format_table(report, with_notes=True)
    plot_image_rd(report, tmp_path / "rd.png")
    assert (tmp_path / "rd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_point_quality_matches_a_fresh_decode(report, photo_path):
    from codec.baselines import encode_image_baseline

    original, _ = read_image(photo_path)
    p = report.points["jpeg420"][0]
    again = encode_image_baseline(original, "jpeg420", p.setting["quality"])
    assert again.bytes_on_disk == p.file_bytes and psnr(again.decoded, original).mean == p.psnr


def test_unreachable_targets_are_kept_once_and_explained(tmp_path):
    tiny = tmp_path / "tiny.png"
    write_image(tiny, np.ascontiguousarray(data.coffee()[100:132, 200:232]))  # 32x32: headers dominate
    report = evaluate_image(tiny, baselines=("jpeg420", "webp"), bpps=(0.02, 0.05, 20.0))
    jpeg = report.points["jpeg420"]
    assert [p.setting["quality"] for p in jpeg] == [1, 100]
    assert jpeg[0].details["target_bpps"] == [0.02, 0.05]
    assert any(n.startswith("jpeg420 cannot reach 0.02 bpp: its lowest quality (1)") for n in report.notes)
    assert any("all land on quality 1; the point is kept once" in n for n in report.notes)
    assert report.bd_rate["webp"] is None or math.isfinite(report.bd_rate["webp"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"baselines": ("jpeg420", "mpeg2")},
        {"baselines": ("jpeg420", "jpeg420")},
        {"baselines": ()},
        {"baselines": ("webp", "avif")},  # the anchor jpeg420 is missing
        {"bpps": (0.5,)},
        {"bpps": (0.5, 0.5)},
        {"bpps": (0.5, -1.0)},
        {"bpps": (0.5, float("nan"))},
        {"bpps": ("a", "b")},
    ],
)
def test_bad_arguments_are_refused_before_any_encode(photo_path, kwargs):
    with pytest.raises(InvalidInput):
        evaluate_image(photo_path, **kwargs, cancel=_exploding_token())


def _exploding_token() -> CancelToken:
    """A token that fails the test if an encode is attempted (every encode checks it first)."""

    class Exploding(CancelToken):
        def check(self) -> None:
            raise AssertionError("an encode started")

    return Exploding()


def test_missing_and_non_image_inputs(tmp_path):
    with pytest.raises(InvalidInput, match="no such file"):
        evaluate_image(tmp_path / "nope.png")
    (tmp_path / "junk.png").write_bytes(b"junk" * 100)
    with pytest.raises(InvalidInput, match="junk.png"):
        evaluate_image(tmp_path / "junk.png")


def test_cancel_stops_between_encodes(photo_path):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        evaluate_image(photo_path, baselines=("jpeg420",), bpps=BPPS, anchor=None, cancel=token)


def test_cli_eval_on_a_photo_prints_rd_points_and_bd_rates(tmp_path, capsys):
    """`codec eval photo.png`: picked as an image by its content; RECOMBINER (the image codec, at two
    shipped rate points, a few fitting steps) and JPEG/WebP/AVIF at its rates, with BD-rates."""
    from skimage import data as skdata

    from codec.cli import main

    photo = tmp_path / "coffee.png"
    write_image(photo, skdata.coffee()[120:184, 200:264])
    plot = tmp_path / "rd.png"
    fast = ["--rates", "0.15,0.3", "--steps", "5", "--samples", "1", "--finetune-steps", "0"]
    args = ["eval", str(photo), "--against", "jpeg420,webp,avif", *fast, "--plot", str(plot)]
    assert main(args) == 0
    out = capsys.readouterr().out
    for name, least in (("recombiner", 2), ("jpeg420", 2), ("webp", 2), ("avif", 1)):  # AVIF: q0 is its floor
        assert sum(line.startswith(name) for line in out.splitlines()) >= least, out
    assert "BD vs jpeg420" in out and "webp" in out.split("BD vs jpeg420")[1]
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert main(["eval", str(photo), "--against", "jpeg420,webp", *fast, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["points"]) == {"recombiner", "jpeg420", "webp"} and "webp" in doc["bd_rate"]
