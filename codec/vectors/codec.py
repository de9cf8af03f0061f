"""The vector codec's registry entry: declarations, and thin calls into the package."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from codec.container import Container
from codec.interface import Codec, DecodeReport, EncodeReport
from codec.limits import DecodeCost
from codec.progress import CancelToken, ProgressCallback, null_progress
from codec.registry import register
from codec.vectors.header import BASIS_NAMES, PARAMS, VectorConfig, config_from_header, decode_cost
from codec.vectors.options import DecodeOptions, EncodeOptions


@register
class VectorCodec(Codec):
    name = "vectors"
    media = "vectors"
    suffix = ".ncv"
    inputs = ("vectors",)
    description = (
        "retrieval vectors: Matryoshka prefix or PCA, one quantizer step, a code table per dimension"
    )
    input_help = "a .npy file of float vectors, one per row (count, dim)"
    output_help = "a .npy file (float32, count x dim)"
    item_unit = "vectors"
    Options = EncodeOptions
    DecodeOptions = DecodeOptions
    header = PARAMS
    rate_options = ("bytes_per_vector",)
    default_rates = {"bytes_per_vector": (8.0, 16.0, 32.0, 64.0)}

    def check_config(self, c: Container, params: dict[str, Any]) -> VectorConfig:
        return config_from_header(c, params)

    def decode_cost(self, c: Container, config: VectorConfig) -> DecodeCost:
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
        from codec.vectors.encode import encode_vectors

        r = encode_vectors(src, dst, options, progress, cancel)
        metrics = {"mse": r.mse, "mean_cosine": r.mean_cosine, "kept_dims": float(r.kept)}
        return EncodeReport(
            self.name,
            r.path,
            r.file_bytes,
            r.bytes_per_vector,
            "bytes/vector",
            r.seconds,
            metrics,
            asdict(r),
            r.warnings,
        )

    def decode(
        self,
        c: Container,
        dst: Path,
        options: DecodeOptions,
        progress: ProgressCallback = null_progress,
        cancel: CancelToken | None = None,
    ) -> DecodeReport:
        from codec.vectors.decode import decode_to_file

        n = decode_to_file(c, self.check_header(c), dst, progress, cancel)
        return DecodeReport(n, self.item_unit, str(dst))

    def decode_stream(self, c: Container, options: DecodeOptions) -> Iterator[np.ndarray]:
        from codec.vectors.decode import decode_blocks

        return decode_blocks(c, self.check_header(c))

    def info(self, c: Container) -> dict[str, Any]:
        cfg: VectorConfig = self.check_header(c)
        return {
            "basis": BASIS_NAMES[cfg.basis],
            "kept_dims": cfg.kept,
            "quantizer_step": cfg.step,
            "centered": cfg.centered,
            "unit_norm": cfg.unit_norm,
            "blocks": cfg.blocks,
        }
