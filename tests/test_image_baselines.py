"""codec.baselines.image: JPEG / WebP / AVIF through Pillow on a real photo, rates from real files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, features
from skimage import data

from codec.baselines import (
    IMAGE_BASELINE_CODECS,
    ImageBaselineSearch,
    available_image_baselines,
    encode_image_baseline,
    image_baseline_at_bpp,
)
from codec.errors import Cancelled, InvalidInput
from codec.metrics import psnr
from codec.progress import CancelToken

SUFFIX = {"jpeg420": ".jpg", "jpeg444": ".jpg", "webp": ".webp", "avif": ".avif"}


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut()[70:150, 190:270])  # 80x80 of her face: AVIF is slow


def test_this_pillow_has_all_four():
    assert set(available_image_baselines()) == {"jpeg420", "jpeg444", "webp", "avif"}
    assert IMAGE_BASELINE_CODECS == ("jpeg420", "jpeg444", "webp", "avif")


@pytest.mark.parametrize("codec", IMAGE_BASELINE_CODECS)
def test_target_bpp_is_hit_and_scored_from_the_file(tmp_path, photo, codec):
    result = image_baseline_at_bpp(photo, codec, 1.0)
    assert result.bpp == pytest.approx(1.0, rel=0.08)
    assert result.bpp == result.bytes_on_disk * 8 / photo[:, :, 0].size == result.params["bpp"]
    assert result.decoded.shape == photo.shape and result.decoded.dtype == np.uint8
    assert psnr(result.decoded, photo).mean > 26
    assert len(result.params["search"]) <= 12  # bisection over ~100 qualities, not a sweep
    assert result.params["target_bpp"] == 1.0
    # the same settings through Pillow directly give a file of exactly that size, decoding to those pixels
    again = tmp_path / f"again{SUFFIX[codec]}"
    Image.fromarray(photo).save(again, quality=result.params["quality"], **result.params["options"])
    assert again.stat().st_size == result.bytes_on_disk
    with Image.open(again) as im:
        assert np.array_equal(np.asarray(im.convert("RGB")), result.decoded)


def test_encoder_settings_are_the_slow_efficient_ones(photo):
    params = {c: encode_image_baseline(photo, c, 50).params for c in ("jpeg420", "jpeg444", "webp")}
    assert params["jpeg420"]["options"] == {"subsampling": 2, "optimize": True}
    assert params["jpeg444"]["options"] == {"subsampling": 0, "optimize": True}
    assert params["webp"]["options"] == {"lossless": False, "method": 6}
    assert params["webp"]["library_version"] == features.version("webp")
    assert params["jpeg420"]["library_version"] == features.version("libjpeg_turbo")
    assert params["jpeg444"]["bpp"] > params["jpeg420"]["bpp"]  # full-resolution chroma costs bits


def test_quality_and_rate_rise_together_and_bisection_is_monotone(photo):
    with ImageBaselineSearch(photo, "jpeg420") as search:
        rates = [search.bpp(q) for q in (5, 25, 50, 75, 95)]
        assert rates == sorted(rates)
        qualities = [search.quality_for_bpp(t) for t in (0.5, 0.8, 1.2, 2.0, 3.0)]
        assert qualities == sorted(qualities) and len(set(qualities)) == 5
        tried = [search.bpp(q) for q in search.qualities]
        assert tried == sorted(tried)  # every size the search saw grows with quality
        scores = [psnr(search.result(q).decoded, photo).mean for q in qualities]
        assert scores == sorted(scores)


def test_the_closest_quality_wins(photo):
    with ImageBaselineSearch(photo, "webp") as search:
        target = 0.9
        q = search.quality_for_bpp(target)
        neighbours = [n for n in (q - 1, q + 1) if search.lo <= n <= search.hi]
        off = abs(np.log(search.bpp(q) / target))
        assert all(off <= abs(np.log(search.bpp(n) / target)) for n in neighbours)


def test_targets_out_of_reach_give_the_end_of_the_range(photo):
    assert image_baseline_at_bpp(photo, "jpeg420", 1e-3).params["quality"] == 1
    assert image_baseline_at_bpp(photo, "jpeg420", 100.0).params["quality"] == 100


def test_bad_arguments(photo):
    with pytest.raises(InvalidInput, match="unknown image baseline 'jpeg2000'; choose from jpeg420, jpeg444"):
        encode_image_baseline(photo, "jpeg2000", 50)
    with pytest.raises(InvalidInput, match=r"\[1, 100\]"):
        encode_image_baseline(photo, "jpeg420", 0)
    with pytest.raises(InvalidInput, match=r"\[0, 100\]"):
        encode_image_baseline(photo, "webp", 50.5)
    with pytest.raises(InvalidInput, match="uint8 RGB"):
        encode_image_baseline(photo[:, :, 0], "jpeg420", 50)
    with pytest.raises(InvalidInput, match="target bpp"):
        image_baseline_at_bpp(photo, "jpeg420", -1.0)


def test_unavailable_codec_is_refused_and_not_listed(monkeypatch, photo):
    real = features.check
    monkeypatch.setattr(features, "check", lambda name: name != "avif" and real(name))
    assert "avif" not in available_image_baselines()
    with pytest.raises(InvalidInput, match="unavailable.*available: jpeg420, jpeg444, webp"):
        encode_image_baseline(photo, "avif", 50)


def test_cancel_is_checked_before_each_encode(photo):
    token = CancelToken()
    with ImageBaselineSearch(photo, "jpeg420", cancel=token) as search:
        search.bpp(50)
        token.cancel()
        assert search.bpp(50) > 0  # cached: no encode, nothing to cancel
        with pytest.raises(Cancelled):
            search.bpp(60)
