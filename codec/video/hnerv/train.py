"""The HNeRV training loop: one function runs every stage of the encode, with checkpoints.

Stages (each a fixed number of epochs, all resumable from the last checkpoint):
  train  - encoder + decoder from scratch, Adam, linear warm-up then cosine decay (paper schedule)
  prune  - global magnitude pruning of decoder weights, masked fine-tuning
  quant  - embeddings frozen and quantized; decoder fine-tuned through fake-quantized weights (QAT)
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from codec.device import autocast
from codec.errors import Cancelled, CorruptData
from codec.progress import CancelToken, ProgressCallback, ProgressEvent
from codec.quant import fake_quantize
from codec.video.hnerv.bitstream import weight_quant_axis
from codec.video.hnerv.model import HNeRV

STAGES = ("train", "prune", "quant")
MIN_EPOCHS = 4  # below this HNeRV has not learned the clip: a smaller model is the better use of time
IN_EPOCH_EVERY_S = 2.0  # progress inside an epoch at least this often (an epoch can take minutes)


@dataclass
class TrainConfig:
    epochs: int = 300  # float-training epochs; prune and quant stages add ~10% each
    prune_epochs: int = -1  # -1: max(1, epochs // 10)
    quant_epochs: int = -1  # -1: max(1, epochs // 10)
    lr: float = 1e-3  # paper: 1e-3 with batch 2
    quant_lr: float = 1e-4  # fine-tuning a trained net needs a gentler step
    batch_size: int = 2
    warmup: float = 0.1  # fraction of each stage spent warming up (official "cosine_0.1_1_0.1")
    warmup_start: float = 0.1  # lr multiplier at step 0
    loss: str = "l2"  # "l2" or "fusion" (0.7 L1 + 0.3 (1 - SSIM), the paper's Fusion6)
    weight_bits: int = 8  # default; rate control may change it (TrainState.weight_bits)
    embed_bits: int = 6
    prune_ratio: float = 0.0  # default; rate control may change it (TrainState.prune_ratio)
    checkpoint_every: int = 10  # epochs
    seed: int = 0
    compile: bool = False  # torch.compile the step on CUDA
    precision: str = "auto"  # codec.device.autocast: bf16 where it is fast, else fp32
    deadline_s: float = 0.0  # > 0: time.monotonic() by which training must end (--time-limit; Deadline)
    max_epochs: int = 0  # with a deadline: the asked epochs, which an early re-fit may grow back to

    def stage_epochs(self, prune_ratio: float) -> dict[str, int]:
        extra = max(1, self.epochs // 10)
        return {
            "train": self.epochs,
            "prune": 0 if prune_ratio <= 0 else (extra if self.prune_epochs < 0 else self.prune_epochs),
            "quant": extra if self.quant_epochs < 0 else self.quant_epochs,
        }


def lr_multiplier(progress: float, warmup: float, start: float) -> float:
    """Linear warm-up from `start` to 1, then cosine to 0 (progress in [0, 1))."""
    if progress < warmup:
        return start + (1 - start) * progress / warmup
    return 0.5 * (1 + math.cos(math.pi * (progress - warmup) / (1 - warmup)))


def frame_loss(pred: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "l2":
        return F.mse_loss(pred, target)
    if kind == "fusion":
        from pytorch_msssim import ssim

        win = min(11, pred.shape[-1], pred.shape[-2]) | 1  # odd window that fits tiny frames
        return 0.7 * F.l1_loss(pred, target) + 0.3 * (1 - ssim(pred, target, data_range=1, win_size=win))
    raise ValueError(f"unknown loss {kind!r}")


def decoder_weights(model: HNeRV) -> dict[str, torch.Tensor]:
    """Decoder conv kernels: what pruning and weight quantization act on (biases stay dense)."""
    return {n: p for n, p in model.decoder.named_parameters() if p.dim() > 1}


@dataclass
class TrainState:
    stage: str = "train"
    epoch: int = 0  # completed epochs in `stage`
    batch: int = 0  # completed batches of the current epoch (a cancel can stop mid-epoch)
    loss_sum: float = 0.0  # running sums of the current epoch, so a resumed epoch reports the same
    mse_sum: float = 0.0
    seconds: float = 0.0  # training wall time so far, across resumes
    last_loss: float = float("nan")
    last_psnr: float = float("nan")
    prune_ratio: float = 0.0  # chosen by rate control before the prune stage; kept for resume
    weight_bits: int = 8
    stage_psnr: dict = field(default_factory=dict)  # stage -> training PSNR at its end


@dataclass
class Deadline:
    """Keeps a time-limited training inside the limit, by the wall clock: at each float-training
    epoch end, from the speed of the last few epochs (the first pays one-time setup), the float
    epochs that still fit before `end_at` with the prune and quant epochs after them. In the first
    three quarters of the planned epochs the count may also grow, up to the asked epochs, when
    training runs faster than calibrated; after that it only shrinks, so the schedule's end (its
    low learning rates) is not disturbed."""

    end_at: float  # time.monotonic() by which training (all stages) must end
    min_epochs: int = MIN_EPOCHS

    def fit(self, done: int, planned: int, per_epoch: float, later_epochs: float, cap: int | None = None,
            now: float | None = None) -> int:  # fmt: skip
        left = self.end_at - (time.monotonic() if now is None else now) - later_epochs * per_epoch
        affordable = done + int(max(0.0, left) / max(per_epoch, 1e-9))
        top = max(planned, cap or planned) if done <= max(2, planned * 3 // 4) else planned
        return int(np.clip(affordable, max(done, min(self.min_epochs, planned)), top))


class Trainer:
    """Fits one HNeRV to one segment of frames. Frames live on the device as uint8 (T, 3, H, W)."""

    def __init__(
        self,
        model: HNeRV,
        frames_u8: torch.Tensor,
        valid_hw: tuple[int, int],
        cfg: TrainConfig,
        device: torch.device,
        ckpt_path: Path | None = None,
        fingerprint: str = "",
    ) -> None:
        self.model = model.to(device)
        self.frames = frames_u8.to(device)
        self.valid_hw = valid_hw
        self.cfg, self.device = cfg, device
        self.ckpt_path, self.fingerprint = ckpt_path, fingerprint
        self.state = TrainState(prune_ratio=cfg.prune_ratio, weight_bits=cfg.weight_bits)
        self.masks: dict[str, torch.Tensor] = {}
        self._epoch_ends: list[float] = []  # training seconds at each float epoch's end (Deadline)
        self._said_epochs = cfg.epochs  # the float epochs the last --time-limit message named
        self.embeddings: torch.Tensor | None = None  # quantized-dequantized, frozen in the quant stage
        self.optimizer = self._new_optimizer("train")
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # shapes are fixed for the whole run
        self._forward: Callable = self.model
        if cfg.compile and device.type == "cuda":  # parameters stay shared with self.model
            self._forward = torch.compile(self.model)
        # channels-last: faster convs on CUDA tensor cores and on CPU (measured ~1.3x at batch 2 here)
        self.model = self.model.to(memory_format=torch.channels_last)

    # ---- stages -------------------------------------------------------------------------
    def _new_optimizer(self, stage: str) -> torch.optim.Optimizer:
        params = self.model.parameters() if stage != "quant" else self.model.decoder.parameters()
        lr = self.cfg.quant_lr if stage == "quant" else self.cfg.lr
        # fused Adam on CUDA, foreach on the CPU: a few kernels for all parameters instead of a loop
        # over many tiny tensors (measured 12% off a carphone 0.05M step on 2 cores)
        cuda = self.device.type == "cuda"
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), fused=cuda, foreach=not cuda)

    def _enter_stage(self, stage: str) -> None:
        from codec.quant import magnitude_masks

        if stage == "prune" or (stage == "quant" and self.state.prune_ratio > 0 and not self.masks):
            self.masks = magnitude_masks(decoder_weights(self.model), self.state.prune_ratio)
            self._apply_masks()
        if stage == "quant":
            self.embeddings = self.quantized_embeddings()
        self.optimizer = self._new_optimizer(stage)

    @torch.no_grad()
    def _apply_masks(self) -> None:
        params = decoder_weights(self.model)
        names = [n for n in params if n in self.masks]
        # one fused call instead of one kernel per tensor
        torch._foreach_mul_([params[n] for n in names], [self.masks[n] for n in names])

    @torch.no_grad()
    def embed_all(self) -> torch.Tensor:
        """Float embeddings of every frame, (T, E, h, w), computed in fp32 for reproducibility."""
        self.model.eval()
        out = [self.model.encoder(self._batch(idx)) for idx in torch.arange(len(self.frames)).split(8)]
        return torch.cat(out).float()

    def quantized_embeddings(self) -> torch.Tensor:
        from codec.quant import dequantize, quantize

        return dequantize(quantize(self.embed_all().cpu(), self.cfg.embed_bits, axis=1)).to(self.device)

    # ---- one step -----------------------------------------------------------------------
    def _batch(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.frames[idx].float() / 255.0
        return x.contiguous(memory_format=torch.channels_last)

    def _decoder_forward(self, embed: torch.Tensor) -> torch.Tensor:
        """Decoder with fake-quantized weights in the quant stage (functional call keeps the float
        weights as the trained parameters)."""
        if self.state.stage != "quant":
            return self.model.decoder(embed)
        params = {}
        for name, p in self.model.decoder.named_parameters():
            w = p * self.masks[name] if name in self.masks else p
            params[name] = fake_quantize(
                w, self.state.weight_bits, weight_quant_axis(p.shape), symmetric=True
            )
        return torch.func.functional_call(self.model.decoder, params, (embed,))

    def step(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step; returns (loss, mse) as device tensors so CUDA never waits on the host."""
        target = self._batch(idx)
        h, w = self.valid_hw
        with autocast(self.device, self.cfg.precision):
            if self.state.stage == "quant":
                pred = self._decoder_forward(self.embeddings[idx])
            else:
                pred, _ = self._forward(target)
            pred = pred.float()[..., :h, :w]  # the pad is not part of the picture: no loss there
            tgt = target[..., :h, :w]
            loss = frame_loss(pred, tgt, self.cfg.loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.masks:
            self._apply_masks()
        return loss.detach(), F.mse_loss(pred.detach().clamp(0, 1), tgt)

    # ---- the loop -----------------------------------------------------------------------
    def run(
        self,
        progress: ProgressCallback,
        cancel: CancelToken | None = None,
        before_stage: Callable[[str], None] | None = None,
    ) -> TrainState:
        """Run the remaining stages. `before_stage(stage)` runs once as each later stage starts (rate
        control sets `state.prune_ratio` / `state.weight_bits` there); it is not re-run on resume."""
        n = len(self.frames)
        for stage in STAGES[STAGES.index(self.state.stage) :]:
            if self.state.stage != stage or self.state.epoch == 0:
                if before_stage is not None and stage != "train":
                    before_stage(stage)
                self.state.stage, self.state.epoch = stage, 0
            plan = self.cfg.stage_epochs(self.state.prune_ratio)
            total = sum(plan.values())
            epochs = plan[stage]
            if epochs == 0:
                continue
            if self.state.epoch == 0:
                self._enter_stage(stage)
            self.model.train()
            steps_per_epoch = math.ceil(n / self.cfg.batch_size)
            while self.state.epoch < epochs:
                t0 = time.perf_counter()
                gen = torch.Generator().manual_seed(
                    self.cfg.seed * 100_003 + STAGES.index(stage) * 10_007 + self.state.epoch
                )
                order = torch.randperm(n, generator=gen).to(self.device)  # same order when resumed
                st = self.state
                acc = torch.tensor([st.loss_sum, st.mse_sum], device=self.device)  # (loss, mse) sums
                done_before = sum(plan[s] for s in STAGES[: STAGES.index(stage)]) + st.epoch
                last_report = time.perf_counter()
                if st.batch == 0:  # the phase is named as it starts, not when its first epoch ends
                    progress(self._event(stage, epochs, done_before, total, 0, steps_per_epoch, None))
                for i, idx in enumerate(order.split(self.cfg.batch_size)):
                    if i < st.batch:
                        continue
                    if time.perf_counter() - last_report >= IN_EPOCH_EVERY_S:  # long epochs still move
                        last_report = time.perf_counter()
                        seconds = st.seconds + last_report - t0
                        progress(
                            self._event(stage, epochs, done_before, total, i, steps_per_epoch, seconds, acc)
                        )
                    if cancel is not None and cancel.cancelled:
                        st.loss_sum, st.mse_sum = (float(v) for v in acc.cpu())
                        st.seconds += time.perf_counter() - t0
                        self.save_checkpoint()
                        raise Cancelled(f"cancelled in {stage} epoch {st.epoch + 1}; checkpoint kept")
                    frac = (st.epoch + i / steps_per_epoch) / epochs
                    lr0 = self.cfg.quant_lr if stage == "quant" else self.cfg.lr
                    for g in self.optimizer.param_groups:
                        g["lr"] = lr0 * lr_multiplier(frac, self.cfg.warmup, self.cfg.warmup_start)
                    loss, mse = self.step(idx)
                    acc = acc + torch.stack([loss, mse]) * len(idx)
                    st.batch = i + 1
                loss_sum, mse_sum = (float(v) for v in acc.cpu())
                st.batch, st.loss_sum, st.mse_sum = 0, 0.0, 0.0
                self.state.epoch += 1
                self.state.seconds += time.perf_counter() - t0
                self.state.last_loss = loss_sum / n
                self.state.last_psnr = -10 * math.log10(max(mse_sum / n, 1e-12))
                done = sum(plan[s] for s in STAGES[: STAGES.index(stage)]) + self.state.epoch
                eta = self.state.seconds / max(done, 1) * (total - done)
                progress(
                    ProgressEvent(
                        phase=stage,
                        step=self.state.epoch,
                        total=epochs,
                        eta_s=eta,
                        metrics={"loss": self.state.last_loss, "psnr": self.state.last_psnr},
                        extra={"overall_step": done, "overall_total": total},
                    )
                )
                if stage == "train" and self.cfg.deadline_s > 0:
                    epochs = self._fit_deadline(plan, progress)
                    total = sum(plan.values())
                if self.cfg.checkpoint_every and self.state.epoch % self.cfg.checkpoint_every == 0:
                    self.save_checkpoint()
            self.state.stage_psnr[stage] = self.state.last_psnr
        self.model.eval()
        return self.state

    def _fit_deadline(self, plan: dict[str, int], progress: ProgressCallback) -> int:
        """Float-training epochs that fit the deadline at the measured epoch time (Deadline);
        the cosine schedule continues from the new fraction. The speed is that of the last few
        epochs (the first pays one-time setup), so a machine that speeds up or slows down mid-run
        (another job starting or ending) is followed."""
        st = self.state
        ends = self._epoch_ends
        ends.append(st.seconds)
        if len(ends) < 2:
            return self.cfg.epochs
        recent = ends[-6:]
        per_epoch = (recent[-1] - recent[0]) / (len(recent) - 1)
        later = plan["prune"] + plan["quant"] + 1 / 3  # + the evaluation render between stages
        deadline = Deadline(self.cfg.deadline_s)
        fitted = deadline.fit(st.epoch, self.cfg.epochs, per_epoch, later, self.cfg.max_epochs)
        said = self._said_epochs
        if abs(fitted - said) >= max(2, said // 20):  # say so when it moves by 5%, not every epoch
            note = f"--time-limit: {fitted} training epochs, not {said}, at the speed measured"
            progress(ProgressEvent(phase="train", step=st.epoch, total=fitted, message=note))
            self._said_epochs = fitted
        self.cfg.epochs = plan["train"] = fitted
        return self.cfg.epochs

    def _event(
        self,
        stage: str,
        epochs: int,
        done: int,
        total: int,
        batch: int,
        batches: int,
        seconds: float | None,
        acc: torch.Tensor | None = None,
    ) -> ProgressEvent:
        """A progress event inside an epoch: `batch` of `batches` done, the ETA from the time so far."""
        frac = done + batch / batches
        eta = None if not seconds or not frac else seconds / frac * (total - frac)
        metrics = {}
        if acc is not None and batch:
            seen = min(batch * self.cfg.batch_size, len(self.frames))
            loss_sum, mse_sum = (float(v) for v in acc.cpu())  # one host sync every few seconds
            metrics = {"loss": loss_sum / seen, "psnr": -10 * math.log10(max(mse_sum / seen, 1e-12))}
        return ProgressEvent(
            phase=stage,
            step=self.state.epoch,
            total=epochs,
            eta_s=eta,
            metrics=metrics,
            extra={"batch": batch, "batches": batches, "overall_step": done, "overall_total": total},
        )

    # ---- checkpoints (training state only: never part of a bitstream) ------------------
    def save_checkpoint(self) -> None:
        if self.ckpt_path is None:
            return
        blob = {
            "fingerprint": self.fingerprint,
            "state": asdict(self.state),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "masks": {k: v.cpu() for k, v in self.masks.items()},
            "embeddings": None if self.embeddings is None else self.embeddings.cpu(),
        }
        tmp = self.ckpt_path.with_suffix(".tmp")
        torch.save(blob, tmp)
        os.replace(tmp, self.ckpt_path)  # atomic: a kill mid-write leaves the previous checkpoint

    def load_checkpoint(self) -> bool:
        """Restore from the checkpoint if there is one for this exact job; False if none."""
        if self.ckpt_path is None or not self.ckpt_path.exists():
            return False
        try:
            blob = torch.load(self.ckpt_path, map_location=self.device, weights_only=True)
        except Exception as exc:  # a torn or foreign file: say so rather than train from scratch silently
            raise CorruptData(
                f"checkpoint {self.ckpt_path} is unreadable ({exc}); delete it to start over"
            ) from exc
        if blob.get("fingerprint") != self.fingerprint:
            return False
        self.state = TrainState(**blob["state"])
        self.model.load_state_dict(blob["model"])
        self.masks = {k: v.to(self.device) for k, v in blob["masks"].items()}
        self.embeddings = None if blob["embeddings"] is None else blob["embeddings"].to(self.device)
        self.optimizer = self._new_optimizer(self.state.stage)
        self.optimizer.load_state_dict(blob["optimizer"])
        return True
