"""`codec serve`, `codec health` and `codec jobs list|show|watch|cancel|delete|result`.

Mounted into the main app by `mount(app)`. Thin like the rest of the CLI: parse, call
`service.server.serve` or `codec.client`, print. Errors are CodecErrors, which `codec.cli.main`
turns into one line and exit code 2.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

ServerOpt = Annotated[
    str, typer.Option("--server", envvar="CODEC_SERVER", help="HOST:PORT of a codec server ($CODEC_SERVER)")
]
TokenFileOpt = Annotated[
    Path | None, typer.Option("--token-file", help="file holding the bearer token (else $CODEC_TOKEN)")
]
TlsCaOpt = Annotated[
    Path | None, typer.Option("--tls-ca", help="CA certificate to trust for a TLS server ($CODEC_TLS_CA)")
]
TlsCertOpt = Annotated[Path | None, typer.Option("--tls-cert", help="client certificate for mutual TLS")]
TlsKeyOpt = Annotated[Path | None, typer.Option("--tls-key", help="client key for mutual TLS")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]

DEFAULT_SERVER = "127.0.0.1:50051"

jobs_app = typer.Typer(no_args_is_help=True, help="List, follow, cancel and fetch jobs on a codec server.")


def _client(
    server: str, token_file: Path | None, tls_ca: Path | None, tls_cert: Path | None, tls_key: Path | None
):
    from codec.client import CodecClient, TlsFiles

    # No TLS flag: CodecClient falls back to $CODEC_TLS_*.
    return CodecClient(server, token_file=token_file, tls=TlsFiles.from_flags(tls_ca, tls_cert, tls_key))


def _job_dict(job) -> dict:
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(job, preserving_proto_field_name=True)


def _when(ts) -> str:
    if not ts.seconds:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts.seconds))


def _describe(job) -> str:
    from codec.client import STATE_NAMES

    state = STATE_NAMES.get(job.state, "?")
    ev = job.last_event
    progress = f"{ev.phase} {ev.step}/{ev.total}" if ev.phase else ""
    if job.error.message:
        progress = job.error.message
    return f"{job.job_id}  {job.kind:<13} {state:<9} {_when(job.created_at)}  {progress}"


@jobs_app.command("list")
def list_jobs(
    state: Annotated[
        list[str] | None,
        typer.Option("--state", help="queued|running|succeeded|failed|cancelled (repeatable)"),
    ] = None,
    limit: Annotated[int, typer.Option(help="newest N jobs")] = 50,
    server: ServerOpt = DEFAULT_SERVER,
    token_file: TokenFileOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List jobs, newest first."""
    jobs = _client(server, token_file, tls_ca, tls_cert, tls_key).list_jobs(tuple(state or ()), limit=limit)
    if json_out:
        typer.echo(json.dumps([_job_dict(j) for j in jobs], indent=2))
        return
    for job in jobs:
        typer.echo(_describe(job))
    if not jobs:
        typer.echo("no jobs", err=True)


@jobs_app.command("show")
def show_job(
    job_id: str,
    server: ServerOpt = DEFAULT_SERVER,
    token_file: TokenFileOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
) -> None:
    """Print one job as JSON."""
    job = _client(server, token_file, tls_ca, tls_cert, tls_key).get_job(job_id)
    typer.echo(json.dumps(_job_dict(job), indent=2))


@jobs_app.command("watch")
def watch_job(
    job_id: str,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="download the result when done")
    ] = None,
    server: ServerOpt = DEFAULT_SERVER,
    token_file: TokenFileOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
) -> None:
    """Follow a job's progress to its end (survives server restarts); exit 2 if it failed."""
    from codec.cli_progress import ProgressBar
    from codec.client import job_error
    from codec.rpc import jobs_pb2

    client = _client(server, token_file, tls_ca, tls_cert, tls_key)
    with ProgressBar() as bar:
        job = client.watch_job(job_id, bar)
    if job.state != jobs_pb2.JOB_STATE_SUCCEEDED:
        raise job_error(job, server)
    if output is not None:
        n = client.read_result(job_id, output)
        typer.echo(f"wrote {output} ({n} bytes)")
    else:
        typer.echo(f"job {job_id} succeeded ({job.result_bytes} bytes)")


@jobs_app.command("cancel")
def cancel_job(
    job_id: str,
    server: ServerOpt = DEFAULT_SERVER,
    token_file: TokenFileOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
) -> None:
    """Cancel a queued or running job (a running one stops at its next step, keeping its checkpoint)."""
    job = _client(server, token_file, tls_ca, tls_cert, tls_key).cancel_job(job_id)
    typer.echo(_describe(job))


@jobs_app.command("delete")
def delete_job(
    job_id: str,
    server: ServerOpt = DEFAULT_SERVER,
    token_file: TokenFileOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
) -> None:
    """Delete a finished job with its upload and result."""
    _client(server, token_file, tls_ca, tls_cert, tls_key).delete_job(job_id)
    typer.echo(f"deleted {job_id}")


@jobs_app.command("result")
def read_result(
    job_id: str,
    output: Annotated[Path, typer.Option("-o", "--output", help="where to write the result (.hnerv)")],
    server: ServerOpt = DEFAULT_SERVER,
    token_file: TokenFileOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
) -> None:
    """Download a succeeded job's result."""
    n = _client(server, token_file, tls_ca, tls_cert, tls_key).read_result(job_id, output)
    typer.echo(f"wrote {output} ({n} bytes)")


def health(
    server: ServerOpt = DEFAULT_SERVER,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
) -> None:
    """Print the server's health (SERVING, NOT_SERVING); exit 1 unless SERVING. No token needed."""
    status = _client(server, None, tls_ca, tls_cert, tls_key).health()
    typer.echo(status)
    if status != "SERVING":
        raise typer.Exit(1)


def serve(
    host: Annotated[
        str, typer.Option(help="address to listen on; beyond loopback needs a token or --insecure")
    ] = ("127.0.0.1"),
    port: Annotated[int, typer.Option(help="0: any free port (logged)")] = 50051,
    data_dir: Annotated[
        str | None, typer.Option("--data-dir", help="jobs, uploads and results (else $CODEC_DATA_DIR)")
    ] = None,
    workers: Annotated[int, typer.Option(help="jobs that run at once (one GPU: 1)")] = 1,
    token_file: Annotated[
        Path | None, typer.Option(help="accepted bearer tokens, one per line ('TOKEN read-only' for readers)")
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="server certificate (PEM)")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="server key (PEM)")] = None,
    tls_client_ca: Annotated[
        Path | None, typer.Option(help="require client certificates signed by this CA")
    ] = None,
    metrics_port: Annotated[int | None, typer.Option(help="serve Prometheus /metrics on this port")] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="allow a non-loopback bind without a token")
    ] = False,
    device: Annotated[str, typer.Option(help="auto|cpu|cuda: where jobs run unless they ask")] = "auto",
    grace: Annotated[float, typer.Option(help="seconds in-flight calls get on SIGTERM")] = 30.0,
    max_upload_mb: Annotated[int, typer.Option(help="largest accepted upload")] = 2048,
    max_queued_jobs: Annotated[int, typer.Option(help="waiting jobs before RESOURCE_EXHAUSTED")] = 16,
    disk_quota_gb: Annotated[float, typer.Option(help="uploads + results kept (0: no quota)")] = 50.0,
    job_ttl_hours: Annotated[float, typer.Option(help="finished jobs are deleted after this")] = 168.0,
    log_level: Annotated[str, typer.Option(help="DEBUG|INFO|WARNING")] = "INFO",
) -> None:
    """Run the gRPC server until SIGTERM/SIGINT, then drain (running jobs checkpoint, resume next start)."""
    from service.config import Limits
    from service.server import build_config
    from service.server import serve as run_server

    limits = Limits(
        max_upload_bytes=max_upload_mb << 20,
        max_queued_jobs=max_queued_jobs,
        disk_quota_bytes=int(disk_quota_gb * (1 << 30)),
        job_ttl_s=job_ttl_hours * 3600.0,
    )
    config = build_config(
        host=host,
        port=port,
        data_dir=data_dir,
        workers=workers,
        token_file=token_file,
        tls_cert=tls_cert,
        tls_key=tls_key,
        tls_client_ca=tls_client_ca,
        metrics_port=metrics_port,
        insecure=insecure,
        device=device,
        grace_s=grace,
        limits=limits,
    )
    run_server(config, log_level)


def mount(app: typer.Typer) -> None:
    """Add `serve`, `health` and the `jobs` group to the main app."""
    app.command("serve")(serve)
    app.command("health")(health)
    app.add_typer(jobs_app, name="jobs")
