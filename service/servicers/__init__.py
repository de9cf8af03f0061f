"""The gRPC services this server exposes, each registered once here.

A service is a descriptor name, a factory that builds its servicer from the server's parts, and
the generated `add_..._to_server` function. `service/server.py` loops over `SERVICES` for
wiring, health and reflection, so adding ImageService, EmbeddingService, ... is one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codec.rpc import (
    embeddings_pb2,
    embeddings_pb2_grpc,
    images_pb2,
    images_pb2_grpc,
    jobs_pb2,
    jobs_pb2_grpc,
    latents_pb2,
    latents_pb2_grpc,
    models_pb2,
    models_pb2_grpc,
    video_pb2,
    video_pb2_grpc,
)
from service.config import Limits
from service.jobs import JobManager


@dataclass
class ServerParts:
    """What servicers are built from."""

    jobs: JobManager
    limits: Limits
    tmp_dir: Path  # scratch space, emptied at every start
    data_dir: Path
    device: str
    executor: ThreadPoolExecutor  # file reads and decodes, apart from the job workers


@dataclass(frozen=True)
class Service:
    name: str  # full proto name, e.g. "codec.v1.JobService"
    build: Callable[[ServerParts], Any]
    add: Callable[[Any, Any], None]  # (servicer, grpc server)


def _jobs(p: ServerParts) -> Any:
    from service.servicers.jobs import JobServicer

    return JobServicer(p.jobs, p.limits, p.executor)


def _video(p: ServerParts) -> Any:
    from service.servicers.video import VideoServicer

    return VideoServicer(p.jobs, p.limits, p.tmp_dir, p.executor, p.device)


def _models(p: ServerParts) -> Any:
    from codec.models import ModelStore
    from service.servicers.models import ModelServicer

    return ModelServicer(ModelStore(p.data_dir))


def _embeddings(p: ServerParts) -> Any:
    from service.servicers.embeddings import EmbeddingServicer

    return EmbeddingServicer(p.limits, p.executor, p.data_dir, p.tmp_dir)


def _index(p: ServerParts) -> Any:
    from service.servicers.embeddings import IndexServicer

    return IndexServicer(p.limits, p.executor, p.data_dir)


def _images(p: ServerParts) -> Any:
    from service.servicers.images import ImageServicer

    return ImageServicer(p.limits, p.executor, p.data_dir, p.tmp_dir)


def _latents(p: ServerParts) -> Any:
    from service.servicers.latents import LatentServicer

    return LatentServicer(p.limits, p.executor, p.data_dir)


def _name(module: Any, service: str) -> str:
    return module.DESCRIPTOR.services_by_name[service].full_name


SERVICES: tuple[Service, ...] = (
    Service(_name(jobs_pb2, "JobService"), _jobs, jobs_pb2_grpc.add_JobServiceServicer_to_server),
    Service(_name(video_pb2, "VideoService"), _video, video_pb2_grpc.add_VideoServiceServicer_to_server),
    Service(_name(models_pb2, "ModelService"), _models, models_pb2_grpc.add_ModelServiceServicer_to_server),
    Service(
        _name(embeddings_pb2, "EmbeddingService"),
        _embeddings,
        embeddings_pb2_grpc.add_EmbeddingServiceServicer_to_server,
    ),
    Service(
        _name(embeddings_pb2, "IndexService"), _index, embeddings_pb2_grpc.add_IndexServiceServicer_to_server
    ),
    Service(_name(images_pb2, "ImageService"), _images, images_pb2_grpc.add_ImageServiceServicer_to_server),
    Service(
        _name(latents_pb2, "LatentService"), _latents, latents_pb2_grpc.add_LatentServiceServicer_to_server
    ),
)
