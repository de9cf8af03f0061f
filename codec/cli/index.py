"""`codec index create|list|add|search|delete|info|snapshot|restore`: collections of embeddings.

Embedded (Qdrant Edge under the data dir) unless `--index-url` names a Qdrant server (or
`local:PATH`, qdrant-client's local mode). Items are embedded with the collection's model: image
files, texts (`--text`, or .txt files of one item per line), or ready vectors in a .npy.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from codec.cli.common import DataDirOpt, JsonOpt, OptionalServerOpt, TokenFileOpt, echo_json, text_lines
from codec.errors import InvalidInput

index_app = typer.Typer(
    no_args_is_help=True, help="Vector collections: add embeddings, search by prefix then full."
)
UrlOpt = Annotated[
    str | None,
    typer.Option("--index-url", envvar="CODEC_INDEX_URL", help="a Qdrant server URL, or local:PATH"),
]
TextOpt = Annotated[list[str] | None, typer.Option("--text", help="a text item (repeatable)")]


class _RemoteIndex:
    """The server's collections (IndexService) behind the calls the commands make on an Index."""

    def __init__(self, client) -> None:
        self.client = client

    def close(self) -> None:
        pass

    def create(self, spec):
        self.client.create_collection(spec.name, spec.model, spec.dims, not spec.full_on_disk, spec.full_hnsw)
        return spec

    def info(self, name: str) -> dict:
        c = self.client.get_collection(name)
        d = {
            "name": c.name,
            "model": c.model,
            "dims": list(c.dims),
            "full_on_disk": not c.full_in_ram,
            "full_hnsw": c.full_hnsw,
            "points": c.points,
            "engine": f"server {self.client.server}",
        }
        if c.space and c.space != c.model:
            d.update(space=c.space, model_dim=c.model_dim, full_space=c.full_space,
                     points_by_new_model=c.points_by_new_model,
                     searched_in=c.model if c.full_space else c.space)  # fmt: skip
        return d

    def spec(self, name: str):
        from codec.index.spec import CollectionSpec

        i = self.info(name)
        return CollectionSpec(i["name"], i["model"], tuple(i["dims"]), i["full_on_disk"], i["full_hnsw"],
                              space=i.get("space", ""), model_dim=i.get("model_dim", 0),
                              full_space=i.get("full_space", False))  # fmt: skip

    def names(self) -> list[str]:
        return [c.name for c in self.client.list_collections()]

    def count(self, name: str, filter=None) -> int:
        return self.client.get_collection(name).points

    def add(self, name, ids, vectors, payloads=None, progress=None) -> int:
        labels = [str(p.get("label", "")) for p in payloads] if payloads else None
        sources = [str(p.get("source", "")) for p in payloads] if payloads else None
        return self.client.upsert(name, list(ids), vectors, labels, sources).points

    def upgrade(self, name: str, to: str) -> dict:
        self.client.upgrade_collection(name, to)
        return self.info(name)

    def remove(self, name: str, ids) -> None:
        self.client.delete_points(name, ids)

    def drop(self, name: str) -> None:
        self.client.delete_collection(name)

    def search(self, name: str, queries, search):
        from codec.index.spec import Hit

        filt = {k: str(v) for k, v in search.filter.items() if not isinstance(v, list)}
        res = self.client.search(name, queries, search.k, search.mode, search.shortlist, filt)
        return [[Hit(i, s, pay) for i, s, pay in hs] for hs in res]

    def snapshot(self, name: str, path: Path) -> int:
        path.write_bytes(self.client.snapshot(name))
        return self.count(name)

    def restore(self, path: Path, name: str | None = None, progress=None):
        from codec.index.index import Index

        return Index.restore(self, path, name)  # type: ignore[arg-type]  # create + add, remotely

    def embed(self, model: str, texts: list[str], images: list[Path]) -> np.ndarray:
        return self.client.embed(model, 0, texts=texts, images=[p.read_bytes() for p in images])[1]


@contextlib.contextmanager
def _index(
    data_dir: str | None, url: str | None, server: str | None = None, token_file: Path | None = None
) -> Iterator:
    from codec.index.index import open_index

    if server:
        from codec.cli.common import connect

        yield _RemoteIndex(connect(server, token_file, None, None, None))
        return
    if url:
        with open_index(url=url) as ix:
            yield ix
        return
    from codec.datadir import DataDirLock, resolve_data_dir

    root = resolve_data_dir(data_dir)
    with DataDirLock(root, exclusive=False), open_index(data_dir=root) as ix:
        yield ix


def _items(
    ix, spec, inputs: list[Path], texts: list[str], data_dir: str | None
) -> tuple[list[str], np.ndarray]:
    """(external ids, full vectors) for the inputs: .npy rows, texts or image files. Items are
    embedded with the collection's model (after an upgrade, the new one)."""
    npys = [p for p in inputs if p.suffix.lower() == ".npy"]
    if npys:
        from codec.io.vectors import read_vectors

        if len(npys) != len(inputs) or texts:
            raise InvalidInput("give .npy vector files, or items to embed, not both")
        ids, blocks = [], []
        for p in npys:
            x = read_vectors(p)
            ids += [f"{p.stem}:{i}" for i in range(len(x))]
            blocks.append(x)
        return ids, np.concatenate(blocks)
    if not spec.model:
        raise InvalidInput(f"collection {spec.name} has no model: add .npy vectors")
    if isinstance(ix, _RemoteIndex):  # embedded by the server, with the collection's model
        items = list(texts) + [x for p in inputs if p.suffix.lower() == ".txt" for x in text_lines(p)]
        images = [p for p in inputs if p.suffix.lower() != ".txt"]
        return items or [str(p) for p in images], ix.embed(spec.model, items, images)
    from codec.embed.embedder import load_embedder, read_inputs
    from codec.models import ModelStore

    emb = load_embedder(spec.model, ModelStore(data_dir))
    if emb.kind == "text":
        items = list(texts)
        for p in inputs:
            if p.suffix.lower() != ".txt":
                raise InvalidInput(f"{p.name}: {emb.spec} embeds texts: give --text or .txt files")
            items += [
                line for line in p.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()
            ]
        return items, emb.embed_texts(items) if items else np.zeros((0, emb.dim), np.float32)
    if texts:
        raise InvalidInput(f"{emb.spec} embeds images: give image files, not --text")
    vecs = emb.embed_images(read_inputs(inputs)) if inputs else np.zeros((0, emb.dim), np.float32)
    return [str(p) for p in inputs], vecs


@index_app.command("create")
def create(
    name: str,
    model: Annotated[
        str, typer.Option("--model", help="the embedder (NAME or NAME@vN) whose vectors it holds")
    ] = "",
    dims: Annotated[
        str, typer.Option("--dims", help="prefix dims kept, ascending, ending at the full size")
    ] = "",
    short_dim: Annotated[int, typer.Option("--short-dim", help="the shortlist prefix (with --model)")] = 16,
    full_in_ram: Annotated[
        bool, typer.Option("--full-in-ram", help="keep full vectors in RAM, not on disk")
    ] = False,
    full_hnsw: Annotated[
        bool, typer.Option("--full-hnsw", help="also build a graph on the full vectors")
    ] = False,
    data_dir: DataDirOpt = None,
    index_url: UrlOpt = None,
    server: OptionalServerOpt = None,
    token_file: TokenFileOpt = None,
) -> None:
    """Create a collection for one embedder's vectors."""
    from codec.index.spec import CollectionSpec

    if dims:
        try:
            ds = tuple(int(d) for d in dims.split(","))
        except ValueError:
            raise InvalidInput(f"--dims takes comma-separated integers, got {dims[:40]!r}") from None
    elif model:
        if server:  # the server's model store decides, as it embeds for this collection
            from codec.cli.common import connect

            r = connect(server, token_file, None, None, None).get_model(model)
            kind, spec_name, arch = r.kind, f"{r.name}@{r.version}", json.loads(r.manifest_json)["arch"]
        else:
            from codec.models import ModelStore

            m = ModelStore(data_dir).get(model).manifest
            kind, spec_name, arch = m.kind, m.spec, m.arch
        if kind != "embedder":
            raise InvalidInput(f"{spec_name} is a {kind}, not an embedder")
        full = int(arch["dim"])
        ds = (short_dim, full) if short_dim < full else (full,)
        model = spec_name
    else:
        raise InvalidInput("give --model (its full size is read from it) or --dims")
    spec = CollectionSpec(name, model, ds, not full_in_ram, full_hnsw)
    with _index(data_dir, index_url, server, token_file) as ix:
        ix.create(spec)
    typer.echo(f"created {name}: prefixes {', '.join(map(str, ds))}" + (f" of {model}" if model else ""))


@index_app.command("list")
def list_(
    data_dir: DataDirOpt = None,
    index_url: UrlOpt = None,
    json_out: JsonOpt = False,
    server: OptionalServerOpt = None,
    token_file: TokenFileOpt = None,
) -> None:
    """List collections with their points."""
    with _index(data_dir, index_url, server, token_file) as ix:
        infos = [ix.info(n) for n in ix.names()]
    if json_out:
        echo_json(infos)
        return
    for i in infos:
        typer.echo(
            f"{i['name']:<24} {i['points']:>10} points  dims {','.join(map(str, i['dims']))}  {i['model']}"
        )


@index_app.command("info")
def info(
    name: str,
    data_dir: DataDirOpt = None,
    index_url: UrlOpt = None,
    server: OptionalServerOpt = None,
    token_file: TokenFileOpt = None,
) -> None:
    """A collection's record and point count."""
    with _index(data_dir, index_url, server, token_file) as ix:
        echo_json(ix.info(name))


@index_app.command("add")
def add(
    name: str,
    inputs: Annotated[
        list[Path] | None, typer.Argument(help="image files, .txt files, or .npy vectors")
    ] = None,
    text: TextOpt = None,
    label: Annotated[str | None, typer.Option("--label", help="payload label for every item")] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="source for every item (default: the image's path, or the text)"),
    ] = None,
    data_dir: DataDirOpt = None,
    index_url: UrlOpt = None,
    server: OptionalServerOpt = None,
    token_file: TokenFileOpt = None,
) -> None:
    """Embed items with the collection's model (or take .npy vectors) and upsert them."""
    from codec.cli.progress import ProgressBar
    from codec.progress import with_eta

    with _index(data_dir, index_url, server, token_file) as ix:
        spec = ix.spec(name)
        ids, vectors = _items(ix, spec, list(inputs or []), list(text or []), data_dir)
        suffixes = {p.suffix.lower() for p in inputs or []}
        npy, images = ".npy" in suffixes, not text and ".txt" not in suffixes
        payloads = []
        for item in ids:  # the source a backfill re-embeds: the image's path, or the text itself
            own = None if npy else str(Path(item).resolve()) if images else item
            src = source if source is not None else own
            payloads.append({k: v for k, v in (("label", label), ("source", src)) if v is not None})
        with ProgressBar() as bar:
            n = ix.add(name, ids, vectors, payloads, with_eta(bar))
        total = ix.count(name)
    typer.echo(f"added {n} points to {name} ({total} in all)")


def _filters(filters: list[str]) -> dict:
    out: dict = {}
    for f in filters:
        key, eq, value = f.partition("=")
        if not eq:
            raise InvalidInput(f"--filter takes FIELD=VALUE, got {f[:40]!r}")
        v: str | int = int(value) if value.lstrip("-").isdigit() else value
        out.setdefault(key, []).append(v)
    return {k: v[0] if len(v) == 1 else v for k, v in out.items()}


@index_app.command("search")
def search(
    name: str,
    inputs: Annotated[
        list[Path] | None, typer.Argument(help="query images, .txt files, or a .npy of vectors")
    ] = None,
    text: TextOpt = None,
    k: Annotated[int, typer.Option("--k", help="neighbours per query")] = 10,
    mode: Annotated[str, typer.Option("--mode", help="full, hnsw, adaptive or funnel")] = "adaptive",
    shortlist: Annotated[int, typer.Option("--shortlist", help="candidates taken on the short prefix")] = 200,
    filters: Annotated[
        list[str] | None, typer.Option("--filter", help="FIELD=VALUE on the payload (repeatable)")
    ] = None,
    json_out: JsonOpt = False,
    data_dir: DataDirOpt = None,
    index_url: UrlOpt = None,
    server: OptionalServerOpt = None,
    token_file: TokenFileOpt = None,
) -> None:
    """Nearest neighbours of each query."""
    from codec.index.spec import Search

    req = Search(k=k, mode=mode, shortlist=max(shortlist, k), filter=_filters(list(filters or [])))
    with _index(data_dir, index_url, server, token_file) as ix:
        spec = ix.spec(name)
        labels, queries = _items(ix, spec, list(inputs or []), list(text or []), data_dir)
        hits = ix.search(name, queries, req)
    for label, hs in zip(labels, hits, strict=True):
        if json_out:
            typer.echo(
                json.dumps(
                    {"query": label, "hits": [{"id": h.ext_id, "score": h.score, **h.payload} for h in hs]}
                )
            )
            continue
        typer.echo(f"{label}:")
        for rank, h in enumerate(hs, 1):
            extra = "".join(f"  {k}={v}" for k, v in h.payload.items() if k != "ext_id")
            typer.echo(f"  {rank:>3}. {h.score:.4f}  {h.ext_id}{extra}")


@index_app.command("delete")
def delete(
    name: str,
    ids: Annotated[
        list[str] | None, typer.Option("--id", help="delete these points only (repeatable)")
    ] = None,
    data_dir: DataDirOpt = None,
    index_url: UrlOpt = None,
    server: OptionalServerOpt = None,
    token_file: TokenFileOpt = None,
) -> None:
    """Delete points by external id, or (without --id) the whole collection."""
    with _index(data_dir, index_url, server, token_file) as ix:
        if ids:
            ix.remove(name, ids)
            typer.echo(f"deleted {len(ids)} ids from {name} ({ix.count(name)} points left)")
        else:
            ix.drop(name)
            typer.echo(f"deleted collection {name}")


@index_app.command("snapshot")
def snapshot(
    name: str,
    output: Annotated[Path, typer.Option("--output", "-o", help="the snapshot file to write")],
    data_dir: DataDirOpt = None,
    index_url: UrlOpt = None,
    server: OptionalServerOpt = None,
    token_file: TokenFileOpt = None,
) -> None:
    """Write a collection to one engine-neutral file."""
    from codec.cli.common import check_output

    check_output(output, False)
    with _index(data_dir, index_url, server, token_file) as ix:
        n = ix.snapshot(name, output)
    typer.echo(f"wrote {n} points of {name} to {output} ({output.stat().st_size} bytes)")


@index_app.command("restore")
def restore(
    snapshot_file: Annotated[Path, typer.Argument(help="a file from `codec index snapshot`")],
    name: Annotated[str | None, typer.Option("--name", help="restore under this name")] = None,
    data_dir: DataDirOpt = None,
    index_url: UrlOpt = None,
    server: OptionalServerOpt = None,
    token_file: TokenFileOpt = None,
) -> None:
    """Recreate a collection from a snapshot."""
    from codec.cli.progress import ProgressBar

    if not snapshot_file.is_file():
        raise InvalidInput(f"{snapshot_file}: no such file")
    with _index(data_dir, index_url, server, token_file) as ix, ProgressBar() as bar:
        spec = ix.restore(snapshot_file, name, bar)
        n = ix.count(spec.name)
    typer.echo(f"restored {spec.name}: {n} points")


RateOpt = Annotated[float, typer.Option("--rate", help="backfill: at most this many items/s (0: no limit)")]
BatchOpt = Annotated[int, typer.Option("--batch", help="backfill: points embedded and written together")]


@index_app.command("upgrade")
def upgrade(
    name: str,
    to: Annotated[str, typer.Option("--to", help="the new embedder (NAME@vN), compatible with the old one")],
    backfill: Annotated[
        bool, typer.Option("--backfill", help="then re-embed the old points from their sources (a job)")
    ] = False,
    rate: RateOpt = 0.0,
    batch: BatchOpt = 256,
    data_dir: DataDirOpt = None,
    index_url: UrlOpt = None,
    server: OptionalServerOpt = None,
    token_file: TokenFileOpt = None,
) -> None:
    """Query and write a collection with a new model version; no stored vector is re-embedded."""
    with _index(data_dir, index_url, server, token_file) as ix:
        if isinstance(ix, _RemoteIndex):
            i = ix.upgrade(name, to)
        else:
            from codec.models import ModelStore

            ix.upgrade(name, ModelStore(data_dir).get(to).manifest)
            i = ix.info(name)
        typer.echo(
            f"upgraded {name}: queries and new items use {i['model']}; its {i['points']} points stay"
            f" searchable in {i.get('space', i['model'])}'s space (dims {','.join(map(str, i['dims']))})"
        )
        if backfill:
            _backfill(ix, name, rate, batch, data_dir)


@index_app.command("backfill")
def backfill_cmd(
    name: str,
    rate: RateOpt = 0.0,
    batch: BatchOpt = 256,
    data_dir: DataDirOpt = None,
    index_url: UrlOpt = None,
    server: OptionalServerOpt = None,
    token_file: TokenFileOpt = None,
) -> None:
    """Re-embed an upgraded collection's old points with its new model (resumes where it stopped)."""
    with _index(data_dir, index_url, server, token_file) as ix:
        _backfill(ix, name, rate, batch, data_dir)


def _backfill(ix, name: str, rate: float, batch: int, data_dir: str | None) -> None:
    import signal

    from codec.cli.progress import ProgressBar
    from codec.errors import Cancelled
    from codec.index.backfill import BackfillOptions, backfill
    from codec.options import validate
    from codec.progress import CancelToken, with_eta

    opts = BackfillOptions(collection=name, rate=rate, batch=batch)
    validate(opts)
    if isinstance(ix, _RemoteIndex):
        from codec.options import to_mapping

        job_id = ix.client.submit_job("index.backfill", to_mapping(opts))
        with ProgressBar() as bar:
            job = ix.client.watch_job(job_id, bar)
        info = dict(job.result_info)
        typer.echo(
            f"backfill job {job_id}: {info.get('rewritten', 0):.0f} re-embedded, {info.get('already', 0):.0f}"
            f" already done, {info.get('unsourced', 0):.0f} without a source"
            + ("; ranks in the new model's space" if info.get("full_space") else "")
        )
        return
    from codec.models import ModelStore

    cancel = CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    try:
        with ProgressBar() as bar:
            r = backfill(ix, opts, ModelStore(data_dir), with_eta(bar), cancel)
    except Cancelled:
        typer.echo("backfill stopped: rerun `codec index backfill` to continue (nothing is redone)", err=True)
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGINT, previous)
    where = "the new model's own space" if r.full_space else "the compatible space"
    typer.echo(
        f"backfilled {name}: {r.rewritten} re-embedded, {r.already} already done, {r.unsourced} without a"
        f" source, {r.seconds:.1f} s; it ranks in {where}"
    )


def mount(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")
