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
from codec.device import pick_device
from codec.errors import InvalidInput
from codec.video.hnerv import bitstream
from codec.video.hnerv.config import HNeRVConfig
from codec.video.hnerv.model import HNeRVDecoder

BATCH = 8


def open_file(data: bytes | str | Path) -> Container:
    """Parse and check an .hnerv file (bytes or path)."""
    if isinstance(data, (str, Path)):
        return container.read_file(data, expected_codec=bitstream.CODEC_ID)
    return container.read(data, expected_codec=bitstream.CODEC_ID)


def parse_range(spec: str | tuple[int, int] | None, frames: int) -> tuple[int, int]:
    """'A:B' (half-open, either end optional) or a tuple -> a checked (A, B) within the clip."""
    if spec is None:
        return 0, frames
    if isinstance(spec, str):
        try:
            a_s, b_s = spec.split(":")
            a, b = int(a_s) if a_s else 0, int(b_s) if b_s else frames
        except ValueError:
            raise InvalidInput(f"--frames must look like A:B (e.g. 10:20), got {spec!r}") from None
    else:
        a, b = spec
    if not 0 <= a < b <= frames:
        raise InvalidInput(f"frame range {a}:{b} is outside the clip's 0:{frames}")
    return a, b


def decode_frames(
    data: bytes | str | Path | Container, frames: str | tuple[int, int] | None = None, device: str = "auto"
) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 RGB frames of the range [A, B), original size (padding cropped)."""
    c = data if isinstance(data, Container) else open_file(data)
    cfg, wbits, ebits, segments = bitstream.config_from_header(c)
    a, b = parse_range(frames, c.media.frames)
    dev = pick_device(device)
    h, w = c.media.height, c.media.width
    start = 0
    for k, n in enumerate(segments):
        lo, hi = max(a, start), min(b, start + n)
        if lo < hi:
            weights = bitstream.decode_weights(c.section(f"w{k}"), cfg, wbits[k])
            embed = bitstream.decode_embeddings(c.section(f"e{k}"), cfg, n, ebits)[lo - start : hi - start]
            yield from render(cfg, weights, embed, (h, w), dev)
        start += n


def render(
    cfg: HNeRVConfig,
    weights: dict[str, torch.Tensor],
    embed: torch.Tensor,
    hw: tuple[int, int],
    device: torch.device,
) -> Iterator[np.ndarray]:
    """Run a decoder on embeddings, batch by batch: (H, W, 3) uint8 frames, padding cropped.

    The encoder calls this too, so the quality it reports is exactly what a decode produces."""
    decoder = HNeRVDecoder(cfg)
    decoder.load_state_dict(weights)
    decoder.to(device).eval()
    h, w = hw
    with torch.no_grad():
        for chunk in embed.split(BATCH):
            y = decoder(chunk.to(device).float())[..., :h, :w]
            yield from (y.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def decode_to_file(
    data: bytes | str | Path | Container,
    output: str | Path,
    frames: str | tuple[int, int] | None = None,
    device: str = "auto",
) -> int:
    """Decode into .mp4 (x264), .mkv (FFV1, lossless), .y4m or a directory of PNGs; returns frames written."""
    from fractions import Fraction

    from codec.io.video import write_video

    c = data if isinstance(data, Container) else open_file(data)
    fps = Fraction(c.media.fps_num, c.media.fps_den or 1) if c.media.fps_num else Fraction(25)
    count = 0

    def counted() -> Iterator[np.ndarray]:
        nonlocal count
        for f in decode_frames(c, frames, device):
            count += 1
            yield f

    write_video(output, counted(), fps)
    return count
