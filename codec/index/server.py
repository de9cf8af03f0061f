"""A Qdrant server or cluster through `qdrant-client`: the same collections and searches as the
embedded engine (`--index-url http://host:6333`), or qdrant-client's local mode (`local:PATH`,
used by the tests: the same client API, brute-force search, no server).

The collection record rides in Qdrant's collection metadata. Point it at a cluster by giving any
node's URL; set the collection's shard and replication factors on the cluster (docs/INDEX.md).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from codec.errors import InvalidInput
from codec.index.backend import payload_filter
from codec.index.spec import CollectionSpec, Hit, Search, check_collection_name, vector_name

META_KEY = "neural_codec"


class QdrantBackend:
    def __init__(self, url: str) -> None:
        from qdrant_client import QdrantClient

        if url.startswith("local:"):
            self.client = QdrantClient(path=url[len("local:") :])
        elif url == ":memory:":
            self.client = QdrantClient(":memory:")
        else:
            self.client = QdrantClient(url=url, timeout=60)

    def create(self, spec: CollectionSpec) -> None:
        from qdrant_client import models

        check_collection_name(spec.name)
        if self.client.collection_exists(spec.name):
            raise InvalidInput(f"collection {spec.name} exists")
        vectors = {}
        for dim in spec.dims:
            full = dim == spec.full_dim
            vectors[vector_name(dim)] = models.VectorParams(
                size=dim,
                distance=models.Distance.COSINE,
                on_disk=full and spec.full_on_disk,
                hnsw_config=models.HnswConfigDiff(m=0) if full and not spec.full_hnsw else None,
            )
        self.client.create_collection(spec.name, vectors_config=vectors, metadata={META_KEY: spec.to_json()})

    def spec(self, name: str) -> CollectionSpec:
        check_collection_name(name)
        if not self.client.collection_exists(name):
            raise InvalidInput(f"no collection named {name}")
        meta = self.client.get_collection(name).config.metadata or {}
        if META_KEY not in meta:
            raise InvalidInput(f"collection {name} was not made by neural-codec")
        return CollectionSpec.from_json(meta[META_KEY])

    def set_spec(self, spec: CollectionSpec) -> None:
        self.spec(spec.name)
        self.client.update_collection(spec.name, metadata={META_KEY: spec.to_json()})

    def existing(self, name: str, ids: Sequence[int]) -> set[int]:
        pts = self.client.retrieve(name, [int(i) for i in ids], with_payload=False, with_vectors=False)
        return {int(p.id) for p in pts}

    def names(self) -> list[str]:
        return sorted(c.name for c in self.client.get_collections().collections)

    def count(self, name: str, filter: dict[str, Any] | None = None) -> int:
        from qdrant_client import models

        self.spec(name)
        return int(self.client.count(name, count_filter=payload_filter(models, filter), exact=True).count)

    def drop(self, name: str) -> None:
        self.spec(name)
        self.client.delete_collection(name)

    def upsert(
        self, name: str, ids: Sequence[int], vectors: dict[int, np.ndarray], payloads: list[dict]
    ) -> None:
        from qdrant_client import models

        points = [
            models.PointStruct(
                id=int(pid),
                vector={vector_name(d): v[i].tolist() for d, v in vectors.items()},
                payload=payloads[i],
            )  # fmt: skip
            for i, pid in enumerate(ids)
        ]
        self.client.upsert(name, points=points, wait=True)

    def delete(self, name: str, ids: Sequence[int]) -> None:
        from qdrant_client import models

        self.client.delete(name, points_selector=models.PointIdsList(points=[int(i) for i in ids]), wait=True)

    def search(self, spec: CollectionSpec, queries: dict[int, np.ndarray], search: Search) -> list[list[Hit]]:
        from qdrant_client import models

        name = spec.name
        flt = payload_filter(models, search.filter)
        requests = []
        stages = search.stages(spec)
        for row in range(len(queries[spec.full_dim])):
            prefetch = None
            for dim, limit, exact in stages[:-1]:
                params = models.SearchParams(hnsw_ef=search.hnsw_ef or None, exact=exact)
                q = queries[dim][row].tolist()
                prefetch = models.Prefetch(
                    query=q, using=vector_name(dim), limit=limit, prefetch=prefetch, filter=flt, params=params
                )
            dim, limit, exact = stages[-1]
            params = models.SearchParams(hnsw_ef=search.hnsw_ef or None, exact=exact)
            requests.append(models.QueryRequest(
                query=queries[dim][row].tolist(), using=vector_name(dim), prefetch=prefetch, limit=limit,
                filter=flt, with_payload=True, params=params,
            ))  # fmt: skip
        with warnings.catch_warnings():  # local mode: "search_params has no effect" (it scans)
            warnings.simplefilter("ignore", UserWarning)
            results = self.client.query_batch_points(name, requests=requests)
        return [
            [Hit(p.payload.get("ext_id", str(p.id)), float(p.score), dict(p.payload)) for p in r.points]
            for r in results
        ]

    def scroll(self, name: str, batch: int) -> Iterator[tuple[list[int], np.ndarray, list[dict]]]:
        spec = self.spec(name)
        full = vector_name(spec.full_dim)
        offset = None
        while True:
            pts, offset = self.client.scroll(
                name, limit=batch, offset=offset, with_payload=True, with_vectors=[full]
            )
            if pts:
                yield (
                    [int(p.id) for p in pts],
                    np.array([p.vector[full] for p in pts], np.float32),
                    [dict(p.payload) for p in pts],
                )
            if offset is None or not pts:
                return

    def optimize(self, name: str) -> bool:
        return False  # a server indexes in the background

    def flush(self, name: str) -> None:
        pass  # wait=True writes are acknowledged once durable on the server

    def close(self) -> None:
        self.client.close()
