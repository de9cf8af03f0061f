"""Generated gRPC stubs for `proto/codec/v1`, built on first import.

The stubs live in the git-ignored `codec/_proto/` and are regenerated whenever the .proto files
change, so a fresh clone works without a build step (this makes grpcio-tools a runtime
dependency). `scripts/gen_proto.py` runs the same generation by hand.
"""

from __future__ import annotations

from codec.rpc.generate import ensure_stubs

ensure_stubs()

from codec._proto import (  # noqa: E402
    common_pb2,
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

__all__ = [
    "common_pb2",
    "embeddings_pb2",
    "embeddings_pb2_grpc",
    "images_pb2",
    "images_pb2_grpc",
    "jobs_pb2",
    "jobs_pb2_grpc",
    "latents_pb2",
    "latents_pb2_grpc",
    "models_pb2",
    "models_pb2_grpc",
    "video_pb2",
    "video_pb2_grpc",
]
