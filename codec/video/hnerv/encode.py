"""HNeRV encode = read the clip, fit one network per segment, compress it, write the file.

Rate control: `size` is a parameter budget (decoder + embeddings, as in the paper); `bpp` is a
target for the file on disk. For `bpp` the budget is first estimated from a bits-per-parameter
guess, then, after float training, the weight bit depth and prune ratio are chosen by actually
coding the trained weights until the predicted file size hits the target.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from codec import container
from codec.container import VideoMedia
from codec.device import pick_device, seed_everything
from codec.metrics import psnr
from codec.options import options_of
from codec.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress
from codec.quant import magnitude_masks
from codec.video.hnerv import bitstream
from codec.video.hnerv.config import HNeRVConfig, solve_config
from codec.video.hnerv.decode import render
from codec.video.hnerv.model import HNeRV
from codec.video.hnerv.options import DEFAULT_BPP, DEFAULT_SIZE_RANGE, EncodeOptions
from codec.video.hnerv.plan import BITS_PER_PARAM_GUESS, Plan, long_plan_advice, make_plan
from codec.video.hnerv.train import TrainConfig, Trainer, decoder_weights

HEADER_BYTES_GUESS = 200


@dataclass
class EncodeResult:
    path: str
    file_bytes: int
    bpp: float
    psnr: float  # of the decoded file against the original, 8-bit RGB
    width: int
    height: int
    frames: int
    fps: float
    params: int  # stored parameters (decoder + embeddings)
    train_seconds: float
    encode_seconds: float
    seconds_per_epoch: float
    stages: dict[str, dict[str, float]] = field(default_factory=dict)  # stage -> {psnr, bpp}
    config: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    plan: dict = field(default_factory=dict)  # what was planned before training (plan.Plan)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


MIN_SIDE = 16  # below this, most of what is coded is padding


def degenerate_input_warnings(width: int, height: int, frames: int, cfg: HNeRVConfig) -> list[str]:
    """Inputs HNeRV codes, but poorly: said, not refused (the file is still correct and decodes)."""
    out = []
    if min(width, height) < MIN_SIDE:
        out.append(
            f"{width}x{height} frames are tiny: HNeRV pads them to {cfg.width}x{cfg.height} (its stride "
            "product), so most of the network codes padding"
        )
    if frames == 1:
        out.append(
            "a single frame: HNeRV shares one network across a clip's frames; an image codec suits a picture"
        )
    return out


def _pad(frames: np.ndarray, height: int, width: int) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (T, 3, height, width) uint8, edge-replicated (keeps conv statistics sane)."""
    x = torch.from_numpy(frames).permute(0, 3, 1, 2)
    ph, pw = height - x.shape[2], width - x.shape[3]
    if ph or pw:
        x = F.pad(x.float(), (0, pw, 0, ph), mode="replicate").to(torch.uint8)
    return x.contiguous()


def _fingerprint(src: Path, frames: np.ndarray, opts: EncodeOptions, seg: int) -> str:
    h = hashlib.sha256(frames[:: max(1, len(frames) // 8)].tobytes())
    keep = {k: v for k, v in asdict(opts).items() if k not in ("device", "checkpoint_every", "compile")}
    h.update(json.dumps([str(src.name), frames.shape, keep, seg], sort_keys=True).encode())
    return h.hexdigest()


class _SegmentEncoder:
    """Fits and compresses one segment; keeps what the report needs."""

    def __init__(
        self,
        cfg: HNeRVConfig,
        frames: np.ndarray,
        opts: EncodeOptions,
        device: torch.device,
        target_bytes: float | None,
        ckpt: Path | None,
        fingerprint: str,
        plan: Plan,
        deadline_s: float = 0.0,
    ) -> None:
        self.cfg, self.frames, self.opts, self.device = cfg, frames, opts, device
        self.target_bytes = target_bytes
        self.hw = frames.shape[1:3]
        tcfg = TrainConfig(
            epochs=plan.epochs,
            prune_epochs=plan.prune_epochs,
            quant_epochs=plan.quant_epochs,
            deadline_s=deadline_s,
            max_epochs=opts.epochs,
            lr=opts.lr,
            batch_size=opts.batch_size,
            loss=opts.loss,
            weight_bits=opts.weight_bits,
            embed_bits=opts.embed_bits,
            prune_ratio=opts.prune if opts.bpp is None else 0.0,
            checkpoint_every=opts.checkpoint_every,
            seed=opts.seed,
            compile=opts.compile,
            precision=opts.precision,
        )
        seed_everything(opts.seed)
        self.trainer = Trainer(
            HNeRV(cfg), _pad(frames, cfg.height, cfg.width), self.hw, tcfg, device, ckpt, fingerprint
        )
        self.stages: dict[str, dict[str, float]] = {}
        self._rate_done = False

    def _pixels(self) -> int:
        return int(np.prod(self.frames.shape[:3]))

    def _eval(self, name: str, bits: float, embed: torch.Tensor) -> None:
        weights = {k: v.detach() for k, v in self.trainer.model.decoder.state_dict().items()}
        rec = np.stack(list(render(self.cfg, weights, embed, self.hw, self.device)))
        self.stages[name] = {"psnr": psnr(rec, self.frames).mean, "bpp": bits / self._pixels()}

    def _coded_bytes(self, prune: float, wbits: int, embed_bytes: int) -> int:
        weights = {k: v.detach().cpu() for k, v in self.trainer.model.decoder.state_dict().items()}
        if prune > 0:
            masks = magnitude_masks({k: weights[k] for k in decoder_weights(self.trainer.model)}, prune)
            weights.update({k: weights[k] * masks[k].cpu() for k in masks})
        wdata, _ = bitstream.encode_weights(weights, self.cfg, wbits)
        return len(wdata) + embed_bytes

    def before_stage(self, stage: str) -> None:
        """After float training: record the float result, then (for --bpp) choose bits and pruning."""
        if self._rate_done:
            return
        self._rate_done = True
        n_params = self.cfg.decoder_params() + self.cfg.embed_params(len(self.frames))
        embed = self.trainer.embed_all()
        self._eval("float", 32.0 * n_params, embed)
        if self.target_bytes is None:
            return
        edata, _ = bitstream.encode_embeddings(embed, self.opts.embed_bits)
        st = self.trainer.state
        # Highest bit depth (<= the asked one, >= 6) whose unpruned size fits; else prune to fit.
        for wbits in range(max(self.opts.weight_bits, 6), 5, -1):
            unpruned = self._coded_bytes(0.0, wbits, len(edata))
            if unpruned <= self.target_bytes or wbits == 6:
                break
        st.weight_bits, st.prune_ratio = wbits, 0.0
        if unpruned > self.target_bytes:
            lo, hi = 0.0, 0.9
            for _ in range(12):  # bisection on the prune ratio: size falls monotonically with it
                mid = (lo + hi) / 2
                lo, hi = (
                    (lo, mid) if self._coded_bytes(mid, wbits, len(edata)) <= self.target_bytes else (mid, hi)
                )
            st.prune_ratio = hi

    def run(
        self, progress: ProgressCallback, cancel: CancelToken | None
    ) -> tuple[int, bytes, bytes, np.ndarray]:
        self.trainer.load_checkpoint()
        state = self.trainer.run(progress, cancel, before_stage=self.before_stage)
        if "float" not in self.stages:  # resumed past the float stage: evaluate what we have
            self._rate_done = True
        if state.prune_ratio > 0:
            n_kept = sum(int((p != 0).sum()) for p in decoder_weights(self.trainer.model).values())
            self.stages["pruned"] = {
                "psnr": state.stage_psnr.get("prune", float("nan")),
                "bpp": 32.0 * n_kept / self._pixels(),
                "ratio": state.prune_ratio,
            }
        progress(ProgressEvent(phase="entropy", message="quantizing and entropy coding"))
        edata, embed_hat = bitstream.encode_embeddings(self.trainer.embed_all(), self.opts.embed_bits)
        wdata, weights_hat = bitstream.encode_weights(
            {k: v.detach().cpu() for k, v in self.trainer.model.decoder.state_dict().items()},
            self.cfg,
            state.weight_bits,
        )
        rec = np.stack(list(render(self.cfg, weights_hat, embed_hat, self.hw, self.device)))
        n_params = self.cfg.decoder_params() + self.cfg.embed_params(len(self.frames))
        self.stages["quantized"] = {
            "psnr": psnr(rec, self.frames).mean,
            "bpp": (
                self.cfg.decoder_params() * state.weight_bits
                + self.cfg.embed_params(len(self.frames)) * self.opts.embed_bits
            )
            / self._pixels(),
            "weight_bits": state.weight_bits,
        }
        self.n_params, self.train_seconds = n_params, state.seconds
        self.epochs_run = sum(self.trainer.cfg.stage_epochs(state.prune_ratio).values())
        return state.weight_bits, wdata, edata, rec


def _plan(
    src: Path, whole: np.ndarray | None, t: int, seg_len: int, h: int, w: int, opts: EncodeOptions,
    device: torch.device, solve, budget: float, t_start: float, work: Path | None, resume: bool,
    progress: ProgressCallback,
) -> tuple[Plan, HNeRVConfig]:  # fmt: skip
    """The plan (plan.py), printed before training; a resumed encode keeps the one it started with."""
    from codec.io.video import read_frames

    path = work / "plan.json" if work is not None else None
    if resume and path is not None and path.exists():
        plan = Plan.from_dict(json.loads(path.read_text()))
        cfg = solve(plan.size_m)
        progress(ProgressEvent(phase="plan", message=f"resumed {plan.message()}"))
        return plan, cfg
    progress(ProgressEvent(phase="plan", message="timing a few training steps of this model on the clip"))
    n = min(seg_len, opts.batch_size)
    first = whole[:n] if whole is not None else read_frames(src, 0, n)[0]  # the clip's own frames
    plan, cfg = make_plan(
        solve, budget / 1e6, lambda c: _pad(first, c.height, c.width), t, (h, w), t * h * w, opts, device,
        time.perf_counter() - t_start, opts.bpp, can_shrink=opts.bpp is None,
    )  # fmt: skip
    if path is not None:
        path.write_text(json.dumps(plan.to_dict()))
    metrics = {"seconds_per_epoch": plan.epoch_s, "estimated_seconds": plan.total_s,
               "expected_bpp": plan.expected_bpp}  # fmt: skip
    progress(ProgressEvent(phase="plan", message=plan.message(), metrics=metrics))
    for note in plan.notes:
        progress(ProgressEvent(phase="plan", message=note))
    return plan, cfg


def default_budget(pixels: int, segments: int) -> float:
    """Parameters whose file codes to about DEFAULT_BPP, within DEFAULT_SIZE_RANGE per segment."""
    lo, hi = (m * 1e6 * segments for m in DEFAULT_SIZE_RANGE)
    return min(max(DEFAULT_BPP * pixels / BITS_PER_PARAM_GUESS, lo), hi)


def encode_video(
    input_path: str | Path,
    output_path: str | Path,
    options: EncodeOptions | None = None,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
    work_dir: str | Path | None = None,
    resume: bool = False,
) -> EncodeResult:
    """Encode a video file into an .hnerv file. With `work_dir` checkpoints are written there every
    `checkpoint_every` epochs; `resume=True` continues a killed or cancelled encode from them.

    With `segment_frames` only one segment's frames are in memory at a time."""
    from codec.io.video import probe, read_frames

    t_start = time.perf_counter()
    opts = options_of(EncodeOptions, options)
    src, dst = Path(input_path), Path(output_path)
    device = pick_device(opts.device)
    progress(ProgressEvent(phase="read", message=f"reading {src.name}"))
    info = probe(src)
    t, h, w = info.frames, info.height, info.width
    if opts.max_frames:
        t = min(t, opts.max_frames)
    seg_len = opts.segment_frames or t
    whole = None if opts.segment_frames else read_frames(src, 0, t)[0]  # one read when there is one segment
    if whole is not None:
        t = len(whole)  # a container's frame count can exceed what decodes
    bounds = [(a, min(a + seg_len, t)) for a in range(0, t, seg_len)]
    pixels = t * h * w
    target_bytes = None
    if opts.bpp is not None:
        target_bytes = opts.bpp * pixels / 8 - HEADER_BYTES_GUESS
        budget = max(target_bytes, 1) * 8 / BITS_PER_PARAM_GUESS
    elif opts.size is not None:
        budget = opts.size * 1e6
    else:
        budget = default_budget(pixels, len(bounds))
        progress(ProgressEvent(phase="read", message=f"size {budget / 1e6:.3g}M: chosen for about"
                               f" {DEFAULT_BPP:g} bpp (give --size or --bpp to choose)"))  # fmt: skip

    def solve(size_m: float) -> HNeRVConfig:  # every segment gets the same architecture
        return solve_config(h, w, seg_len, size_m * 1e6 * seg_len / t)

    cfg = solve(budget / 1e6)
    warnings = degenerate_input_warnings(w, h, t, cfg)
    for warning in warnings:
        progress(ProgressEvent(phase="read", message=f"warning: {warning}"))

    if work_dir is None:
        work = None
    else:
        work = Path(work_dir)
        work.mkdir(parents=True, exist_ok=True)
    plan, cfg = _plan(src, whole, t, seg_len, h, w, opts, device, solve, budget, t_start, work, resume,
                      progress)  # fmt: skip
    warnings += plan.notes
    advice = long_plan_advice(plan)
    if advice:
        warnings.append(advice)
        progress(ProgressEvent(phase="plan", message=f"warning: {advice}"))
    seg_out, frame_psnr, stages, train_s, n_params, epochs_run = [], [], {}, 0.0, 0, 0
    for k, (a, b) in enumerate(bounds):
        seg_frames = whole if whole is not None else read_frames(src, a, b)[0]
        short = len(seg_frames) < b - a
        if short:  # the file ends early: this is the last segment
            b = a + len(seg_frames)
        fp = _fingerprint(src, seg_frames, opts, k)
        ckpt = None if work is None else work / f"seg{k}.ckpt"
        if ckpt is not None and not resume and ckpt.exists():
            ckpt.unlink()

        def seg_progress(ev: ProgressEvent, k: int = k) -> None:
            ev.extra.update({"segment": k, "segments": len(bounds)})
            progress(ev)

        seg_target = None if target_bytes is None else target_bytes * (b - a) / t
        deadline = 0.0
        if plan.time_limit_s:  # when this segment's training must end: its share of what is left
            left = plan.time_limit_s - (time.perf_counter() - t_start) - plan.post_s
            deadline = time.monotonic() + max(1.0, left * (b - a) / max(1, t - a))
        enc = _SegmentEncoder(cfg, seg_frames, opts, device, seg_target, ckpt, fp, plan, deadline)
        wbits, wdata, edata, rec = enc.run(seg_progress, cancel)
        seg_out.append((b - a, wbits, wdata, edata))
        frame_psnr.append(psnr(rec, seg_frames).per_frame)
        del rec, seg_frames
        for name, st in enc.stages.items():  # frame-weighted average over segments
            agg = stages.setdefault(name, {})
            for key, v in st.items():
                agg[key] = agg.get(key, 0.0) + v * (b - a) / t
        train_s += enc.train_seconds
        n_params += enc.n_params
        epochs_run += enc.epochs_run
        if short:
            break

    t = sum(n for n, *_ in seg_out)
    pixels = t * h * w
    media = VideoMedia(
        width=w,
        height=h,
        frames=t,
        fps_num=info.fps.numerator,
        fps_den=info.fps.denominator,
        pix_fmt="rgb24",
        pad_h=cfg.height - h,
        pad_w=cfg.width - w,
    )
    container.write_file(dst, bitstream.build_container(cfg, media, opts.embed_bits, seg_out))
    size = dst.stat().st_size
    result = EncodeResult(
        path=str(dst),
        file_bytes=size,
        bpp=size * 8 / pixels,
        psnr=float(np.concatenate(frame_psnr).mean()),
        width=w,
        height=h,
        frames=t,
        fps=float(info.fps),
        params=n_params,
        train_seconds=train_s,
        encode_seconds=time.perf_counter() - t_start,
        seconds_per_epoch=train_s / max(epochs_run, 1),
        stages=stages,
        config={
            "strides": list(cfg.strides),
            "fc_dim": cfg.fc_dim,
            "padded": [cfg.height, cfg.width],
            "widths": cfg.widths(),
            "segments": len(bounds),
        },
        warnings=warnings,
        plan=plan.to_dict(),
    )
    result.stages["entropy_coded"] = {"psnr": result.psnr, "bpp": result.bpp}
    if work is not None:
        for k in range(len(bounds)):
            (work / f"seg{k}.ckpt").unlink(missing_ok=True)
    progress(ProgressEvent(phase="done", message=f"{size} bytes, {result.bpp:.4f} bpp, {result.psnr:.2f} dB"))
    return result
