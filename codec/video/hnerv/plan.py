"""The encode plan: what this encode will cost on this device, measured before training starts.

A few real training steps of the chosen model on the clip's own frames time one step here; the
plan multiplies that out over every stage (train, prune, quant) and prints it: parameters,
epochs, seconds per epoch, the estimated total and the expected rate. With `--time-limit` the
plan fits the epochs (and, when even a few epochs of the asked size do not fit, a smaller size)
to the limit, or refuses before training and names the least time that would do; during training
the trainer re-fits the remaining epochs at each epoch end from the measured epoch time
(`train.Deadline`), so the encode ends within the limit.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch

from codec.device import bf16_training
from codec.durations import fmt_duration, parse_duration
from codec.errors import InvalidInput
from codec.video.hnerv.config import HNeRVConfig
from codec.video.hnerv.model import HNeRV
from codec.video.hnerv.train import MIN_EPOCHS, TrainConfig, Trainer

CALIBRATION_STEPS = 4  # the first is a warm-up; the fastest of the rest is what training settles to
BITS_PER_PARAM_GUESS = 6.0  # 8-bit codes after entropy coding; --bpp's rate control refines it
LONG_PLAN_S = 3600.0  # on a CPU, say so and suggest the alternatives
SIZE_STEP = 0.7  # each smaller size tried under a time limit is this fraction of the last
MIN_SIZE_M = 0.005


@dataclass
class Plan:
    size_m: float  # parameter budget, millions (decoder + embeddings)
    params: int
    fc_dim: int
    padded: tuple[int, int]  # (height, width) the network renders
    epochs: int  # float-training epochs
    prune_epochs: int
    quant_epochs: int
    step_s: float  # one training step (batch) here, measured
    epoch_s: float
    overhead_s: float  # evaluation renders and entropy coding around the epochs: estimated
    expected_bpp: float
    device: str
    threads: int
    post_s: float = 0.0  # of overhead_s, after training: the final embed, render and entropy coding
    precision: str = "fp32"  # the training arithmetic (codec.device.autocast)
    time_limit_s: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def all_epochs(self) -> int:
        return self.epochs + self.prune_epochs + self.quant_epochs

    @property
    def total_s(self) -> float:
        return self.all_epochs * self.epoch_s + self.overhead_s

    def message(self) -> str:
        h, w = self.padded
        where = f"{self.device} ({self.threads} threads)" if self.device == "cpu" else self.device
        where += f", {self.precision}"
        limit = f", limit {fmt_duration(self.time_limit_s)}" if self.time_limit_s else ""
        return (
            f"plan: {self.params / 1e6:.3g}M parameters (stem {self.fc_dim}, renders {w}x{h}),"
            f" {self.epochs}+{self.prune_epochs}+{self.quant_epochs} epochs (train+prune+quant) x"
            f" {self.epoch_s:.2f} s/epoch measured on {where} = about {fmt_duration(self.total_s)}{limit};"
            f" expected rate about {self.expected_bpp:.3g} bpp"
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["padded"] = list(self.padded)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Plan:
        return cls(**{**d, "padded": tuple(d["padded"])})


def long_plan_advice(plan: Plan) -> str | None:
    """The warning for a CPU plan over an hour, with what to do instead."""
    if plan.device != "cpu" or plan.total_s <= LONG_PLAN_S or plan.time_limit_s:
        return None
    return (
        f"this encode will take about {fmt_duration(plan.total_s)} on this CPU: give --time-limit"
        " (e.g. --time-limit 10m) to fit it, a smaller --size, or --server to encode on a GPU box"
    )


def stage_extra(epochs: int, prune: bool) -> tuple[int, int]:
    """(prune, quant) epochs for `epochs` of float training: a tenth each, as the trainer does."""
    extra = max(1, epochs // 10)
    return (extra if prune else 0), extra


def time_step(
    cfg: HNeRVConfig, frames_u8: torch.Tensor, valid_hw, batch: int, device: torch.device,
    precision: str = "auto",
) -> float:  # fmt: skip
    """Seconds per training step of this model on these frames here (the fastest timed step).
    A throwaway model and optimizer: the real one is seeded and built afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(12345)
        model = HNeRV(cfg)
        tcfg = TrainConfig(batch_size=batch, precision=precision)
        trainer = Trainer(model, frames_u8[: max(batch, 1)], valid_hw, tcfg, device)
        idx = torch.arange(min(batch, len(frames_u8)), device=device)
        times = []
        for _ in range(CALIBRATION_STEPS):
            t0 = time.perf_counter()
            loss, _ = trainer.step(idx)
            float(loss)  # wait for the device
            times.append(time.perf_counter() - t0)
    return min(times[1:])  # the first step pays one-time setup; the rest run as training will


def expected_bpp(params: int, pixels: int, bpp_target: float | None) -> float:
    return bpp_target if bpp_target is not None else params * BITS_PER_PARAM_GUESS / pixels


def make_plan(
    solve, size_m: float, frames_u8_of, n_frames: int, valid_hw, pixels: int, opts, device: torch.device,
    spent_s: float, bpp_target: float | None, can_shrink: bool,
) -> tuple[Plan, HNeRVConfig]:  # fmt: skip
    """The plan for `size_m` (solve(size_m) -> config; frames_u8_of(cfg) -> padded frames). With a
    time limit, the epochs that fit it, trying smaller sizes (when `can_shrink`) until at least
    MIN_EPOCHS fit; InvalidInput naming the least time if none does."""
    limit = parse_duration(opts.time_limit) if opts.time_limit else None
    threads = torch.get_num_threads()
    batches = math.ceil(n_frames / opts.batch_size)
    tried: list[tuple[float, float]] = []  # (size, least seconds it needs)
    size = size_m
    while True:
        cfg = solve(size)
        t_cal = time.perf_counter()
        step = time_step(cfg, frames_u8_of(cfg), valid_hw, opts.batch_size, device, opts.precision)
        spent_s += time.perf_counter() - t_cal  # calibrating is part of the encode's time
        epoch_s = step * batches
        # a forward pass over the clip is about a third of a training epoch: one to evaluate between
        # stages, two after training (embed, render) plus entropy coding and writing
        post = 2 * epoch_s / 3 + 0.5
        overhead = post + epoch_s / 3
        params = cfg.decoder_params() + cfg.embed_params(n_frames)
        prune = opts.prune > 0 or opts.bpp is not None
        if limit is None:
            epochs = opts.epochs
        else:
            budget = limit - spent_s - overhead
            per_epoch_all = epoch_s * (1 + (0.1 if prune else 0) + 0.1)  # the stages' tenths
            epochs = min(opts.epochs, int(budget / per_epoch_all)) if budget > 0 else 0
            tried.append((size, spent_s + overhead + MIN_EPOCHS * per_epoch_all))
            if epochs < MIN_EPOCHS:
                smaller = size * SIZE_STEP
                if can_shrink and smaller >= MIN_SIZE_M:
                    try:
                        solve(smaller)
                        size = smaller
                        continue
                    except InvalidInput:
                        pass
                least = min(t for _, t in tried)
                raise InvalidInput(
                    f"--time-limit {opts.time_limit} is too short for this clip here: even the smallest model"
                    f" tried ({tried[-1][0]:.3g}M) needs about {fmt_duration(least)} for {MIN_EPOCHS} epochs"
                    f" (measured {epoch_s:.2f} s/epoch on {device.type})"
                )
        pe, qe = stage_extra(epochs, prune)
        plan = Plan(
            size_m=size, params=params, fc_dim=cfg.fc_dim, padded=(cfg.height, cfg.width), epochs=epochs,
            prune_epochs=pe, quant_epochs=qe, step_s=step, epoch_s=epoch_s, overhead_s=overhead, post_s=post,
            expected_bpp=expected_bpp(params, pixels, bpp_target), device=device.type, threads=threads,
            time_limit_s=limit, precision="bf16" if bf16_training(device, opts.precision) else "fp32",
        )  # fmt: skip
        if limit is not None and size < size_m:
            plan.notes.append(f"--time-limit: the size was lowered from {size_m:.3g}M to {size:.3g}M to fit")
        if limit is not None and epochs < opts.epochs:
            plan.notes.append(f"--time-limit: {epochs} epochs instead of {opts.epochs}")
        return plan, cfg
