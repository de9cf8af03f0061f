"""`python -m service [--port 0] ...`: run a server without the CLI (tests start servers this way)."""

from __future__ import annotations

import argparse
import sys

from codec.errors import CodecError
from service.config import Limits
from service.server import build_config, serve


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=50051)
    p.add_argument("--data-dir")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--token-file")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--tls-client-ca")
    p.add_argument("--metrics-port", type=int)
    p.add_argument("--insecure", action="store_true")
    p.add_argument("--device", default="auto")
    p.add_argument("--grace", type=float, default=30.0)
    p.add_argument("--max-queued-jobs", type=int, default=Limits.max_queued_jobs)
    p.add_argument("--max-upload-bytes", type=int, default=Limits.max_upload_bytes)
    p.add_argument("--disk-quota-bytes", type=int, default=Limits.disk_quota_bytes)
    p.add_argument("--job-ttl", type=float, default=Limits.job_ttl_s, help="seconds")
    p.add_argument("--log-level", default="INFO")
    a = p.parse_args(argv)
    limits = Limits(
        max_queued_jobs=a.max_queued_jobs,
        max_upload_bytes=a.max_upload_bytes,
        disk_quota_bytes=a.disk_quota_bytes,
        job_ttl_s=a.job_ttl,
    )
    try:
        config = build_config(
            a.host,
            a.port,
            a.data_dir,
            a.workers,
            a.token_file,
            a.tls_cert,
            a.tls_key,
            a.tls_client_ca,
            a.metrics_port,
            a.insecure,
            a.device,
            a.grace,
            limits,
        )
        serve(config, a.log_level)
    except CodecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
