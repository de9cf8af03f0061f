"""`codec serve`, `codec jobs ...` and `codec encode/decode --server` through the real CLI entry point."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CLIP, ENCODE, ROOT, TINY_ENCODE, TOKEN, fake_encode_runner

from codec.cli import main
from codec.client import CodecClient


def _codec(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "codec.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_serve_runs_with_defaults_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "codec.cli", "serve", "--port", "0", "--data-dir", str(tmp_path)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = None
        for line in proc.stderr:
            entry = json.loads(line)
            if entry["msg"] == "listening":
                port = entry["port"]
                break
        assert port and CodecClient(f"127.0.0.1:{port}").health() == "SERVING"
        healthy = _codec("health", "--server", f"127.0.0.1:{port}")
        assert healthy.returncode == 0 and healthy.stdout.strip() == "SERVING"
        locked = _codec("serve", "--port", "0", "--data-dir", str(tmp_path))
        assert locked.returncode == 2 and "in use by codec serve" in locked.stderr
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        proc.wait()


def test_serve_refuses_an_open_bind_without_token(tmp_path: Path) -> None:
    result = _codec("serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "without a token" in result.stderr and "Traceback" not in result.stderr


def test_jobs_commands(make_server, capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    s = make_server(runner=fake_encode_runner(steps=3, step_s=0.01))
    client = CodecClient(s.target)
    job_id = client.submit_job(ENCODE, {"size": 0.03}, CLIP)
    assert main(["jobs", "watch", job_id, "--server", s.target, "-o", str(tmp_path / "r.bin")]) == 0
    assert (tmp_path / "r.bin").read_bytes() == CLIP.read_bytes()
    assert main(["jobs", "list", "--server", s.target, "--state", "succeeded"]) == 0
    out = capsys.readouterr().out
    assert job_id in out and "succeeded" in out
    assert main(["jobs", "list", "--server", s.target, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["job_id"] == job_id
    assert main(["jobs", "cancel", "nope", "--server", s.target]) == 2
    assert "NOT_FOUND" in capsys.readouterr().err
    assert main(["jobs", "delete", job_id, "--server", s.target]) == 0
    assert client.list_jobs() == []


@pytest.mark.slow
def test_encode_and_decode_with_server_flag_over_mutual_tls(
    make_server, certs: Path, tiny_bitstream: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """`--server` with a token file and client certificate writes the same file as a local encode."""
    from codec.io.video import probe
    from service.config import TlsConfig

    s = make_server(
        tokens=(TOKEN,), tls=TlsConfig(certs / "server.pem", certs / "server.key", certs / "ca.pem")
    )
    (tmp_path / "token").write_text(f"{TOKEN}\n")
    remote = [
        "--server",
        s.target,
        "--token-file",
        str(tmp_path / "token"),
        "--tls-ca",
        str(certs / "ca.pem"),
    ]
    mtls = ["--tls-cert", str(certs / "client.pem"), "--tls-key", str(certs / "client.key")]
    out = tmp_path / "remote.hnerv"
    args = [f"--{k.replace('_', '-')}={v}" for k, v in TINY_ENCODE.items()]
    assert main(["encode", str(CLIP), "-o", str(out), *remote, *mtls, *args]) == 0
    assert out.read_bytes() == tiny_bitstream.read_bytes()
    decoded = tmp_path / "frames.y4m"
    assert main(["decode", str(out), "-o", str(decoded), *remote, *mtls, "--frames", "1:4"]) == 0
    assert probe(decoded).frames == 3
    assert main(["jobs", "list", *remote, *mtls]) == 0
    assert "succeeded" in capsys.readouterr().out
    # Half a client identity is refused before any connection is made.
    assert (
        main(
            [
                "decode",
                str(out),
                "-o",
                str(tmp_path / "b.y4m"),
                *remote,
                "--tls-cert",
                str(certs / "client.pem"),
            ]
        )
        == 2
    )
    assert "--tls-cert and --tls-key go together" in capsys.readouterr().err
