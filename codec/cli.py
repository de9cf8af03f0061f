"""`codec` command line: parse, call the library, print. Every CodecError exits 2 with one line."""

from __future__ import annotations

import hashlib
import json
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from codec.cli_remote import TlsCaOpt, TlsCertOpt, TlsKeyOpt, TokenFileOpt
from codec.errors import Cancelled, CodecError, InvalidInput

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Neural compression codecs: HNeRV video (more to come).",
)

DataDirOpt = Annotated[
    str | None, typer.Option("--data-dir", help="where work files live (else $CODEC_DATA_DIR)")
]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto|cpu|cuda")]


def _work_dir(data_dir: str | None, src: Path, dst: Path) -> Path:
    from codec.datadir import resolve_data_dir

    key = hashlib.sha256(f"{src.resolve()}\0{dst.resolve()}".encode()).hexdigest()[:16]
    return resolve_data_dir(data_dir) / "work" / key


@app.command()
def encode(
    input: Annotated[Path, typer.Argument(help="any video PyAV can read (audio is ignored)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="the .hnerv file to write")],
    size: Annotated[float | None, typer.Option(help="parameter budget in millions, e.g. 0.3")] = None,
    bpp: Annotated[float | None, typer.Option(help="target bits per pixel of the file")] = None,
    epochs: Annotated[int, typer.Option(help="training epochs (prune/quant stages add ~10% each)")] = 300,
    seed: int = 0,
    device: DeviceOpt = "auto",
    segment_frames: Annotated[int, typer.Option(help="split into independently decodable segments")] = 0,
    batch_size: int = 2,
    lr: float = 1e-3,
    loss: Annotated[str, typer.Option(help="l2 or fusion (0.7 L1 + 0.3 SSIM)")] = "l2",
    weight_bits: int = 8,
    embed_bits: int = 6,
    prune: Annotated[float, typer.Option(help="magnitude-prune ratio (with --size)")] = 0.1,
    max_frames: Annotated[int, typer.Option(help="encode only the first N frames (0: all)")] = 0,
    checkpoint_every: int = 10,
    resume: Annotated[bool, typer.Option("--resume", help="continue an interrupted encode")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    data_dir: DataDirOpt = None,
    server: Annotated[str | None, typer.Option(help="HOST:PORT of a codec server")] = None,
    token_file: TokenFileOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
) -> None:
    """Encode a video into an .hnerv file."""
    from codec.cli_progress import ProgressBar
    from codec.progress import CancelToken
    from codec.video.hnerv.encode import EncodeOptions, encode_video

    opts = EncodeOptions(
        size=size,
        bpp=bpp,
        epochs=epochs,
        seed=seed,
        device=device,
        segment_frames=segment_frames,
        batch_size=batch_size,
        lr=lr,
        loss=loss,
        weight_bits=weight_bits,
        embed_bits=embed_bits,
        prune=prune,
        max_frames=max_frames,
        checkpoint_every=checkpoint_every,
    )
    opts.validate()
    if server:
        from codec.client import TlsFiles, remote_encode

        tls = TlsFiles.from_flags(tls_ca, tls_cert, tls_key)
        with ProgressBar() as bar:
            remote_encode(server, input, output, opts, token_file=token_file, progress=bar, tls=tls)
        typer.echo(f"wrote {output} ({output.stat().st_size} bytes)")
        return
    if not input.exists():
        raise InvalidInput(f"{input}: no such file")
    from codec.datadir import DataDirLock

    work = _work_dir(data_dir, input, output)
    cancel = CancelToken()
    previous = signal.signal(
        signal.SIGINT, lambda *_: cancel.cancel()
    )  # stop between steps, keep the checkpoint
    try:
        with DataDirLock(work.parent.parent, exclusive=False), ProgressBar() as bar:
            result = encode_video(input, output, opts, bar, cancel, work_dir=work, resume=resume)
    except Cancelled:
        typer.echo(f"cancelled: checkpoint kept in {work}; rerun the same command with --resume", err=True)
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGINT, previous)
    if json_out:
        typer.echo(result.to_json())
    else:
        typer.echo(
            f"wrote {output}: {result.file_bytes} bytes, {result.bpp:.4f} bpp, PSNR {result.psnr:.2f} dB "
            f"({result.frames} frames {result.width}x{result.height}, {result.encode_seconds:.1f} s)"
        )


@app.command()
def decode(
    input: Annotated[Path, typer.Argument(help="an .hnerv file")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help=".mp4 (x264), .mkv (FFV1 lossless), .y4m or a dir")
    ],
    frames: Annotated[str | None, typer.Option(help="A:B decodes only frames A..B-1")] = None,
    device: DeviceOpt = "auto",
    server: Annotated[str | None, typer.Option(help="HOST:PORT of a codec server")] = None,
    token_file: TokenFileOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
) -> None:
    """Decode an .hnerv file into a video or PNG frames."""
    if server:
        from codec.client import TlsFiles, remote_decode

        tls = TlsFiles.from_flags(tls_ca, tls_cert, tls_key)
        n = remote_decode(server, input, output, frames=frames, token_file=token_file, tls=tls)
    else:
        from codec.video.hnerv.decode import decode_to_file

        n = decode_to_file(input, output, frames, device)
    typer.echo(f"wrote {n} frames to {output}")


@app.command()
def info(
    file: Annotated[Path, typer.Argument(help="any neural-codec file")],
    json_out: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Show a file's header, parameters, section sizes and bpp."""
    from codec import container

    c = container.read_file(file)
    d = container.describe(c, file.stat().st_size)
    if json_out:
        typer.echo(json.dumps(d, indent=2, default=str))
        return
    for k, v in d.items():
        if isinstance(v, dict):
            typer.echo(f"{k}:")
            for k2, v2 in v.items():
                typer.echo(f"  {k2}: {v2}")
        elif isinstance(v, list):
            typer.echo(f"{k}:")
            for item in v:
                typer.echo(f"  {item}")
        else:
            typer.echo(f"{k}: {v}")


def _mount_subcommands() -> None:
    """`eval` and the service commands live in their own modules to keep this one thin."""
    if any(c.name == "eval" for c in app.registered_commands):
        return  # main() may run many times in one process (tests)
    from codec import cli_remote
    from codec.cli_eval import eval_cmd

    app.command("eval")(eval_cmd)
    cli_remote.mount(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: CodecError and bad usage exit 2 with one line on stderr, never a traceback."""
    _mount_subcommands()
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
        if hasattr(e, "show") and hasattr(e, "exit_code"):  # click/typer usage error: bad option value etc.
            e.show()
            return 2
        raise
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
