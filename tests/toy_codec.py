"""A toy image codec that exists only in the tests: proof that a codec plugs in by registering.

It keeps the top `bits` bits of each RGB channel and codes them per channel with the indexed-CDF
coder. Nothing in the CLI, client or service knows it: `register_toy()` is all it takes for
`codec encode/decode/info/--help` and the service's SubmitJob -> upload -> watch -> result to
handle it. Not a good codec, but a real one: real files in the container, real progress.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codec import container, entropy, registry
from codec.container import Container, ImageMedia, Section
from codec.errors import CorruptData
from codec.interface import Codec, DecodeReport, EncodeReport, HeaderParam
from codec.limits import DecodeCost
from codec.metrics import psnr
from codec.options import option
from codec.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress

TOY_ID = 250  # experimental range: no shipped file uses it
ROW_BLOCK = 16  # rows coded per progress step


@dataclass
class ToyOptions:
    bits: int = option(4, "bits kept per channel", unit="bits", lo=1, hi=8)
    dither: bool = option(False, "add a fixed ordered dither before dropping bits")
    step_delay: float = option(
        0.0, "seconds to sleep per row block (tests of progress and cancel)", lo=0, hi=5
    )


@dataclass
class ToyDecodeOptions:
    pass


def _quantize(rgb: np.ndarray, bits: int, dither: bool) -> np.ndarray:
    x = rgb.astype(np.int32)
    if dither:
        bayer = np.array([[0, 2], [3, 1]]) * (1 << (8 - bits)) // 4
        h, w = x.shape[:2]
        x = np.clip(x + np.tile(bayer, (h // 2 + 1, w // 2 + 1))[:h, :w, None], 0, 255)
    return x >> (8 - bits)


def _dequantize(q: np.ndarray, bits: int) -> np.ndarray:
    half = (1 << (8 - bits)) >> 1
    return np.clip((q << (8 - bits)) + half, 0, 255).astype(np.uint8)


class ToyCodec(Codec):
    name = "toy"
    codec_id = TOY_ID
    media = "image"
    suffix = ".toy"
    inputs = ("image",)
    description = "test-only: top bits of each channel, per-channel indexed coding"
    output_help = "a PNG file"
    item_unit = "images"
    Options = ToyOptions
    DecodeOptions = ToyDecodeOptions
    header = (HeaderParam("bits", int, 1, 8), HeaderParam("dither", bool))
    rate_options = ("bits",)

    def encode(
        self,
        src: Path,
        dst: Path,
        options: ToyOptions,
        progress: ProgressCallback = null_progress,
        cancel: CancelToken | None = None,
        work_dir: Path | None = None,
        resume: bool = False,
    ) -> EncodeReport:
        from codec.io.image import read_image

        t0 = time.perf_counter()
        progress(ProgressEvent(phase="read", message=f"reading {src.name}"))
        rgb, _ = read_image(src)
        h, w = rgb.shape[:2]
        blocks = []
        n_blocks = -(-h // ROW_BLOCK)
        for k in range(n_blocks):
            if cancel is not None:
                cancel.check()
            time.sleep(options.step_delay)
            blocks.append(_quantize(rgb[k * ROW_BLOCK : (k + 1) * ROW_BLOCK], options.bits, options.dither))
            progress(
                ProgressEvent(phase="quantize", step=k + 1, total=n_blocks, metrics={"rows": (k + 1) * 16.0})
            )
        q = np.concatenate(blocks)
        progress(ProgressEvent(phase="entropy", message="per-channel indexed coding"))
        data = entropy.encode_columns(q.reshape(-1, 3))
        c = Container(self.codec_id, {"bits": options.bits, "dither": options.dither}, ImageMedia(w, h, 3))
        c.sections.append(Section("codes", data))
        size = container.write_file(dst, c)
        quality = psnr(_dequantize(q, options.bits), rgb).mean
        progress(ProgressEvent(phase="done", message=f"{size} bytes"))
        return EncodeReport(
            self.name, str(dst), size, c.media.rate(size), "bpp", time.perf_counter() - t0, {"psnr": quality}
        )

    def check_config(self, c: Container, params: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(c.media, ImageMedia) or c.media.channels != 3:
            raise CorruptData("a toy file holds one RGB image")
        return params

    def decode_cost(self, c: Container, config: Any) -> DecodeCost:
        """The codes (int64) and a few same-sized temporaries per channel value, from the media facts:
        the default (per payload byte) would let a tiny file claim a 16M-pixel image."""
        pixels = c.media.width * c.media.height
        return DecodeCost(memory_bytes=48 * 3 * pixels, work=96.0 * pixels, items=1, pixels=pixels)

    def _image(self, c: Container) -> np.ndarray:
        p = self.check_header(c)
        m = c.media
        q = entropy.decode_columns(
            c.section("codes"), m.width * m.height, 3, max_count=m.width * m.height * 3
        )
        if q.min(initial=0) < 0 or q.max(initial=0) >= 1 << p["bits"]:
            raise CorruptData("toy codes fall outside their bit depth")
        return _dequantize(q.reshape(m.height, m.width, 3), p["bits"])

    def decode(
        self,
        c: Container,
        dst: Path,
        options: ToyDecodeOptions,
        progress: ProgressCallback = null_progress,
        cancel: CancelToken | None = None,
    ) -> DecodeReport:
        from codec.io.image import write_image

        write_image(dst, self._image(c))
        return DecodeReport(1, self.item_unit, str(dst))

    def decode_stream(self, c: Container, options: ToyDecodeOptions) -> Iterator[np.ndarray]:
        yield self._image(c)

    def info(self, c: Container) -> dict[str, Any]:
        p = self.check_header(c)
        return {"levels_per_channel": 1 << p["bits"]}


def register_toy() -> ToyCodec:
    from codec.api import load_codecs

    load_codecs()  # the shipped codecs first, as in a real run
    registry.register(ToyCodec)
    return registry.get("toy")


def unregister_toy() -> None:
    registry.unregister("toy")
