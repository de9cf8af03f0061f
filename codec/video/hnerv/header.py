"""HNeRV's header parameters: declared with types and ranges, checked before anything is built.

`PARAMS` is what the registry's generic check enforces (type, range, list length); `config_from_header`
adds the rules that span fields and rebuilds the decoder's config. No torch here: `codec info` and
the service's checks read headers without loading it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from codec.container import Container, VideoMedia
from codec.errors import CorruptData
from codec.ids import CODEC_IDS
from codec.interface import HeaderParam, check_header_params
from codec.limits import DecodeCost
from codec.video.hnerv.config import MAX_FC_DIM, HNeRVConfig

CODEC_ID = CODEC_IDS["hnerv"]
PAYLOAD_VERSION = 1
MAX_DECODER_PARAMS = 200_000_000
MAX_SEGMENTS = 2048  # two sections each, within the container's section limit
# Pruning keeps at least 5% of the weights and each costs bits once coded: a real weight section is
# far denser than one bit per 64 weights. A header claiming millions of weights in a few bytes is forged.
MAX_WEIGHTS_PER_BIT = 64

PARAMS: tuple[HeaderParam, ...] = (
    HeaderParam("payload", int, 1, 2**31, help="HNeRV payload version"),
    HeaderParam("strides", list, 1, 8, length=(1, 8), help="upsampling stride of each decoder block"),
    HeaderParam("ks", list, 1, 15, length=(1, 8), help="kernel size of each block"),
    HeaderParam("fc_dim", int, 1, MAX_FC_DIM, help="stem width"),
    HeaderParam("embed_dim", int, 1, 256, help="channels of each frame's embedding"),
    HeaderParam("reduce_milli", int, 1000, 16000, help="channel reduction per block x 1000"),
    HeaderParam("lower_width", int, 1, 1024, help="channel floor"),
    HeaderParam("weight_bits", list, 2, 16, length=(1, MAX_SEGMENTS), help="weight bit depth per segment"),
    HeaderParam("embed_bits", int, 2, 16, help="embedding bit depth"),
    HeaderParam("segments", list, 1, 2**24, length=(1, MAX_SEGMENTS), help="frames per segment"),
)


@dataclass(frozen=True)
class DecodeConfig:
    cfg: HNeRVConfig
    weight_bits: list[int]  # per segment
    embed_bits: int
    segments: list[int]  # frames per segment


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


def config_from_header(c: Container, p: dict) -> DecodeConfig:
    """Rules across the (already type- and range-checked) params, so that what the decoder builds
    is exactly what the header describes: one odd kernel per block (an even one would shrink the
    frames), padding below the stride product (an encoder pads no further), the decoder's size."""
    m = c.media
    if not isinstance(m, VideoMedia):
        raise CorruptData(f"an HNeRV file must describe video, this one says {m.KIND}")
    if p["payload"] != PAYLOAD_VERSION:
        raise CorruptData(
            f"HNeRV payload version {p['payload']} is not supported (this reader: {PAYLOAD_VERSION})"
        )
    strides, ks = p["strides"], p["ks"]
    if len(ks) != len(strides):
        raise CorruptData(f"HNeRV header has {len(ks)} kernel sizes for {len(strides)} blocks")
    if any(k % 2 == 0 for k in ks):
        raise CorruptData(f"HNeRV kernel sizes must be odd (a conv keeps its size only then), got {ks}")
    prod = math.prod(strides)
    if not (m.pad_h < prod and m.pad_w < prod):
        raise CorruptData(f"padding {m.pad_w}x{m.pad_h} is not below the stride product {prod}")
    ph, pw = m.height + m.pad_h, m.width + m.pad_w
    if ph % prod or pw % prod:
        raise CorruptData(f"padded size {pw}x{ph} is not a multiple of the stride product {prod}")
    cfg = HNeRVConfig(
        height=ph,
        width=pw,
        strides=tuple(strides),
        ks=tuple(ks),
        fc_dim=p["fc_dim"],
        embed_dim=p["embed_dim"],
        reduce=p["reduce_milli"] / 1000,
        lower_width=p["lower_width"],
    )
    if cfg.decoder_params() > MAX_DECODER_PARAMS:
        raise CorruptData(f"decoder of {cfg.decoder_params()} parameters is beyond the limit")
    segments = p["segments"]
    if sum(segments) != m.frames:
        raise CorruptData(f"segments hold {sum(segments)} frames, header says {m.frames}")
    if len(p["weight_bits"]) != len(segments):
        raise CorruptData(
            f"HNeRV header has {len(p['weight_bits'])} weight bit depths for {len(segments)} segments"
        )
    lengths = {s.name: s.length for s in c.sections}
    params = cfg.decoder_params()
    for k in range(len(segments)):
        for name in (f"w{k}", f"e{k}"):
            if name not in lengths:
                raise CorruptData(f"missing section '{name}' for segment {k} of {len(segments)}")
        if lengths[f"w{k}"] * 8 * MAX_WEIGHTS_PER_BIT < params:
            raise CorruptData(
                f"section w{k} of {lengths[f'w{k}']} bytes cannot hold {params} weights (an encoder "
                f"spends at least 1/{MAX_WEIGHTS_PER_BIT} bit on each, even 95% pruned)"
            )
    return DecodeConfig(cfg, list(p["weight_bits"]), p["embed_bits"], list(segments))


def parse_header(c: Container) -> DecodeConfig:
    """The whole check: declared types and ranges, then the rules above."""
    return config_from_header(c, check_header_params("HNeRV", PARAMS, c.params))


DECODE_BATCH = 8  # frames per decoder pass (decode.BATCH; kept here so the cost needs no torch)


def _layers(cfg: HNeRVConfig) -> list[tuple[int, int]]:
    """(multiply-adds, output elements) per frame of each conv: stem, blocks, head."""
    h, w = cfg.embed_hw
    out = [(cfg.embed_dim * cfg.fc_dim * h * w, cfg.fc_dim * h * w)]
    ngf = cfg.fc_dim
    for s, k, width in zip(cfg.strides, cfg.ks, cfg.widths(), strict=True):
        out.append((ngf * width * s * s * k * k * h * w, width * s * s * h * w))  # conv at input size
        h, w, ngf = h * s, w * s, width
    out.append((ngf * 3 * 9 * h * w, 3 * h * w))
    return out


def decode_cost(c: Container, dc: DecodeConfig) -> DecodeCost:
    """Peak memory: one segment at a time, its sections, decoded weight codes (int64) and weights,
    embedding codes and their running sum (int64) and values, and a batch of activations (conv out,
    shuffle, GELU: three copies of the largest layer). Work: every frame through every layer."""
    cfg = dc.cfg
    layers = _layers(cfg)
    params = cfg.decoder_params()
    e_h, e_w = cfg.embed_hw
    biggest_segment = max(dc.segments)
    sections = max((s.length for s in c.sections), default=0) * 2  # the w and e section of one segment
    weights = params * (8 + 4 + 4)
    embeddings = biggest_segment * cfg.embed_dim * e_h * e_w * (8 + 8 + 4)
    activations = 3 * DECODE_BATCH * max(n for _, n in layers) * 4
    frames = c.media.frames
    return DecodeCost(
        memory_bytes=sections + weights + embeddings + activations,
        work=float(frames) * sum(macs for macs, _ in layers),
        items=frames,
        pixels=frames * c.media.width * c.media.height,
    )
