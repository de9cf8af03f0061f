"""Uniform quantization with per-channel fp16 steps.

Two flavours:
  symmetric  - codes in [-(2^(b-1)-1), 2^(b-1)-1], zero stays exactly zero (weights: pruned zeros and the
               zero-centred weight distribution share one entropy model across channels)
  asymmetric - codes in [0, 2^b - 1] with an fp16 offset (embeddings, whose range is not centred)

Offsets and steps are rounded to fp16 *before* they are used, on both sides, so what the encoder
trains against (fake_quantize) is exactly what the decoder rebuilds from the file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class QuantTensor:
    q: np.ndarray  # integer codes, same shape as the tensor
    step: np.ndarray  # float16, one per channel along `axis` (or one value)
    offset: np.ndarray | None  # float16 like step; None when symmetric
    bits: int
    axis: int | None  # channel axis, None for per-tensor

    @property
    def symmetric(self) -> bool:
        return self.offset is None


def code_range(bits: int, symmetric: bool) -> tuple[int, int]:
    if symmetric:
        return -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def _reduce(t: torch.Tensor, axis: int | None, fn) -> torch.Tensor:
    if axis is None or t.dim() == 0:
        return fn(t).reshape([1] * t.dim())
    dims = [d for d in range(t.dim()) if d != axis]
    return fn(t, dim=dims, keepdim=True) if dims else t.clone()


def _fp16_ceil(x: torch.Tensor) -> torch.Tensor:
    """Smallest fp16 value >= x, so a step never shrinks the range it must cover."""
    h = x.half()
    return torch.where(h.float() < x, torch.nextafter(h, torch.full_like(h, 65504.0)), h).float()


def _stats(
    t: torch.Tensor, bits: int, axis: int | None, symmetric: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """(offset, step) in fp16 precision, broadcastable to t; offset is 0 when symmetric."""
    t = t.detach().float()
    lo_code, hi_code = code_range(bits, symmetric)
    if symmetric:
        offset = torch.zeros_like(_reduce(t, axis, torch.amax))
        step = _fp16_ceil(_reduce(t.abs(), axis, torch.amax) / hi_code)
    else:
        lo, hi = _reduce(t, axis, torch.amin), _reduce(t, axis, torch.amax)
        offset = lo.half().float()
        step = _fp16_ceil((hi - offset).clamp_min(0) / (hi_code - lo_code))
    # A constant (or all-zero) channel has no range: any positive step reproduces it.
    return offset, torch.where(step > 0, step, torch.ones_like(step))


def quantize(t: torch.Tensor, bits: int, axis: int | None = 0, symmetric: bool = False) -> QuantTensor:
    if not 2 <= bits <= 16:
        raise ValueError(f"bits must be in 2..16, got {bits}")
    offset, step = _stats(t, bits, axis, symmetric)
    lo_code, hi_code = code_range(bits, symmetric)
    q = torch.clamp(torch.round((t.detach().float() - offset) / step), lo_code, hi_code)
    return QuantTensor(
        q=q.to(torch.int64).cpu().numpy(),
        step=step.half().cpu().numpy().reshape(-1),
        offset=None if symmetric else offset.half().cpu().numpy().reshape(-1),
        bits=bits,
        axis=axis,
    )


def dequantize(qt: QuantTensor) -> torch.Tensor:
    q = torch.from_numpy(np.ascontiguousarray(qt.q)).float()
    shape = [1] * q.dim()
    if qt.axis is not None and q.dim() > 0:
        shape[qt.axis] = -1
    step = torch.from_numpy(qt.step.astype(np.float32)).reshape(shape)
    if qt.offset is None:
        return step * q
    return torch.from_numpy(qt.offset.astype(np.float32)).reshape(shape) + step * q


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return torch.round(x)

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return g


def fake_quantize(t: torch.Tensor, bits: int, axis: int | None = 0, symmetric: bool = False) -> torch.Tensor:
    """Quantize-dequantize with a straight-through gradient, for quantization-aware fine-tuning."""
    offset, step = _stats(t, bits, axis, symmetric)
    lo_code, hi_code = code_range(bits, symmetric)
    return offset + step * torch.clamp(_RoundSTE.apply((t - offset) / step), lo_code, hi_code)
