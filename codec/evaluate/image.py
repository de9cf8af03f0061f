"""Rate-distortion evaluation of still-image codecs: JPEG / WebP / AVIF at target rates on one photo.

Scored as `codec.evaluate` scores video: the rate is the whole file on disk and quality is PSNR (RGB)
and MS-SSIM of 8-bit RGB read back from that file. Each baseline is run at the quality closest to
each target bpp (bisection, see `codec.baselines.image`), and every baseline's curve is compared with
the anchor's (JPEG 4:2:0 by default) by BD-rate and BD-PSNR. Targets a codec cannot reach (JPEG's
headers alone are ~0.1 bpp on a small image) and targets that land on the same quality are said in
`notes`; such points are kept once.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from codec.baselines.image import (
    IMAGE_BASELINE_CODECS,
    ImageBaselineSearch,
    available_image_baselines,
    image_encoder_for,
)
from codec.errors import InvalidInput
from codec.evaluate.rd import (
    MIN_POINTS,
    RatePoint,
    bd_against,
    check_plot_path,
    codec_point,
    json_default,
    rd_curves_figure,
)
from codec.io.image import read_image
from codec.metrics import ms_ssim, ms_ssim_plan, psnr
from codec.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress

DEFAULT_BASELINES = ("jpeg420", "jpeg444", "webp", "avif")
DEFAULT_BPPS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
ANCHOR = "jpeg420"  # the codec everyone has; BD numbers say how much better the others do
REACH_TOLERANCE = 0.1  # a point more than 10% off its target bpp gets a note


@dataclass
class ImageEvalReport:
    input: str
    width: int
    height: int
    format: str  # of the input file, as Pillow names it
    ms_ssim_scales: int  # 5 is standard MS-SSIM; fewer on images too small for 5
    ms_ssim_win: int
    target_bpps: list[float]
    anchor: str | None  # BD numbers are against this codec's curve
    points: dict[str, list[RatePoint]]  # codec -> points, ascending bpp, one per distinct quality
    bd_rate: dict[str, float | None]  # codec -> % bits vs the anchor at equal PSNR (negative: fewer)
    bd_psnr: dict[str, float | None]  # codec -> dB vs the anchor at equal bpp (positive: better)
    encoders: dict[str, str] = field(default_factory=dict)  # codec -> encoder and library version
    seconds: float = 0.0
    seconds_by_codec: dict[str, float] = field(default_factory=dict)  # encodes, decodes and scoring
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ImageEvalReport:
        """Inverse of `to_dict` (e.g. to re-plot or re-print a saved report)."""
        d = dict(d)
        d["points"] = {k: [RatePoint(**p) for p in v] for k, v in d["points"].items()}
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False, default=json_default)


def _check_args(
    baselines: Sequence[str], bpps: Sequence[float], anchor: str | None
) -> tuple[list[str], list[float]]:
    """Every argument checked before the first encode."""
    names = list(baselines)
    if not names:
        raise InvalidInput(f"no image baselines given; choose from {', '.join(IMAGE_BASELINE_CODECS)}")
    if len(set(names)) != len(names):
        raise InvalidInput(f"image baselines repeat: {names}")
    for name in names:
        image_encoder_for(name)  # InvalidInput for unknown or unavailable ones
    if anchor is not None and anchor not in names:
        raise InvalidInput(f"the BD anchor {anchor!r} must be one of the baselines {names}")
    try:
        targets = sorted(float(b) for b in bpps)
    except (TypeError, ValueError):
        raise InvalidInput(f"target bpps must be numbers, got {bpps!r}") from None
    if len(targets) < MIN_POINTS:
        raise InvalidInput(f"need at least {MIN_POINTS} target bpps for a curve, got {len(targets)}")
    if not all(math.isfinite(b) and b > 0 for b in targets) or len(set(targets)) != len(targets):
        raise InvalidInput(f"target bpps must be distinct positive numbers, got {list(bpps)}")
    return names, targets


def _score(search: ImageBaselineSearch, quality: int, original: np.ndarray, target: float) -> RatePoint:
    r = search.result(quality)
    keep = ("encoder", "library_version", "options", "decode_s")
    return RatePoint(
        codec=search.codec,
        setting={"quality": quality},
        file_bytes=r.bytes_on_disk,
        bpp=r.bpp,
        psnr=psnr(r.decoded, original).mean,
        ms_ssim=ms_ssim(r.decoded, original).value,
        encode_seconds=r.params["encode_s"],
        details={"target_bpps": [target], **{k: r.params[k] for k in keep}},
    )


def _reach_note(search: ImageBaselineSearch, point: RatePoint, target: float) -> str | None:
    """Why a point sits far from its target: the end of the quality range, or coarse quality steps."""
    if abs(point.bpp / target - 1) <= REACH_TOLERANCE:
        return None
    q = point.setting["quality"]
    if q == search.lo and point.bpp > target:
        why = f"its lowest quality ({q}) makes {point.bpp:.3g} bpp"
    elif q == search.hi and point.bpp < target:
        why = f"its highest quality ({q}) makes {point.bpp:.3g} bpp"
    else:
        why = f"the closest quality ({q}) makes {point.bpp:.3g} bpp"
    return f"{search.codec} cannot reach {target:g} bpp: {why}"


def _sweep(
    codec: str,
    original: np.ndarray,
    targets: list[float],
    progress: ProgressCallback,
    cancel: CancelToken | None,
    done: int,
    total: int,
) -> tuple[list[RatePoint], list[str]]:
    """One codec at every target: points (one per distinct quality, ascending bpp) and notes."""
    by_quality: dict[int, RatePoint] = {}
    notes = []
    with ImageBaselineSearch(original, codec, cancel=cancel) as search:
        for k, target in enumerate(targets):
            progress(
                ProgressEvent(
                    phase="baseline",
                    step=done + k,
                    total=total,
                    message=f"{codec}: quality for {target:g} bpp",
                    extra={"point": k, "points": len(targets)},
                )
            )
            q = search.quality_for_bpp(target)
            if q in by_quality:
                by_quality[q].details["target_bpps"].append(target)
            else:
                by_quality[q] = _score(search, q, original, target)
            if note := _reach_note(search, by_quality[q], target):
                notes.append(note)
        tried = len(search.qualities)
    for p in by_quality.values():
        p.details["qualities_tried"] = tried  # for the whole sweep: the bisections share their encodes
        if len(p.details["target_bpps"]) > 1:
            notes.append(
                f"{codec}: targets {', '.join(f'{t:g}' for t in p.details['target_bpps'])} bpp "
                f"all land on quality {p.setting['quality']}; the point is kept once"
            )
    return sorted(by_quality.values(), key=lambda p: p.bpp), notes


def _codec_points(
    codec: str,
    path: Path,
    original: np.ndarray,
    rate_by: str | None,
    rates: Sequence[float] | None,
    options: dict,
    progress: ProgressCallback,
    cancel: CancelToken | None,
) -> list[RatePoint]:
    """A registered image codec swept over one of its rate options, scored like the baselines."""
    import tempfile

    from codec import api

    c = api.get_codec(codec)
    if c.media != "image" or not c.rate_options:
        raise InvalidInput(f"codec {c.name} is not an image codec with a rate option to sweep")
    key = rate_by or c.rate_options[0]
    if key not in c.rate_options:
        raise InvalidInput(f"codec {c.name} sets its rate with {', '.join(c.rate_options)}, not {key!r}")
    values = sorted(rates if rates is not None else c.default_rates.get(key, ()))
    if len(values) < MIN_POINTS or len(set(values)) != len(values):
        raise InvalidInput(f"need {MIN_POINTS} or more distinct {c.name} rates, got {values}")
    with tempfile.TemporaryDirectory(prefix="codec-eval-") as tmp:
        points = [
            codec_point(c, path, Path(tmp) / f"{k}{c.suffix}", key, v, original, options, progress, cancel)
            for k, v in enumerate(values)
        ]
    for p in points:
        p.path = None  # gone with the temporary folder
    return sorted(points, key=lambda p: p.bpp)


def evaluate_image(
    path: str | os.PathLike,
    baselines: Sequence[str] = DEFAULT_BASELINES,
    bpps: Sequence[float] | None = None,
    anchor: str | None = ANCHOR,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
    codec: str | None = None,
    rate_by: str | None = None,
    rates: Sequence[float] | None = None,
    options: dict | None = None,
) -> ImageEvalReport:
    """Every baseline at every target bpp on the image at `path`; BD-rate and BD-PSNR of each against
    `anchor` (None: no BD numbers). With `codec`, that registered image codec too, swept over
    `rates` of its option `rate_by`, and the baselines' targets default to the rates it reached
    (matched rates). Progress: one "baseline" event per point; `cancel` is checked before every
    encode."""
    started = time.perf_counter()
    original, info = read_image(path)
    ours: list[RatePoint] = []
    if codec is not None:
        opts = dict(options or {})
        ours = _codec_points(codec, Path(path), original, rate_by, rates, opts, progress, cancel)
        if bpps is None:
            bpps = sorted({round(p.bpp, 4) for p in ours})
    names, targets = _check_args(baselines, DEFAULT_BPPS if bpps is None else bpps, anchor)
    h, w = original.shape[:2]
    scales, win = ms_ssim_plan(h, w)
    notes = ["rate = whole file on disk; quality on 8-bit RGB decoded from that file"]
    notes += [f"input: {n}" for n in info.notes]
    if scales < 5:
        notes.append(
            f"MS-SSIM uses {scales} scales (window {win}): a {w}x{h} image is too small for the "
            "standard 5 (needs a side > 160 px); dropped scales' weights go to the rest pro rata"
        )

    points: dict[str, list[RatePoint]] = {}
    seconds: dict[str, float] = {}
    total = len(names) * len(targets)
    for i, name in enumerate(names):
        t0 = time.perf_counter()
        points[name], sweep_notes = _sweep(name, original, targets, progress, cancel, i * len(targets), total)
        seconds[name] = time.perf_counter() - t0
        notes += sweep_notes
    progress(ProgressEvent(phase="baseline", step=total, total=total, message="done"))

    if ours:
        points = {ours[0].codec: ours, **points}
        names = [ours[0].codec, *names]
    bd_r: dict[str, float | None] = {}
    bd_q: dict[str, float | None] = {}
    for name in names:
        if anchor is not None and name != anchor:
            bd_r[name], bd_q[name], bd_notes = bd_against(points[name], points[anchor], name, anchor)
            notes += bd_notes
    encoders = available_image_baselines()
    return ImageEvalReport(
        input=str(path),
        width=w,
        height=h,
        format=info.format,
        ms_ssim_scales=scales,
        ms_ssim_win=win,
        target_bpps=targets,
        anchor=anchor,
        points=points,
        bd_rate=bd_r,
        bd_psnr=bd_q,
        encoders={name: encoders.get(name, "neural-codec (this build)") for name in names},
        seconds=time.perf_counter() - started,
        seconds_by_codec=seconds,
        notes=notes,
    )


def format_table(report: ImageEvalReport, with_notes: bool = False) -> str:
    """Plain text: one row per point, then one BD line per codec (then the notes, if asked)."""
    header = (
        f"{'codec':<9} {'setting':>12} {'target':>7} {'bpp':>7} {'bytes':>9} {'PSNR dB':>8} "
        f"{'MS-SSIM':>8} {'enc s':>7}"
    )
    lines = [f"{Path(report.input).name}: {report.width}x{report.height} {report.format}", header]
    for name, pts in report.points.items():
        for p in pts:
            target = "/".join(f"{t:g}" for t in p.details.get("target_bpps", []))
            setting = ",".join(f"{k} {v:g}" for k, v in p.setting.items())
            lines.append(
                f"{name:<9} {setting:>12} {target:>7} {p.bpp:>7.3f} {p.file_bytes:>9} "
                f"{p.psnr:>8.2f} {p.ms_ssim:>8.4f} {p.encode_seconds:>7.2f}"
            )
    if report.anchor is not None and report.bd_rate:
        lines.append(
            f"BD vs {report.anchor} (BD-rate < 0: fewer bits at equal PSNR; BD-PSNR > 0: better at equal bpp)"
        )
        for name in report.bd_rate:
            r, q = report.bd_rate[name], report.bd_psnr[name]
            rate = "n/a" if r is None else f"{r:+.1f}%"
            gain = "n/a" if q is None else f"{q:+.2f} dB"
            lines.append(f"  {name:<9} BD-rate {rate:>7}   BD-PSNR {gain:>9}")
    if with_notes:
        lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)


def plot_image_rd(report: ImageEvalReport, path: str | os.PathLike, title: str | None = None) -> None:
    """Write the RD plot of an image report (PNG); the legend carries each codec's BD-rate."""
    p = check_plot_path(path)
    labels = {
        name: f"{name} (BD-rate {bd:+.1f}% vs {report.anchor})"
        for name, bd in report.bd_rate.items()
        if bd is not None
    }
    title = title or f"{Path(report.input).name}: {report.width}x{report.height} {report.format}"
    fig = rd_curves_figure(report.points, title, report.ms_ssim_scales, labels, highlight=report.anchor)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=120)
