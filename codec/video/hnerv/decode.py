"""HNeRV decode = rebuild each segment's decoder from the file and run it on the wanted frames.

Only the segments that overlap the requested range are touched, one at a time, in batches of
frames, so memory stays bounded by one segment's decoder and embeddings.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from codec import container
from codec.container import Container
from codec.device import autocast, pick_device
from codec.errors import CorruptData
from codec.io.frame_range import parse_frame_range
from codec.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress
from codec.video.hnerv import bitstream
from codec.video.hnerv.config import HNeRVConfig
from codec.video.hnerv.header import CODEC_ID, DECODE_BATCH, parse_header
from codec.video.hnerv.model import HNeRVDecoder

BATCH = DECODE_BATCH


def open_file(data: bytes | str | Path) -> Container:
    """Parse and check an .hnerv file (bytes or path)."""
    if isinstance(data, (str, Path)):
        return container.read_file(data, expected_codec=CODEC_ID)
    return container.read(data, expected_codec=CODEC_ID)


def decode_frames(
    data: bytes | str | Path | Container,
    frames: str | tuple[int, int] | None = None,
    device: str = "auto",
    precision: str = "auto",
) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 RGB frames of the range [A, B), original size (padding cropped)."""
    c = data if isinstance(data, Container) else open_file(data)
    dc = parse_header(c)
    cfg = dc.cfg
    a, b = parse_frame_range(frames, c.media.frames)
    dev = pick_device(device)
    h, w = c.media.height, c.media.width
    start = 0
    for k, n in enumerate(dc.segments):
        lo, hi = max(a, start), min(b, start + n)
        if lo < hi:
            weights = bitstream.decode_weights(c.section(f"w{k}"), cfg, dc.weight_bits[k])
            embed = bitstream.decode_embeddings(c.section(f"e{k}"), cfg, n, dc.embed_bits)
            embed = embed[lo - start : hi - start]
            yield from render(cfg, weights, embed, (h, w), dev, precision)
        start += n


def render(
    cfg: HNeRVConfig,
    weights: dict[str, torch.Tensor],
    embed: torch.Tensor,
    hw: tuple[int, int],
    device: torch.device,
    precision: str = "auto",
) -> Iterator[np.ndarray]:
    """Run a decoder on embeddings, batch by batch: (H, W, 3) uint8 frames, padding cropped.

    The encoder calls this too (with the default precision), so the quality it reports is what a
    default decode on the same machine produces. `precision` auto decodes in bf16 where that is
    fast (CUDA; CPUs with AMX: 3x the frames/s of fp32 on carphone, within 0.005 dB; max. 4 levels
    apart), else fp32; on the CPU activations are channels-last (1.2x for these narrow convs)."""
    decoder = HNeRVDecoder(cfg)
    decoder.load_state_dict(weights)
    decoder.to(device).eval()
    cpu = device.type == "cpu"
    if cpu:
        decoder = decoder.to(memory_format=torch.channels_last)
    h, w = hw
    with torch.inference_mode(), autocast(device, precision):
        for chunk in embed.split(BATCH):
            x = chunk.to(device).float()
            y = decoder(x.contiguous(memory_format=torch.channels_last) if cpu else x).float()
            if y.shape[-2:] != (cfg.height, cfg.width):  # the header's checks make this unreachable
                raise CorruptData(
                    f"decoder made {tuple(y.shape[-2:])} frames, the header says {cfg.height}x{cfg.width}"
                )
            y = y[..., :h, :w]
            yield from (y.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def decode_to_file(
    data: bytes | str | Path | Container,
    output: str | Path,
    frames: str | tuple[int, int] | None = None,
    device: str = "auto",
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
    precision: str = "auto",
) -> int:
    """Decode into .mp4 (x264), .mkv (FFV1, lossless), .y4m or a directory of PNGs; returns frames written."""
    from fractions import Fraction

    from codec.io.video import write_video

    c = data if isinstance(data, Container) else open_file(data)
    fps = Fraction(c.media.fps_num, c.media.fps_den or 1) if c.media.fps_num else Fraction(25)
    a, b = parse_frame_range(frames, c.media.frames)
    count = 0

    def counted() -> Iterator[np.ndarray]:
        nonlocal count
        for f in decode_frames(c, (a, b), device, precision):
            if cancel is not None:
                cancel.check()
            count += 1
            if count % BATCH == 0 or count == b - a:
                progress(ProgressEvent(phase="decode", step=count, total=b - a))
            yield f

    write_video(output, counted(), fps)
    return count
