"""Global magnitude pruning: one threshold across all given tensors, so layers that matter less
lose more weights (as in NeRV's pruning stage)."""

from __future__ import annotations

import torch


def magnitude_masks(tensors: dict[str, torch.Tensor], ratio: float) -> dict[str, torch.Tensor]:
    """Boolean keep-masks that zero the `ratio` fraction of smallest-magnitude entries overall."""
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"prune ratio must be in [0, 1), got {ratio}")
    if ratio == 0 or not tensors:
        return {k: torch.ones_like(v, dtype=torch.bool) for k, v in tensors.items()}
    flat = torch.cat([v.detach().abs().flatten().float().cpu() for v in tensors.values()])
    k = max(1, int(ratio * flat.numel()))
    threshold = flat.kthvalue(k).values
    return {name: v.detach().abs() > threshold.to(v.device) for name, v in tensors.items()}


def prune_ratio_of(masks: dict[str, torch.Tensor]) -> float:
    total = sum(m.numel() for m in masks.values())
    kept = sum(int(m.sum()) for m in masks.values())
    return 1.0 - kept / max(total, 1)
