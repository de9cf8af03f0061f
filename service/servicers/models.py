"""ModelService: the models this server decodes and encodes with (shipped ones and its data dir's)."""

from __future__ import annotations

from codec.models import ModelStore
from codec.rpc import models_pb2, models_pb2_grpc
from service.errors import rpc_errors


def _model(stored) -> models_pb2.Model:
    m = stored.manifest
    return models_pb2.Model(
        name=m.name,
        version=m.version,
        kind=m.kind,
        sha256=m.weights.sha256,
        weights_bytes=m.weights.bytes,
        shipped=stored.shipped,
        manifest_json=m.to_json().decode(),
        lineage=[
            models_pb2.Lineage(relation=r.relation, model=r.model, dims_start=r.dims[0] if r.dims else 0,
                               dims_stop=r.dims[1] if r.dims else 0, note=r.note or "")
            for r in m.lineage
        ],  # fmt: skip
    )


class ModelServicer(models_pb2_grpc.ModelServiceServicer):
    def __init__(self, store: ModelStore) -> None:
        self.store = store

    @rpc_errors
    async def ListModels(
        self, request: models_pb2.ListModelsRequest, context
    ) -> models_pb2.ListModelsResponse:
        return models_pb2.ListModelsResponse(
            models=[_model(s) for s in self.store.stored(request.kind or None)]
        )

    @rpc_errors
    async def GetModel(self, request: models_pb2.GetModelRequest, context) -> models_pb2.Model:
        return _model(self.store.get(request.spec))
