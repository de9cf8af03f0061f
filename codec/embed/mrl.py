"""Matryoshka Representation Learning (Kusupati et al., 2022): the loss and the prefix rule.

The loss sums, over nesting dims m (powers of two from 8 up to the full size), a cross-entropy of
a linear classifier that sees only the first m dims. Two forms, as in the paper:

- separate heads: one Linear(m, classes) per m;
- MRL-E ("efficient"): one Linear(full, classes) whose first m weight columns serve dim m, so the
  classifiers are nested too and cost no more than one.

At use, an embedding at dim m is its first m dims, L2-renormalised.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from codec.embed.prefix import prefix

__all__ = ["MatryoshkaHead", "mrl_loss", "prefix"]


class MatryoshkaHead(nn.Module):
    """Classifiers on each nesting prefix; `forward` gives their logits, one tensor per dim."""

    def __init__(self, dims: Sequence[int], classes: int, efficient: bool = False) -> None:
        super().__init__()
        self.dims = list(dims)
        self.efficient = efficient
        if efficient:
            self.shared = nn.Linear(self.dims[-1], classes)
        else:
            self.heads = nn.ModuleList(nn.Linear(m, classes) for m in self.dims)

    def forward(self, z: torch.Tensor) -> list[torch.Tensor]:
        if self.efficient:
            w, b = self.shared.weight, self.shared.bias
            return [F.linear(z[:, :m], w[:, :m], b) for m in self.dims]
        return [h(z[:, :m]) for h, m in zip(self.heads, self.dims, strict=True)]


def mrl_loss(
    logits: list[torch.Tensor], target: torch.Tensor, weights: Sequence[float] | None = None
) -> torch.Tensor:
    """sum_m w_m * CE(logits_m, target); the paper uses w_m = 1."""
    w = weights or [1.0] * len(logits)
    return sum(wi * F.cross_entropy(lg, target) for wi, lg in zip(w, logits, strict=True))
