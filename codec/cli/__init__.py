"""`codec` command line: parse, call the library, print. Every CodecError exits 2 with one line.

Commands live in small modules (encode, decode, info, eval, jobs, models); `codec serve` and any
other command a separately installed package provides are mounted from the `neural_codec.cli`
entry points, so this package imports nothing from the server.
"""

from __future__ import annotations

import importlib.metadata
import sys

import typer

from codec.cli import decode as decode_cmd
from codec.cli import encode as encode_cmd
from codec.cli.common import DYNAMIC
from codec.errors import CodecError

PLUGIN_GROUP = "neural_codec.cli"  # entry points: callables that take the typer app and add commands


def build_app() -> typer.Typer:
    """A fresh app each call: commands whose flags come from the registry see every codec
    registered so far (tests register codecs of their own)."""
    from codec.cli import embed, index, jobs, latents, models, train
    from codec.cli import eval as eval_cmd
    from codec.cli import info as info_cmd

    app = typer.Typer(
        add_completion=False,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        help="Neural compression codecs: one container, one CLI, one gRPC service.",
    )
    app.command("encode", context_settings=DYNAMIC, options_metavar=encode_cmd.USAGE)(encode_cmd.encode)
    app.command("decode", context_settings=DYNAMIC, options_metavar=decode_cmd.USAGE)(decode_cmd.decode)
    app.command("info")(info_cmd.info)
    app.command("eval", context_settings=DYNAMIC, options_metavar=eval_cmd.USAGE)(eval_cmd.eval_cmd)
    jobs.mount(app)
    models.mount(app)
    train.mount(app)
    embed.mount(app)
    index.mount(app)
    latents.mount(app)
    for ep in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        ep.load()(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Entry point: CodecError and bad usage exit 2 with one line on stderr, never a traceback."""
    app = build_app()
    try:
        rv = app(args=argv, standalone_mode=False)  # an Exit(code) raised in a command comes back as rv
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except CodecError as e:
        typer.echo(f"error: {e}", err=True)
        return 2
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        typer.echo(f"error: {e.filename or ''}: {e.strerror}", err=True)
        return 2
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as e:
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):  # click/typer usage error
            ctx = getattr(e, "ctx", None)
            command = ctx.command_path if ctx is not None else "codec"
            typer.echo(f"error: {' '.join(e.format_message().split())} (see `{command} --help`)", err=True)
            return 2
        raise
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
