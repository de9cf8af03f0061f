"""bench/common.py: the provenance every benchmark JSON carries, on a checkout and on the device (no .git,
the stamp bench/prepare_gpu.sh writes), and the JSON it writes."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from bench import common

ROOT = Path(__file__).resolve().parents[2]
SHA = "0123456789abcdef0123456789abcdef01234567"


def test_git_info_in_the_checkout_names_head() -> None:
    info = common.git_info(measured=("bench/common.py",))
    git = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    head = git.stdout.strip()
    assert info["sha"] == head and info["source"] == "git"
    assert isinstance(info["dirty"], bool) and isinstance(info["measured"]["dirty"], bool)
    assert info["measured"]["paths"] == ["bench/common.py"]
    assert not info["measured"]["dirty"] or info["dirty"]  # measured code changed => the tree is dirty


STAMPS = [(f"{SHA} dirty\n", SHA, True), (f"{SHA} clean", SHA, False), (SHA, SHA, None), (None, None, None)]


@pytest.mark.parametrize(("stamp", "sha", "dirty"), STAMPS)
def test_git_info_without_git_reads_the_stamp(tmp_path, monkeypatch, stamp, sha, dirty) -> None:
    """The device's copy of the tree has no .git: the commit comes from .gpu_data/GIT_SHA, if any."""
    monkeypatch.setattr(common, "ROOT", tmp_path)
    monkeypatch.setattr(common, "GIT_STAMP", tmp_path / ".gpu_data" / "GIT_SHA")
    if stamp is not None:
        common.GIT_STAMP.parent.mkdir()
        common.GIT_STAMP.write_text(stamp)
    info = common.git_info(measured=("codec",))
    assert (info["sha"], info["dirty"]) == (sha, dirty)
    assert info["source"] == (None if stamp is None else ".gpu_data/GIT_SHA")
    assert info["measured"] == {"paths": ["codec"], "dirty": None}  # the stamp knows the whole tree only


def test_machine_info_reports_torch_facts_once_torch_is_loaded() -> None:
    info = common.machine_info()  # torch is imported by this module
    assert info["cpu_count"] >= 1 and info["torch_threads"] >= 1 and len(info["loadavg_1_5_15"]) == 3
    if torch.cuda.is_available():
        assert info["gpu"]["name"] and info["gpu"]["cuda"] and info["gpu"]["memory_gib"] > 0
    else:
        assert info["gpu"] is None


def test_write_result_keeps_the_results_and_writes_strict_json(tmp_path) -> None:
    results = {"benchmark": "x", "rows": [{"psnr": np.float32(31.5), "n": np.int64(3), "bad": math.nan}],
               "by_size": {0.05: torch.tensor(2.0), 1: (math.inf, 1)}, "file": tmp_path}
    path = common.write_result(tmp_path / "sub" / "r.json", results)
    text = path.read_text()
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert list(doc) == ["provenance", "benchmark", "rows", "by_size", "file"]
    assert doc["rows"] == [{"psnr": 31.5, "n": 3, "bad": None}]
    assert doc["by_size"] == {"0.05": 2.0, "1": [None, 1]} and doc["file"] == str(tmp_path)
    prov = doc["provenance"]
    assert set(prov) == {"git", "command", "machine", "versions", "date_utc"}
    assert prov["versions"]["torch"] == torch.__version__.split("+")[0]
    assert not list(path.parent.glob("*.part"))


def test_a_benchmark_run_with_dash_m_records_the_command_to_rerun_it(tmp_path) -> None:
    out = tmp_path / "eo.json"
    proc = subprocess.run([sys.executable, "-m", "bench.entropy_overhead", "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert {"benchmark", "rows"} <= set(doc) and doc["benchmark"] == "entropy_overhead"
    prov = doc["provenance"]
    assert prov["command"] == f"{sys.executable} -m bench.entropy_overhead --quick --out {out}"
    assert re.fullmatch("[0-9a-f]{40}", prov["git"]["sha"])
    assert prov["git"]["measured"]["paths"] == ["codec/entropy", "bench/entropy_overhead.py"]
    assert "torch_threads" not in prov["machine"]  # it never imported torch: nothing to say about it
