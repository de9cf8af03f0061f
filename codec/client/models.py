"""ModelService calls: which models a server has."""

from __future__ import annotations

from typing import Any

from codec.client.transport import Connection
from codec.rpc import models_pb2, models_pb2_grpc


class ModelsApi(Connection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.models = models_pb2_grpc.ModelServiceStub(self.channel)

    def list_models(self, kind: str = "") -> list[models_pb2.Model]:
        return list(self._unary(self.models.ListModels, models_pb2.ListModelsRequest(kind=kind)).models)

    def get_model(self, spec: str) -> models_pb2.Model:
        return self._unary(self.models.GetModel, models_pb2.GetModelRequest(spec=spec))
