"""EmbeddingService and IndexService: embeddings, vector files and the server's collections.

Compute (embedding, vector coding, index writes and searches) runs on the I/O executor, never on
the event loop. Embedders are loaded once per model and kept. The index is the embedded one in
the server's data dir (`<data dir>/index/`), held open by this process.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from codec import api
from codec.container import VectorMedia
from codec.errors import InvalidInput
from codec.rpc import embeddings_pb2, embeddings_pb2_grpc
from codec.rpc.matrix import from_matrix, to_matrix
from codec.rpc.options import from_proto_map
from service.config import Limits
from service.errors import rpc_errors
from service.inputs import decode_limits, image_from_bytes

MAX_EMBED_ITEMS = 4096  # per Embed call (the message size bounds it too)
MAX_TEXT_CHARS = 10_000
SNAPSHOT_CHUNK = 1 << 20


class _Base:
    def __init__(self, limits: Limits, executor: ThreadPoolExecutor, data_dir: Path) -> None:
        self.limits = limits
        self.executor = executor
        self.data_dir = data_dir

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def matrix(self, m, what: str) -> np.ndarray:
        return from_matrix(m, what, self.limits.vectors.max_count, self.limits.vectors.max_dim)


class EmbeddingServicer(_Base, embeddings_pb2_grpc.EmbeddingServiceServicer):
    def __init__(self, limits: Limits, executor: ThreadPoolExecutor, data_dir: Path, tmp_dir: Path) -> None:
        super().__init__(limits, executor, data_dir)
        self.tmp_dir = tmp_dir
        self._embedders: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _embedder(self, spec: str):
        from codec.embed.embedder import load_embedder
        from codec.models import ModelStore

        store = ModelStore(self.data_dir)
        resolved = store.get(spec).manifest.spec  # ModelMismatch for unknown names and versions
        with self._lock:
            if resolved not in self._embedders:
                self._embedders[resolved] = load_embedder(resolved, store)
            return self._embedders[resolved]

    def _embed(self, req: embeddings_pb2.EmbedRequest) -> tuple[Any, np.ndarray]:
        from codec.embed.embedder import model_input

        emb = self._embedder(req.model)
        n = len(req.texts) + len(req.images)
        if n == 0:
            raise InvalidInput("nothing to embed: the batch is empty")
        if n > MAX_EMBED_ITEMS:
            raise InvalidInput(f"{n} items exceed the limit of {MAX_EMBED_ITEMS} per call")
        if req.texts and req.images:
            raise InvalidInput("a batch holds texts or images, not both")
        if req.texts:
            if any(len(t) > MAX_TEXT_CHARS for t in req.texts):
                raise InvalidInput(f"texts are limited to {MAX_TEXT_CHARS} characters")
            return emb, emb.embed_texts(list(req.texts), req.dim, req.allow_any_dim)
        if emb.kind != "image":
            raise InvalidInput(f"{emb.spec} embeds texts, not images")
        pixels = self.limits.image.max_pixels
        grays = [model_input(image_from_bytes(d, pixels, f"image {i}")) for i, d in enumerate(req.images)]
        return emb, emb.embed_images(np.stack(grays), req.dim, req.allow_any_dim)

    @rpc_errors
    async def Embed(self, request, context) -> embeddings_pb2.EmbedResponse:
        emb, vectors = await self.run(self._embed, request)
        return embeddings_pb2.EmbedResponse(model=emb.spec, vectors=to_matrix(vectors))

    def _encode(self, x: np.ndarray, options: dict) -> tuple[bytes, float, dict]:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.tmp_dir) as tmp:
            src, dst = Path(tmp) / "in.npy", Path(tmp) / "out.ncv"
            np.save(src, x)
            r = api.encode(src, dst, None, options)  # the codec registered for .npy vector input
            return dst.read_bytes(), r.rate, {k: float(v) for k, v in r.metrics.items()}

    @rpc_errors
    async def EncodeVectors(self, request, context) -> embeddings_pb2.EncodeVectorsResponse:
        x = self.matrix(request.vectors, "vectors")
        data, rate, metrics = await self.run(self._encode, x, from_proto_map(request.options))
        return embeddings_pb2.EncodeVectorsResponse(file=data, bytes_per_vector=rate, metrics=metrics)

    def _decode(self, data: bytes) -> np.ndarray:
        f = api.open(data, limits=lambda media: decode_limits(self.limits, media))
        if f.codec.media != VectorMedia.KIND:
            raise InvalidInput(f"DecodeVectors takes vectors files, not {f.codec.name} files")
        return np.concatenate(list(api.decode_stream(f)))

    @rpc_errors
    async def DecodeVectors(self, request, context) -> embeddings_pb2.DecodeVectorsResponse:
        return embeddings_pb2.DecodeVectorsResponse(
            vectors=to_matrix(await self.run(self._decode, request.file))
        )


def _collection(info: dict) -> embeddings_pb2.Collection:
    return embeddings_pb2.Collection(
        name=info["name"], model=info["model"], dims=info["dims"], full_in_ram=not info["full_on_disk"],
        full_hnsw=info["full_hnsw"], points=info.get("points", 0), space=info.get("space", ""),
        model_dim=info.get("model_dim", 0), full_space=info.get("full_space", False),
        points_by_new_model=info.get("points_by_new_model", 0),
    )  # fmt: skip


class IndexServicer(_Base, embeddings_pb2_grpc.IndexServiceServicer):
    def __init__(self, limits: Limits, executor: ThreadPoolExecutor, data_dir: Path) -> None:
        super().__init__(limits, executor, data_dir)

    @property
    def index(self):
        from codec.index.index import shared_index

        return shared_index(self.data_dir)  # the one the index.backfill jobs use too

    @rpc_errors
    async def CreateCollection(self, request, context) -> embeddings_pb2.Collection:
        from codec.index.spec import CollectionSpec

        spec = CollectionSpec(request.name, request.model, tuple(request.dims), not request.full_in_ram,
                              request.full_hnsw)  # fmt: skip
        await self.run(self.index.create, spec)
        return _collection(await self.run(self.index.info, spec.name))

    @rpc_errors
    async def GetCollection(self, request, context) -> embeddings_pb2.Collection:
        return _collection(await self.run(self.index.info, request.name))

    @rpc_errors
    async def ListCollections(self, request, context) -> embeddings_pb2.ListCollectionsResponse:
        def infos() -> list[dict]:
            return [self.index.info(n) for n in self.index.names()]

        return embeddings_pb2.ListCollectionsResponse(
            collections=[_collection(i) for i in await self.run(infos)]
        )

    @rpc_errors
    async def DeleteCollection(self, request, context) -> embeddings_pb2.Collection:
        info = await self.run(self.index.info, request.name)
        await self.run(self.index.drop, request.name)
        return _collection(info)

    @rpc_errors
    async def Upsert(self, request_iterator, context) -> embeddings_pb2.UpsertResponse:
        name, written = None, 0
        async for msg in request_iterator:
            if name is None:
                if not msg.collection:
                    raise InvalidInput("the first Upsert message must name the collection")
                name = msg.collection
            if not msg.ids:
                continue
            x = self.matrix(msg.vectors, "vectors")
            if len(msg.ids) != len(x) or (msg.payloads and len(msg.payloads) != len(x)):
                raise InvalidInput(
                    f"{len(msg.ids)} ids and {len(msg.payloads)} payloads for {len(x)} vectors"
                )
            payloads = [
                {k: v for k, v in (("label", p.label), ("source", p.source)) if v} for p in msg.payloads
            ]
            written += await self.run(self.index.add, name, list(msg.ids), x, payloads or None)
        if name is None:
            raise InvalidInput("an Upsert needs at least one message naming the collection")
        total = await self.run(self.index.count, name)
        return embeddings_pb2.UpsertResponse(points=written, total=total)

    @rpc_errors
    async def Delete(self, request, context) -> embeddings_pb2.UpsertResponse:
        await self.run(self.index.remove, request.collection, list(request.ids))
        return embeddings_pb2.UpsertResponse(
            points=len(request.ids), total=await self.run(self.index.count, request.collection)
        )

    @rpc_errors
    async def Search(self, request, context) -> embeddings_pb2.SearchResponse:
        from codec.index.spec import Search

        q = self.matrix(request.queries, "queries")
        filt = {k: (int(v) if v.lstrip("-").isdigit() else v) for k, v in request.filter.items()}
        k = request.k or 10
        search = Search(
            k=k, mode=request.mode or "adaptive", shortlist=max(request.shortlist or 200, k), filter=filt
        )
        hits = await self.run(self.index.search, request.collection, q, search)
        out = embeddings_pb2.SearchResponse()
        for hs in hits:
            n = out.results.add()
            for h in hs:
                p = embeddings_pb2.Payload(
                    label=str(h.payload.get("label", "")), source=str(h.payload.get("source", "")),
                    model=str(h.payload.get("model", "")),
                )  # fmt: skip
                n.hits.add(id=h.ext_id, score=h.score, payload=p)
        return out

    @rpc_errors
    async def UpgradeCollection(self, request, context) -> embeddings_pb2.Collection:
        from codec.models import ModelStore

        def upgrade() -> dict:
            manifest = ModelStore(self.data_dir).get(request.to).manifest  # ModelMismatch if unknown
            self.index.upgrade(request.name, manifest)
            return self.index.info(request.name)

        return _collection(await self.run(upgrade))

    @rpc_errors
    async def Snapshot(self, request, context):
        with tempfile.TemporaryDirectory(dir=self.data_dir) as tmp:
            path = Path(tmp) / "snapshot"
            await self.run(self.index.snapshot, request.name, path)
            with open(path, "rb") as f:
                while chunk := f.read(SNAPSHOT_CHUNK):
                    yield embeddings_pb2.SnapshotChunk(data=chunk)

    def close(self) -> None:
        from codec.index.index import close_shared

        close_shared(self.data_dir)
