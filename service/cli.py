"""`codec serve`: the server's command, mounted into the `codec` CLI from this package (an entry
point in pyproject.toml), so the library never imports the server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codec.cli.common import DataDirOpt


def serve(
    host: Annotated[
        str, typer.Option(help="address to listen on; beyond loopback needs a token or --insecure")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="0: any free port (logged)")] = 50051,
    data_dir: DataDirOpt = None,
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
    """Entry point `neural_codec.cli`: add `codec serve`."""
    app.command("serve")(serve)
