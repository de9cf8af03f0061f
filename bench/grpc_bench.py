"""gRPC service benchmark: upload throughput, unary latency under concurrency, server memory under load.

Runs a real server (`python -m service`) in a subprocess on loopback and writes
bench/results/grpc_bench.json:

- upload: a 200 MB stream through SubmitEncode per chunk size (64 KiB .. 4 MiB), in MB/s, against a
  plain local file copy (+fsync) of the same file in the same run. The payload is random bytes, so
  the server receives, writes and fsyncs all of it and then rejects it as not a video (INVALID_ARGUMENT);
  the time is to that answer, which includes everything an accepted upload costs except the probe.
- latency: p50/p99 of GetJob at 1, 16 and 64 concurrent clients (grpc.aio, one channel each).
- memory: the server's peak RSS while 16 clients upload 32 MB each at once (the server admits 8
  uploads at a time; the rest are told RESOURCE_EXHAUSTED and retry).
- flood: a server with a token, 1,000 unauthenticated streams held open on 10 connections (half
  health watches, half protected WatchJobs without a token); authenticated ListJobs p50/p99 and how
  many of its calls were refused, and what the flood's streams were answered.

    .venv/bin/python bench/grpc_bench.py [--upload-mb 200] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a script

from bench.common import RESULTS, ROOT, provenance, write_result  # noqa: E402
from codec.client import CodecClient, RetryPolicy, close_channels  # noqa: E402
from codec.errors import InvalidInput  # noqa: E402
from codec.rpc import common_pb2, jobs_pb2, jobs_pb2_grpc  # noqa: E402

CLIP = ROOT / "tests" / "data" / "odd_37x29.mp4"
ENCODE = "hnerv.encode"  # the job kind every upload here submits
MB = 1_000_000
CHUNKS = [64 << 10, 256 << 10, 1 << 20, 4 << 20]


class Server:
    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.log = open(data_dir.parent / "server.log", "w+")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "service",
                "--port",
                "0",
                "--data-dir",
                str(data_dir),
                "--device",
                "cpu",
                "--log-level",
                "WARNING",
                *extra,
            ],
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        # WARNING level hides the 'listening' line, so find the port from the process's sockets.
        self.port = self._wait_port()
        self.target = f"127.0.0.1:{self.port}"
        self.ps = psutil.Process(self.proc.pid)

    def _wait_port(self) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(Path(self.log.name).read_text())
            conns = [c for c in psutil.Process(self.proc.pid).net_connections("tcp") if c.status == "LISTEN"]
            if conns:
                return conns[0].laddr.port
            time.sleep(0.05)
        raise TimeoutError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def make_payload(path: Path, size: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(size // len(block)):
            f.write(block)
        f.write(block[: size % len(block)])


def local_copy_mb_s(src: Path, dst: Path) -> float:
    t0 = time.perf_counter()
    shutil.copyfile(src, dst)
    with open(dst, "rb+") as f:
        os.fsync(f.fileno())
    dt = time.perf_counter() - t0
    dst.unlink()
    return src.stat().st_size / MB / dt


def upload_mb_s(target: str, payload: Path, chunk: int) -> float:
    client = CodecClient(target, timeout_s=600)
    t0 = time.perf_counter()
    try:
        client.submit_job(ENCODE, {"size": 0.1}, payload, chunk_size=chunk)
        raise RuntimeError("random bytes were accepted as a video")
    except InvalidInput:
        pass  # expected: received in full, then refused as not a video
    return payload.stat().st_size / MB / (time.perf_counter() - t0)


async def _latency(target: str, clients: int, calls_per_client: int, job_id: str) -> dict:
    channels = [grpc.aio.insecure_channel(target) for _ in range(clients)]
    stubs = [jobs_pb2_grpc.JobServiceStub(c) for c in channels]
    ref = common_pb2.JobRef(job_id=job_id)
    samples: list[float] = []

    async def one(stub) -> None:
        for _ in range(calls_per_client):
            t0 = time.perf_counter()
            await stub.GetJob(ref, timeout=30)
            samples.append(time.perf_counter() - t0)

    for stub in stubs:  # connect first: measure calls, not handshakes
        await stub.GetJob(ref, timeout=30)
    t0 = time.perf_counter()
    await asyncio.gather(*(one(s) for s in stubs))
    wall = time.perf_counter() - t0
    for c in channels:
        await c.close()
    samples.sort()
    return {
        "clients": clients,
        "calls": len(samples),
        "p50_ms": round(1000 * statistics.median(samples), 3),
        "p99_ms": round(1000 * samples[int(0.99 * (len(samples) - 1))], 3),
        "calls_per_s": round(len(samples) / wall, 1),
    }


def peak_rss_under_uploads(server: Server, payload: Path, clients: int) -> dict:
    base = server.ps.memory_info().rss
    peak = base
    busy_retries = 0
    lock = threading.Lock()

    class Counting(RetryPolicy):
        def delay(self, attempt, err):
            nonlocal busy_retries
            d = super().delay(attempt, err)
            if d is not None:
                with lock:
                    busy_retries += 1
            return d

    def one() -> None:
        client = CodecClient(server.target, timeout_s=600, retry=Counting(attempts=100, max_backoff_s=2.0))
        try:
            client.submit_job(ENCODE, {"size": 0.1}, payload)
        except InvalidInput:
            pass

    threads = [threading.Thread(target=one) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak = max(peak, server.ps.memory_info().rss)
        time.sleep(0.01)
    return {
        "clients": clients,
        "upload_mb_each": round(payload.stat().st_size / MB, 1),
        "rss_before_mb": round(base / MB, 1),
        "rss_peak_mb": round(peak / MB, 1),
        "rss_growth_mb": round((peak - base) / MB, 1),
        "busy_retries": busy_retries,
        "seconds": round(time.perf_counter() - t0, 2),
    }


FLOOD_TOKEN = "bench-token-0123456789"


def flood(tmp_path: Path, streams: int, calls: int) -> dict:
    """Authenticated ListJobs latency while `streams` unauthenticated streams are held open."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    tokens = tmp_path / "tokens.txt"
    tokens.write_text(FLOOD_TOKEN + "\n")
    server = Server(tmp_path / "flood-data", "--token-file", str(tokens))
    connections = 10
    channels = [grpc.insecure_channel(server.target) for _ in range(connections)]
    held = []
    try:
        for i in range(streams):
            ch = channels[i % connections]
            if i % 2:
                call = health_pb2_grpc.HealthStub(ch).Watch(health_pb2.HealthCheckRequest(), timeout=120)
            else:
                call = jobs_pb2_grpc.JobServiceStub(ch).WatchJob(common_pb2.JobRef(job_id="x"), timeout=120)
            held.append(call)
        time.sleep(1.0)  # let the flood arrive
        auth = grpc.insecure_channel(server.target)
        stub = jobs_pb2_grpc.JobServiceStub(auth)
        meta = (("authorization", f"Bearer {FLOOD_TOKEN}"),)
        samples, refused = [], 0
        for _ in range(calls):
            t0 = time.perf_counter()
            try:
                stub.ListJobs(jobs_pb2.ListJobsRequest(), metadata=meta, timeout=30)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                    raise
                refused += 1
            samples.append(time.perf_counter() - t0)
        answers: dict[str, int] = {}
        for call in held:
            try:
                next(call)
                answers["served"] = answers.get("served", 0) + 1
            except grpc.RpcError as e:
                answers[e.code().name] = answers.get(e.code().name, 0) + 1
        auth.close()
    finally:
        for call in held:
            call.cancel()
        for ch in channels:
            ch.close()
        server.stop()
    samples.sort()
    return {
        "unauthenticated_streams": streams,
        "connections": connections,
        "authenticated_calls": len(samples),
        "p50_ms": round(1000 * statistics.median(samples), 3),
        "p99_ms": round(1000 * samples[int(0.99 * (len(samples) - 1))], 3),
        "resource_exhausted": refused,
        "flood_answers": answers,
        "target": "p99 < 1000 ms and 0 RESOURCE_EXHAUSTED",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upload-mb", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--out", type=Path, default=RESULTS / "grpc_bench.json")
    args = ap.parse_args()
    prov = provenance()  # before the server starts: the machine's load without it
    upload_bytes = (20 if args.quick else args.upload_mb) * MB
    calls = 50 if args.quick else 400

    with tempfile.TemporaryDirectory(prefix="grpc-bench-") as tmp:
        tmp_path = Path(tmp)
        payload = tmp_path / "payload.bin"
        make_payload(payload, upload_bytes)
        small = tmp_path / "small.bin"
        make_payload(small, (4 if args.quick else 32) * MB)
        server = Server(tmp_path / "data")
        try:
            copy = [local_copy_mb_s(payload, tmp_path / "copy.bin") for _ in range(2)]
            copy_mb_s = max(copy)
            sweep = []
            for chunk in CHUNKS:
                rate = max(upload_mb_s(server.target, payload, chunk) for _ in range(2))
                sweep.append(
                    {
                        "chunk_bytes": chunk,
                        "mb_s": round(rate, 1),
                        "ratio_to_copy": round(rate / copy_mb_s, 3),
                    }
                )
                print(f"chunk {chunk >> 10:>5} KiB: {rate:8.1f} MB/s ({rate / copy_mb_s:.2f} x local copy)")
            client = CodecClient(server.target)
            job_id = client.submit_job(ENCODE, {"size": 0.03, "epochs": 1, "device": "cpu"}, CLIP)
            client.watch_job(job_id)
            latency = []
            for n in (1, 16, 64):
                r = asyncio.run(_latency(server.target, n, max(5, calls // n) if n > 1 else calls, job_id))
                latency.append(r)
                print(f"GetJob x{n:>2}: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, {r['calls_per_s']}/s")
            memory = peak_rss_under_uploads(server, small, 16)
            print(f"16 uploads: server RSS {memory['rss_before_mb']} -> peak {memory['rss_peak_mb']} MB")
        finally:
            server.stop()
            close_channels()
        flooded = flood(tmp_path, 100 if args.quick else 1000, calls)
        f = flooded
        print(
            f"flood of {f['unauthenticated_streams']}: authenticated ListJobs p50 {f['p50_ms']} ms,"
            f" p99 {f['p99_ms']} ms, {f['resource_exhausted']} refused; flood got {f['flood_answers']}"
        )

    result = {
        "benchmark": "grpc_bench",
        "device": "CPU only (no GPU involved: transport and server overhead)",
        "upload": {
            "payload_mb": round(upload_bytes / MB, 1),
            "payload_note": "random bytes: received, written, fsynced in full, then refused as not a video",
            "local_copy_mb_s": round(copy_mb_s, 1),
            "chunk_sweep": sweep,
        },
        "getjob_latency": latency,
        "memory_16_uploads": memory,
        "flood": flooded,
        "quick": args.quick,
    }
    write_result(args.out, result, prov)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
