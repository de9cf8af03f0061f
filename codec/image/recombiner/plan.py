"""The encode plan: what this RECOMBINER encode will cost here, measured before fitting starts.

A few real fitting steps on the image's own patches time one step, and one real REC block times
the coding of a block; the plan multiplies them out (fitting steps, every block's REC, the greedy
fine-tuning after each round) and prints the estimate with the rate, which is exact before any
fitting: the prior's blocks fix how many indices the file holds. A CPU plan over an hour says so.
With `--time-limit` the fitting and fine-tuning steps are scaled down together to fit, or the
encode is refused before it starts, naming the least time it needs.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from codec.durations import fmt_duration, parse_duration
from codec.errors import InvalidInput
from codec.image.recombiner.coding import FitConfig, PriorModel
from codec.image.recombiner.patches import Layout
from codec.image.recombiner.prior import Posterior
from codec.rec.coder import encode_block

CALIBRATION_STEPS = 3
LONG_PLAN_S = 3600.0
MIN_FIT_STEPS = 20
HEADER_BYTES = 120  # about: magic, prior reference, params, section table


@dataclass
class Plan:
    patches: int
    indices: int  # blocks coded, each one index of block_bits bits
    rounds: int  # coding rounds (each followed by fine-tuning)
    fit_steps: int
    finetune_steps: int
    step_s: float
    block_s: float
    expected_bpp: float
    device: str
    threads: int
    time_limit_s: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def total_s(self) -> float:
        return (
            self.fit_steps + self.rounds * self.finetune_steps
        ) * self.step_s + self.indices * self.block_s

    def line(self) -> str:
        return (
            f"plan: {self.patches} patches, {self.indices} blocks in {self.rounds} rounds;"
            f" {self.fit_steps} fitting + {self.rounds} x {self.finetune_steps} fine-tuning steps"
            f" x {self.step_s:.3f} s/step, REC {self.block_s * 1000:.0f} ms/block, measured on"
            f" {self.device} ({self.threads} threads)"
            f" = about {fmt_duration(self.total_s)}; rate {self.expected_bpp:.3f} bpp"
        )

    def to_dict(self) -> dict:
        return asdict(self) | {"total_s": self.total_s}


def _time_step(target: torch.Tensor, lay: Layout, model: PriorModel, samples: int) -> float:
    q = Posterior(lay, model.priors)
    opt = torch.optim.Adam(q.parameters(), lr=1e-5)
    times = []
    for _ in range(CALIBRATION_STEPS):
        t0 = time.perf_counter()
        h, lat = q.sample(samples)
        loss = sum(
            ((model.net(h[s], lat[s], lay.rows, lay.cols) - target) ** 2).mean() for s in range(samples)
        )
        kl = sum(k.sum() for k in q.kl(model.priors))
        opt.zero_grad()
        (loss + 1e-9 * kl).backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return min(times[1:]) if len(times) > 1 else times[0]


def _time_block(model: PriorModel, lay: Layout) -> float:
    """Seconds of REC for every block of this layout: one real block timed, scaled by candidate
    values (the cost is 2^bits x the block's coordinates, and blocks differ widely in size)."""
    level = next((k for k in range(3) if model.blocks[k]), None)
    if level is None:
        return 0.0
    cols = model.blocks[level][0]
    p = model.priors[level]
    times = []
    for _ in range(2):  # the first also builds the shared Gaussian table
        t0 = time.perf_counter()
        encode_block(0, 0, model.block_bits, p.mean[cols], p.std[cols] * 0.5, p.mean[cols], p.std[cols],
                     np.random.default_rng(0))  # fmt: skip
        times.append(time.perf_counter() - t0)
    return times[-1] * sum(model.coords_of(lay)) / max(len(cols), 1)


def make_plan(
    target_chw: np.ndarray,
    lay: Layout,
    model: PriorModel,
    cfg: FitConfig,
    time_limit: str,
    device: str = "cpu",
) -> tuple[Plan, FitConfig]:
    target = torch.from_numpy(np.ascontiguousarray(target_chw, np.float32))
    step = _time_step(target, lay, model, cfg.samples)
    per_level = model.blocks_of(lay)
    rounds = sum(math.ceil(len(b) / cfg.round_blocks) for b in model.blocks if b)
    indices = sum(per_level)
    block = _time_block(model, lay) / max(indices, 1)  # the mean over this image's blocks
    bpp = (indices * model.block_bits + 8 * HEADER_BYTES) / (lay.height * lay.width)
    plan = Plan(lay.patches, indices, rounds, cfg.steps, cfg.finetune_steps, step, block, bpp, device,
                torch.get_num_threads())  # fmt: skip
    if time_limit:
        limit = parse_duration(time_limit)
        plan.time_limit_s = limit
        fixed = indices * block
        steps = plan.fit_steps + rounds * plan.finetune_steps
        budget = limit - fixed
        least = fixed + MIN_FIT_STEPS * step
        if budget < MIN_FIT_STEPS * step:
            raise InvalidInput(
                f"--time-limit {time_limit} is too short for this image here: coding its {indices} blocks"
                f" alone takes about {fmt_duration(fixed)}; it needs at least {fmt_duration(least)}"
            )
        scale = min(1.0, budget / (steps * step))
        if scale < 1.0:
            plan.fit_steps = max(MIN_FIT_STEPS, int(cfg.steps * scale))
            plan.finetune_steps = int(cfg.finetune_steps * scale)
            plan.notes.append(
                f"--time-limit: {plan.fit_steps} fitting steps instead of {cfg.steps}, {plan.finetune_steps}"
                f" fine-tuning steps per round instead of {cfg.finetune_steps}"
            )
        cfg = replace(cfg, steps=plan.fit_steps, finetune_steps=plan.finetune_steps)
    return plan, cfg


def long_plan_advice(plan: Plan) -> str | None:
    if plan.device == "cpu" and plan.total_s > LONG_PLAN_S and plan.time_limit_s is None:
        return (
            f"this encode will take about {fmt_duration(plan.total_s)} on this CPU: give --time-limit (e.g."
            " --time-limit 10m) to fit it, fewer --steps, or --server to encode on a GPU box"
        )
    return None
