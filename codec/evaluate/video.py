"""Rate-distortion evaluation of a video codec (HNeRV by default) against x264 / x265 / AV1.

Everyone is scored the same way: the rate is the whole output file on disk (our container, their
.mp4) and quality is PSNR and MS-SSIM of 8-bit RGB frames read back from that file (our files are
decoded through the codec's registry entry, exactly as a user's decode would). Frames under 161 px
get MS-SSIM with fewer than 5 scales (see `codec.metrics.ms_ssim_plan`); the report says how many.

The codec is any registered video codec: it is swept over one of its rate options (`rate_by`,
e.g. HNeRV's size or bpp) with its other options as given. The baselines' CRF sweeps are chosen
after the codec has run, so that each baseline curve spans its bpp range *and* its PSNR range:
BD-rate averages over the PSNR range both curves share, and an INR codec trained briefly sits well
below the traditional codecs at equal bpp, so a sweep fitted to the bpp range alone often shares no
PSNR range with it at all.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from codec.errors import InvalidInput
from codec.evaluate.rd import (
    MIN_POINTS,
    RatePoint,
    bd_against,
    check_plot_path,
    codec_point,
    json_default,
    rd_curves_figure,
    score,
)
from codec.interface import Codec
from codec.metrics import ms_ssim_plan
from codec.options import options_of
from codec.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress

DEFAULT_BASELINES = ("x264", "x265", "av1")


@dataclass
class EvalReport:
    input: str
    width: int
    height: int
    frames: int
    fps: float
    ms_ssim_scales: int  # 5 is standard MS-SSIM; fewer on frames too small for 5
    ms_ssim_win: int
    codec: str  # the codec evaluated, e.g. "hnerv"
    options: dict  # its options besides the swept one (epochs, device, ...)
    points: list[RatePoint]  # the codec's points, ascending bpp
    baselines: dict[str, list[RatePoint]]  # codec -> points, ascending bpp
    bd_rate: dict[
        str, float | None
    ]  # baseline -> % more bits our codec needs for equal PSNR (negative: fewer)
    bd_psnr: dict[str, float | None]  # baseline -> dB our codec gains at equal bpp (negative: loses)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EvalReport:
        """Inverse of `to_dict` (e.g. to re-plot a saved report; reports from before the codec
        registry, with `hnerv` and `epochs` keys, load too)."""
        d = dict(d)
        if "hnerv" in d:
            d.update(
                codec="hnerv",
                points=d.pop("hnerv"),
                options={"epochs": d.pop("epochs"), "device": d.pop("device")},
            )
        d["points"] = [RatePoint(**p) for p in d["points"]]
        d["baselines"] = {k: [RatePoint(**p) for p in v] for k, v in d["baselines"].items()}
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False, default=json_default)


def _check_args(
    c: Codec,
    rate_by: str | None,
    rates: Sequence[float] | None,
    baselines: Sequence[str],
    baseline_points: int,
) -> tuple[str, list[float]]:
    from codec.baselines import encoder_for

    if not c.rate_options:
        raise InvalidInput(f"codec {c.name} declares no rate option to sweep")
    key = rate_by or c.rate_options[0]
    if key not in c.rate_options:
        raise InvalidInput(f"codec {c.name} sets its rate with {', '.join(c.rate_options)}, not {key!r}")
    values = list(rates) if rates is not None else list(c.default_rates.get(key, ()))
    if len(values) < MIN_POINTS:
        raise InvalidInput(f"need at least {MIN_POINTS} {c.name} rate points for a curve, got {len(values)}")
    if len(set(values)) != len(values):
        raise InvalidInput(f"{c.name} rate points repeat: {values}")
    if not isinstance(baseline_points, int) or baseline_points < MIN_POINTS:
        raise InvalidInput(f"baseline points must be an integer >= {MIN_POINTS}, got {baseline_points!r}")
    if len(set(baselines)) != len(baselines):
        raise InvalidInput(f"baselines repeat: {list(baselines)}")
    for name in baselines:
        encoder_for(name)  # InvalidInput for unknown or unavailable codecs, before any training
    return key, sorted(values)


class _CrfSweep:
    """One baseline's encodes, cached by CRF, scored as they are made (decoded frames are not kept)."""

    def __init__(self, codec: str, original: np.ndarray, fps: Fraction, cancel: CancelToken | None) -> None:
        from codec.baselines import encoder_for

        self.codec, self.original, self.fps, self.cancel = codec, original, fps, cancel
        self.lo, self.hi = encoder_for(codec).crf_range
        self.points: dict[int, RatePoint] = {}

    def __call__(self, crf: int) -> RatePoint:
        from codec.baselines import encode_baseline

        if crf not in self.points:
            if self.cancel is not None:
                self.cancel.check()
            started = time.perf_counter()
            r = encode_baseline(self.original, self.fps, self.codec, crf)
            keep = ("encoder", "options", "pix_fmt", "container", "coded_size", "stream_bytes")
            self.points[crf] = score(
                self.codec,
                {"crf": crf},
                r.decoded,
                self.original,
                r.bytes_on_disk,
                time.perf_counter() - started,
                details={k: r.params[k] for k in keep if k in r.params},
            )
        return self.points[crf]

    def last_true(self, pred: Callable[[RatePoint], bool]) -> int:
        """Largest CRF whose point satisfies `pred`, for a predicate that holds up to some CRF (else lo)."""
        lo, hi = self.lo, self.hi
        if not pred(self(lo)):
            return lo
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if pred(self(mid)) else (lo, mid - 1)
        return lo

    def first_true(self, pred: Callable[[RatePoint], bool]) -> int:
        """Smallest CRF whose point satisfies `pred`, for a predicate holding from some CRF on (else hi)."""
        lo, hi = self.lo, self.hi
        if not pred(self(hi)):
            return hi
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if pred(self(mid)) else (mid + 1, hi)
        return lo


def crf_grid(first: int, last: int, points: int, lo: int, hi: int) -> list[int]:
    """`points` distinct CRFs evenly spread over [first, last], widened within [lo, hi] when too narrow."""
    points = min(points, hi - lo + 1)
    first, last = min(max(first, lo), hi), min(max(last, lo), hi)
    while last - first + 1 < points:
        first, last = max(lo, first - 1), min(hi, last + 1)
    return sorted({int(round(v)) for v in np.linspace(first, last, points)})


def sweep_baseline(
    codec: str,
    original: np.ndarray,
    fps: Fraction,
    bpp_range: tuple[float, float],
    psnr_range: tuple[float, float],
    points: int,
    cancel: CancelToken | None = None,
) -> list[RatePoint]:
    """`points` encodes whose CRFs span both ranges: the finest reaches bpp_range[1] and psnr_range[1],
    the coarsest falls to bpp_range[0] and psnr_range[0] (as far as the CRF range allows)."""
    sweep = _CrfSweep(codec, original, fps, cancel)
    (b_lo, b_hi), (q_lo, q_hi) = bpp_range, psnr_range
    finest = sweep.last_true(lambda p: p.bpp >= b_hi and p.psnr >= q_hi)
    coarsest = sweep.first_true(lambda p: p.bpp <= b_lo and p.psnr <= q_lo)
    grid = crf_grid(min(finest, coarsest), max(finest, coarsest), points, sweep.lo, sweep.hi)
    chosen = [sweep(crf) for crf in grid]
    for p in chosen:
        p.details["crfs_tried"] = len(sweep.points)
    return sorted(chosen, key=lambda p: p.bpp)


def evaluate(
    input_path: str | os.PathLike,
    codec: str | None = None,
    rate_by: str | None = None,
    rates: Sequence[float] | None = None,
    baselines: Sequence[str] = DEFAULT_BASELINES,
    options: dict | None = None,
    max_frames: int = 0,
    baseline_points: int = 6,
    work_dir: str | os.PathLike | None = None,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
) -> EvalReport:
    """The codec (default: the video codec for this input) at each of `rates` of its option
    `rate_by` (default: its first rate option and default rates), with its other `options`, against
    each baseline at `baseline_points` CRFs spanning its rate and quality ranges; BD-rate and
    BD-PSNR against each baseline. Only the first `max_frames` frames are used when nonzero (every
    codec then encodes exactly those frames, losslessly cut). Our files are kept in `work_dir`."""
    from codec import api
    from codec.io.video import read_frames, write_video

    started = time.perf_counter()
    src = Path(input_path)
    if not src.exists():
        raise InvalidInput(f"{src.name}: no such file or directory")
    c = api.codec_for_input(src, codec)
    if c.media != "video":
        raise InvalidInput(f"codec {c.name} codes {c.media}; this evaluation compares video codecs")
    baselines = list(baselines)
    key, values = _check_args(c, rate_by, rates, baselines, baseline_points)
    options = dict(options or {})
    if set(c.rate_options) & set(options):
        raise InvalidInput(f"options cannot set {sorted(set(c.rate_options) & set(options))}: they are swept")
    for v in values:  # every option checked before hours of training start
        options_of(c.Options, {**options, key: v})
    if not isinstance(max_frames, int) or max_frames < 0:
        raise InvalidInput(f"max_frames must be a non-negative integer, got {max_frames!r}")

    original, info = read_frames(src, 0, max_frames or None)
    t, h, w = original.shape[:3]
    scales, win = ms_ssim_plan(h, w)
    notes = [f"rate = whole file on disk; quality on 8-bit RGB after decoding from that file; {t} frames"]
    if scales < 5:
        notes.append(
            f"MS-SSIM uses {scales} scales (window {win}): {h}x{w} frames are too small for the "
            f"standard 5 (needs a side > 160 px); dropped scales' weights go to the rest pro rata"
        )

    with tempfile.TemporaryDirectory(prefix="codec-eval-") as tmp:
        out_dir = Path(work_dir) if work_dir is not None else Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        clip = src
        if max_frames:
            clip = Path(tmp) / f"{src.stem}.mkv"  # FFV1: the codec sees exactly the scored frames
            write_video(clip, original, info.fps)
        points = []
        for k, v in enumerate(values):

            def point_progress(ev: ProgressEvent, k: int = k, v: float = v) -> None:
                ev.extra.update({"point": k, "points": len(values)})
                ev.message = f"{c.name} {key} {v}: {ev.message}" if ev.message else ev.message
                progress(ev)

            dst = out_dir / f"{src.stem}_{key}{v:g}{c.suffix}"
            points.append(codec_point(c, clip, dst, key, v, original, options, point_progress, cancel))
            if work_dir is None:
                points[-1].path = None  # gone with the temporary folder
    for p in points:
        predicted = p.details.get("encoder_psnr")
        if predicted is not None and abs(p.psnr - predicted) > 0.01:
            notes.append(
                f"{c.name} {p.setting}: decoded PSNR {p.psnr:.3f} dB differs from the encoder's "
                f"prediction {predicted:.3f} dB"
            )
    points.sort(key=lambda p: p.bpp)

    bpp_range = (min(p.bpp for p in points), max(p.bpp for p in points))
    psnr_range = (min(p.psnr for p in points), max(p.psnr for p in points))
    curves, bd_r, bd_q = {}, {}, {}
    for name in baselines:
        progress(
            ProgressEvent(
                phase="baseline",
                message=f"{name}: CRF sweep over bpp "
                f"{bpp_range[0]:.3f}..{bpp_range[1]:.3f}, PSNR {psnr_range[0]:.1f}..{psnr_range[1]:.1f}",
            )
        )
        curves[name] = sweep_baseline(
            name, original, info.fps, bpp_range, psnr_range, baseline_points, cancel
        )
        bd_r[name], bd_q[name], bd_notes = bd_against(points, curves[name], c.name, name)
        notes.extend(bd_notes)

    return EvalReport(
        input=str(src),
        width=w,
        height=h,
        frames=t,
        fps=float(info.fps),
        ms_ssim_scales=scales,
        ms_ssim_win=win,
        codec=c.name,
        options=options,
        points=points,
        baselines=curves,
        bd_rate=bd_r,
        bd_psnr=bd_q,
        seconds=time.perf_counter() - started,
        notes=notes,
    )


def rd_figure(report: EvalReport, title: str | None = None):  # -> matplotlib.figure.Figure
    """bpp vs PSNR and bpp vs MS-SSIM: our codec's curve and each baseline's, with our BD-rate
    against each baseline in its legend entry."""
    ours = report.codec
    labels = {n: f"{n} ({ours} BD-rate {bd:+.0f}%)" for n, bd in report.bd_rate.items() if bd is not None}
    options = ", ".join(f"{k} {v}" for k, v in report.options.items())
    title = title or (
        f"{Path(report.input).name}: {report.width}x{report.height}, {report.frames} frames, {ours} {options}"
    )
    curves = {ours: report.points, **report.baselines}
    return rd_curves_figure(curves, title, report.ms_ssim_scales, labels, highlight=ours)


def plot_rd(report: EvalReport, path: str | os.PathLike, title: str | None = None) -> None:
    """Write the RD plot (PNG)."""
    p = check_plot_path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    rd_figure(report, title).savefig(p, dpi=120)
