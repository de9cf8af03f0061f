"""Prior learning for one rate point: the official empirical-Bayes loop, with a schedule as data.

Every training image (256x256 crops, `data.training_crops`: 16 patches, one group) gets its own
posterior. Each iteration runs Adam (lr 2e-4) on all posteriors, the shared A matrices and the
latent upsampler together, full batch, one Monte Carlo draw per step, loss = MSE x patches + beta x
KL; then beta is multiplied by 1.5 when the mean KL per patch is over the rate point's budget
(bpp x 4096 bits) or divided by 1.5 when under max(0.05, bpp - 0.1) x 4096 (clamped to 1e-20..1),
and each level's prior is replaced by its empirical-Bayes estimate (`prior.update_prior`). At the
end the blocks are cut from the mean KL per coordinate (`prior.make_blocks`, seed 0) and the mean
posterior rho is kept for encoders to start from.

A schedule too short for beta to bring the KL down to the rate point (the paper's loop needs its
hundreds of iterations) would leave every rate point at the same, higher rate. So the per-coordinate
KL is scaled down to the budget before the blocks are cut: a prior's blocks always hold its rate
point, and the encoder's per-block beta brings each block's KL within it. The manifest records the
KL training reached (`kl_bits_per_patch`) beside the budget the blocks hold.

The official schedule is 550 iterations of 100 steps (200 for the first) over many DIV2K crops;
`TrainPriorConfig` says what a run uses, and the stored model's manifest records it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from codec.image.recombiner.coding import PriorModel
from codec.image.recombiner.inr import RecombinerINR
from codec.image.recombiner.patches import to_patched
from codec.image.recombiner.prior import (
    INIT_RHO,
    LEVEL_SIZES,
    LN2,
    LevelPrior,
    Posterior,
    make_blocks,
    std_of,
    update_prior,
)
from codec.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress

PATCH_PIXELS = 64 * 64
BETA_MAX = 1.0  # above it the posteriors collapse onto the prior and the empirical Bayes stalls
OFF_RHO = -40.0  # an unused level's posterior scale: softplus(-40) / 6, nothing


@dataclass
class TrainPriorConfig:
    bpp: float = 0.5  # the rate point: mean KL per patch aimed at, in bits per pixel
    iterations: int = 20  # official: 550
    steps: int = 50  # per iteration (official: 100, 200 for the first)
    first_steps: int = 100
    lr: float = 2e-4
    block_bits: int = 16
    beta_init: float = 1e-8  # official; a short schedule may start higher
    beta_factor: float = 1.5
    linear_reparam: bool = True
    positional: bool = True
    hierarchical: bool = True  # ablation: False keeps only the per-patch level
    seed: int = 0


@dataclass
class TrainPriorResult:
    model: PriorModel
    psnr: float  # mean over the training images, at the last step (one draw)
    kl_bits_per_patch: float
    beta: float
    seconds: float
    history: list[dict[str, float]]


def train_prior(
    crops: np.ndarray,
    cfg: TrainPriorConfig,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
) -> TrainPriorResult:
    t0 = time.monotonic()
    torch.manual_seed(cfg.seed)
    targets, layouts = zip(*(to_patched(c) for c in crops), strict=True)
    lay = layouts[0]
    if any(lo != lay for lo in layouts):
        raise ValueError("training crops must share one size")
    target = torch.from_numpy(np.stack(targets))
    net = RecombinerINR(cfg.linear_reparam, cfg.positional)
    priors = [LevelPrior.initial(n) for n in LEVEL_SIZES]
    posts = [Posterior(lay, rho=INIT_RHO) for _ in crops]
    used = (0, 1, 2) if cfg.hierarchical else (0,)
    for q in posts:  # an unused level is exactly zero: its codes are never sent
        for k in set(range(3)) - set(used):
            with torch.no_grad():
                q.mu[k].zero_()
                q.rho[k].fill_(OFF_RHO)
            q.mu[k].requires_grad_(False)
            q.rho[k].requires_grad_(False)
    params = [*net.parameters(), *(p for q in posts for p in q.parameters() if p.requires_grad)]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    beta, hi, lo = cfg.beta_init, cfg.bpp * PATCH_PIXELS, max(0.05, cfg.bpp - 0.1) * PATCH_PIXELS
    n_patches = lay.patches * len(crops)
    history: list[dict[str, float]] = []
    total = cfg.first_steps + (cfg.iterations - 1) * cfg.steps
    done = 0
    mse = kl_bits = float("nan")
    for it in range(cfg.iterations):
        for _ in range(cfg.first_steps if it == 0 else cfg.steps):
            if cancel is not None:
                cancel.check()
            sq, kl = 0.0, 0.0
            for i, q in enumerate(posts):
                h, lat = q.sample(1)
                y = net(h[0], lat[0], lay.rows, lay.cols)
                sq = sq + ((y - target[i]) ** 2).mean()
                kls = q.kl(priors)
                kl = kl + sum(kls[k].sum() for k in used)
            loss = sq / len(posts) * n_patches + beta * kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            mse, kl_bits = float(sq.detach()) / len(posts), float(kl.detach()) / LN2 / n_patches
            if done % 5 == 0 or done == total:
                psnr = -10 * np.log10(max(mse, 1e-10))
                shown = {"psnr": psnr, "kl_bits_per_patch": kl_bits, "iteration": it}
                progress(ProgressEvent(phase="train", step=done, total=total, metrics=shown))
        if kl_bits > hi:
            beta *= cfg.beta_factor
        elif kl_bits < lo:
            beta /= cfg.beta_factor
        beta = min(max(beta, 1e-20), BETA_MAX)
        with torch.no_grad():
            priors = [
                update_prior([q.mu[k].numpy() for q in posts], [std_of(q.rho[k]).numpy() for q in posts])
                if k in used
                else priors[k]
                for k in range(3)
            ]
        psnr = -10 * np.log10(max(mse, 1e-10))
        history.append({"iteration": it, "psnr": psnr, "kl_bits_per_patch": kl_bits, "beta": beta})
    with torch.no_grad():
        kls = [np.concatenate([q.kl(priors)[k].numpy() for q in posts]) for k in range(3)]
        per_coord = [kls[k].mean(0) / LN2 for k in range(3)]
        rows = lay.level_rows  # of one crop
        reached = sum(float(per_coord[k].sum()) * rows[k] for k in used) / lay.patches  # bits per patch
        scale = min(1.0, hi / max(reached, 1e-9))  # the blocks hold the rate point (module doc)
        blocks = [make_blocks(per_coord[k] * scale, cfg.block_bits) if k in used else [] for k in range(3)]
        rho = [np.concatenate([q.rho[k].numpy() for q in posts]).mean(0).astype(np.float32) for k in range(3)]
    model = PriorModel(net, priors, blocks, rho, cfg.block_bits)
    return TrainPriorResult(
        model, -10 * np.log10(max(mse, 1e-10)), kl_bits, beta, time.monotonic() - t0, history
    )


def config_dict(cfg: TrainPriorConfig) -> dict:
    return asdict(cfg)
