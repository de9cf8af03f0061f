"""What every benchmark result carries, so a number can be traced to the code, command and machine.

`write_result(path, results)` wraps the results with `provenance()` (git SHA and whether the tree was
dirty, the command line, the machine, its load and its GPU, library versions) and writes JSON. Every
script in bench/ writes its JSON through it, so every result records the same fields.
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
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy only where used: importing this module stays light, as before
    import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
# Written by bench/prepare_gpu.sh: the device machine gets a copy of the working tree without .git.
GIT_STAMP = ROOT / ".gpu_data" / "GIT_SHA"
VERSIONS = ("torch", "numpy", "av", "compressai", "pytorch-msssim", "grpcio", "triton", "neural-codec")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_info(measured: Sequence[str] = ()) -> dict:
    """HEAD and whether uncommitted changes were present (a dirty tree means HEAD alone is not the code).

    `measured`: paths of the code under test; their own dirty flag tells a rerun on a busy checkout
    (other files edited) from one whose measured code differs from HEAD. Without .git (the device
    machine) the commit comes from GIT_STAMP; `source` says which."""
    measured_dirty = None
    if (ROOT / ".git").exists():
        status = _git("status", "--porcelain")
        info = {"sha": _git("rev-parse", "HEAD"), "dirty": None if status is None else bool(status),
                "source": "git"}
        if measured and (changed := _git("status", "--porcelain", "--", *measured)) is not None:
            measured_dirty = bool(changed)
    elif GIT_STAMP.exists():  # not asking git: it could answer for an enclosing repository
        sha, _, state = GIT_STAMP.read_text().strip().partition(" ")
        info = {"sha": sha or None, "dirty": {"dirty": True, "clean": False}.get(state),
                "source": str(GIT_STAMP.relative_to(ROOT))}
    else:
        info = {"sha": None, "dirty": None, "source": None}
    if measured:
        info["measured"] = {"paths": list(measured), "dirty": measured_dirty}
    return info


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def gpu_info(torch) -> dict | None:
    """The CUDA card torch sees (device 0), or None without one."""
    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return {
        "name": torch.cuda.get_device_name(0),
        "count": torch.cuda.device_count(),
        "memory_gib": round(props.total_memory / 2**30, 1),
        "multiprocessors": props.multi_processor_count,
        "capability": f"{props.major}.{props.minor}",
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
    }


def machine_info() -> dict:
    """Where the numbers came from: OS, CPU count and load (timings on a shared box are inflated), GPU.

    Torch facts (threads, GPU) only when the benchmark has imported torch: importing it just to say
    so costs seconds, and a benchmark without torch runs nothing on a GPU."""
    info: dict = {
        "platform": platform.platform(),
        "uname": " ".join(platform.uname()),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    if hasattr(os, "getloadavg"):
        info["loadavg_1_5_15"] = [round(v, 2) for v in os.getloadavg()]
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
        info["gpu"] = gpu_info(torch)
    return info


def versions() -> dict:
    return {d: _version(d) for d in VERSIONS}


def command() -> str:
    """The command line that reruns this: `python -m pkg.mod ...` when started with -m."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    argv = ["-m", spec.name, *sys.argv[1:]] if spec is not None and spec.name else sys.argv
    return shlex.join([sys.executable, *argv])


def provenance(measured: Sequence[str] = ()) -> dict:
    """Everything above, in one block; capture it at the start of a long run (the load then)."""
    return {
        "git": git_info(measured),
        "command": command(),
        "machine": machine_info(),
        "versions": versions(),
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _finite(o: object) -> object:
    """Plain JSON values: NaN/inf become null (JSON has neither), numpy and torch scalars Python ones."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {str(k): _finite(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_finite(v) for v in o]
    if getattr(o, "ndim", None) == 0 and hasattr(o, "item"):  # np.float32(1.0), torch.tensor(1.0)
        return _finite(o.item())
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


def exact_top10(q: np.ndarray, g: np.ndarray, rows: int = 64) -> np.ndarray:
    """Indices of each query's exact top-10 gallery rows by inner product, a block of queries at a
    time (1,000 queries x 1M vectors in one product would be 4 GB)."""
    import numpy as np

    return np.concatenate(
        [np.argpartition(-(q[i : i + rows] @ g.T), 10, axis=1)[:, :10] for i in range(0, len(q), rows)]
    )


def label_axes(ax, xlabel: str, ylabel: str, title: str) -> None:
    """The look every curve plot shares: log2 x axis, light grid, small legend."""
    ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def save_figure(fig, path: str | os.PathLike, dpi: int = 120) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=dpi)
    return p
