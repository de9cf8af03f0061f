"""What every benchmark result carries, so a number can be traced to the code, command and machine.

`write_result(path, results)` wraps the results with provenance (git SHA and whether the tree was
dirty, the command line, the machine and its load, library versions) and writes JSON.
`new_figure` / `save_figure` make matplotlib figures on the Agg canvas (no display, no global state).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import math
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_info() -> dict:
    """HEAD and whether uncommitted changes were present (a dirty tree means HEAD alone is not the code)."""
    status = _git("status", "--porcelain")
    return {"sha": _git("rev-parse", "HEAD"), "dirty": None if status is None else bool(status)}


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info() -> dict:
    """Where the numbers came from: OS, CPU count and load (timings on a shared box are inflated), GPU."""
    info: dict = {
        "platform": platform.platform(),
        "uname": " ".join(platform.uname()),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    if hasattr(os, "getloadavg"):
        info["loadavg_1_5_15"] = [round(v, 2) for v in os.getloadavg()]
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["cuda"] = torch.version.cuda
    except ImportError:
        pass
    return info


def versions() -> dict:
    return {d: _version(d) for d in ("torch", "numpy", "av", "compressai", "pytorch-msssim", "neural-codec")}


def provenance() -> dict:
    return {
        "git": git_info(),
        "command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
        "machine": machine_info(),
        "versions": versions(),
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _finite(o: object) -> object:
    """JSON has no NaN/inf: write them as null rather than emit invalid JSON."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_finite(v) for v in o]
    return o


def write_result(path: str | os.PathLike, results: dict, prov: dict | None = None) -> Path:
    """Write {"provenance": ..., **results} as JSON; `prov` when captured at the start of a long run."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    doc = _finite({"provenance": prov or provenance(), **results})
    tmp = p.with_name(p.name + ".part")
    tmp.write_text(json.dumps(doc, indent=2, allow_nan=False, default=str) + "\n")
    os.replace(tmp, p)
    return p


def new_figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] = (7, 4.5)):
    """(Figure, axes) on the Agg canvas: works headless, touches no pyplot state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols)


def save_figure(fig, path: str | os.PathLike, dpi: int = 120) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=dpi)
    return p
