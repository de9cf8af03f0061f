"""Rate-distortion evaluation: HNeRV at several rates against x264 / x265 / AV1 on the same frames.

Everyone is scored the same way: the rate is the whole output file on disk (our container, their
.mp4) and quality is PSNR and MS-SSIM of 8-bit RGB frames read back from that file (HNeRV's files are
decoded with `decode_frames`, exactly as a user would). Frames under 161 px get MS-SSIM with fewer
than 5 scales (see `codec.metrics.ms_ssim_plan`); the report says how many.

The baselines' CRF sweeps are chosen after HNeRV has run, so that each baseline curve spans HNeRV's
bpp range *and* its PSNR range: BD-rate averages over the PSNR range both curves share, and an INR
codec trained briefly sits well below the traditional codecs at equal bpp, so a sweep fitted to the
bpp range alone often shares no PSNR range with it at all.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from codec.errors import InvalidInput
from codec.metrics import bd_psnr, bd_rate, ms_ssim, ms_ssim_plan, psnr
from codec.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress

DEFAULT_SIZES = (0.05, 0.1, 0.2, 0.4)  # parameter budgets in millions
DEFAULT_BASELINES = ("x264", "x265", "av1")
MIN_POINTS = 2  # BD needs two points per curve; four or more is the norm (the CLI's default is four)


@dataclass
class RatePoint:
    """One encode: what it cost on disk and what came back."""

    codec: str  # "hnerv", "x264", ...
    setting: dict  # {"size": 0.1} / {"bpp": 0.2} for HNeRV, {"crf": 30} for a baseline
    file_bytes: int  # the whole file on disk
    bpp: float  # file_bytes * 8 / (width * height * frames)
    psnr: float  # dB, mean over frames, 8-bit RGB
    ms_ssim: float  # mean over frames, 8-bit RGB, `EvalReport.ms_ssim_scales` scales
    encode_seconds: float
    decode_fps: float | None = None  # HNeRV only: frames/s of the decode used for scoring
    path: str | None = None  # HNeRV files kept in `work_dir`
    details: dict = field(default_factory=dict)  # stages, seconds/epoch, encoder options...


@dataclass
class EvalReport:
    input: str
    width: int
    height: int
    frames: int
    fps: float
    ms_ssim_scales: int  # 5 is standard MS-SSIM; fewer on frames too small for 5
    ms_ssim_win: int
    epochs: int
    device: str
    hnerv: list[RatePoint]
    baselines: dict[str, list[RatePoint]]  # codec -> points, ascending bpp
    bd_rate: dict[str, float | None]  # codec -> % more bits HNeRV needs for equal PSNR (negative: fewer)
    bd_psnr: dict[str, float | None]  # codec -> dB HNeRV gains at equal bpp (negative: loses)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EvalReport:
        """Inverse of `to_dict` (e.g. to re-plot a saved report)."""
        d = dict(d)
        d["hnerv"] = [RatePoint(**p) for p in d["hnerv"]]
        d["baselines"] = {k: [RatePoint(**p) for p in v] for k, v in d["baselines"].items()}
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False, default=_json_default)


def _json_default(o: object) -> object:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Fraction | Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON-serialisable")


def parse_list(text: str | Sequence[float] | None, name: str, suffix: str = "") -> list[float] | None:
    """'0.05,0.1' (an optional `suffix` per item, e.g. 'M') -> [0.05, 0.1]; InvalidInput when malformed."""
    if text is None:
        return None
    if not isinstance(text, str):
        return [float(v) for v in text]
    values = []
    for item in text.split(","):
        item = item.strip()
        if suffix and item.upper().endswith(suffix.upper()):
            item = item[: -len(suffix)]
        try:
            v = float(item)
        except ValueError:
            raise InvalidInput(f"--{name} takes comma-separated numbers, got {text!r}") from None
        if not math.isfinite(v) or v <= 0:
            raise InvalidInput(f"--{name} values must be positive, got {text!r}")
        values.append(v)
    return values


def _check_args(
    sizes: Sequence[float] | None,
    bpps: Sequence[float] | None,
    baselines: Sequence[str],
    baseline_points: int,
) -> tuple[str, list[float]]:
    from codec.baselines import encoder_for

    if sizes is not None and bpps is not None:
        raise InvalidInput("give either --sizes or --bpps, not both")
    key, values = ("bpp", list(bpps)) if bpps is not None else ("size", list(sizes or DEFAULT_SIZES))
    if len(values) < MIN_POINTS:
        raise InvalidInput(f"need at least {MIN_POINTS} HNeRV rate points for a curve, got {len(values)}")
    if len(set(values)) != len(values):
        raise InvalidInput(f"HNeRV rate points repeat: {values}")
    if not isinstance(baseline_points, int) or baseline_points < MIN_POINTS:
        raise InvalidInput(f"baseline points must be an integer >= {MIN_POINTS}, got {baseline_points!r}")
    if len(set(baselines)) != len(baselines):
        raise InvalidInput(f"baselines repeat: {list(baselines)}")
    for name in baselines:
        encoder_for(name)  # InvalidInput for unknown or unavailable codecs, before any training
    return key, sorted(values)


def _score(
    codec: str,
    setting: dict,
    decoded: np.ndarray,
    original: np.ndarray,
    file_bytes: int,
    encode_s: float,
    **kw: object,
) -> RatePoint:
    t, h, w = original.shape[:3]
    return RatePoint(
        codec=codec,
        setting=setting,
        file_bytes=int(file_bytes),
        bpp=file_bytes * 8 / (t * h * w),
        psnr=psnr(decoded, original).mean,
        ms_ssim=ms_ssim(decoded, original).value,
        encode_seconds=encode_s,
        **kw,
    )


def _hnerv_point(
    src: Path,
    dst: Path,
    key: str,
    value: float,
    original: np.ndarray,
    options: dict,
    progress: ProgressCallback,
    cancel: CancelToken | None,
) -> RatePoint:
    from codec.video.hnerv.decode import decode_frames
    from codec.video.hnerv.encode import EncodeOptions, encode_video

    opts = EncodeOptions(**{**options, key: value})
    result = encode_video(src, dst, opts, progress, cancel)
    started = time.perf_counter()
    decoded = np.stack(list(decode_frames(dst, device=opts.device)))
    decode_s = time.perf_counter() - started
    file_bytes = dst.stat().st_size  # what is on disk, whatever the encoder believes
    return _score(
        "hnerv",
        {key: value},
        decoded,
        original,
        file_bytes,
        result.encode_seconds,
        decode_fps=len(decoded) / max(decode_s, 1e-9),
        path=str(dst),
        details={
            "encoder_psnr": result.psnr,  # the encoder's own prediction, for a sanity check
            "params": result.params,
            "stages": result.stages,
            "seconds_per_epoch": result.seconds_per_epoch,
            "train_seconds": result.train_seconds,
            "config": result.config,
        },
    )


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
            self.points[crf] = _score(
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


def _bd(
    hnerv: list[RatePoint], anchor: list[RatePoint], name: str
) -> tuple[float | None, float | None, list]:
    """(BD-rate %, BD-PSNR dB, notes) of HNeRV against an anchor curve; None where the curves share no
    PSNR range (BD-rate) or no bpp range (BD-PSNR), with a note saying which ranges."""
    args = (
        [p.bpp for p in hnerv],
        [p.psnr for p in hnerv],
        [p.bpp for p in anchor],
        [p.psnr for p in anchor],
    )
    out: list[float | None] = []
    notes = []
    for fn, label, axis, unit, lo_hi in (
        (bd_rate, "BD-rate", "PSNR", " dB", lambda pts: (min(p.psnr for p in pts), max(p.psnr for p in pts))),
        (bd_psnr, "BD-PSNR", "bpp", "", lambda pts: (min(p.bpp for p in pts), max(p.bpp for p in pts))),
    ):
        try:
            v = fn(*args)
            out.append(v if math.isfinite(v) else None)
        except InvalidInput:
            out.append(None)
            (a, b), (c, d) = lo_hi(hnerv), lo_hi(anchor)
            notes.append(
                f"{label} vs {name} not computed: HNeRV's {axis} {a:.3g}..{b:.3g}{unit} and "
                f"{name}'s {c:.3g}..{d:.3g}{unit} do not overlap"
            )
    return out[0], out[1], notes


def evaluate(
    input_path: str | os.PathLike,
    sizes: Sequence[float] | None = None,
    bpps: Sequence[float] | None = None,
    baselines: Sequence[str] = DEFAULT_BASELINES,
    epochs: int = 300,
    max_frames: int = 0,
    device: str = "auto",
    baseline_points: int = 6,
    work_dir: str | os.PathLike | None = None,
    hnerv_options: dict | None = None,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
) -> EvalReport:
    """HNeRV at each of `sizes` (parameter budgets, millions) or `bpps` (file targets) against each
    baseline at `baseline_points` CRFs spanning HNeRV's rate and quality ranges; BD-rate and BD-PSNR
    of HNeRV against each baseline. HNeRV files are kept in `work_dir` when given.

    `hnerv_options` passes further `EncodeOptions` fields (prune, loss, lr, batch_size, seed...)."""
    from codec.io.video import read_frames
    from codec.video.hnerv.encode import EncodeOptions

    started = time.perf_counter()
    src = Path(input_path)
    if not src.exists():
        raise InvalidInput(f"{src}: no such file or directory")
    baselines = list(baselines)
    key, values = _check_args(sizes, bpps, baselines, baseline_points)
    options = dict(hnerv_options or {})
    unknown = set(options) - set(EncodeOptions.__dataclass_fields__)
    if unknown or {"size", "bpp"} & set(options):
        raise InvalidInput(f"hnerv_options cannot set {sorted(unknown | ({'size', 'bpp'} & set(options)))}")
    options.update(epochs=epochs, max_frames=max_frames, device=device)
    for v in values:  # every option checked before hours of training start
        EncodeOptions(**{**options, key: v}).validate()

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
        hnerv = []
        for k, v in enumerate(values):

            def point_progress(ev: ProgressEvent, k: int = k, v: float = v) -> None:
                ev.extra.update({"point": k, "points": len(values)})
                ev.message = f"HNeRV {key} {v}: {ev.message}" if ev.message else ev.message
                progress(ev)

            dst = out_dir / f"{src.stem}_{key}{v:g}.hnerv"
            hnerv.append(_hnerv_point(src, dst, key, v, original, options, point_progress, cancel))
            if work_dir is None:
                hnerv[-1].path = None  # gone with the temporary folder
    for p in hnerv:
        gap = abs(p.psnr - p.details["encoder_psnr"])
        if gap > 0.01:
            notes.append(
                f"HNeRV {p.setting}: decoded PSNR {p.psnr:.3f} dB differs from the encoder's "
                f"prediction {p.details['encoder_psnr']:.3f} dB"
            )
    hnerv.sort(key=lambda p: p.bpp)

    bpp_range = (min(p.bpp for p in hnerv), max(p.bpp for p in hnerv))
    psnr_range = (min(p.psnr for p in hnerv), max(p.psnr for p in hnerv))
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
        bd_r[name], bd_q[name], bd_notes = _bd(hnerv, curves[name], name)
        notes.extend(bd_notes)

    return EvalReport(
        input=str(src),
        width=w,
        height=h,
        frames=t,
        fps=float(info.fps),
        ms_ssim_scales=scales,
        ms_ssim_win=win,
        epochs=epochs,
        device=device,
        hnerv=hnerv,
        baselines=curves,
        bd_rate=bd_r,
        bd_psnr=bd_q,
        seconds=time.perf_counter() - started,
        notes=notes,
    )


def rd_figure(report: EvalReport, title: str | None = None):  # -> matplotlib.figure.Figure
    """bpp vs PSNR and bpp vs MS-SSIM, one curve per codec; matplotlib's Agg canvas, no global state."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        raise InvalidInput("plotting needs matplotlib: pip install matplotlib") from None

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax_q, ax_s = fig.subplots(1, 2)
    curves = {"HNeRV": report.hnerv, **report.baselines}
    for name, pts in curves.items():
        bd = report.bd_rate.get(name)
        label = name if bd is None else f"{name} (HNeRV BD-rate {bd:+.0f}%)"
        style = {"marker": "o", "linewidth": 2.2} if name == "HNeRV" else {"marker": ".", "linewidth": 1.2}
        ax_q.plot([p.bpp for p in pts], [p.psnr for p in pts], label=label, **style)
        ax_s.plot([p.bpp for p in pts], [p.ms_ssim for p in pts], label=name, **style)
    ax_q.set(xscale="log", xlabel="bpp (whole file)", ylabel="PSNR (dB, RGB)")
    ax_s.set(
        xscale="log",
        xlabel="bpp (whole file)",
        ylabel=f"MS-SSIM ({report.ms_ssim_scales} scales{'' if report.ms_ssim_scales == 5 else ', reduced'})",
    )
    plain = FuncFormatter(lambda v, _: f"{v:g}")  # 0.2, not 2x10^-1
    sparse = FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else "")  # 0.02, 0.05, 0.2...
    for ax in (ax_q, ax_s):
        ax.grid(True, which="both", alpha=0.3)
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(sparse)
        ax.tick_params(axis="x", which="minor", labelsize=7)
    ax_q.legend(fontsize=8)
    fig.suptitle(
        title
        or f"{Path(report.input).name}: {report.width}x{report.height}, {report.frames} frames, "
        f"HNeRV {report.epochs} epochs"
    )
    return fig


def check_plot_path(path: str | os.PathLike) -> Path:
    """The plot is PNG; checked before an evaluation starts, not after hours of training."""
    p = Path(path)
    if p.suffix.lower() != ".png":
        raise InvalidInput(f"--plot writes PNG: give a .png path, got {p}")
    if p.parent.exists() and not p.parent.is_dir():
        raise InvalidInput(f"--plot: {p.parent} is not a directory")
    return p


def plot_rd(report: EvalReport, path: str | os.PathLike, title: str | None = None) -> None:
    """Write the RD plot (PNG)."""
    p = check_plot_path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    rd_figure(report, title).savefig(p, dpi=120)
