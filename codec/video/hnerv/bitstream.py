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
from codec.container import Container, MediaInfo, Section
from codec.errors import CorruptData
from codec.quant import QuantTensor, dequantize, quantize
from codec.registry import CODEC_IDS
from codec.video.hnerv.config import MAX_FC_DIM, HNeRVConfig
from codec.video.hnerv.model import HNeRVDecoder

PAYLOAD_VERSION = 1
CODEC_ID = CODEC_IDS["hnerv"]
MAX_DECODER_PARAMS = 200_000_000


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


# ---- header params -----------------------------------------------------------------------
def header_params(cfg: HNeRVConfig, weight_bits: list[int], embed_bits: int, segments: list[int]) -> dict:
    return {
        "payload": PAYLOAD_VERSION,
        "strides": list(cfg.strides),
        "ks": list(cfg.ks),
        "fc_dim": cfg.fc_dim,
        "embed_dim": cfg.embed_dim,
        "reduce_milli": round(cfg.reduce * 1000),  # stored as an integer: exact on every machine
        "lower_width": cfg.lower_width,
        "weight_bits": list(weight_bits),  # per segment: rate control may pick different depths
        "embed_bits": embed_bits,
        "segments": list(segments),
    }


def _int(params: dict, key: str, lo: int, hi: int) -> int:
    v = params.get(key)
    if not isinstance(v, int) or not lo <= v <= hi:
        raise CorruptData(f"HNeRV header field {key!r} is missing or out of range ({v!r})")
    return v


def _ints(params: dict, key: str, n_lo: int, n_hi: int, lo: int, hi: int) -> list[int]:
    v = params.get(key)
    if not isinstance(v, list) or not n_lo <= len(v) <= n_hi or not all(lo <= x <= hi for x in v):
        raise CorruptData(f"HNeRV header field {key!r} is missing or out of range")
    return v


def config_from_header(c: Container) -> tuple[HNeRVConfig, list[int], int, list[int]]:
    """Rebuild (config, weight_bits, embed_bits, frames per segment), validating every size before
    anything is allocated."""
    p, m = c.params, c.media
    if _int(p, "payload", 0, 2**31) != PAYLOAD_VERSION:
        raise CorruptData(
            f"HNeRV payload version {p['payload']} is not supported (this reader: {PAYLOAD_VERSION})"
        )
    strides = _ints(p, "strides", 1, 8, 1, 8)
    ks = _ints(p, "ks", len(strides), len(strides), 1, 15)
    prod = math.prod(strides)
    ph, pw = m.height + m.pad_h, m.width + m.pad_w
    if ph % prod or pw % prod:
        raise CorruptData(f"padded size {pw}x{ph} is not a multiple of the stride product {prod}")
    cfg = HNeRVConfig(
        height=ph,
        width=pw,
        strides=tuple(strides),
        ks=tuple(ks),
        fc_dim=_int(p, "fc_dim", 1, MAX_FC_DIM),
        embed_dim=_int(p, "embed_dim", 1, 256),
        reduce=_int(p, "reduce_milli", 1000, 16000) / 1000,
        lower_width=_int(p, "lower_width", 1, 1024),
    )
    if cfg.decoder_params() > MAX_DECODER_PARAMS:
        raise CorruptData(f"decoder of {cfg.decoder_params()} parameters is beyond the limit")
    segments = _ints(p, "segments", 1, 1_000_000, 1, m.frames)
    if sum(segments) != m.frames:
        raise CorruptData(f"segments hold {sum(segments)} frames, header says {m.frames}")
    wbits = _ints(p, "weight_bits", len(segments), len(segments), 2, 16)
    return cfg, wbits, _int(p, "embed_bits", 2, 16), segments


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
    cfg: HNeRVConfig, media: MediaInfo, embed_bits: int, segments: list[tuple[int, int, bytes, bytes]]
) -> Container:
    """segments: (frames, weight bits, weight bytes, embedding bytes) in order."""
    sections = []
    for k, (_, _, wbytes, ebytes) in enumerate(segments):
        sections += [Section(f"w{k}", wbytes), Section(f"e{k}", ebytes)]
    params = header_params(cfg, [s[1] for s in segments], embed_bits, [s[0] for s in segments])
    return Container(codec_id=CODEC_ID, params=params, media=media, sections=sections)
