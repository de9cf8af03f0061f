"""HNeRV payload <-> container: what is stored, in which order, and how it is checked.

Per segment k two sections:
  w{k}  decoder weights: fp16 steps for every tensor (sizes follow from the config), then one
        entropy-coded stream of all symmetric integer codes, tensors in `decoder_specs` order
  e{k}  embeddings: fp16 offsets and steps per channel, then the entropy-coded codes of the
        (frames, E, h, w) tensor, each frame's codes minus the previous frame's (temporal delta)

Nothing here imports training code: the decoder rebuilds everything from the header.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from codec import entropy
from codec.container import Container, Section, VideoMedia
from codec.errors import CorruptData
from codec.quant import QuantTensor, dequantize, quantize
from codec.video.hnerv.config import HNeRVConfig
from codec.video.hnerv.header import CODEC_ID, header_params
from codec.video.hnerv.model import HNeRVDecoder


def weight_quant_axis(shape: torch.Size | tuple[int, ...]) -> int | None:
    """Per-output-channel steps for kernels, one step for a bias."""
    return 0 if len(shape) > 1 else None


def decoder_specs(cfg: HNeRVConfig) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of every stored tensor, in storage order; built on the meta device (no memory)."""
    with torch.device("meta"):
        dec = HNeRVDecoder(cfg)
    return [(n, tuple(p.shape)) for n, p in dec.named_parameters()]


def _n_steps(shape: tuple[int, ...]) -> int:
    return shape[0] if weight_quant_axis(shape) == 0 else 1


# ---- weights -----------------------------------------------------------------------------
def encode_weights(
    state: dict[str, torch.Tensor], cfg: HNeRVConfig, bits: int
) -> tuple[bytes, dict[str, torch.Tensor]]:
    """Quantize and code the decoder; also return the dequantized weights the decoder will see."""
    steps, codes, rebuilt = [], [], {}
    for name, shape in decoder_specs(cfg):
        qt = quantize(state[name].detach().cpu(), bits, weight_quant_axis(shape), symmetric=True)
        steps.append(qt.step.astype("<f2").tobytes())
        codes.append(qt.q.reshape(-1))
        rebuilt[name] = dequantize(qt)
    return b"".join(steps) + entropy.encode_ints(np.concatenate(codes)), rebuilt


def decode_weights(data: bytes, cfg: HNeRVConfig, bits: int) -> dict[str, torch.Tensor]:
    specs = decoder_specs(cfg)
    n_steps = sum(_n_steps(s) for _, s in specs)
    n_codes = sum(math.prod(s) for _, s in specs)
    if len(data) < 2 * n_steps:
        raise CorruptData("weight section is shorter than its quantization steps")
    steps = np.frombuffer(data, "<f2", n_steps).astype(np.float16)
    codes = entropy.decode_ints(data[2 * n_steps :], max_count=n_codes)
    if codes.size != n_codes:
        raise CorruptData(f"weight section holds {codes.size} codes, the config needs {n_codes}")
    out, si, ci = {}, 0, 0
    for name, shape in specs:
        k, n = _n_steps(shape), math.prod(shape)
        qt = QuantTensor(
            q=codes[ci : ci + n].reshape(shape),
            step=steps[si : si + k],
            offset=None,
            bits=bits,
            axis=weight_quant_axis(shape),
        )
        out[name] = dequantize(qt)
        si, ci = si + k, ci + n
    return out


# ---- embeddings --------------------------------------------------------------------------
def encode_embeddings(embed: torch.Tensor, bits: int) -> tuple[bytes, torch.Tensor]:
    """(T, E, h, w) float -> bytes, plus the dequantized tensor the decoder will see."""
    qt = quantize(embed.detach().cpu().float(), bits, axis=1)
    q = qt.q
    delta = np.concatenate([q[:1], q[1:] - q[:-1]])  # neighbouring frames have similar embeddings
    head = qt.offset.astype("<f2").tobytes() + qt.step.astype("<f2").tobytes()
    return head + entropy.encode_ints(delta), dequantize(qt)


def decode_embeddings(data: bytes, cfg: HNeRVConfig, frames: int, bits: int) -> torch.Tensor:
    e = cfg.embed_dim
    h, w = cfg.embed_hw
    if len(data) < 4 * e:
        raise CorruptData("embedding section is shorter than its quantization header")
    offset = np.frombuffer(data, "<f2", e, 0).astype(np.float16)
    step = np.frombuffer(data, "<f2", e, 2 * e).astype(np.float16)
    n = frames * e * h * w
    delta = entropy.decode_ints(data[4 * e :], max_count=n)
    if delta.size != n:
        raise CorruptData(f"embedding section holds {delta.size} codes, expected {n}")
    q = np.cumsum(delta.reshape(frames, e, h, w), axis=0)
    if q.min(initial=0) < 0 or q.max(initial=0) >= 2**bits:
        raise CorruptData("embedding codes fall outside their bit depth")
    return dequantize(QuantTensor(q=q, step=step, offset=offset, bits=bits, axis=1))


# ---- whole file --------------------------------------------------------------------------
def build_container(
    cfg: HNeRVConfig, media: VideoMedia, embed_bits: int, segments: list[tuple[int, int, bytes, bytes]]
) -> Container:
    """segments: (frames, weight bits, weight bytes, embedding bytes) in order."""
    sections = []
    for k, (_, _, wbytes, ebytes) in enumerate(segments):
        sections += [Section(f"w{k}", wbytes), Section(f"e{k}", ebytes)]
    params = header_params(cfg, [s[1] for s in segments], embed_bits, [s[0] for s in segments])
    return Container(codec_id=CODEC_ID, params=params, media=media, sections=sections)
