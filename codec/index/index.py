"""One index API over both engines: `open_index(data_dir=...)` (Qdrant Edge, embedded) or
`open_index(url=...)` (a Qdrant server, or `local:PATH` for qdrant-client's local mode).

Callers give full-size vectors and external ids; the index keeps each collection's named prefixes
(the Matryoshka rule: first d dims, renormalised), hashes ids (the payload keeps the external one),
adds in batches with progress, builds the graphs after bulk adds, and flushes before it returns,
so an add that returned is durable. Snapshots are engine-neutral tar files (the collection record,
ids, full vectors, payloads), so a collection moves between the embedded engine and a server.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from codec.embed.prefix import prefix
from codec.errors import CorruptData, InvalidInput
from codec.index.backend import Backend, point_id
from codec.index.spec import PAYLOAD_FIELDS, WRITTEN_FIELDS, CollectionSpec, Hit, Search
from codec.progress import ProgressCallback, ProgressEvent, null_progress

BATCH = 1000  # points per engine write
MAX_SNAPSHOT_MEMBER = 1 << 36  # 64 GiB


_SHARED: dict[Path, Index] = {}
_SHARED_LOCK = threading.Lock()


def shared_index(data_dir: Path) -> Index:
    """This process's one embedded index of a data dir: the engine locks a collection's files, so
    a server's IndexService and its backfill jobs must share one (`close_shared` at shutdown)."""
    key = Path(data_dir).resolve()
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = open_index(data_dir=key)
        return _SHARED[key]


def close_shared(data_dir: Path) -> None:
    with _SHARED_LOCK:
        ix = _SHARED.pop(Path(data_dir).resolve(), None)
    if ix is not None:
        ix.close()


def open_index(data_dir: str | os.PathLike[str] | None = None, url: str | None = None) -> Index:
    if url:
        from codec.index.server import QdrantBackend

        return Index(QdrantBackend(url), url)
    from codec.datadir import resolve_data_dir
    from codec.index.edge import EdgeBackend

    root = resolve_data_dir(data_dir) / "index"
    return Index(EdgeBackend(root), "embedded")


def _payloads(
    ext_ids: Sequence[str], payloads: Sequence[dict] | None, model: str, space: str
) -> list[dict]:
    out = []
    for i, ext in enumerate(ext_ids):
        if not isinstance(ext, str) or not 0 < len(ext) <= 512:
            raise InvalidInput(f"external ids are 1-512 character strings (item {i})")
        p = dict(payloads[i]) if payloads is not None else {}
        unknown = set(p) - set(PAYLOAD_FIELDS) - set(WRITTEN_FIELDS)
        if unknown:
            raise InvalidInput(
                f"payload fields are {', '.join(PAYLOAD_FIELDS)}; not {sorted(unknown)[0]!r:.40}"
            )
        p["ext_id"] = ext
        if model:  # which embedder wrote the point, and the space it is searchable in
            p.setdefault("model", model)
            p.setdefault("space", space)
        out.append(p)
    return out


def shadow_name(name: str, model: str) -> str:
    """The collection keeping an upgraded collection's whole new-model vectors ('..' marks it)."""
    version = model.rpartition("@")[2] or "new"
    return f"{name}..{version}"[:64]


def check_upgrade(spec: CollectionSpec, manifest: Any) -> None:
    """InvalidInput unless `manifest` (the new embedder) may answer for this collection: its lineage
    names the collection's model as compatible on dims covering the collection's short and full
    dims, trained at those nesting dims. The message shows the lineage."""
    space = spec.space_model
    shown = [f"{r.relation} {r.model}" + (f" dims {r.dims[0]}..{r.dims[1]}" if r.dims else "")
             for r in manifest.lineage]  # fmt: skip
    lineage = "; ".join(shown) or "none"
    why = ""
    if manifest.kind != "embedder":
        why = f"{manifest.spec} is a {manifest.kind}, not an embedder"
    elif not space:
        why = f"collection {spec.name} records no model (its vectors came from elsewhere)"
    elif manifest.spec == space:
        why = f"collection {spec.name} already holds {space}'s vectors"
    else:
        rel = next((r for r in manifest.lineage if r.relation == "compatible" and r.model == space), None)
        nesting = (manifest.arch.get("compatible") or {}).get("nesting")
        if rel is None or rel.dims is None:
            why = f"{manifest.spec}'s lineage does not name {space} as compatible"
        elif rel.dims[0] != 0 or rel.dims[1] < spec.full_dim:
            why = f"{manifest.spec} agrees on dims {rel.dims[0]}..{rel.dims[1]}, not 0..{spec.full_dim}"
        elif isinstance(nesting, list) and not set(spec.dims) <= set(nesting):
            missing = sorted(set(spec.dims) - set(nesting))
            why = f"{manifest.spec} was not trained compatible at dim(s) {', '.join(map(str, missing))}"
        elif int(manifest.arch.get("dim", 0)) < spec.full_dim:
            why = f"{manifest.spec}'s vectors are shorter than the collection's"
    if why:
        raise InvalidInput(f"cannot upgrade {spec.name} to {manifest.spec}: {why} (lineage: {lineage})")


def _check_vectors(x: np.ndarray, dim: int, what: str, alt: int = 0) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] not in (dim, alt or dim):
        sizes = f"{dim}-d" if alt in (0, dim) else f"{dim}-d or {alt}-d"
        raise InvalidInput(f"{what} must be {sizes} vectors, got shape {tuple(x.shape)}")
    if len(x) == 0:
        raise InvalidInput(f"no {what}: the batch is empty")
    if not np.isfinite(x).all():
        raise InvalidInput(f"{what} hold NaN or inf")
    return x


class Index:
    def __init__(self, backend: Backend, where: str) -> None:
        self.backend = backend
        self.where = where

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.backend.close()

    def create(self, spec: CollectionSpec) -> CollectionSpec:
        self.backend.create(spec)
        return spec

    def names(self) -> list[str]:
        """The collections, without the shadows that upgraded ones keep."""
        return [n for n in self.backend.names() if ".." not in n]

    def spec(self, name: str) -> CollectionSpec:
        return self.backend.spec(name)

    def info(self, name: str) -> dict[str, Any]:
        spec = self.spec(name)
        d = json.loads(spec.to_json())
        d.update(points=self.backend.count(name), engine=self.where)
        if spec.upgraded:  # how far a backfill has come: points written by the new model
            d["points_by_new_model"] = self.backend.count(name, {"model": spec.model})
            d["searched_in"] = spec.model if spec.full_space else spec.space_model
        return d

    def drop(self, name: str) -> None:
        spec = self.spec(name)
        self.backend.drop(name)
        if spec.shadow and spec.shadow in self.backend.names():
            self.backend.drop(spec.shadow)

    def upgrade(self, name: str, manifest: Any) -> CollectionSpec:
        """Let `manifest`'s model (checked by `check_upgrade`) embed this collection's queries and
        new items from now on; no stored vector changes. Its whole vectors go to a shadow
        collection (when it has dims beyond the compatible part), filled by backfill."""
        spec = self.spec(name)
        if spec.model == manifest.spec and spec.upgraded:
            return spec  # already done: upgrading twice is a no-op
        check_upgrade(spec, manifest)
        model_dim = int(manifest.arch["dim"])
        shadow = shadow_name(name, manifest.spec) if model_dim > spec.full_dim else ""
        if spec.shadow and spec.shadow != shadow and spec.shadow in self.backend.names():
            self.backend.drop(spec.shadow)  # an earlier upgrade's: superseded
        new = replace(spec, model=manifest.spec, space=spec.space_model, model_dim=model_dim, shadow=shadow,
                      full_space=False)  # fmt: skip
        if shadow and shadow not in self.backend.names():
            self._create_shadow(new)
        self.backend.set_spec(new)
        return new

    def _create_shadow(self, spec: CollectionSpec) -> None:
        """The empty collection that keeps an upgraded collection's whole new-model vectors."""
        self.backend.create(CollectionSpec(
            spec.shadow, spec.model, (spec.short_dim, spec.query_dim), spec.full_on_disk, spec.full_hnsw,
            shadow_of=spec.name,
        ))  # fmt: skip

    def finish_backfill(self, name: str) -> CollectionSpec:
        """Rank in the new model's own space from now on: every point is in the shadow."""
        spec = self.spec(name)
        if not spec.upgraded:
            raise InvalidInput(f"collection {name} has not been upgraded")
        if spec.shadow and self.backend.count(spec.shadow) != self.backend.count(name):
            raise InvalidInput(f"collection {name}: the backfill has not reached every point yet")
        new = replace(spec, full_space=bool(spec.shadow))
        self.backend.set_spec(new)
        return new

    def add(
        self,
        name: str,
        ext_ids: Sequence[str],
        vectors: np.ndarray,
        payloads: Sequence[dict] | None = None,
        progress: ProgressCallback = null_progress,
        optimize: bool = True,
        model: str | None = None,
    ) -> int:
        """Upsert full-size vectors under external ids (a repeated id replaces its point).

        An upgraded collection takes its model's vectors (query_dim long: the first full_dim dims
        are stored here, the whole vector in the shadow) or vectors of the space it was filled in
        (full_dim long). `model` names the writer; by default the collection's model, or for
        full_dim vectors of an upgraded collection with extra dims, its space's model."""
        spec = self.spec(name)
        x = _check_vectors(vectors, spec.full_dim, "vectors", spec.query_dim)
        if len(ext_ids) != len(x):
            raise InvalidInput(f"{len(ext_ids)} ids for {len(x)} vectors")
        whole = spec.shadow and x.shape[1] == spec.query_dim  # the new model's whole vectors
        if model is None:
            model = spec.model if whole or not spec.shadow else spec.space_model
        pays = _payloads(ext_ids, payloads, model, spec.space_model)
        ids = [point_id(e) for e in ext_ids]
        if spec.shadow and not whole and model == spec.model:
            raise InvalidInput(f"{model} vectors are {spec.query_dim}-d: the whole vector goes to the shadow")
        t0 = time.monotonic()
        for start in range(0, len(x), BATCH):
            stop = start + BATCH
            block, bids, bpays = x[start:stop], ids[start:stop], pays[start:stop]
            named = {d: prefix(block, d) for d in spec.dims}  # prefixes of the compatible part
            self.backend.upsert(name, bids, named, bpays)
            if whole:
                whole_named = {d: prefix(block, d) for d in (spec.short_dim, spec.query_dim)}
                self.backend.upsert(spec.shadow, bids, whole_named, bpays)
            elif spec.shadow:  # a space-model vector replaces the point: its old whole vector is stale
                self.backend.delete(spec.shadow, bids)
            done = min(stop, len(x))
            rate = done / max(time.monotonic() - t0, 1e-9)
            progress(ProgressEvent(phase="add", step=done, total=len(x), metrics={"points_per_s": rate}))
        if optimize:
            progress(ProgressEvent(phase="index", message="building the graphs"))
            self.backend.optimize(name)
            if spec.shadow:
                self.backend.optimize(spec.shadow)
        if spec.shadow:
            self.backend.flush(spec.shadow)
        self.backend.flush(name)
        return len(x)

    def remove(self, name: str, ext_ids: Sequence[str]) -> None:
        spec = self.spec(name)
        ids = [point_id(e) for e in ext_ids]
        if spec.shadow:
            self.backend.delete(spec.shadow, ids)
            self.backend.flush(spec.shadow)
        self.backend.delete(name, ids)
        self.backend.flush(name)

    def count(self, name: str, filter: dict[str, Any] | None = None) -> int:
        return self.backend.count(name, filter)

    def search(self, name: str, queries: np.ndarray, search: Search) -> list[list[Hit]]:
        """Nearest neighbours. Queries are the collection model's vectors (or, upgraded, vectors
        of its space): ranked in the space the stored vectors share (prefixes of the compatible
        part), or in the new model's whole space once a backfill has filled the shadow."""
        spec = self.spec(name)
        q = _check_vectors(queries, spec.full_dim, "queries", spec.query_dim)
        if spec.full_space and q.shape[1] == spec.query_dim:
            shadow = self.spec(spec.shadow)
            return self.backend.search(shadow, {d: prefix(q, d) for d in shadow.dims}, search)
        return self.backend.search(spec, {d: prefix(q, d) for d in spec.dims}, search)

    def snapshot(self, name: str, path: Path, progress: ProgressCallback = null_progress) -> int:
        """An engine-neutral tar: collection.json, ids.npy, vectors.npy (full), payloads.jsonl."""
        spec = self.spec(name)
        ids, vecs, pays = [], [], []
        for i, v, p in self.backend.scroll(name, BATCH):
            ids += i
            vecs.append(v)
            pays += p
            progress(ProgressEvent(phase="snapshot", step=len(ids), message="reading points"))
        x = np.concatenate(vecs) if vecs else np.zeros((0, spec.full_dim), np.float32)
        tmp = path.with_name(f".{path.name}.partial")
        with tarfile.open(tmp, "w") as tf:
            for member, data in (
                ("collection.json", spec.to_json().encode()),
                ("ids.npy", _npy(np.array(ids, dtype=np.int64))),
                ("vectors.npy", _npy(x)),
                ("payloads.jsonl", "".join(json.dumps(p, sort_keys=True) + "\n" for p in pays).encode()),
            ):
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
        tmp.replace(path)
        return len(ids)

    def restore(
        self, path: Path, name: str | None = None, progress: ProgressCallback = null_progress
    ) -> CollectionSpec:
        try:
            with tarfile.open(path, "r:") as tf:
                parts = {
                    m: _member(tf, m) for m in ("collection.json", "ids.npy", "vectors.npy", "payloads.jsonl")
                }
        except tarfile.TarError:
            raise CorruptData(f"{path.name}: not a collection snapshot") from None
        spec = CollectionSpec.from_json(parts["collection.json"].decode())
        # the shadow's whole vectors are not in a snapshot: a restored upgraded collection ranks in
        # the compatible space until a backfill refills its shadow
        shadow = shadow_name(name or spec.name, spec.model) if spec.shadow else ""
        spec = replace(spec, name=name or spec.name, shadow=shadow, full_space=False)
        try:
            x = np.load(io.BytesIO(parts["vectors.npy"]), allow_pickle=False)
            lines = parts["payloads.jsonl"].decode().splitlines()
            pays = [json.loads(line) for line in lines]
        except (ValueError, UnicodeDecodeError):
            raise CorruptData(f"{path.name}: a snapshot part is unreadable") from None
        if x.ndim != 2 or x.shape[1] != spec.full_dim or len(pays) != len(x):
            raise CorruptData(f"{path.name}: vectors and payloads do not match the collection record")
        exts = [p.get("ext_id") for p in pays]
        if not all(isinstance(e, str) for e in exts):
            raise CorruptData(f"{path.name}: a point has no external id")
        self.create(spec)
        if shadow:
            self._create_shadow(spec)
        if len(x):
            self.add(
                spec.name, exts, x, [{k: v for k, v in p.items() if k != "ext_id"} for p in pays], progress
            )
        return spec


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def _member(tf: tarfile.TarFile, name: str) -> bytes:
    try:
        m = tf.getmember(name)
    except KeyError:
        raise CorruptData(f"a collection snapshot lacks {name}") from None
    if not m.isfile() or m.size > MAX_SNAPSHOT_MEMBER:
        raise CorruptData(f"snapshot member {name} is not a plain file of a sane size")
    f = tf.extractfile(m)
    assert f is not None
    return f.read()
