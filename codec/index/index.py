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
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codec.embed.prefix import prefix
from codec.errors import CorruptData, InvalidInput
from codec.index.backend import Backend, point_id
from codec.index.spec import PAYLOAD_FIELDS, CollectionSpec, Hit, Search
from codec.progress import ProgressCallback, ProgressEvent, null_progress

BATCH = 1000  # points per engine write
MAX_SNAPSHOT_MEMBER = 1 << 36  # 64 GiB


def open_index(data_dir: str | os.PathLike[str] | None = None, url: str | None = None) -> Index:
    if url:
        from codec.index.server import QdrantBackend

        return Index(QdrantBackend(url), url)
    from codec.datadir import resolve_data_dir
    from codec.index.edge import EdgeBackend

    root = resolve_data_dir(data_dir) / "index"
    return Index(EdgeBackend(root), "embedded")


def _payloads(ext_ids: Sequence[str], payloads: Sequence[dict] | None) -> list[dict]:
    out = []
    for i, ext in enumerate(ext_ids):
        if not isinstance(ext, str) or not 0 < len(ext) <= 512:
            raise InvalidInput(f"external ids are 1-512 character strings (item {i})")
        p = dict(payloads[i]) if payloads is not None else {}
        unknown = set(p) - set(PAYLOAD_FIELDS)
        if unknown:
            raise InvalidInput(
                f"payload fields are {', '.join(PAYLOAD_FIELDS)}; not {sorted(unknown)[0]!r:.40}"
            )
        p["ext_id"] = ext
        out.append(p)
    return out


def _check_vectors(x: np.ndarray, dim: int, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != dim:
        raise InvalidInput(f"{what} must be {dim}-d vectors, got shape {tuple(x.shape)}")
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
        return self.backend.names()

    def spec(self, name: str) -> CollectionSpec:
        return self.backend.spec(name)

    def info(self, name: str) -> dict[str, Any]:
        spec = self.spec(name)
        d = json.loads(spec.to_json())
        d.update(points=self.backend.count(name), engine=self.where)
        return d

    def drop(self, name: str) -> None:
        self.backend.drop(name)

    def add(
        self,
        name: str,
        ext_ids: Sequence[str],
        vectors: np.ndarray,
        payloads: Sequence[dict] | None = None,
        progress: ProgressCallback = null_progress,
        optimize: bool = True,
    ) -> int:
        """Upsert full-size vectors under external ids (a repeated id replaces its point)."""
        spec = self.spec(name)
        x = _check_vectors(vectors, spec.full_dim, "vectors")
        if len(ext_ids) != len(x):
            raise InvalidInput(f"{len(ext_ids)} ids for {len(x)} vectors")
        pays = _payloads(ext_ids, payloads)
        ids = [point_id(e) for e in ext_ids]
        t0 = time.monotonic()
        for start in range(0, len(x), BATCH):
            block = x[start : start + BATCH]
            named = {d: prefix(block, d) for d in spec.dims}
            self.backend.upsert(name, ids[start : start + BATCH], named, pays[start : start + BATCH])
            done = min(start + BATCH, len(x))
            rate = done / max(time.monotonic() - t0, 1e-9)
            progress(ProgressEvent(phase="add", step=done, total=len(x), metrics={"points_per_s": rate}))
        if optimize:
            progress(ProgressEvent(phase="index", message="building the graphs"))
            self.backend.optimize(name)
        self.backend.flush(name)
        return len(x)

    def remove(self, name: str, ext_ids: Sequence[str]) -> None:
        self.spec(name)
        self.backend.delete(name, [point_id(e) for e in ext_ids])
        self.backend.flush(name)

    def count(self, name: str, filter: dict[str, Any] | None = None) -> int:
        return self.backend.count(name, filter)

    def search(self, name: str, queries: np.ndarray, search: Search) -> list[list[Hit]]:
        spec = self.spec(name)
        q = _check_vectors(queries, spec.full_dim, "queries")
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
        if name:
            spec = CollectionSpec(name, spec.model, spec.dims, spec.full_on_disk, spec.full_hnsw, spec.extra)
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
