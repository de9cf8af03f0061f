"""RECOMBINER's codec class: declarations and thin calls into the package. The image codec: images
encode with it unless another is named; its priors ship in assets/models (recombiner-RATE)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from codec.container import Container
from codec.image.recombiner.header import PARAMS, ImageConfig, config_from_header, decode_cost
from codec.image.recombiner.options import DecodeOptions, EncodeOptions
from codec.interface import Codec, DecodeReport, EncodeReport
from codec.limits import DecodeCost
from codec.progress import CancelToken, ProgressCallback, null_progress
from codec.registry import register


@register
class RecombinerCodec(Codec):
    name = "recombiner"
    media = "image"
    suffix = ".rcb"
    inputs = ("image",)
    description = (
        "images as a Bayesian INR with a learned prior, coded by relative entropy coding (RECOMBINER)"
    )
    input_help = "an image (PNG, JPEG, ...)"
    output_help = "a .png"
    item_unit = "images"
    Options = EncodeOptions
    DecodeOptions = DecodeOptions
    header = PARAMS
    rate_options = ("bpp",)
    default_rates = {"bpp": (0.15, 0.3, 0.5, 0.8)}  # the shipped priors' rate points

    def check_config(self, c: Container, params: dict[str, Any]) -> ImageConfig:
        return config_from_header(c, params)

    def decode_cost(self, c: Container, config: ImageConfig) -> DecodeCost:
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
        from codec.image.recombiner.encode import encode_image

        r = encode_image(src, dst, options, progress, cancel, work_dir, resume)
        metrics = {"psnr": r.psnr, "kl_bits": r.kl_bits}
        return EncodeReport(
            self.name, r.path, r.file_bytes, r.bpp, "bpp", r.seconds, metrics, asdict(r), r.warnings
        )

    def decode(
        self,
        c: Container,
        dst: Path,
        options: DecodeOptions,
        progress: ProgressCallback = null_progress,
        cancel: CancelToken | None = None,
    ) -> DecodeReport:
        from codec.image.recombiner.decode import decode_image
        from codec.io.image import write_image

        write_image(dst, decode_image(c, self.check_header(c)))
        return DecodeReport(1, self.item_unit, str(dst))

    def decode_stream(self, c: Container, options: DecodeOptions) -> Iterator[np.ndarray]:
        from codec.image.recombiner.decode import decode_image

        yield decode_image(c, self.check_header(c))

    def info(self, c: Container) -> dict[str, Any]:
        cfg: ImageConfig = self.check_header(c)
        return {"prior": c.model("prior").spec, "transposed": cfg.transposed, "block_bits": cfg.block_bits,
                "indices": sum(s.length * 8 // cfg.block_bits for s in c.sections)}  # fmt: skip
