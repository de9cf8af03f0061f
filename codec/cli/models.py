"""`codec model list|show|import|export|delete`: the model store from the command line.

Mounted into the main app by `mount(app)`. Thin: parse, call `codec.models.ModelStore`, print.
Errors are CodecErrors, which `codec.cli.main` turns into one line and exit code 2. Commands that
write the store (import, delete) hold the data dir's shared lock, so they refuse to run beside a
server that owns it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from codec.cli.common import DataDirOpt, JsonOpt
from codec.errors import CodecError

model_app = typer.Typer(
    no_args_is_help=True, help="List, inspect, import, export and delete stored models (weights + manifest)."
)


def _store(data_dir: str | None):
    from codec.models import ModelStore

    return ModelStore(data_dir)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # unreachable


def _summary(model) -> str:
    m = model.manifest
    tag = "  (shipped)" if model.shipped else ""
    for rel in m.lineage:  # e.g. "  compatible with fmnist-mrl@v1 on dims 0..256"
        dims = f" on dims {rel.dims[0]}..{rel.dims[1]}" if rel.dims else ""
        tag += f"  {rel.relation} with {rel.model}{dims}"
    return (
        f"{m.spec:<28} {m.kind:<14} {_size(m.weights.bytes):>10}  {m.weights.sha256[:12]}  {m.created}{tag}"
    )


@model_app.command("list")
def list_models(
    kind: Annotated[
        str | None, typer.Option("--kind", help="only models of this kind, e.g. embedder")
    ] = None,
    json_out: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """List stored and shipped models (unreadable ones are reported on stderr)."""
    store = _store(data_dir)
    models = store.stored(kind)
    for problem in store.problems():
        typer.echo(f"warning: {problem}", err=True)
    if json_out:
        typer.echo(json.dumps([{**m.manifest.to_dict(), "shipped": m.shipped} for m in models], indent=2))
        return
    for model in models:
        typer.echo(_summary(model))
    if not models:
        typer.echo("no models", err=True)


@model_app.command("show")
def show_model(
    spec: Annotated[str, typer.Argument(help="NAME or NAME@vN (default: newest version)")],
    verify: Annotated[bool, typer.Option("--verify", help="also re-hash the weights")] = False,
    json_out: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Print one model's manifest."""
    model = _store(data_dir).get(spec)
    if verify:
        model.verify()
    if json_out:
        typer.echo(json.dumps({**model.manifest.to_dict(), "shipped": model.shipped}, indent=2))
        return
    m = model.manifest
    typer.echo(f"model: {m.spec}{'  (shipped, read-only)' if model.shipped else ''}")
    typer.echo(f"kind: {m.kind}")
    typer.echo(
        f"weights: {_size(m.weights.bytes)}, sha256 {m.weights.sha256}{'  (verified)' if verify else ''}"
    )
    typer.echo(f"created: {m.created}")
    for key in ("license", "source", "description"):
        if getattr(m, key):
            typer.echo(f"{key}: {getattr(m, key)}")
    typer.echo(f"arch: {json.dumps(m.arch, sort_keys=True)}")
    typer.echo(f"training: {json.dumps(m.training, sort_keys=True)}")
    for rel in m.lineage:
        dims = f" on dims [{rel.dims[0]}, {rel.dims[1]})" if rel.dims else ""
        typer.echo(f"lineage: {rel.relation} {rel.model}{dims}{f' ({rel.note})' if rel.note else ''}")


@model_app.command("import")
def import_model(
    file: Annotated[
        Path, typer.Argument(help="an .ncmodel archive (from `codec model export`) or a model dir")
    ],
    as_new_version: Annotated[
        bool,
        typer.Option(
            "--as-new-version", help="if NAME@vN exists with other weights, store as the next version"
        ),
    ] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Add a model to the store (checked completely before it becomes visible)."""
    from codec.datadir import DataDirLock

    store = _store(data_dir)
    with DataDirLock(store.root.parent, exclusive=False):
        try:
            manifest, added = store.import_with_status(file, as_new_version=as_new_version)
        except CodecError as e:
            raise type(e)(f"{file.name}: {e}") from None
    what = "imported" if added else "already present:"
    typer.echo(f"{what} {manifest.spec} ({manifest.kind}, sha256 {manifest.weights.sha256[:16]})")


@model_app.command("export")
def export_model(
    spec: Annotated[str, typer.Argument(help="NAME or NAME@vN (default: newest version)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="the .ncmodel file (or a dir) to write")],
    data_dir: DataDirOpt = None,
) -> None:
    """Write a model as one .ncmodel file (an uncompressed tar of manifest.json + weights.safetensors)."""
    path = _store(data_dir).export(spec, output)
    typer.echo(f"wrote {path} ({path.stat().st_size} bytes)")


@model_app.command("delete")
def delete_model(
    spec: Annotated[str, typer.Argument(help="NAME@vN (the version is required)")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Delete one version from the writable store (never a shipped one); its number is not reused."""
    from codec.datadir import DataDirLock

    store = _store(data_dir)
    store.check_deletable(spec)  # unknown, shipped or no version: fail before asking
    if not yes:
        typer.confirm(f"delete model {spec}? files encoded with it will no longer decode here", abort=True)
    with DataDirLock(store.root.parent, exclusive=False):
        store.delete(spec)
    typer.echo(f"deleted {spec}")


def mount(app: typer.Typer) -> None:
    """Add the `model` group to the main app."""
    app.add_typer(model_app, name="model")
