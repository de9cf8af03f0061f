"""Backward-compatible embedders: a new model whose vectors search an old model's gallery.

Two methods, trained by the one loop in train.py:

- BCT (Shen et al., 2020): the new embedding itself is made compatible. Its "influence loss" is a
  cross-entropy through the old model's classifier, here the old model's class prototypes (the
  mean old embedding of each class over the new training set, so classes the old model never saw
  get a classifier too, as BCT extends it). The new model gives up accuracy to stay comparable.
- BT² (Zhou et al., ICCV 2023): the new backbone's features f (size d) and k extra dims e go
  through a learnable orthonormal basis transformation,

      z = [ê ; C·O_p f̂]          (d + k dims; ê, f̂ unit vectors, O_p orthogonal d x d)
      v = [O_2 z[:d] ; z[d:]]    (O_2 orthogonal d x d)

  so v is an orthonormal transform of [ê ; C f̂] and keeps all of f's information, while its
  first d dims (the compatible part) are pulled onto the old model's vectors. The losses, as in
  the official code: the new model's own classification on f, a cosine term keeping f close to an
  independently trained new model (the reference), and, on the compatible part, a cosine term to
  the old embedding plus the influence loss (weights 1, 1, 10, 10).

Beyond the paper, compatibility is trained at every nesting dim m of the old model: the terms on
the compatible part are averaged over the Matryoshka prefixes v[:m] (renormalised) against the
old model's prefixes, so a v2 query's short prefix shortlists v1 vectors and its compatible part
reranks them (adaptive search keeps working across versions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import orthogonal

METHODS = ("bt2", "bct")
SCALE_C = 3.0  # C: the weight of f against the extra dims in the new full space (official default)
TEMPERATURE = 0.1  # the prototype classifier's cosine temperature
W_REF, W_OLD_COS, W_INFLUENCE = 1.0, 10.0, 10.0  # BT² loss weights (official code)
W_BCT = 1.0  # BCT's influence-loss weight (the BCT paper's lambda)


class BasisTransform(nn.Module):
    """[f ; e] -> v, an orthonormal map (norms and inner products are kept; see the module doc)."""

    def __init__(self, dim: int, extra: int, scale: float = SCALE_C) -> None:
        super().__init__()
        if not 0 < extra <= dim:
            raise ValueError(f"extra dims must be in 1..{dim}, got {extra}")
        self.dim, self.extra, self.scale = dim, extra, scale
        self.o_p = orthogonal(nn.Linear(dim, dim, bias=False))
        self.o_2 = orthogonal(nn.Linear(dim, dim, bias=False))

    def forward(self, f: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        z = torch.cat([F.normalize(e, dim=1), self.o_p(self.scale * F.normalize(f, dim=1))], dim=1)
        return torch.cat([self.o_2(z[:, : self.dim]), z[:, self.dim :]], dim=1)


class CompatibleEncoder(nn.Module):
    """A base encoder of d + k outputs split into f (d) and e (k), then the basis transformation.
    `forward` gives the served embedding [compatible part (d) ; extra (k)]; `parts` also gives f,
    which the new model's own losses see."""

    def __init__(self, base: nn.Module, dim: int, extra: int, scale: float = SCALE_C) -> None:
        super().__init__()
        self.base, self.dim, self.extra = base, dim, extra
        self.bt = BasisTransform(dim, extra, scale)

    def parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.base(x)
        f, e = h[:, : self.dim], h[:, self.dim :]
        return f, self.bt(f, e)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.parts(x)[1]


@torch.no_grad()
def prototypes(old_vectors: torch.Tensor, labels: torch.Tensor, classes: int, dims: Sequence[int]):
    """Per nesting dim m: each class's mean old embedding (prefix m, renormalised), as unit rows.
    A class with no items gets a zero row (it can never win the prototype classifier)."""
    out = {}
    for m in dims:
        z = F.normalize(old_vectors[:, :m], dim=1)
        sums = torch.zeros(classes, m).index_add_(0, labels, z)
        out[m] = F.normalize(sums, dim=1)
    return out


def influence_loss(z: torch.Tensor, target: torch.Tensor, protos: dict[int, torch.Tensor]) -> torch.Tensor:
    """Mean over nesting dims m of CE(cos(z[:m], prototypes_m) / T, target)."""
    losses = [
        F.cross_entropy(F.normalize(z[:, :m], dim=1) @ p.T / TEMPERATURE, target) for m, p in protos.items()
    ]
    return sum(losses) / len(losses)


def cosine_loss(z: torch.Tensor, ref: torch.Tensor, dims: Sequence[int]) -> torch.Tensor:
    """Mean over nesting dims m of 1 - cos(z[:m], ref[:m])."""
    losses = [1 - F.cosine_similarity(z[:, :m], ref[:, :m], dim=1).mean() for m in dims]
    return sum(losses) / len(losses)


@dataclass
class CompatTargets:
    """What a compatible training run holds fixed: the old model (frozen), its prototypes per
    nesting dim on the new training data, and for BT² the reference new model (frozen)."""

    method: str
    old: nn.Module
    dims: list[int]  # the old model's nesting dims covered by the compatible part
    protos: dict[int, torch.Tensor]
    reference: nn.Module | None = None


def compat_loss(
    method: str, encoder: nn.Module, head_logits, x: torch.Tensor, y: torch.Tensor, t: CompatTargets
) -> torch.Tensor:
    """The whole training loss of one batch for a compatible new model.

    `head_logits(z)` is the new model's own Matryoshka classifier (a list of logits, one per its
    nesting dim) and its MRL cross-entropy is the new model's own classification loss."""
    from codec.embed.mrl import mrl_loss

    protos = {m: p.to(x.device) for m, p in t.protos.items()}
    if method == "bct":
        z = encoder(x)
        return mrl_loss(head_logits(z), y) + W_BCT * influence_loss(z, y, protos)
    with torch.no_grad():
        phi_old = t.old(x)
        phi_ref = t.reference(x) if t.reference is not None else None
    f, v = encoder.parts(x)
    loss = mrl_loss(head_logits(f), y)
    if phi_ref is not None:
        loss = loss + W_REF * (1 - F.cosine_similarity(f, phi_ref, dim=1).mean())
    d = t.dims[-1]
    return (
        loss
        + W_OLD_COS * cosine_loss(v[:, :d], phi_old, t.dims)
        + W_INFLUENCE * influence_loss(v[:, :d], y, protos)
    )
