"""`codec embed --model NAME[@vN] --dim D INPUT...`: embeddings at any nesting dim, offline.

Inputs are image files, or texts (`--text STR`, repeatable, or a .txt file with one item per
line). One vector per input, in input order: a .npy with `--output`, else JSON lines on stdout.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from codec.cli.common import (
    DataDirOpt,
    ForceOpt,
    OptionalServerOpt,
    TlsCaOpt,
    TlsCertOpt,
    TlsKeyOpt,
    TokenFileOpt,
    check_output,
    connect,
    text_lines,
)
from codec.errors import InvalidInput


def embed(
    inputs: Annotated[list[Path] | None, typer.Argument(help="image files, or .txt files of texts")] = None,
    model: Annotated[str, typer.Option("--model", help="embedder in the model store: NAME or NAME@vN")] = "",
    dim: Annotated[int, typer.Option("--dim", help="embedding size: a nesting dim (0: the full size)")] = 0,
    text: Annotated[list[str] | None, typer.Option("--text", help="a text to embed (repeatable)")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write a .npy instead of JSON lines")
    ] = None,
    allow_any_dim: Annotated[
        bool, typer.Option("--allow-any-dim", help="accept a dim outside the nesting list")
    ] = False,
    force: ForceOpt = False,
    data_dir: DataDirOpt = None,
    server: OptionalServerOpt = None,
    token_file: TokenFileOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
) -> None:
    """Embed images or texts with a stored Matryoshka embedder (here, or on --server)."""
    from codec.embed.embedder import load_embedder, read_inputs
    from codec.models import ModelStore

    if not model:
        raise InvalidInput("--model NAME[@vN] is required (see `codec model list --kind embedder`)")
    if output is not None:
        if output.suffix.lower() != ".npy":
            raise InvalidInput(f"{output.name}: --output writes a .npy file")
        check_output(output, force)
    files = list(inputs or [])
    t0 = time.perf_counter()
    if server:
        client = connect(server, token_file, tls_ca, tls_cert, tls_key)
        texts = [f for f in files if f.suffix.lower() == ".txt"]
        items = list(text or []) + [x for f in texts for x in text_lines(f)]
        images = [f for f in files if f not in texts]
        spec, vectors = client.embed(model, dim, texts=items, images=[f.read_bytes() for f in images],
                                     allow_any_dim=allow_any_dim)  # fmt: skip
        _emit(spec, items or [str(f) for f in images], vectors, output, time.perf_counter() - t0)
        return
    emb = load_embedder(model, ModelStore(data_dir))
    if emb.kind == "text":
        items = list(text or [])
        for f in files:
            if f.suffix.lower() != ".txt":
                raise InvalidInput(f"{f.name}: {emb.spec} embeds texts: give --text or .txt files")
            items += [
                line for line in f.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()
            ]
        labels = items
        vectors = emb.embed_texts(items, dim, allow_any_dim)
    else:
        if text:
            raise InvalidInput(f"{emb.spec} embeds images: give image files, not --text")
        labels = [str(f) for f in files]
        vectors = emb.embed_images(read_inputs(files) if files else [], dim, allow_any_dim)
    _emit(emb.spec, labels, vectors, output, time.perf_counter() - t0)


def _emit(spec: str, labels: list[str], vectors, output: Path | None, seconds: float) -> None:
    if output is not None:
        from codec.io.vectors import write_vectors

        write_vectors(output, vectors)
        rate = len(vectors) / max(seconds, 1e-9)
        typer.echo(
            f"wrote {len(vectors)} vectors of dim {vectors.shape[1]} ({spec}) to {output}"
            f" ({rate:.0f} items/s)"
        )
        return
    for label, v in zip(labels, vectors, strict=True):
        typer.echo(
            json.dumps(
                {"input": label, "model": spec, "dim": len(v), "vector": [round(float(x), 6) for x in v]}
            )
        )


def mount(app: typer.Typer) -> None:
    app.command("embed")(embed)
