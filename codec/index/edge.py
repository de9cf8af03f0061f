"""Qdrant Edge (`qdrant-edge-py`), the Qdrant engine in-process: one shard per collection, under
`<data dir>/index/<name>/` with the collection record beside it (`collection.json`; an upgrade
replaces it atomically).

Writes go through the shard's write-ahead log, so an acknowledged upsert survives kill -9; `flush`
(called at the end of every add) also makes it survive power loss. The WAL locks the directory:
a second process opening the same collection is told it is in use. The short prefix vectors and
the HNSW graphs stay in RAM; full vectors are memory-mapped from disk unless the collection says
otherwise. Nothing indexes in the background: `optimize` builds the graphs (index.py calls it
after bulk adds).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codec.errors import InvalidInput, ResourceLimit
from codec.index.backend import payload_filter
from codec.index.spec import CollectionSpec, Hit, Search, check_collection_name, vector_name

RECORD = "collection.json"


def _engine():
    import qdrant_edge

    return qdrant_edge


class EdgeBackend:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._open: dict[str, Any] = {}
        self._specs: dict[str, CollectionSpec] = {}  # records never change once written: read once

    def _dir(self, name: str) -> Path:
        return self.root / check_collection_name(name)

    def _shard(self, name: str):
        shard = self._open.get(name)
        if shard is None:
            d = self._dir(name)
            if not (d / RECORD).exists():
                raise InvalidInput(f"no collection named {name}")
            try:
                shard = _engine().EdgeShard.load(str(d / "shard"))
            except Exception as e:  # the engine raises plain Exceptions
                if "WouldBlock" in str(e):
                    raise InvalidInput(
                        f"collection {name} is open in another process (a server? use --server)"
                    ) from None
                raise InvalidInput(
                    f"collection {name} cannot be opened: {str(e).splitlines()[0][:160]}"
                ) from None
            self._open[name] = shard
        return shard

    def create(self, spec: CollectionSpec) -> None:
        qe = _engine()
        d = self._dir(spec.name)
        if (d / RECORD).exists():
            raise InvalidInput(f"collection {spec.name} exists")
        shutil.rmtree(d, ignore_errors=True)  # a half-made one from a crash
        d.mkdir(parents=True)
        graph = qe.HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=1000, max_indexing_threads=0)
        no_graph = qe.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=1000)
        vectors = {}
        for dim in spec.dims:
            full = dim == spec.full_dim
            vectors[vector_name(dim)] = qe.EdgeVectorParams(
                size=dim,
                distance=qe.Distance.Cosine,
                memory=qe.Memory.Cold if full and spec.full_on_disk else qe.Memory.Cached,
                hnsw_config=(graph if spec.full_hnsw else no_graph) if full else graph,
            )
        cfg = qe.EdgeConfig(
            vectors=vectors, hnsw_config=graph, optimizers=qe.EdgeOptimizersConfig(indexing_threshold=1)
        )
        self._open[spec.name] = qe.EdgeShard.create(str(d / "shard"), cfg)
        _write_record(d, spec)

    def set_spec(self, spec: CollectionSpec) -> None:
        """Replace a collection's record (an upgrade): atomically, so a crash leaves one or the other."""
        d = self._dir(spec.name)
        if not (d / RECORD).exists():
            raise InvalidInput(f"no collection named {spec.name}")
        _write_record(d, spec)
        self._specs[spec.name] = spec

    def existing(self, name: str, ids: Sequence[int]) -> set[int]:
        pts = self._shard(name).retrieve([int(i) for i in ids], False, False)
        return {int(p.id) for p in pts}

    def spec(self, name: str) -> CollectionSpec:
        if name not in self._specs:
            p = self._dir(name) / RECORD
            if not p.exists():
                raise InvalidInput(f"no collection named {name}")
            self._specs[name] = CollectionSpec.from_json(p.read_text())
        return self._specs[name]

    def names(self) -> list[str]:
        return sorted(d.name for d in self.root.iterdir() if (d / RECORD).exists())

    def count(self, name: str, filter: dict[str, Any] | None = None) -> int:
        qe = _engine()
        return int(self._shard(name).count(qe.CountRequest(exact=True, filter=payload_filter(qe, filter))))

    def drop(self, name: str) -> None:
        shard = self._open.pop(name, None)
        self._specs.pop(name, None)
        if shard is not None:
            shard.close()
        d = self._dir(name)
        if not (d / RECORD).exists():
            raise InvalidInput(f"no collection named {name}")
        (d / RECORD).unlink()  # first: a crash mid-delete leaves no half collection behind
        shutil.rmtree(d, ignore_errors=True)

    def upsert(
        self, name: str, ids: Sequence[int], vectors: dict[int, np.ndarray], payloads: list[dict]
    ) -> None:
        qe = _engine()
        points = [
            qe.Point(int(pid), {vector_name(d): v[i] for d, v in vectors.items()}, payloads[i])
            for i, pid in enumerate(ids)
        ]
        try:
            self._shard(name).update(qe.UpdateOperation.upsert_points(points))
        except Exception as e:
            raise _engine_error(e) from None

    def delete(self, name: str, ids: Sequence[int]) -> None:
        self._shard(name).update(_engine().UpdateOperation.delete_points([int(i) for i in ids]))

    def search(self, spec: CollectionSpec, queries: dict[int, np.ndarray], search: Search) -> list[list[Hit]]:
        qe = _engine()
        name = spec.name
        flt = payload_filter(qe, search.filter)
        requests = []
        stages = search.stages(spec)
        for row in range(len(queries[spec.full_dim])):
            prefetch = None
            for dim, limit, exact in stages[:-1]:
                params = qe.SearchParams(hnsw_ef=search.hnsw_ef or None, exact=exact)
                q = qe.Query.Nearest(queries[dim][row], using=vector_name(dim))
                prefetch = [qe.Prefetch(limit=limit, query=q, prefetches=prefetch, params=params, filter=flt)]
            dim, limit, exact = stages[-1]
            requests.append(qe.QueryRequest(
                query=qe.Query.Nearest(queries[dim][row], using=vector_name(dim)), prefetches=prefetch,
                limit=limit, filter=flt, with_payload=True,
                params=qe.SearchParams(hnsw_ef=search.hnsw_ef or None, exact=exact),
            ))  # fmt: skip
        results = self._shard(name).query_batch(qe.QueryBatchRequest(requests))
        return [
            [Hit(p.payload.get("ext_id", str(p.id)), float(p.score), dict(p.payload)) for p in r]
            for r in results
        ]

    def scroll(self, name: str, batch: int) -> Iterator[tuple[list[int], np.ndarray, list[dict]]]:
        qe = _engine()
        spec = self.spec(name)
        offset = None
        full = vector_name(spec.full_dim)
        while True:
            pts, offset = self._shard(name).scroll(
                qe.ScrollRequest(limit=batch, offset=offset, with_payload=True, with_vector=[full])
            )
            if pts:
                vecs = np.array([p.vector[full] for p in pts], dtype=np.float32)
                yield [int(p.id) for p in pts], vecs, [dict(p.payload) for p in pts]
            if offset is None or not pts:
                return

    def optimize(self, name: str) -> bool:
        return bool(self._shard(name).optimize())

    def flush(self, name: str) -> None:
        self._shard(name).flush()

    def close(self) -> None:
        for shard in self._open.values():
            shard.close()
        self._open.clear()


def _write_record(d: Path, spec: CollectionSpec) -> None:
    """The collection record, replaced atomically: a crash leaves the old one or the new one."""
    (d / (RECORD + ".tmp")).write_text(spec.to_json())
    (d / (RECORD + ".tmp")).replace(d / RECORD)


def _engine_error(e: Exception) -> Exception:
    text = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
    if "No space" in text or "memory" in text.lower():
        return ResourceLimit(f"the index ran out of room: {text}")
    return InvalidInput(f"the index refused the write: {text}")
