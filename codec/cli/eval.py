"""`codec eval INPUT`: rate-distortion against traditional codecs, a table or JSON, and an RD plot.

Video: a registered video codec (HNeRV unless `--codec`), swept over one of its rate options, against
x264 / x265 / AV1. Images: JPEG (4:2:0, 4:4:4), WebP and AVIF at matched rates, with BD-rates
against JPEG 4:2:0. Codec options (`--epochs`, `--device`, ...) are the same flags `codec encode`
takes. Thin: parse, call `codec.evaluate` / `codec.evaluate_image`, print.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from codec.cli.common import CodecOpt, HelpOpt, JsonOpt
from codec.errors import InvalidInput

USAGE = "[OPTIONS] INPUT [CODEC OPTIONS]"


def eval_cmd(
    ctx: typer.Context,
    against: Annotated[
        str | None,
        typer.Option(
            help="baselines, comma-separated (video: x264,x265,av1; image: jpeg420,jpeg444,webp,avif)"
        ),
    ] = None,
    codec: CodecOpt = None,
    rates: Annotated[
        str | None, typer.Option(help="rates to sweep, comma-separated (of --rate-by; images: bpp)")
    ] = None,
    rate_by: Annotated[
        str | None, typer.Option(help="the codec's rate option to sweep (default: its first)")
    ] = None,
    max_frames: Annotated[int, typer.Option(help="video: use only the first N frames (0: all)")] = 0,
    baseline_points: Annotated[int, typer.Option(help="video: CRFs per baseline")] = 6,
    keep: Annotated[Path | None, typer.Option(help="keep our encoded files in this directory")] = None,
    json_out: JsonOpt = False,
    plot: Annotated[Path | None, typer.Option(help="write the RD plot to this .png")] = None,
    help_: HelpOpt = False,
) -> None:
    """Rate-distortion of our codec and traditional ones on INPUT: bpp, PSNR, MS-SSIM, BD-rate."""
    from codec import api
    from codec.cli.codec_flags import flag_table, options_for, split_args
    from codec.cli.encode import show_help
    from codec.cli.progress import ProgressBar
    from codec.evaluate import check_plot_path, parse_list
    from codec.io.detect import input_kind

    positional, given = split_args(ctx.args, flag_table(api.load_codecs(), "Options"))
    if help_:
        show_help(ctx, "Options", codec, positional)
        return
    if len(positional) != 1:
        raise InvalidInput(f"codec eval takes one INPUT, got {len(positional)}: see codec eval --help")
    src = Path(positional[0])
    baselines = None if against is None else [b.strip() for b in against.split(",") if b.strip()]
    if baselines is not None and not baselines:
        raise InvalidInput("--against needs at least one baseline")
    rate_list = parse_list(rates, "rates")
    if plot is not None:
        check_plot_path(plot)

    if input_kind(src) == "image":
        image_codec = None  # the neural image codec joins the baselines when this build has one
        with contextlib.suppress(InvalidInput):
            image_codec = api.codec_for_input(src, codec)
        if image_codec is None and codec is not None:
            api.codec_for_input(src, codec)  # the user named one: say why it cannot be used
        if codec is None and image_codec is not None and not image_codec.default_rates and rate_list is None:
            image_codec = None  # not asked for, and no rates of its own to sweep: baselines only
        opts = (
            {} if image_codec is None else _given(options_for(image_codec, "Options", given, "eval"), given)
        )
        _eval_image(src, baselines, rate_list, json_out, plot, image_codec, rate_by, opts)
        return
    from codec.evaluate import DEFAULT_BASELINES, evaluate, plot_rd

    c = api.codec_for_input(src, codec)
    given_options = _given(options_for(c, "Options", given, "eval"), given)
    with ProgressBar() as bar:
        report = evaluate(
            src,
            codec=c.name,
            rate_by=rate_by,
            rates=rate_list,
            baselines=baselines or DEFAULT_BASELINES,
            options=given_options,
            max_frames=max_frames,
            baseline_points=baseline_points,
            work_dir=keep,
            progress=bar,
        )
    if plot is not None:
        plot_rd(report, plot)
    if json_out:
        typer.echo(report.to_json())
        return
    typer.echo(
        f"{src.name}: {report.width}x{report.height}, {report.frames} frames, {report.codec} "
        f"{report.options} ({report.seconds:.0f} s)"
    )
    _table([*report.points, *(p for pts in report.baselines.values() for p in pts)])
    for name in report.baselines:
        r, q = report.bd_rate[name], report.bd_psnr[name]
        typer.echo(
            f"{report.codec} vs {name}: BD-rate {'n/a' if r is None else f'{r:+.1f}%'}, "
            f"BD-PSNR {'n/a' if q is None else f'{q:+.2f} dB'}"
        )
    for note in report.notes:
        typer.echo(f"note: {note}")
    if plot is not None:
        typer.echo(f"wrote {plot}")


def _given(options, given: dict) -> dict:
    """The options the user gave, validated (the rest take the codec's defaults)."""
    return {k: getattr(options, k) for k in given}


def _table(points) -> None:
    typer.echo(f"{'codec':8} {'setting':>12} {'bytes':>8} {'bpp':>8} {'PSNR dB':>8} {'MS-SSIM':>8}")
    for p in points:
        setting = ",".join(f"{k} {v:g}" for k, v in p.setting.items())
        typer.echo(f"{p.codec:8} {setting:>12} {p.file_bytes:8d} {p.bpp:8.4f} {p.psnr:8.2f} {p.ms_ssim:8.4f}")


def _eval_image(
    src: Path,
    baselines: list[str] | None,
    rates: list[float] | None,
    json_out: bool,
    plot: Path | None,
    codec,
    rate_by: str | None,
    options: dict,
) -> None:
    """Image baselines at matched rates; `rates` are the codec's when one takes part, else bpps."""
    from codec.cli.progress import ProgressBar
    from codec.evaluate.image import DEFAULT_BASELINES, evaluate_image, format_table, plot_image_rd

    kwargs = {"bpps": rates} if codec is None else {"codec": codec.name, "rate_by": rate_by, "rates": rates}
    with ProgressBar() as bar:
        report = evaluate_image(
            src, baselines=baselines or DEFAULT_BASELINES, progress=bar, options=options, **kwargs
        )
    if plot is not None:
        plot_image_rd(report, plot)
    typer.echo(report.to_json() if json_out else format_table(report))
    if plot is not None and not json_out:
        typer.echo(f"wrote {plot}")
