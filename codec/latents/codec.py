"""QLAE's registry entry: images to a few per-dim quantized codes (Hsu et al. 2023), and back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from codec.container import Container
from codec.interface import Codec, DecodeReport, EncodeReport
from codec.latents.header import PARAMS, LatentConfig, config_from_header, decode_cost
from codec.latents.options import DecodeOptions, EncodeOptions
from codec.limits import DecodeCost
from codec.progress import CancelToken, ProgressCallback, null_progress
from codec.registry import register


@register
class QlaeCodec(Codec):
    name = "qlae"
    media = "latents"
    suffix = ".qla"
    inputs = ("image", "video")  # an image, or a folder of images (a folder reads as a frame sequence)
    default_for = ()  # only images like its model's training data: named with --codec qlae
    description = "images as a few disentangled per-dim quantized codes (QLAE), editable one factor at a time"
    input_help = "an image, or a folder of images (one file holds them all); resized to the model's 64x64"
    output_help = "a .png (a one-image file) or a folder (one PNG per image, by its stored name)"
    item_unit = "images"
    Options = EncodeOptions
    DecodeOptions = DecodeOptions
    header = PARAMS

    def check_config(self, c: Container, params: dict[str, Any]) -> LatentConfig:
        return config_from_header(c, params)

    def decode_cost(self, c: Container, config: LatentConfig) -> DecodeCost:
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
        from codec.latents.encode import encode_images

        r = encode_images(src, dst, options, progress, cancel)
        metrics = {"images": float(r.count), "payload_bits": r.payload_bits, "mse": r.mse}
        return EncodeReport(
            self.name, r.path, r.file_bytes, r.file_bytes / r.count, "bytes/image", r.seconds, metrics,
            asdict(r), r.warnings,
        )  # fmt: skip

    def decode(
        self,
        c: Container,
        dst: Path,
        options: DecodeOptions,
        progress: ProgressCallback = null_progress,
        cancel: CancelToken | None = None,
    ) -> DecodeReport:
        from codec.latents.decode import decode_to_path

        n = decode_to_path(c, self.check_header(c), dst, options.device, progress, cancel)
        return DecodeReport(n, self.item_unit, str(dst))

    def decode_stream(self, c: Container, options: DecodeOptions) -> Iterator[np.ndarray]:
        from codec.latents.decode import decode_batches, open_codes

        d = open_codes(c, self.check_header(c), options.device)
        for batch in decode_batches(d):
            yield from batch

    def info(self, c: Container) -> dict[str, Any]:
        cfg: LatentConfig = self.check_header(c)
        ref = c.model("model")
        return {"model": ref.spec, "dims": cfg.codes, "levels": cfg.levels, "images": cfg.count,
                "image_size": f"{cfg.width}x{cfg.height}x{cfg.channels}", "named": cfg.named}  # fmt: skip
