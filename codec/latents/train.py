"""One training loop for QLAE and its baselines, then the held-out scores, then the model store.

Images stream from the generator (a fresh uniform sample of the factor grid every step, from the
seed), so the budget is a number of steps, the same for every latent kind. AdamW (weight decay on
weights only), constant learning rate and gradient clipping, as in the official code. A checkpoint
in `work_dir` every CHECKPOINT_SECONDS lets an interrupted run continue bit-exactly.

After training, a fixed held-out sample (EVAL_SEED, the same for every model) is encoded and
scored: reconstruction MSE, and for data with known factors InfoMEC and DCI (metrics.py). A QLAE
model is stored with its per-dim code tables: counts of each code over that sample, which the
codec turns into the integer CDFs a file's codes are coded with (the tables belong to the model,
not to each file: one image is a few bytes).

    codec train latents --data shapes3d --name shapes3d --seed 0
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codec.device import autocast, bf16_training, pick_device, seed_everything
from codec.latents.data import SIZE, Data, FactorData
from codec.latents.model import LatentAE, to_tensor, weight_decay_groups
from codec.latents.options import TrainLatentsOptions
from codec.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress

EVAL_SEED = 20230228  # the held-out sample: the same images for every model and seed
EVENT_SECONDS = 1.0
CHECKPOINT_SECONDS = 30.0
FOLDER_LATENTS = 12


@dataclass
class TrainResult:
    spec: str  # NAME@vN, or "" when not stored
    arch: dict[str, Any]
    metrics: dict[str, float]
    seconds: float
    steps: int
    nmi: list[list[float]] = field(default_factory=list)
    model: LatentAE | None = None


def make_arch(data: Data, opts: TrainLatentsOptions) -> dict[str, Any]:
    n = opts.latents or (2 * len(data.factors) if data.factors else FOLDER_LATENTS)
    arch: dict[str, Any] = {
        "type": "latent-ae",
        "latent": opts.latent,
        "latents": n,
        "levels": opts.levels,
        "channels": data.channels,
        "width": opts.width,
        "size": SIZE,
        "data": data.name,
        "factors": list(data.factors),
        "factor_sizes": list(data.sizes),
    }
    if opts.latent == "vae":
        arch["beta"] = opts.beta
    return arch


def eval_set(data: Data, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(EVAL_SEED)
    if isinstance(data, FactorData):
        f = data.sample_factors(rng, n)
        return np.concatenate([data.render(f[i : i + 1000]) for i in range(0, n, 1000)]), f
    return data.images[:n], np.zeros((min(n, len(data.images)), 0), np.int64)


@torch.no_grad()
def evaluate(model: LatentAE, images: np.ndarray, device: torch.device) -> tuple[np.ndarray, float]:
    """Latents (what the metrics read) and reconstruction MSE (pixels in [0, 1]) of the sample."""
    model.eval()
    lat, se = [], 0.0
    for i in range(0, len(images), 500):
        x = to_tensor(images[i : i + 500], device)
        lat.append(model.encode(x).cpu())
        se += float(((reconstruct(model, x) - x) ** 2).sum())
    model.train()
    return torch.cat(lat).numpy(), se / images.size


def reconstruct(model: LatentAE, x: torch.Tensor) -> torch.Tensor:
    """The deterministic reconstruction: quantized codes, or the VAE's mean."""
    h = model.encoder(x)
    if model.kind == "qlae":
        z = model.quantizer.lookup(model.quantizer.indices(h))
    elif model.kind == "vqvae":
        z = model.quantizer(h)[0]
    else:
        z = h[:, : model.n]
    return torch.sigmoid(model.decoder(z))


def train_latents(
    data: Data,
    opts: TrainLatentsOptions,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
    work_dir: Path | None = None,
    resume: bool = False,
    store: Any = None,
    command: str = "",
) -> TrainResult:
    t0 = time.monotonic()
    device = pick_device(opts.device)
    gen = seed_everything(opts.seed)
    arch = make_arch(data, opts)
    model = LatentAE(arch).to(device)
    opt = torch.optim.AdamW(weight_decay_groups(model, opts.weight_decay), lr=opts.lr)
    rng = np.random.default_rng(opts.seed)
    step, spent = 0, 0.0
    ckpt = work_dir / "checkpoint.pt" if work_dir is not None else None
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    if resume and ckpt is not None and ckpt.exists():
        step, spent = _load(ckpt, model, opt, gen, rng)
    model.train()
    last_event = last_ckpt = time.monotonic()
    parts: dict[str, float] = {}
    progress(
        ProgressEvent(phase="train", step=step, total=opts.steps, message=f"{opts.latent} on {data.name}")
    )
    try:
        while step < opts.steps:
            if cancel is not None:
                cancel.check()
            images, _ = data.batch(rng, opts.batch_size)
            with autocast(device, opts.precision):
                loss, p = model.loss(to_tensor(images, device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), opts.clip)
            opt.step()
            step += 1
            now = time.monotonic()
            if now - last_event >= EVENT_SECONDS or step == opts.steps:
                last_event = now
                parts = {k: float(v.detach()) for k, v in p.items()}
                progress(
                    ProgressEvent(
                        phase="train",
                        step=step,
                        total=opts.steps,
                        metrics={"loss": float(loss.detach()), **parts},
                    )
                )
            if ckpt is not None and now - last_ckpt >= CHECKPOINT_SECONDS:
                last_ckpt = now
                _save(ckpt, model, opt, gen, rng, step, spent + now - t0)
    except BaseException:
        if ckpt is not None and step:
            _save(ckpt, model, opt, gen, rng, step, spent + time.monotonic() - t0)
        raise
    train_seconds = spent + time.monotonic() - t0
    if ckpt is not None:
        _save(ckpt, model, opt, gen, rng, step, train_seconds)

    progress(ProgressEvent(phase="score", message=f"{opts.eval_samples} held-out images"))
    images, factors = eval_set(data, opts.eval_samples)
    latents, mse = evaluate(model, images, device)
    metrics: dict[str, float] = {"recon_mse": mse}
    nmi: list[list[float]] = []
    if factors.shape[1]:
        from codec.latents.metrics import score

        discrete = opts.latent in ("qlae", "vqvae")
        s = score(factors, latents, discrete)
        metrics |= s.as_dict()
        nmi = s.nmi.round(4).tolist()
    metrics["payload_bits"] = payload_bits(latents, model) if opts.latent == "qlae" else 0.0
    seconds = spent + time.monotonic() - t0
    spec = ""
    if store is not None and opts.name:
        tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        if opts.latent == "qlae":
            tensors["code_counts"] = torch.from_numpy(code_counts(latents, arch["levels"]))
        training = {
            "command": command or "codec train latents",
            "data": f"{data.name} (procedural, codec/latents/data.py)" if factors.shape[1] else data.name,
            "metrics": {k: round(float(v), 6) for k, v in metrics.items()},
            "seconds": round(train_seconds, 1),
            "steps": step,
            "batch_size": opts.batch_size,
            "seed": opts.seed,
            "optimizer": f"AdamW lr {opts.lr:g} weight decay {opts.weight_decay:g}, clip {opts.clip:g}",
            "precision": "bf16" if bf16_training(device, opts.precision) else "fp32",
            "nmi": nmi,
        }
        m = store.save(opts.name, "latent-model", tensors, arch, training,
                       source="trained by neural-codec on procedural data", license="Apache-2.0")  # fmt: skip
        spec = m.spec
    progress(ProgressEvent(phase="done", message=spec or "trained (not stored)", metrics=metrics))
    return TrainResult(spec, arch, metrics, seconds, step, nmi, model)


def code_counts(codes: np.ndarray, levels: int) -> np.ndarray:
    """(N, n) code indices -> (n, levels) int32 counts, each at least 1 (every code stays codable)."""
    out = np.ones((codes.shape[1], levels), np.int32)
    for j in range(codes.shape[1]):
        out[j] += np.bincount(codes[:, j], minlength=levels).astype(np.int32)
    return out


def payload_bits(codes: np.ndarray, model: LatentAE) -> float:
    """Mean bits per image of the codes under the per-dim tables (their cross-entropy)."""
    counts = code_counts(codes, model.arch["levels"]).astype(np.float64)
    p = counts / counts.sum(1, keepdims=True)
    bits = -np.log2(p[np.arange(codes.shape[1])[None], codes])
    return float(bits.sum(1).mean())


def _save(
    path: Path, model, opt, gen: torch.Generator, rng: np.random.Generator, step: int, spent: float
) -> None:
    """A work-dir checkpoint only (never part of a model in the store or of a file)."""
    state = {
        "model": model.state_dict(),
        "opt": opt.state_dict(),
        "gen": gen.get_state(),
        "torch": torch.get_rng_state(),
        "rng": torch.frombuffer(bytearray(repr(rng.bit_generator.state).encode()), dtype=torch.uint8),
        "step": step,
        "spent": spent,
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def _load(path: Path, model, opt, gen: torch.Generator, rng: np.random.Generator) -> tuple[int, float]:
    import ast

    s = torch.load(path, weights_only=True)
    model.load_state_dict(s["model"])
    opt.load_state_dict(s["opt"])
    gen.set_state(s["gen"])
    torch.set_rng_state(s["torch"])
    rng.bit_generator.state = ast.literal_eval(bytes(s["rng"].numpy()).decode())
    return int(s["step"]), float(s["spent"])
