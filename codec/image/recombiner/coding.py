"""Encode an image's posterior block by block with relative entropy coding, and decode it back.

The prior model (`PriorModel`: the shared network parts, each level's prior, its blocks and the
posterior scale training ended at) is all the decoder needs besides the indices. Encoding, as in
the official code, with the schedule as data (`FitConfig`):

1. Posteriors start at the prior mean with the training posteriors' mean scale; they are fitted to
   the image with Adam, loss = MSE x patches + sum over (row, block) of beta * KL, each block's beta
   multiplied by 1.05 every 10 steps while its KL is over the budget (16 bits) and divided by 1.05
   while it is under budget - 0.4 bits.
2. Levels are coded image first, then groups, then patches. In each round every row codes its
   `round_blocks` uncoded blocks with the largest KL (REC, `codec.rec.coder`: 2^16 candidates from
   the prior, one 16-bit index each); the coded coordinates are then fixed and the rest fine-tuned
   for a few steps with the betas the fit ended at (greedy fine-tuning; `FitConfig.finetune_steps`,
   0 switches it off; the round size `round_blocks` trades speed for quality).
3. The indices are stored in canonical order (level, row, block). The decoder rebuilds each block's
   weights from its index alone (`codec.rec.coder.decode_block`), bit for bit the encoder's, then
   renders the image.

Rows are permuted per coordinate (`prior.row_permutation`): block b of row r holds coordinate j of
patch perm[r, j]. Candidate streams are keyed by (level, row, block), under one fixed seed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from codec.image.recombiner.inr import INR_PARAMS, RecombinerINR
from codec.image.recombiner.patches import Layout
from codec.image.recombiner.prior import LN2, LevelPrior, Posterior, compose, row_permutation
from codec.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress
from codec.rec.coder import decode_block, encode_block

SEED = 0x5EC0DE  # the candidate streams' seed: fixed, so files carry none
CHECKPOINT_SECONDS = 30.0


@dataclass
class PriorModel:
    """What encoder and decoder share (one per rate point)."""

    net: RecombinerINR
    priors: list[LevelPrior]  # levels 1, 2, 3
    blocks: list[list[np.ndarray]]  # per level, coordinate indices of each block
    rho: list[np.ndarray]  # per level, the mean posterior rho at the end of prior training (n,)
    block_bits: int = 16  # the KL budget of a block, and its index's bits (2^bits candidates)

    def blocks_of(self, lay: Layout) -> list[int]:
        """How many indices each level holds for this layout: rows x blocks."""
        return [r * len(b) for r, b in zip(lay.level_rows, self.blocks, strict=True)]

    def coords_of(self, lay: Layout) -> list[int]:
        """How many coordinates each level codes for this layout (REC's cost is 2^bits per one)."""
        rows = zip(lay.level_rows, self.blocks, strict=True)
        return [r * sum(len(b) for b in blocks) for r, blocks in rows]


KIND = "image-prior"


def prior_tensors(model: PriorModel) -> dict[str, torch.Tensor]:
    """What the model store keeps (safetensors): the network's parts (float16), each level's prior
    and the training posteriors' mean rho (float32), and the blocks as a block id per coordinate."""
    from codec.image.recombiner.prior import block_of

    # the shared network in float16 (half the bytes; both sides load the same rounded values)
    state = model.net.state_dict()
    t = {f"net.{k}": v.detach().cpu().to(torch.float16).contiguous() for k, v in state.items()}
    for k in range(3):
        n = len(model.priors[k].mean)
        t[f"level{k}.mean"] = torch.from_numpy(np.asarray(model.priors[k].mean, np.float32))
        t[f"level{k}.std"] = torch.from_numpy(np.asarray(model.priors[k].std, np.float32))
        t[f"level{k}.rho"] = torch.from_numpy(np.asarray(model.rho[k], np.float32))
        t[f"level{k}.block"] = torch.from_numpy(block_of(model.blocks[k], n))
    return t


def prior_from_tensors(t: dict[str, torch.Tensor], arch: dict) -> PriorModel:
    from codec.image.recombiner.prior import blocks_from

    net = RecombinerINR(bool(arch.get("linear_reparam", True)), bool(arch.get("positional", True)))
    net.load_state_dict({k[4:]: v.float() for k, v in t.items() if k.startswith("net.")})
    net.requires_grad_(False)  # shared and fixed: only a posterior is fitted (and models are cached)
    priors = [LevelPrior(t[f"level{k}.mean"].numpy(), t[f"level{k}.std"].numpy()) for k in range(3)]
    blocks = [blocks_from(t[f"level{k}.block"].numpy()) for k in range(3)]
    rho = [t[f"level{k}.rho"].numpy() for k in range(3)]
    return PriorModel(net, priors, blocks, rho, int(arch["block_bits"]))


@dataclass
class FitConfig:
    steps: int = 3000  # posterior fitting (the paper: 30,000)
    finetune_steps: int = 20  # after each round of coded blocks
    round_blocks: int = 8  # blocks each row codes per round (1: fine-tune after every block)
    lr: float = 2e-4
    samples: int = 5  # Monte Carlo draws per step
    beta_every: int = 10
    beta_factor: float = 1.05
    lower_buffer_bits: float = 0.4
    seed: int = 0
    # beta adapts while fitting only: adapting it in each fine-tuning round too grows an over-budget
    # block's beta 1.05x per round, so fine-tuning after every block squeezed the uncoded posteriors
    # onto the prior (-1 to -2 dB; bench/results/recombiner_finetune.json). True: that old behaviour.
    finetune_beta: bool = False


@dataclass
class Encoded:
    layout: Layout
    indices: list[np.ndarray]  # per level, (rows, blocks) int64 in canonical order
    weights: list[np.ndarray]  # per level, (rows, n) float32: the coded values, original rows
    recon: np.ndarray  # (3, H, W) float32 rendered from the coded weights (the encoder's view)
    kl_bits: list[float] = field(default_factory=list)  # per level, of the fitted posterior


class _Level:
    """Bookkeeping of one level: permuted rows, block membership, what is coded."""

    def __init__(self, rows: int, n: int, blocks: list[np.ndarray]) -> None:
        self.rows, self.n, self.blocks = rows, n, blocks
        self.perm = torch.from_numpy(row_permutation(rows, n))  # [r, j] -> original row
        block_of = np.zeros(n, np.int64)
        for b, idx in enumerate(blocks):
            block_of[idx] = b
        self.block_of = torch.from_numpy(block_of)
        self.coded = torch.zeros(rows, len(blocks), dtype=torch.bool)  # (permuted row, block)
        self.fixed = torch.zeros(rows, n)  # values, original rows
        self.mask = torch.zeros(rows, n, dtype=torch.bool)  # coded coordinates, original rows
        self.indices = np.zeros((rows, len(blocks)), np.int64)

    def block_kl(self, kl: torch.Tensor) -> torch.Tensor:
        """(rows, n) per-coordinate KL, original rows -> (rows, blocks) per permuted row and block."""
        permuted = kl.gather(0, self.perm)
        out = kl.new_zeros(self.rows, len(self.blocks))
        return out.index_add_(1, self.block_of, permuted)

    def coords(self, r: int, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Original (rows, columns) of block b of permuted row r."""
        cols = torch.from_numpy(self.blocks[b])
        return self.perm[r, cols], cols


def _draw(
    q: Posterior, levels: list[_Level], n: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    draws = []
    for mu, rho, lv in zip(q.mu, q.rho, levels, strict=True):
        if not lv.blocks:  # a level the prior does not use (the hierarchy ablation): zero
            draws.append(torch.zeros((n, *mu.shape)))
            continue
        eps = torch.randn((n, *mu.shape), generator=gen)
        x = mu + torch.nn.functional.softplus(rho) / 6 * eps
        draws.append(torch.where(lv.mask, lv.fixed, x))
    return q.compose(*draws)


def _fit(
    q: Posterior,
    model: PriorModel,
    levels: list[_Level],
    betas: list[torch.Tensor],
    target: torch.Tensor,
    steps: int,
    cfg: FitConfig,
    gen: torch.Generator,
    cancel: CancelToken | None,
    tick=None,
    opt: torch.optim.Optimizer | None = None,
    start: int = 0,
    on_step=None,
    adapt_beta: bool = True,
) -> None:
    """Adam steps start..steps-1 (module doc); `on_step(done, opt)` after each, for checkpoints;
    beta is adapted every `beta_every` steps when `adapt_beta`, else held."""
    lay = q.layout
    opt = opt or torch.optim.Adam(list(q.parameters()), lr=cfg.lr)
    lo = model.block_bits - cfg.lower_buffer_bits
    for step in range(start, steps):
        if cancel is not None and step % 10 == 0:
            cancel.check()
        h, lat = _draw(q, levels, cfg.samples, gen)
        mse = torch.stack(
            [((model.net(h[s], lat[s], lay.rows, lay.cols) - target) ** 2).mean() for s in range(cfg.samples)]
        )
        kls = q.kl(model.priors)
        penalty = sum(
            (beta * lv.block_kl(k * (~lv.mask)) * (~lv.coded)).sum()
            for beta, lv, k in zip(betas, levels, kls, strict=True)
            if lv.blocks
        )
        loss = mse.mean() * lay.patches + penalty
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if adapt_beta and step % cfg.beta_every == 0:
            with torch.no_grad():
                for beta, lv, k in zip(betas, levels, kls, strict=True):
                    if not lv.blocks:
                        continue
                    bits = lv.block_kl(k.detach()) / LN2
                    beta.mul_(torch.where(bits > model.block_bits, cfg.beta_factor, 1.0))
                    beta.div_(torch.where(bits <= lo, cfg.beta_factor, 1.0))
                    beta.clamp_(0.0, 1e4)
        if tick is not None:
            tick(step, float(mse.mean().detach()))
        if on_step is not None:
            on_step(step + 1, opt)


def encode_posterior(
    target_chw: np.ndarray,
    lay: Layout,
    model: PriorModel,
    cfg: FitConfig,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
    work_dir: Path | None = None,
    resume: bool = False,
) -> Encoded:
    """Fit, then code every block (module doc); `target_chw` is the padded image in [0, 1].

    With a `work_dir` the state is checkpointed every CHECKPOINT_SECONDS of fitting, after each
    coding round and on cancel; `resume` continues from it to the same file an uninterrupted
    encode writes."""
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    target = torch.from_numpy(np.ascontiguousarray(target_chw, np.float32))
    rows = lay.level_rows
    q = Posterior(lay, model.priors)
    with torch.no_grad():
        for rho, r in zip(q.rho, model.rho, strict=True):
            rho.copy_(torch.from_numpy(np.asarray(r, np.float32)).expand_as(rho))
    levels = [_Level(r, len(p.mean), b) for r, p, b in zip(rows, model.priors, model.blocks, strict=True)]
    betas = [torch.full((r, len(b)), 1e-3) for r, b in zip(rows, model.blocks, strict=True)]

    def tick(step: int, mse: float) -> None:
        if step % 20 == 0:
            psnr = -10 * np.log10(max(mse, 1e-10))
            progress(ProgressEvent(phase="fit", step=step, total=cfg.steps, metrics={"psnr": psnr}))

    ckpt = None if work_dir is None else Path(work_dir) / "recombiner.pt"
    if ckpt is not None:
        ckpt.parent.mkdir(parents=True, exist_ok=True)
    state: dict = {"fit_step": 0, "done": 0, "kl_bits": None, "coding": False}
    opt = torch.optim.Adam(list(q.parameters()), lr=cfg.lr)
    if resume and ckpt is not None and ckpt.exists():
        state = _load(ckpt, q, opt, betas, levels, gen, rng)
    last = [time.monotonic()]

    def save(fit_step: int | None = None, force: bool = False) -> None:
        if fit_step is not None:
            state["fit_step"] = fit_step  # every step: a cancel (checked between steps) saves exactly
        if ckpt is None or not (force or time.monotonic() - last[0] >= CHECKPOINT_SECONDS):
            return
        _save(ckpt, state, q, opt, betas, levels, gen, rng)
        last[0] = time.monotonic()

    try:
        if state["fit_step"] < cfg.steps:
            _fit(q, model, levels, betas, target, cfg.steps, cfg, gen, cancel, tick, opt, state["fit_step"],
                 lambda n, _: save(n))  # fmt: skip
            state["fit_step"] = cfg.steps
        if state["kl_bits"] is None:
            with torch.no_grad():
                state["kl_bits"] = [
                    float(k.sum() / LN2) if lv.blocks else 0.0
                    for k, lv in zip(q.kl(model.priors), levels, strict=True)
                ]
            save(force=True)
        state["coding"] = True
        _code(
            q, model, levels, betas, target, cfg, gen, rng, cancel, progress, state, lambda: save(force=True)
        )
    except BaseException:
        # Ctrl-C, cancel, a crash: while fitting, the state between two steps is kept; while coding,
        # the checkpoint of the last whole round (a round cut short would code blocks in another order)
        if not state.get("coding"):
            save(force=True)
        raise
    weights = [lv.fixed.numpy().copy() for lv in levels]
    recon = render(model, lay, weights)
    return Encoded(lay, [lv.indices for lv in levels], weights, recon, state["kl_bits"])


def _code(q, model, levels, betas, target, cfg, gen, rng, cancel, progress, state, checkpoint) -> None:
    """Levels image-first; each round, every row's `round_blocks` largest-KL uncoded blocks, then
    fine-tuning. Progress counts coded coordinates (REC's cost is 2^bits per coordinate, and the
    image and group blocks hold hundreds of coordinates where a patch block holds tens), so the
    ETA holds from the first block; the blocks coded are a metric."""
    total_blocks = sum(lv.rows * len(lv.blocks) for lv in levels)
    total_coords = sum(model.coords_of(q.layout))
    for li in (2, 1, 0):  # image, groups, patches
        lv, prior = levels[li], model.priors[li]
        while not bool(lv.coded.all()):
            with torch.no_grad():
                kl = lv.block_kl(q.kl(model.priors)[li])
                kl[lv.coded] = -1.0
                choice = kl.argsort(dim=1, descending=True, stable=True)[:, : cfg.round_blocks]
                mu, sd = q.mu[li].detach(), torch.nn.functional.softplus(q.rho[li].detach()) / 6
                for r, b in ((i, int(b)) for i in range(lv.rows) for b in choice[i]):
                    if lv.coded[r, b]:
                        continue
                    rr, cols = lv.coords(r, b)
                    c = encode_block(
                        SEED, _key(li, r, b), model.block_bits, mu[rr, cols].numpy(), sd[rr, cols].numpy(),
                        prior.mean[cols.numpy()], prior.std[cols.numpy()], rng,
                    )  # fmt: skip
                    lv.indices[r, b] = c.index
                    lv.fixed[rr, cols] = torch.from_numpy(c.weights)
                    lv.mask[rr, cols] = True
                    lv.coded[r, b] = True
                    state["done"] += 1
            coords = sum(int(x.mask.sum()) for x in levels)
            metrics = {"blocks": state["done"], "of": total_blocks, "kl_bits": sum(state["kl_bits"])}
            progress(ProgressEvent(phase="code", step=coords, total=total_coords, metrics=metrics))
            if cfg.finetune_steps and not bool(all(x.coded.all() for x in levels)):
                _fit(q, model, levels, betas, target, cfg.finetune_steps, cfg, gen, cancel,
                     adapt_beta=cfg.finetune_beta)  # fmt: skip
            checkpoint()


def _save(
    path: Path, state: dict, q, opt, betas, levels, gen: torch.Generator, rng: np.random.Generator
) -> None:
    """A work-dir checkpoint (never part of a file or of a model in the store)."""
    blob = {
        "state": dict(state), "posterior": q.state_dict(), "opt": opt.state_dict(), "betas": betas,
        "levels": [{"coded": lv.coded, "fixed": lv.fixed, "mask": lv.mask,
                    "indices": torch.from_numpy(lv.indices)} for lv in levels],
        "gen": gen.get_state(),
        "rng": torch.frombuffer(bytearray(repr(rng.bit_generator.state).encode()), dtype=torch.uint8),
    }  # fmt: skip
    tmp = path.with_suffix(".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)


def _load(path: Path, q, opt, betas, levels, gen: torch.Generator, rng: np.random.Generator) -> dict:
    import ast

    blob = torch.load(path, weights_only=True)
    q.load_state_dict(blob["posterior"])
    opt.load_state_dict(blob["opt"])
    for beta, saved in zip(betas, blob["betas"], strict=True):
        beta.copy_(saved)
    for lv, saved in zip(levels, blob["levels"], strict=True):
        lv.coded.copy_(saved["coded"])
        lv.fixed.copy_(saved["fixed"])
        lv.mask.copy_(saved["mask"])
        lv.indices[...] = saved["indices"].numpy()
    gen.set_state(blob["gen"])
    rng.bit_generator.state = ast.literal_eval(bytes(blob["rng"].numpy()).decode())
    return dict(blob["state"])


def _key(level: int, row: int, block: int) -> int:
    return (level << 48) | (row << 24) | block


def decode_weights(model: PriorModel, lay: Layout, indices: list[np.ndarray]) -> list[np.ndarray]:
    """Every level's coded values (original rows), rebuilt from the indices alone."""
    out = []
    levels = zip(lay.level_rows, model.priors, model.blocks, strict=True)
    for li, (r_count, prior, blocks) in enumerate(levels):
        perm = row_permutation(r_count, len(prior.mean))
        w = np.zeros((r_count, len(prior.mean)), np.float32)
        for r in range(r_count):
            for b, cols in enumerate(blocks):
                vals = decode_block(
                    SEED, _key(li, r, b), int(indices[li][r, b]), prior.mean[cols], prior.std[cols]
                )
                w[perm[r, cols], cols] = vals
        out.append(w)
    return out


@torch.no_grad()
def render(model: PriorModel, lay: Layout, weights: list[np.ndarray]) -> np.ndarray:
    """(3, rows*64, cols*64) float32 pixels from the coded values of the three levels."""
    h, lat = compose(lay, *(torch.from_numpy(w)[None] for w in weights))
    assert h.shape[-1] == INR_PARAMS
    model.net.eval()
    return model.net(h[0], lat[0], lay.rows, lay.cols).numpy()
