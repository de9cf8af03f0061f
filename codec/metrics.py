"""Quality and rate metrics used by every report: PSNR, MS-SSIM, bpp and Bjontegaard deltas.

Quality is measured on 8-bit RGB (uint8) frames, i.e. after the decoder's output has been rounded the
way it would be written to disk, so neural and traditional codecs are scored on the same footing.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim

from codec.errors import InvalidInput

PSNR_CAP_DB = 100.0  # identical frames score this instead of inf, so means and JSON stay finite
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003, finest scale first
MS_SSIM_WIN = 11
_MS_SSIM_CHUNK = 16  # frames per batch: bounds memory on long clips


def to_uint8(x: np.ndarray | torch.Tensor) -> np.ndarray:
    """Float images in [0, 1] -> uint8 by clipping and rounding, as a decoder would write them."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.clip(np.rint(np.asarray(x, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def _as_frames(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check two uint8 arrays match and view them as (T, H, W, C)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise InvalidInput(f"metrics need uint8 images, got {a.dtype} and {b.dtype} (see to_uint8)")
    if a.shape != b.shape:
        raise InvalidInput(f"metrics need equal shapes, got {a.shape} and {b.shape}")
    if a.ndim == 3:
        a, b = a[None], b[None]
    if a.ndim != 4 or a.shape[-1] not in (1, 3) or 0 in a.shape:
        raise InvalidInput(f"metrics need (H, W, C) or (T, H, W, C) arrays with C in (1, 3), got {a.shape}")
    return a, b


def _mse_to_psnr(mse: np.ndarray | float) -> np.ndarray:
    mse = np.asarray(mse, dtype=np.float64)
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(255.0**2 / mse)
    return np.minimum(db, PSNR_CAP_DB)


@dataclass(frozen=True)
class PsnrResult:
    per_frame: np.ndarray  # (T,) dB, each capped at PSNR_CAP_DB
    mean: float  # mean of per-frame PSNR (what video papers usually report)
    aggregate: float  # PSNR of the MSE pooled over all frames


def psnr(a: np.ndarray, b: np.ndarray) -> PsnrResult:
    """PSNR in dB of 8-bit images (H, W, C) or videos (T, H, W, C); identical frames give PSNR_CAP_DB."""
    a, b = _as_frames(a, b)
    diff = a.astype(np.float64) - b.astype(np.float64)
    mse = np.mean(diff * diff, axis=(1, 2, 3))  # (T,)
    per_frame = _mse_to_psnr(mse)
    return PsnrResult(per_frame=per_frame, mean=float(per_frame.mean()),
                      aggregate=float(_mse_to_psnr(mse.mean())))


@dataclass(frozen=True)
class MsSsimResult:
    value: float  # mean over frames
    per_frame: np.ndarray  # (T,)
    scales: int  # 5 is standard MS-SSIM; fewer when the frame is too small (say so in reports)
    win_size: int  # 11 is standard; smaller only for frames under 11 px


def ms_ssim_plan(height: int, width: int) -> tuple[int, int]:
    """(scales, win_size) for a frame size.

    Each scale halves the frame, and pytorch_msssim's rule for 5 scales is min side > (win-1) * 2**4;
    the same rule with 2**(scales-1) picks the most scales that fit. Frames under 11 px use one scale
    with the largest odd window that fits.
    """
    side = min(height, width)
    if side < MS_SSIM_WIN:
        return 1, max(1, side - (1 - side % 2))
    fits = [s for s in range(2, len(MS_SSIM_WEIGHTS) + 1) if side > (MS_SSIM_WIN - 1) * 2 ** (s - 1)]
    scales = max(fits, default=1)
    return scales, MS_SSIM_WIN


def _ms_ssim_batch(x: torch.Tensor, y: torch.Tensor, scales: int, win_size: int) -> torch.Tensor:
    """pytorch_msssim.ms_ssim's loop without its fixed 5-scale size check; (N, C, H, W) -> (N,)."""
    # Dropped coarse scales give their weight to the rest pro rata; with 5 scales this is the standard.
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], dtype=x.dtype)
    weights = weights * (sum(MS_SSIM_WEIGHTS) / weights.sum())
    win = _fspecial_gauss_1d(win_size, 1.5).repeat([x.shape[1], 1, 1, 1])
    mcs = []
    for level in range(scales):
        ssim_pc, cs = _ssim(x, y, data_range=255.0, win=win, size_average=False)
        if level < scales - 1:
            mcs.append(torch.relu(cs))
            padding = [s % 2 for s in x.shape[2:]]
            x = F.avg_pool2d(x, kernel_size=2, padding=padding)
            y = F.avg_pool2d(y, kernel_size=2, padding=padding)
    stacked = torch.stack([*mcs, torch.relu(ssim_pc)], dim=0)  # (scales, N, C)
    return torch.prod(stacked ** weights.view(-1, 1, 1), dim=0).mean(1)


def ms_ssim(a: np.ndarray, b: np.ndarray) -> MsSsimResult:
    """MS-SSIM of 8-bit images or videos; never fails on small frames (see ms_ssim_plan)."""
    a, b = _as_frames(a, b)
    scales, win_size = ms_ssim_plan(a.shape[1], a.shape[2])
    values = []
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pytorch_msssim warns about skipped smoothing on tiny inputs
        for i in range(0, a.shape[0], _MS_SSIM_CHUNK):
            x = torch.from_numpy(a[i:i + _MS_SSIM_CHUNK]).permute(0, 3, 1, 2).float()  # (N, C, H, W)
            y = torch.from_numpy(b[i:i + _MS_SSIM_CHUNK]).permute(0, 3, 1, 2).float()
            values.append(_ms_ssim_batch(x, y, scales, win_size))
    per_frame = torch.cat(values).numpy().astype(np.float64)
    return MsSsimResult(value=float(per_frame.mean()), per_frame=per_frame, scales=scales, win_size=win_size)


def bpp(num_bytes: int, width: int, height: int, frames: int = 1) -> float:
    """Bits per pixel: total coded bits over all pixels of all frames."""
    if num_bytes < 0 or width <= 0 or height <= 0 or frames <= 0:
        raise InvalidInput(f"bpp needs bytes >= 0 and positive sizes, "
                           f"got {num_bytes} bytes for {width}x{height}x{frames}")
    return num_bytes * 8.0 / (width * height * frames)


def _curve(rates: Sequence[float], psnrs: Sequence[float], name: str) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rates, dtype=np.float64)
    q = np.asarray(psnrs, dtype=np.float64)
    if r.ndim != 1 or r.shape != q.shape or r.size < 2:
        raise InvalidInput(f"curve {name}: need equal-length lists of at least 2 rates and PSNRs")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(q)) and np.all(r > 0)):
        raise InvalidInput(f"curve {name}: rates must be positive and finite, PSNRs finite")
    return np.log(r), q


def _mean_gap(x_a: np.ndarray, y_a: np.ndarray, x_b: np.ndarray, y_b: np.ndarray) -> float:
    """Mean of fit_a(x) - fit_b(x) over the overlap of the x ranges; cubic fits as in VCEG-M33."""
    lo, hi = max(x_a.min(), x_b.min()), min(x_a.max(), x_b.max())
    if not hi > lo:
        raise InvalidInput("Bjontegaard delta needs curves whose ranges overlap")
    fit_a = np.polyint(np.polyfit(x_a, y_a, min(3, x_a.size - 1)))
    fit_b = np.polyint(np.polyfit(x_b, y_b, min(3, x_b.size - 1)))
    area_a = np.polyval(fit_a, hi) - np.polyval(fit_a, lo)
    area_b = np.polyval(fit_b, hi) - np.polyval(fit_b, lo)
    return float((area_a - area_b) / (hi - lo))


def bd_rate(rates_a: Sequence[float], psnr_a: Sequence[float], rates_b: Sequence[float],
            psnr_b: Sequence[float]) -> float:
    """Bjontegaard delta rate of curve a against anchor b, in percent; negative = a needs fewer bits.

    Log-rate is fitted as a cubic in PSNR (fewer points: lower degree) and the fits are averaged over
    the common PSNR range, as in VCEG-M33. Rates can be bpp, bytes or kbit/s, as long as both agree.
    """
    lr_a, q_a = _curve(rates_a, psnr_a, "a")
    lr_b, q_b = _curve(rates_b, psnr_b, "b")
    return (math.exp(_mean_gap(q_a, lr_a, q_b, lr_b)) - 1.0) * 100.0


def bd_psnr(rates_a: Sequence[float], psnr_a: Sequence[float], rates_b: Sequence[float],
            psnr_b: Sequence[float]) -> float:
    """Bjontegaard delta PSNR of curve a against anchor b, in dB; positive = a has better quality."""
    lr_a, q_a = _curve(rates_a, psnr_a, "a")
    lr_b, q_b = _curve(rates_b, psnr_b, "b")
    return _mean_gap(lr_a, q_a, lr_b, q_b)
