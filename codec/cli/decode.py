"""`codec decode FILE -o OUT [decode options]`: the decoder is the codec the file's header names."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codec.cli.common import (
    DataDirOpt,
    ForceOpt,
    HelpOpt,
    OptionalServerOpt,
    TlsCaOpt,
    TlsCertOpt,
    TlsKeyOpt,
    TokenFileOpt,
    check_output,
)
from codec.errors import InvalidInput

USAGE = "[OPTIONS] FILE [CODEC OPTIONS]"


def decode(
    ctx: typer.Context,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="what to write (see below)")] = None,
    force: ForceOpt = False,
    data_dir: DataDirOpt = None,
    server: OptionalServerOpt = None,
    token_file: TokenFileOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    help_: HelpOpt = False,
) -> None:
    """Decode FILE (any neural-codec file) with the codec its header names."""
    from codec import api
    from codec.cli.codec_flags import codec_help, flag_table, options_for, split_args
    from codec.cli.progress import ProgressBar

    positional, given = split_args(ctx.args, flag_table(api.load_codecs(), "DecodeOptions"))
    if help_:
        typer.echo(ctx.get_help())
        for c in api.load_codecs():
            typer.echo(f"\n{codec_help(c, 'DecodeOptions')}\n  output: {c.output_help}")
        return
    if len(positional) != 1 or output is None:
        raise InvalidInput("codec decode takes one FILE and -o OUTPUT: see codec decode --help")
    check_output(output, force)
    f = api.open(positional[0])
    opts = options_for(f.codec, "DecodeOptions", given, "decode")
    if server:
        from codec.client import TlsFiles, remote_decode

        tls = TlsFiles.from_flags(tls_ca, tls_cert, tls_key)
        n = remote_decode(server, f, output, opts, token_file=token_file, tls=tls)
    else:
        from codec.datadir import resolve_data_dir, use_data_dir

        with use_data_dir(resolve_data_dir(data_dir)), ProgressBar() as bar:  # the model store it needs
            n = api.decode(f, output, opts, bar).items
    typer.echo(f"wrote {n} {f.codec.item_unit} to {output}")
