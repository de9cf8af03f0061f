"""EmbeddingService and IndexService calls: embeddings, vector files, the server's collections."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codec.client.transport import Connection
from codec.rpc import embeddings_pb2, embeddings_pb2_grpc
from codec.rpc.matrix import from_matrix, to_matrix
from codec.rpc.options import to_proto_map

MAX_ROWS = 1 << 32
UPSERT_BATCH = 2048  # vectors per Upsert message (well under the server's message limit)


def _matrix(m) -> np.ndarray:
    return from_matrix(m, "the server's vectors", MAX_ROWS, 1 << 16)


class EmbeddingsApi(Connection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.embeddings = embeddings_pb2_grpc.EmbeddingServiceStub(self.channel)
        self.index = embeddings_pb2_grpc.IndexServiceStub(self.channel)

    def embed(
        self,
        model: str,
        dim: int = 0,
        texts: Sequence[str] = (),
        images: Sequence[bytes] = (),
        allow_any_dim: bool = False,
    ) -> tuple[str, np.ndarray]:
        req = embeddings_pb2.EmbedRequest(model=model, dim=dim, texts=list(texts), images=list(images),
                                          allow_any_dim=allow_any_dim)  # fmt: skip
        r = self._unary(self.embeddings.Embed, req)
        return r.model, _matrix(r.vectors)

    def encode_vectors(self, x: np.ndarray, options: dict | None = None) -> tuple[bytes, float]:
        req = embeddings_pb2.EncodeVectorsRequest(vectors=to_matrix(x))
        to_proto_map(options or {}, req.options)
        r = self._unary(self.embeddings.EncodeVectors, req)
        return r.file, r.bytes_per_vector

    def decode_vectors(self, data: bytes) -> np.ndarray:
        r = self._unary(self.embeddings.DecodeVectors, embeddings_pb2.DecodeVectorsRequest(file=data))
        return _matrix(r.vectors)

    def decode_to_file(
        self,
        output: str | os.PathLike[str],
        bitstream: str | os.PathLike[str] | bytes | None = None,
        frames: Any = None,
        options: Any = None,
    ) -> int:
        """`codec decode FILE.ncv -o out.npy --server`: the vectors decoded there, written here."""
        from codec.io.vectors import write_vectors

        data = bitstream if isinstance(bitstream, bytes) else Path(bitstream).read_bytes()
        x = self.decode_vectors(data)
        write_vectors(output, x)
        return len(x)

    def create_collection(self, name: str, model: str, dims: Sequence[int], full_in_ram: bool = False,
                          full_hnsw: bool = False) -> embeddings_pb2.Collection:  # fmt: skip
        c = embeddings_pb2.Collection(name=name, model=model, dims=list(dims), full_in_ram=full_in_ram,
                                      full_hnsw=full_hnsw)  # fmt: skip
        return self._unary(self.index.CreateCollection, c)

    def get_collection(self, name: str) -> embeddings_pb2.Collection:
        return self._unary(self.index.GetCollection, embeddings_pb2.CollectionRef(name=name))

    def list_collections(self) -> list[embeddings_pb2.Collection]:
        r = self._unary(self.index.ListCollections, embeddings_pb2.ListCollectionsRequest())
        return list(r.collections)

    def delete_points(self, name: str, ids: Sequence[str]) -> None:
        self._unary(self.index.Delete, embeddings_pb2.DeletePointsRequest(collection=name, ids=list(ids)))

    def delete_collection(self, name: str) -> None:
        self._unary(self.index.DeleteCollection, embeddings_pb2.CollectionRef(name=name))

    def upgrade_collection(self, name: str, to: str) -> embeddings_pb2.Collection:
        req = embeddings_pb2.UpgradeRequest(name=name, to=to)
        return self._unary(self.index.UpgradeCollection, req)

    def upsert(self, name: str, ids: Sequence[str], x: np.ndarray, labels: Sequence[str] | None = None,
               sources: Sequence[str] | None = None):  # fmt: skip
        def messages():
            for start in range(0, len(ids), UPSERT_BATCH):
                end = start + UPSERT_BATCH
                pays = []
                if labels or sources:
                    lbs = list(labels or [""] * len(ids))[start:end]
                    srcs = list(sources or [""] * len(ids))[start:end]
                    pays = [embeddings_pb2.Payload(label=a, source=b) for a, b in zip(lbs, srcs, strict=True)]
                yield embeddings_pb2.UpsertRequest(
                    collection=name if start == 0 else "",
                    ids=list(ids[start:end]),
                    vectors=to_matrix(x[start:end]),
                    payloads=pays,
                )

        return self._call(
            lambda: self.index.Upsert(messages(), metadata=self.metadata, timeout=self.timeout_s)
        )

    def search(self, name: str, queries: np.ndarray, k: int = 10, mode: str = "adaptive", shortlist: int = 0,
               filter: dict[str, str] | None = None) -> list[list[tuple[str, float, dict]]]:  # fmt: skip
        """Per query: (id, score, payload fields that are set)."""
        req = embeddings_pb2.SearchRequest(collection=name, queries=to_matrix(queries), k=k, mode=mode,
                                           shortlist=shortlist, filter=filter or {})  # fmt: skip
        r = self._unary(self.index.Search, req)
        fields = ("label", "source", "model")
        def payload(p) -> dict:
            return {f: getattr(p, f) for f in fields if getattr(p, f)}

        return [[(h.id, h.score, payload(h.payload)) for h in n.hits] for n in r.results]

    def snapshot(self, name: str) -> bytes:
        ref = embeddings_pb2.CollectionRef(name=name)
        return self._call(
            lambda: b"".join(
                c.data for c in self.index.Snapshot(ref, metadata=self.metadata, timeout=self.timeout_s)
            )
        )
