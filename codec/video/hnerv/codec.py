"""HNeRV's registry entry: the declarations, and the four operations as thin calls into the package.

Training and decoding import torch; they are imported inside the methods, so registering the
codec (and `codec info`, `--help`, the service's checks) stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from codec.container import Container
from codec.interface import Codec, DecodeReport, EncodeReport
from codec.limits import DecodeCost
from codec.progress import CancelToken, ProgressCallback, null_progress
from codec.registry import register
from codec.video.hnerv.header import PARAMS, DecodeConfig, config_from_header, decode_cost
from codec.video.hnerv.options import DecodeOptions, EncodeOptions


@register
class HNeRVCodec(Codec):
    name = "hnerv"
    media = "video"
    suffix = ".hnerv"
    inputs = ("video",)
    description = "HNeRV video: a network overfit to the clip, pruned, quantized and entropy coded"
    input_help = "any video PyAV can read, or a directory of PNG frames (audio is ignored)"
    output_help = ".mp4 (x264), .mkv (FFV1, lossless), .y4m, or a directory of PNG frames"
    item_unit = "frames"
    Options = EncodeOptions
    DecodeOptions = DecodeOptions
    header = PARAMS
    rate_options = ("size", "bpp")
    default_rates = {"size": (0.05, 0.1, 0.2, 0.4), "bpp": (0.05, 0.1, 0.2, 0.4)}

    def check_config(self, c: Container, params: dict[str, Any]) -> DecodeConfig:
        return config_from_header(c, params)

    def decode_cost(self, c: Container, config: DecodeConfig) -> DecodeCost:
        return decode_cost(c, config)

    def encode(
        self,
        src: Path,
        dst: Path,
        options: EncodeOptions,
        progress: ProgressCallback = null_progress,
        cancel: CancelToken | None = None,
        work_dir: Path | None = None,
        resume: bool = False,
    ) -> EncodeReport:
        from codec.video.hnerv.encode import encode_video

        r = encode_video(src, dst, options, progress, cancel, work_dir=work_dir, resume=resume)
        metrics = {
            "psnr": r.psnr,
            "params": float(r.params),
            "frames": float(r.frames),
            "train_seconds": r.train_seconds,
            "seconds_per_epoch": r.seconds_per_epoch,
        }
        return EncodeReport(
            self.name, r.path, r.file_bytes, r.bpp, "bpp", r.encode_seconds, metrics, asdict(r), r.warnings
        )

    def decode(
        self,
        c: Container,
        dst: Path,
        options: DecodeOptions,
        progress: ProgressCallback = null_progress,
        cancel: CancelToken | None = None,
    ) -> DecodeReport:
        from codec.video.hnerv.decode import decode_to_file

        n = decode_to_file(c, dst, options.frames, options.device, progress, cancel, options.precision)
        return DecodeReport(n, self.item_unit, str(dst))

    def decode_stream(self, c: Container, options: DecodeOptions) -> Iterator[Any]:
        from codec.video.hnerv.decode import decode_frames

        return decode_frames(c, options.frames, options.device, options.precision)

    def info(self, c: Container) -> dict[str, Any]:
        dc: DecodeConfig = self.check_header(c)
        cfg = dc.cfg
        return {
            "decoder_params": cfg.decoder_params(),
            "embedding_params": cfg.embed_params(c.media.frames),
            "padded_size": f"{cfg.width}x{cfg.height}",
            "block_widths": cfg.widths(),
            "segments": len(dc.segments),
            "fps": c.media.fps_num / c.media.fps_den if c.media.fps_num else 0.0,
        }
