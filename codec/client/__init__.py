"""Client for a `codec serve` server: what `codec encode/decode --server` and `codec jobs` use.

Split by concern: `transport` (channels, TLS, tokens, deadlines, retries), `jobs` (submit with
resumable uploads, watch, results), and one module per media service (`video`) plus `models`.
`CodecClient` is all of them over one shared channel.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from codec.client.embeddings import EmbeddingsApi
from codec.client.jobs import (
    CHUNK_BYTES,
    STATE_NAMES,
    TERMINAL_STATES,
    JobsApi,
    job_error,
    option_values,
    progress_event,
)
from codec.client.latents import LatentsApi
from codec.client.models import ModelsApi
from codec.client.transport import (
    RemoteError,
    RetryPolicy,
    TlsFiles,
    close_channels,
    error_from_rpc,
    get_channel,
    read_token,
    retry_hint,
)
from codec.client.video import VideoApi, parse_frames
from codec.progress import ProgressCallback, ProgressEvent, null_progress
from codec.rpc import jobs_pb2

__all__ = [
    "CHUNK_BYTES",
    "STATE_NAMES",
    "TERMINAL_STATES",
    "CodecClient",
    "RemoteError",
    "RetryPolicy",
    "TlsFiles",
    "close_channels",
    "error_from_rpc",
    "get_channel",
    "job_error",
    "option_values",
    "parse_frames",
    "progress_event",
    "read_token",
    "remote_decode",
    "remote_encode",
    "retry_hint",
]


class CodecClient(JobsApi, VideoApi, ModelsApi, EmbeddingsApi, LatentsApi):
    """Calls to one server. Cheap to create: the channel underneath is shared."""


# Per media kind: how a decoded file comes back from the server (one entry per media service).
_DECODE_TO_FILE = {
    "video": VideoApi.decode_to_file,
    "vectors": EmbeddingsApi.decode_to_file,
    "latents": LatentsApi.decode_to_file,
}


def remote_encode(
    server: str,
    codec: str,
    input_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    options: Any = None,
    token: str | None = None,
    progress: ProgressCallback = null_progress,
    token_file: str | os.PathLike[str] | None = None,
    tls: TlsFiles | bool | None = None,
) -> jobs_pb2.Job:
    """Upload, follow progress, download the result to `output`. Ctrl-C cancels the remote job."""
    from codec.tasks import encode_kind

    client = CodecClient(server, token=token, token_file=token_file, tls=tls)
    progress(ProgressEvent(phase="upload", message=f"uploading {Path(input_path).name} to {server}"))
    job_id = client.submit_job(encode_kind(codec), options, input_path)
    try:
        job = client.watch_job(job_id, progress)
    except KeyboardInterrupt:
        try:
            client.cancel_job(job_id)
        finally:
            raise
    if job.state != jobs_pb2.JOB_STATE_SUCCEEDED:
        raise job_error(job, server)
    progress(ProgressEvent(phase="download", message=f"downloading job {job_id}"))
    client.read_result(job_id, output)
    return job


def remote_decode(
    server: str,
    opened: Any,
    output: str | os.PathLike[str],
    options: Any = None,
    token: str | None = None,
    token_file: str | os.PathLike[str] | None = None,
    tls: TlsFiles | bool | None = None,
) -> int:
    """Decode a local file (a `codec.api.open` result) on the server into `output`; returns the
    items written. `options` are its codec's decode options (the media service takes the range)."""
    decode = _DECODE_TO_FILE.get(opened.codec.media)
    if decode is None:
        raise RemoteError(f"decoding {opened.codec.media} on a server is not supported yet")
    values = option_values(options)
    values.pop("device", None)  # the server's choice
    frames = values.pop("frames", None)
    client = CodecClient(server, token=token, token_file=token_file, tls=tls)
    return decode(client, output, bitstream=opened.path, frames=frames, options=values)
