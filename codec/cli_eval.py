"""`codec eval`: HNeRV against x264 / x265 / AV1 on one clip; a table or JSON, and an RD plot.

Mounted in `codec/cli.py` with `app.command("eval")(eval_cmd)`; thin: parse, call
`codec.evaluate.evaluate`, print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codec.errors import InvalidInput


def eval_cmd(
    input: Annotated[Path, typer.Argument(help="any video PyAV can read (audio is ignored)")],
    against: Annotated[str, typer.Option(help="baselines, comma-separated: x264,x265,av1")] = "x264,x265,av1",
    sizes: Annotated[
        str | None, typer.Option(help="HNeRV parameter budgets in millions [default: 0.05,0.1,0.2,0.4]")
    ] = None,
    bpps: Annotated[str | None, typer.Option(help="HNeRV target bpps instead of --sizes")] = None,
    epochs: Annotated[int, typer.Option(help="HNeRV training epochs per rate point")] = 300,
    max_frames: Annotated[int, typer.Option(help="use only the first N frames (0: all)")] = 0,
    prune: Annotated[float, typer.Option(help="HNeRV magnitude-prune ratio (with --sizes)")] = 0.0,
    baseline_points: Annotated[int, typer.Option(help="CRFs per baseline")] = 6,
    seed: int = 0,
    device: Annotated[str, typer.Option("--device", help="auto|cpu|cuda")] = "auto",
    keep: Annotated[Path | None, typer.Option(help="keep the HNeRV files in this directory")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    plot: Annotated[Path | None, typer.Option(help="write the RD plot to this .png")] = None,
) -> None:
    """Rate-distortion of HNeRV against traditional codecs: bpp, PSNR, MS-SSIM, BD-rate."""
    from codec.cli_progress import ProgressBar
    from codec.evaluate import DEFAULT_SIZES, check_plot_path, evaluate, parse_list, plot_rd

    baselines = [b.strip() for b in against.split(",") if b.strip()]
    if not baselines:
        raise InvalidInput("--against needs at least one of x264,x265,av1")
    size_list = parse_list(sizes, "sizes", suffix="M")
    bpp_list = parse_list(bpps, "bpps")
    if size_list is None and bpp_list is None:
        size_list = list(DEFAULT_SIZES)
    if plot is not None:
        check_plot_path(plot)
    with ProgressBar() as bar:
        report = evaluate(
            input,
            sizes=size_list,
            bpps=bpp_list,
            baselines=baselines,
            epochs=epochs,
            max_frames=max_frames,
            device=device,
            baseline_points=baseline_points,
            work_dir=keep,
            hnerv_options={"prune": prune, "seed": seed},
            progress=bar,
        )
    if plot is not None:
        plot_rd(report, plot)
    if json_out:
        typer.echo(report.to_json())
        return
    typer.echo(
        f"{Path(report.input).name}: {report.width}x{report.height}, {report.frames} frames, "
        f"HNeRV {report.epochs} epochs ({report.seconds:.0f} s)"
    )
    typer.echo(f"{'codec':6} {'setting':>12} {'bytes':>8} {'bpp':>8} {'PSNR dB':>8} {'MS-SSIM':>8}")
    for p in [*report.hnerv, *(p for pts in report.baselines.values() for p in pts)]:
        setting = ",".join(f"{k} {v:g}" for k, v in p.setting.items())
        typer.echo(f"{p.codec:6} {setting:>12} {p.file_bytes:8d} {p.bpp:8.4f} {p.psnr:8.2f} {p.ms_ssim:8.4f}")
    for name in report.baselines:
        r, q = report.bd_rate[name], report.bd_psnr[name]
        typer.echo(
            f"HNeRV vs {name}: BD-rate {'n/a' if r is None else f'{r:+.1f}%'}, "
            f"BD-PSNR {'n/a' if q is None else f'{q:+.2f} dB'}"
        )
    for note in report.notes:
        typer.echo(f"note: {note}")
    if plot is not None:
        typer.echo(f"wrote {plot}")
