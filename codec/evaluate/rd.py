"""What every rate-distortion evaluation shares: the point record, BD numbers with the reason when
they cannot be computed, argument parsing and the RD figure. `video.py` and `image.py` build on it."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from codec.errors import InvalidInput
from codec.interface import Codec
from codec.metrics import bd_psnr, bd_rate, ms_ssim, psnr
from codec.options import option_fields, options_of
from codec.progress import CancelToken, ProgressCallback

MIN_POINTS = 2  # BD needs two points per curve; four or more is the norm (the CLI's default is four)


@dataclass
class RatePoint:
    """One encode: what it cost on disk and what came back."""

    codec: str  # "hnerv", "x264", ...
    setting: dict  # the swept rate option, e.g. {"size": 0.1} for HNeRV, {"crf": 30} for a baseline
    file_bytes: int  # the whole file on disk
    bpp: float  # file_bytes * 8 / (width * height * frames)
    psnr: float  # dB, mean over frames, 8-bit RGB
    ms_ssim: float  # mean over frames, 8-bit RGB, `EvalReport.ms_ssim_scales` scales
    encode_seconds: float
    decode_fps: float | None = None  # our codec only: frames/s of the decode used for scoring
    path: str | None = None  # our files, kept in `work_dir`
    details: dict = field(default_factory=dict)  # stages, seconds/epoch, encoder options...


def json_default(o: object) -> object:
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


def bd_against(
    points: list[RatePoint], anchor: list[RatePoint], name: str, anchor_name: str
) -> tuple[float | None, float | None, list[str]]:
    """(BD-rate %, BD-PSNR dB, notes) of one curve against the anchor's; None, with a note, where the
    curves have too few points or share no PSNR range (BD-rate) or no bpp range (BD-PSNR)."""
    if min(len(points), len(anchor)) < MIN_POINTS:
        return (
            None,
            None,
            [
                f"BD vs {anchor_name} not computed for {name}: needs {MIN_POINTS} distinct "
                f"points per curve, {name} has {len(points)} and {anchor_name} {len(anchor)}"
            ],
        )
    args = (
        [p.bpp for p in points],
        [p.psnr for p in points],
        [p.bpp for p in anchor],
        [p.psnr for p in anchor],
    )
    out: list[float | None] = []
    notes = []
    for fn, label, attr, axis, unit in (
        (bd_rate, "BD-rate", "psnr", "PSNR", " dB"),
        (bd_psnr, "BD-PSNR", "bpp", "bpp", ""),
    ):
        try:
            v = fn(*args)
            out.append(v if math.isfinite(v) else None)
        except InvalidInput:
            out.append(None)
            a, b = min(getattr(p, attr) for p in points), max(getattr(p, attr) for p in points)
            c, d = min(getattr(p, attr) for p in anchor), max(getattr(p, attr) for p in anchor)
            notes.append(
                f"{label} of {name} vs {anchor_name} not computed: {name}'s {axis} "
                f"{a:.3g}..{b:.3g}{unit} and {anchor_name}'s {c:.3g}..{d:.3g}{unit} do not overlap"
            )
    return out[0], out[1], notes


def rd_curves_figure(
    curves: dict[str, list[RatePoint]],
    title: str,
    ms_ssim_scales: int,
    labels: dict[str, str] | None = None,
    highlight: str | None = None,
):
    """bpp vs PSNR and bpp vs MS-SSIM, one curve per codec, in `codec.evaluate.rd_figure`'s style;
    matplotlib's Agg canvas, no global state. Returns a matplotlib Figure."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        raise InvalidInput("plotting needs matplotlib: pip install matplotlib") from None

    labels = labels or {}
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax_q, ax_s = fig.subplots(1, 2)
    for name, pts in curves.items():
        style = {"marker": "o", "linewidth": 2.2} if name == highlight else {"marker": ".", "linewidth": 1.2}
        ax_q.plot([p.bpp for p in pts], [p.psnr for p in pts], label=labels.get(name, name), **style)
        ax_s.plot([p.bpp for p in pts], [p.ms_ssim for p in pts], label=name, **style)
    reduced = "" if ms_ssim_scales == 5 else ", reduced"
    ax_q.set(xscale="log", xlabel="bpp (whole file)", ylabel="PSNR (dB, RGB)")
    ax_s.set(xscale="log", xlabel="bpp (whole file)", ylabel=f"MS-SSIM ({ms_ssim_scales} scales{reduced})")
    plain = FuncFormatter(lambda v, _: f"{v:g}")  # 0.2, not 2x10^-1
    sparse = FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else "")  # 0.02, 0.05, 0.2...
    for ax in (ax_q, ax_s):
        ax.grid(True, which="both", alpha=0.3)
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(sparse)
        ax.tick_params(axis="x", which="minor", labelsize=7)
    ax_q.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def score(
    codec: str,
    setting: dict,
    decoded: np.ndarray,
    original: np.ndarray,
    file_bytes: int,
    encode_s: float,
    **kw: object,
) -> RatePoint:
    """A point scored on 8-bit RGB: `original` is (H, W, 3) or (T, H, W, 3); bpp over all its pixels."""
    pixels = int(np.prod(original.shape[:-1]))
    return RatePoint(
        codec=codec,
        setting=setting,
        file_bytes=int(file_bytes),
        bpp=file_bytes * 8 / pixels,
        psnr=psnr(decoded, original).mean,
        ms_ssim=ms_ssim(decoded, original).value,
        encode_seconds=encode_s,
        **kw,
    )


def codec_point(
    c: Codec,
    src: Path,
    dst: Path,
    key: str,
    value: float,
    original: np.ndarray,
    options: dict,
    progress: ProgressCallback,
    cancel: CancelToken | None,
) -> RatePoint:
    """Encode at one rate, decode the file through the registry entry, score what came back."""
    from codec import api

    kind = next(f.type for f in option_fields(c.Options) if f.name == key)
    if kind is int and float(value).is_integer():
        value = int(value)  # rates arrive as numbers from a comma list; an int option takes 3, not 3.0
    report = api.encode(src, dst, c.name, {**options, key: value}, progress, cancel)
    f = api.open(dst)
    shared = {k: v for k, v in options.items() if k in c.DecodeOptions.__dataclass_fields__}  # e.g. device
    started = time.perf_counter()
    decoded = np.stack(list(api.decode_stream(f, options_of(c.DecodeOptions, shared))))
    decode_s = time.perf_counter() - started
    if original.ndim == 3:  # an image: its decode yields one
        decoded = decoded[0]
    file_bytes = dst.stat().st_size  # what is on disk, whatever the encoder believes
    details = {k: v for k, v in report.details.items() if k not in ("path", "file_bytes")}
    return score(
        c.name,
        {key: value},
        decoded,
        original,
        file_bytes,
        report.seconds,
        decode_fps=len(decoded) / max(decode_s, 1e-9),
        path=str(dst),
        # the encoder's own quality prediction, for a sanity check against the decode
        details={"encoder_psnr": report.metrics.get("psnr"), **details},
    )


def check_plot_path(path: str | os.PathLike) -> Path:
    """The plot is PNG; checked before an evaluation starts, not after hours of training."""
    p = Path(path)
    if p.suffix.lower() != ".png":
        raise InvalidInput(f"--plot writes PNG: give a .png path, got {p}")
    if p.parent.exists() and not p.parent.is_dir():
        raise InvalidInput(f"--plot: {p.parent} is not a directory")
    return p
