"""codec.metrics on real frames: PSNR with known answers, MS-SSIM at every size, bpp, Bjontegaard deltas."""

from pathlib import Path

import numpy as np
import pytest
import pytorch_msssim
import torch

from codec.errors import InvalidInput
from codec.io import read_frames
from codec.metrics import PSNR_CAP_DB, bd_psnr, bd_rate, bpp, ms_ssim, ms_ssim_plan, psnr, to_uint8

CARPHONE = Path(__file__).resolve().parents[1] / "assets" / "carphone.mp4"


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return read_frames(CARPHONE, 0, 4)[0]  # (4, 144, 176, 3)


def _noisy(frames: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, frames.shape)
    return np.clip(np.rint(frames + noise), 0, 255).astype(np.uint8)


# --- PSNR ---------------------------------------------------------------------------------------------

def test_identical_frames_are_capped(frames):
    result = psnr(frames, frames)
    assert result.mean == result.aggregate == PSNR_CAP_DB
    assert np.all(result.per_frame == PSNR_CAP_DB)


def test_known_error_gives_known_psnr(frames):
    base = np.clip(frames, 10, 245)  # room for +-4 without clipping
    sign = np.random.default_rng(0).choice([-4, 4], size=base.shape)
    result = psnr(base, (base + sign).astype(np.uint8))  # every pixel off by 4: MSE = 16 exactly
    expected = 10 * np.log10(255**2 / 16)
    assert result.aggregate == pytest.approx(expected, abs=1e-9)
    assert np.allclose(result.per_frame, expected)


def test_mean_and_aggregate_differ_as_defined():
    a = np.zeros((2, 8, 8, 3), np.uint8)
    b = a.copy()
    b[0] += 1  # MSE 1
    b[1] += 10  # MSE 100
    result = psnr(a, b)
    assert result.per_frame == pytest.approx([48.1308036, 28.1308036])
    assert result.mean == pytest.approx(38.1308036)
    assert result.aggregate == pytest.approx(10 * np.log10(255**2 / 50.5))


def test_single_image_and_noise_level(frames):
    assert psnr(frames[0], _noisy(frames, 5)[0]).per_frame.shape == (1,)
    assert psnr(frames, _noisy(frames, 5)).mean == pytest.approx(10 * np.log10(255**2 / 25), abs=0.3)


def test_psnr_rejects_mismatches(frames):
    with pytest.raises(InvalidInput, match="uint8"):
        psnr(frames.astype(np.float32), frames)
    with pytest.raises(InvalidInput, match="equal shapes"):
        psnr(frames[:2], frames[:3])


def test_to_uint8_rounds_and_clips():
    out = to_uint8(torch.tensor([-0.5, 0.0, 0.4 / 255, 1.6 / 255, 1.0, 2.0]))
    assert out.tolist() == [0, 0, 0, 2, 255, 255]


# --- MS-SSIM ------------------------------------------------------------------------------------------

def test_ms_ssim_on_qcif_uses_four_scales(frames):
    clean = ms_ssim(frames, frames)
    light = ms_ssim(frames, _noisy(frames, 3))
    heavy = ms_ssim(frames, _noisy(frames, 20))
    assert clean.scales == light.scales == 4 and clean.win_size == 11
    assert clean.value == pytest.approx(1.0, abs=1e-5)
    assert 1.0 > light.value > heavy.value > 0.0
    assert light.per_frame.shape == (4,)


def test_five_scales_match_pytorch_msssim(frames):
    big = np.tile(frames[:2], (1, 2, 2, 1))  # (2, 288, 352, 3): large enough for 5 scales
    noisy = _noisy(big, 8)
    ours = ms_ssim(big, noisy)
    assert ours.scales == 5
    to_t = lambda x: torch.from_numpy(x).permute(0, 3, 1, 2).float()  # noqa: E731
    ref = pytorch_msssim.ms_ssim(to_t(big), to_t(noisy), data_range=255, size_average=False).numpy()
    np.testing.assert_allclose(ours.per_frame, ref, rtol=1e-5)


@pytest.mark.parametrize(("h", "w", "scales"), [(1, 1, 1), (7, 5, 1), (16, 16, 1), (29, 37, 2), (64, 40, 2),
                                                 (41, 50, 3), (81, 90, 4), (161, 170, 5)])
def test_ms_ssim_never_fails_on_small_frames(h, w, scales):
    x = np.random.default_rng(h * w).integers(0, 256, (2, h, w, 3), dtype=np.uint8)
    assert ms_ssim_plan(h, w)[0] == scales
    same, other = ms_ssim(x, x), ms_ssim(x, 255 - x)
    assert same.scales == scales
    assert same.value == pytest.approx(1.0, abs=1e-5)
    assert 0.0 <= other.value < 1.0


# --- bpp and Bjontegaard ------------------------------------------------------------------------------

def test_bpp():
    assert bpp(1000, 176, 144, 10) == pytest.approx(8000 / (176 * 144 * 10))
    with pytest.raises(InvalidInput):
        bpp(10, 0, 144, 1)


def test_bd_rate_of_a_ten_percent_rate_shift():
    rates = [100.0, 200.0, 400.0, 800.0]
    quality = [30.0, 33.0, 36.0, 39.0]
    bigger = [r * 1.1 for r in rates]
    assert bd_rate(rates, quality, bigger, quality) == pytest.approx(100 / 1.1 - 100)  # -9.09 %: a is better
    assert bd_rate(bigger, quality, rates, quality) == pytest.approx(10.0)


def test_bd_rate_samples_curves_at_different_points():
    # log-rate exactly cubic in PSNR, so the fit is exact and the answer known at any sample points
    def log_rate(q: np.ndarray) -> np.ndarray:
        return 0.2 * (q - 30) + 0.001 * (q - 30) ** 3

    q_a = np.array([29.0, 32.5, 35.0, 38.0, 41.0])
    q_b = np.array([31.0, 33.0, 36.5, 40.0])
    rates_a = np.exp(log_rate(q_a))
    rates_b = np.exp(log_rate(q_b)) * 1.25
    assert bd_rate(rates_a, q_a, rates_b, q_b) == pytest.approx((1 / 1.25 - 1) * 100)


def test_bd_psnr_of_a_half_db_shift():
    rates = [0.05, 0.1, 0.2, 0.4]
    assert bd_psnr(rates, [30.5, 33.5, 36.5, 39.5], rates, [30, 33, 36, 39]) == pytest.approx(0.5)


def test_bd_rejects_bad_curves():
    with pytest.raises(InvalidInput, match="overlap"):
        bd_rate([1, 2, 3, 4], [30, 31, 32, 33], [1, 2, 3, 4], [40, 41, 42, 43])
    with pytest.raises(InvalidInput, match="positive"):
        bd_rate([0, 2, 3, 4], [30, 31, 32, 33], [1, 2, 3, 4], [30, 31, 32, 33])
    with pytest.raises(InvalidInput, match="equal-length"):
        bd_psnr([1, 2, 3], [30, 31], [1, 2, 3, 4], [30, 31, 32, 33])
