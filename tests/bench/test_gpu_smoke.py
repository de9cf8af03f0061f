"""bench/gpu.sh on the CPU with its tiny setting: the dispatcher, the HNeRV section and the JSON they
write, so the script a device session runs is known to work before a GPU is lent."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bench.gpu_hnerv import PAPER, choose_epochs, table
from codec.video.hnerv.decode import decode_frames

ROOT = Path(__file__).resolve().parents[2]


def _run_gpu_sh(out: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GPU_")}
    clean.update(OUT=str(out), PY=sys.executable, GPU_SMOKE="1", **env)
    return subprocess.run(["bash", "bench/gpu.sh"], cwd=ROOT, env=clean, capture_output=True, text=True,
                          timeout=180)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("gpu_smoke")
    return _run_gpu_sh(out), out


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def test_smoke_run_succeeds_and_prints_table(smoke) -> None:
    proc, out = smoke
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "== hnerv: ok" in proc.stdout
    assert "PSNR float (unquantized)" in proc.stdout
    assert "bench/results" not in proc.stdout.split("wrote", 1)[1]  # smoke never touches committed results
    assert sorted(p.name for p in out.iterdir()) == ["bunny.hnerv", "gpu_cpu.json", "gpu_hnerv.json"]


def test_merged_json_is_well_formed(smoke) -> None:
    _, out = smoke
    merged = json.loads((out / "gpu_cpu.json").read_text())
    assert merged["benchmark"] == "gpu" and merged["smoke"] is True and merged["ok"] is True
    assert merged["card"] == "cpu"
    sec = merged["sections"]["hnerv"]
    assert sec == json.loads((out / "gpu_hnerv.json").read_text()) | {"rc": 0}
    assert sec["status"] == "ok" and sec["device"] == "cpu"
    env = sec["environment"]
    assert env["versions"]["torch"] and env["card"] == "cpu" and env["command"].endswith("--smoke")
    for phase in ("prepare", "probe", "encode", "decode"):
        assert sec["phases_s"][phase] >= 0
    assert all(len(row) == 4 and all(isinstance(c, str) for c in row) for row in sec["table"])


def test_hnerv_numbers_are_consistent_with_the_file(smoke) -> None:
    _, out = smoke
    sec = json.loads((out / "gpu_hnerv.json").read_text())
    enc, clip = sec["encode"], sec["clip"]
    assert sec["plan"]["epochs"] == 2 and sec["epochs_log"]["epochs"] == 2
    for stage in ("float", "quantized", "entropy_coded"):
        assert _finite(enc["stages"][stage]["psnr"]) and enc["stages"][stage]["psnr"] > 5
        assert enc["stages"][stage]["bpp"] > 0
    data = (out / "bunny.hnerv").read_bytes()
    assert enc["file_bytes"] == len(data)
    assert enc["bpp"] == pytest.approx(len(data) * 8 / (clip["width"] * clip["height"] * clip["frames"]))
    frames = list(decode_frames(data, device="cpu"))
    assert len(frames) == clip["frames"] and frames[0].shape == (clip["height"], clip["width"], 3)
    dec = sec["decode"]
    assert dec["library_e2e"]["fps"] > 0
    assert {"fp32_b8", "bf16_b2_cl"} <= set(dec["variants"])
    # the fp32 network decode is the library's render: same PSNR as the file
    assert dec["variants"]["fp32_b8"]["psnr"] == pytest.approx(enc["psnr_file"], abs=0.05)
    assert _finite(sec["epochs_log"]["steady_s_per_epoch"]) and sec["epochs_log"]["train_stage_s"] > 0


def test_no_time_left_skips_the_section_and_fails(tmp_path: Path) -> None:
    proc = _run_gpu_sh(tmp_path, GPU_BUDGET_S="15")
    assert proc.returncode == 1
    merged = json.loads((tmp_path / "gpu_unknown.json").read_text())
    assert merged["ok"] is False and merged["sections"]["hnerv"]["status"] == "skipped"


def test_epochs_are_cut_to_the_budget() -> None:
    probe = {"eager": {"step_s": 0.02, "warmup_s": 1.0, "compile": False, "cudnn_benchmark": False},
             "compiled": {"step_s": 0.01, "warmup_s": 30.0, "compile": True, "cudnn_benchmark": False}}
    # 66 steps/epoch: 0.693 s/epoch compiled (+10% when pruning) + 0.1 x 1.32 s quant; + 30 s recompiling
    for prune, train_factor in ((0.0, 1.0), (0.1, 1.1)):
        s = replace(PAPER, prune=prune)
        left = 30.0 + 100.5 * (0.01 * 66 * 1.05 * train_factor + 0.1 * 0.02 * 66)
        epochs, plan = choose_epochs(s, probe, 132, left)
        assert plan["variant"] == "compiled" and plan["compile"] and epochs == 100 and plan["cut"]
    epochs, plan = choose_epochs(PAPER, probe, 132, 10_000.0)
    assert epochs == PAPER.epochs and not plan["cut"]
    # compiling asked for but broken on the device: the plan falls back to eager
    failed = {"error": "BackendCompilerFailed", "compile": True, "cudnn_benchmark": False}
    broken = {**probe, "compiled": failed}
    _, plan = choose_epochs(PAPER, broken, 132, 10_000.0)
    assert plan["variant"] == "eager" and not plan["compile"]


def test_table_of_a_failed_run_still_renders() -> None:
    rows = table({"status": "failed", "environment": {"card": "NVIDIA H200"}})
    assert rows[0] == ["card", "NVIDIA H200", "", ""]
    assert all(len(r) == 4 for r in rows)
