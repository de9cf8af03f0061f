"""Option types and helpers every `codec` command shares (declared once, used by each command)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from codec.errors import InvalidInput

DataDirOpt = Annotated[
    str | None, typer.Option("--data-dir", help="where work files and models live (else $CODEC_DATA_DIR)")
]
ServerOpt = Annotated[
    str, typer.Option("--server", envvar="CODEC_SERVER", help="HOST:PORT of a codec server ($CODEC_SERVER)")
]
OptionalServerOpt = Annotated[
    str | None, typer.Option("--server", help="HOST:PORT of a codec server: run there instead of here")
]
TokenFileOpt = Annotated[
    Path | None, typer.Option("--token-file", help="file holding the bearer token (else $CODEC_TOKEN)")
]
TlsCaOpt = Annotated[
    Path | None, typer.Option("--tls-ca", help="CA certificate to trust for a TLS server ($CODEC_TLS_CA)")
]
TlsCertOpt = Annotated[Path | None, typer.Option("--tls-cert", help="client certificate for mutual TLS")]
TlsKeyOpt = Annotated[Path | None, typer.Option("--tls-key", help="client key for mutual TLS")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
ForceOpt = Annotated[bool, typer.Option("--force", "-f", help="replace OUTPUT if it exists")]
HelpOpt = Annotated[bool, typer.Option("--help", "-h", help="show this message (with --codec: its options)")]
CodecOpt = Annotated[
    str | None, typer.Option("--codec", help="codec to use (default: picked from the input)")
]

DEFAULT_SERVER = "127.0.0.1:50051"
# Commands whose codec options are parsed from the extra arguments (see codec_flags.py).
DYNAMIC = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def connect(
    server: str, token_file: Path | None, tls_ca: Path | None, tls_cert: Path | None, tls_key: Path | None
):
    """A client from the shared connection flags; no TLS flag falls back to $CODEC_TLS_*."""
    from codec.client import CodecClient, TlsFiles

    return CodecClient(server, token_file=token_file, tls=TlsFiles.from_flags(tls_ca, tls_cert, tls_key))


def work_dir(data_dir: str | None, codec: str, src: Path, dst: Path) -> Path:
    """Where an encode keeps its checkpoints: the same command finds them again with --resume."""
    from codec.datadir import resolve_data_dir

    key = hashlib.sha256(f"{codec}\0{src.resolve()}\0{dst.resolve()}".encode()).hexdigest()[:16]
    return resolve_data_dir(data_dir) / "work" / key


def echo_tree(d: dict[str, Any], indent: int = 0) -> None:
    """A nested dict as indented `key: value` lines."""
    pad = "  " * indent
    for k, v in d.items():
        if isinstance(v, dict):
            typer.echo(f"{pad}{k}:")
            echo_tree(v, indent + 1)
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            typer.echo(f"{pad}{k}:")
            for item in v:
                typer.echo(f"{pad}  {item}")
        else:
            typer.echo(f"{pad}{k}: {v}")


def text_lines(path: Path) -> list[str]:
    """The non-blank lines of a text file of items (one per line), as `codec embed/index` take them."""
    return [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]


def echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def check_output(path: Path, force: bool) -> None:
    """Before any work: OUTPUT's folder exists and is writable, and an existing OUTPUT is replaced
    only with --force (hours of encoding must not end in 'cannot write')."""
    import os

    if path.exists() or path.is_symlink():
        if not force:
            raise InvalidInput(f"{path} exists; pass --force to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InvalidInput(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InvalidInput(f"cannot write {path}: folder {parent} is not writable")
