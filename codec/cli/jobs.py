"""`codec health` and `codec jobs list|show|watch|cancel|delete|result`: talk to a codec server.

Mounted into the main app by `mount(app)`. Thin like the rest of the CLI: parse, call
`codec.client`, print. Errors are CodecErrors, which `codec.cli.main` turns into one line and
exit code 2.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from codec.cli.common import (
    DEFAULT_SERVER,
    JsonOpt,
    ServerOpt,
    TlsCaOpt,
    TlsCertOpt,
    TlsKeyOpt,
    TokenFileOpt,
    connect,
)

jobs_app = typer.Typer(no_args_is_help=True, help="List, follow, cancel and fetch jobs on a codec server.")


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
    jobs = connect(server, token_file, tls_ca, tls_cert, tls_key).list_jobs(tuple(state or ()), limit=limit)
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
    job = connect(server, token_file, tls_ca, tls_cert, tls_key).get_job(job_id)
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
    from codec.cli.progress import ProgressBar
    from codec.client import job_error
    from codec.rpc import jobs_pb2

    client = connect(server, token_file, tls_ca, tls_cert, tls_key)
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
    job = connect(server, token_file, tls_ca, tls_cert, tls_key).cancel_job(job_id)
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
    connect(server, token_file, tls_ca, tls_cert, tls_key).delete_job(job_id)
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
    n = connect(server, token_file, tls_ca, tls_cert, tls_key).read_result(job_id, output)
    typer.echo(f"wrote {output} ({n} bytes)")


def health(
    server: ServerOpt = DEFAULT_SERVER,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
) -> None:
    """Print the server's health (SERVING, NOT_SERVING); exit 1 unless SERVING. No token needed."""
    status = connect(server, None, tls_ca, tls_cert, tls_key).health()
    typer.echo(status)
    if status != "SERVING":
        raise typer.Exit(1)


def mount(app: typer.Typer) -> None:
    """Add `health` and the `jobs` group to the main app (`serve` comes from the service package)."""
    app.command("health")(health)
    app.add_typer(jobs_app, name="jobs")
