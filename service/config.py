"""Server settings as dataclasses; every limit has a default that a small GPU box can live with."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MiB = 1 << 20
GiB = 1 << 30


@dataclass
class VideoLimits:
    max_pixels: int = 3840 * 2160  # width * height of one frame
    max_frames: int = 10_000  # frames per job


@dataclass
class ImageLimits:
    max_pixels: int = 1 << 26  # 64 megapixels


@dataclass
class VectorLimits:
    max_count: int = 10_000_000  # vectors in one upload
    max_dim: int = 8192


@dataclass
class LatentLimits:
    max_items: int = 100_000  # images in one latents file (encode, decode, edit)
    max_pixels: int = 1 << 30  # decoded pixels of one file: 260k images of 64x64


@dataclass
class Limits:
    # Messages: clients send chunks (1 MiB recommended, 4 MiB max in the benchmark sweep), the
    # server sends raw frames, so the send limit must hold one frame at max_pixels (4K RGB = 24 MiB).
    max_receive_message_bytes: int = 8 * MiB
    max_send_message_bytes: int = 64 * MiB
    max_upload_bytes: int = 2 * GiB
    max_bitstream_bytes: int = 256 * MiB  # inline bitstream sent to Decode
    # Per media kind: what an uploaded input may hold (checked before a job is queued).
    video: VideoLimits = field(default_factory=VideoLimits)
    image: ImageLimits = field(default_factory=ImageLimits)
    vectors: VectorLimits = field(default_factory=VectorLimits)
    latents: LatentLimits = field(default_factory=LatentLimits)
    max_epochs: int = 10_000  # for every job kind with an `epochs` option
    # What one decode may cost, from the file's header (codec.limits); items and pixels come from
    # the media kind's limits above.
    max_decode_memory_bytes: int = 4 * GiB  # per decode; max_concurrent_decodes run at once
    max_decode_work: float = 2e15  # multiply-adds: e.g. 10k frames at 2e11
    max_queued_jobs: int = 16  # waiting jobs beyond the running ones; more -> RESOURCE_EXHAUSTED
    max_concurrent_uploads: int = 8
    # A resumable upload whose stream broke is kept this long for the client to continue it; only
    # its bytes count (disk quota), not a queue or upload slot. The oldest go beyond max_parked_uploads.
    upload_resume_ttl_s: float = 3600.0
    max_parked_uploads: int = 16
    max_concurrent_decodes: int = 2
    disk_quota_bytes: int = 50 * GiB  # uploads + results of every stored job; 0: no quota
    job_ttl_s: float = 7 * 24 * 3600.0  # finished jobs are deleted this long after they finish
    max_attempts: int = 3  # a job that took the server down this often is failed, not resumed
    retry_after_s: float = 5.0  # the hint sent with RESOURCE_EXHAUSTED for a full queue
    max_read_chunk_bytes: int = 4 * MiB


@dataclass
class TlsConfig:
    cert: Path
    key: Path
    client_ca: Path | None = None  # set: mutual TLS, clients must present a cert signed by it


@dataclass
class ServerConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 50051
    workers: int = 1  # jobs that run at once (one GPU: 1)
    tokens: tuple[str, ...] = ()  # accepted bearer tokens; empty: no auth (loopback only)
    read_only_tokens: tuple[str, ...] = ()  # may read jobs and decode, not submit/cancel/delete
    tls: TlsConfig | None = None
    insecure: bool = False  # allow a non-loopback bind without token
    metrics_port: int | None = None  # Prometheus /metrics on this port; None: off
    metrics_host: str = ""  # "": same as host
    device: str = "auto"  # the device jobs run on unless the request names one
    grace_s: float = 30.0  # SIGTERM: how long in-flight RPCs may finish
    job_stop_timeout_s: float = 60.0  # then how long running jobs get to checkpoint and stop
    sweep_interval_s: float = 60.0  # retention sweep period
    limits: Limits = field(default_factory=Limits)

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"
