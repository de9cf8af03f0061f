"""`codec encode IN [-o OUT] [--codec NAME] [codec options]`: any codec, here or on a server.

The codec is picked from the input unless `--codec` names one; its flags come from its options
dataclass (`codec encode --codec NAME --help` lists them).
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer

from codec.cli.common import (
    CodecOpt,
    DataDirOpt,
    ForceOpt,
    HelpOpt,
    JsonOpt,
    OptionalServerOpt,
    TlsCaOpt,
    TlsCertOpt,
    TlsKeyOpt,
    TokenFileOpt,
    check_output,
)
from codec.errors import Cancelled, InvalidInput

USAGE = "[OPTIONS] INPUT [CODEC OPTIONS]"


def show_help(ctx: typer.Context, which: str, codec: str | None, positional: list[str]) -> None:
    """The command's own options, then the options of the codec in question (or of every codec)."""
    from codec import api
    from codec.cli.codec_flags import codec_help

    typer.echo(ctx.get_help())
    if codec is not None:
        chosen = [api.get_codec(codec)]
    elif which == "Options" and positional and Path(positional[0]).exists():
        chosen = [api.codec_for_input(positional[0])]
    else:
        chosen = api.load_codecs()
    for c in chosen:
        typer.echo("\n" + codec_help(c, which))


def encode(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="file to write (default: INPUT with the codec's suffix)"),
    ] = None,
    codec: CodecOpt = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue an interrupted encode")] = False,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
    data_dir: DataDirOpt = None,
    server: OptionalServerOpt = None,
    token_file: TokenFileOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    help_: HelpOpt = False,
) -> None:
    """Encode INPUT (a video, an image, an .npy of vectors) with the codec that fits it."""
    from codec import api
    from codec.cli.codec_flags import flag_table, options_for, split_args
    from codec.cli.progress import ProgressBar

    positional, given = split_args(ctx.args, flag_table(api.load_codecs(), "Options"))
    if help_:
        show_help(ctx, "Options", codec, positional)
        return
    if len(positional) != 1:
        raise InvalidInput(f"codec encode takes one INPUT, got {len(positional)}: see codec encode --help")
    src = Path(positional[0])
    c = api.codec_for_input(src, codec, output)
    opts = options_for(c, "Options", given, "encode")
    dst = output or api.default_output(src, c)
    if dst.is_dir():
        raise InvalidInput(f"{dst} is a directory; give the file to write with -o")
    check_output(dst, force)

    if server:
        from codec.client import TlsFiles, remote_encode

        tls = TlsFiles.from_flags(tls_ca, tls_cert, tls_key)
        with ProgressBar() as bar:
            job = remote_encode(server, c.name, src, dst, opts, token_file=token_file, progress=bar, tls=tls)
        if json_out:
            from google.protobuf.json_format import MessageToDict

            typer.echo(MessageToDict(job, preserving_proto_field_name=True))
        else:
            typer.echo(f"wrote {dst} ({dst.stat().st_size} bytes) from job {job.job_id} on {server}")
        return

    from codec.cli.common import work_dir
    from codec.datadir import DataDirLock, use_data_dir
    from codec.progress import CancelToken

    work = work_dir(data_dir, c.name, src, dst)
    cancel = CancelToken()
    previous = signal.signal(
        signal.SIGINT, lambda *_: cancel.cancel()
    )  # stop between steps, keep the checkpoint
    try:
        root = work.parent.parent
        with DataDirLock(root, exclusive=False), use_data_dir(root), ProgressBar() as bar:
            report = api.encode(src, dst, c.name, opts, bar, cancel, work_dir=work, resume=resume)
    except Cancelled:
        typer.echo("cancelled: checkpoint kept; rerun the same command with --resume", err=True)
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGINT, previous)
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(report.to_json() if json_out else report.summary())
