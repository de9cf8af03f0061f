"""Encode images (one file, or every image in a folder) into one QLAE file of per-dim codes."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codec import container
from codec.container import Container
from codec.errors import InvalidInput, ResourceLimit
from codec.latents.bitstream import build
from codec.latents.images import to_model_input
from codec.latents.options import EncodeOptions
from codec.latents.zoo import LatentModel, load_model
from codec.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress

MAX_ITEMS = 100_000  # images in one file


@dataclass
class LatentEncodeResult:
    path: str
    file_bytes: int
    count: int
    dims: int
    payload_bits: float  # bits of the codes section per image
    mse: float  # of the decoded images against the model-sized inputs, pixels in [0, 1]
    model: str
    seconds: float
    warnings: list[str] = field(default_factory=list)


def image_paths(src: Path) -> list[Path]:
    from codec.io.image import IMAGE_SUFFIXES

    if not src.is_dir():
        return [src]
    files = sorted(p for p in (src / f for f in os.listdir(src)) if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InvalidInput(f"{src.name}: no images in the folder (PNG, JPEG, ...)")
    if len(files) > MAX_ITEMS:
        raise ResourceLimit(f"{src.name}: {len(files)} images, over the limit of {MAX_ITEMS} in one file")
    return files


def prepare(
    rgbs: list[np.ndarray], names: list[str], channels: int, size: int
) -> tuple[np.ndarray, list[str]]:
    """RGB images at the model's size and channels, and one warning per kind of conversion."""
    out, seen = [], {}
    for rgb, name in zip(rgbs, names, strict=True):
        img, notes = to_model_input(rgb, channels, size)
        out.append(img)
        for note in notes:  # one warning per kind of conversion, naming the first image
            seen.setdefault(note.split(":")[0].split(" from ")[0], [note, name, 0])[2] += 1
    warnings = [
        f"{name}: {note}" + (f" (and {k - 1} more images)" if k > 1 else "")
        for note, name, k in seen.values()
    ]
    return np.stack(out), warnings


def encode_arrays(
    rgbs: list[np.ndarray],
    names: list[str],
    model: LatentModel,
    keep_names: bool,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
) -> tuple[Container, np.ndarray, np.ndarray, list[str]]:
    """(file, codes, the model-sized inputs, warnings) for RGB images; the CLI and the service call this."""
    if not rgbs:
        raise InvalidInput("nothing to encode: no images")
    if len(rgbs) > MAX_ITEMS:
        raise ResourceLimit(f"{len(rgbs)} images, over the limit of {MAX_ITEMS} in one file")
    images, warnings = prepare(rgbs, names, model.channels, model.size)
    codes = np.zeros((len(images), model.dims), np.int64)
    for i in range(0, len(images), 256):
        if cancel is not None:
            cancel.check()
        codes[i : i + 256] = model.encode(images[i : i + 256])
        progress(ProgressEvent(phase="encode", step=min(i + 256, len(images)), total=len(images)))
    c = build(codes, model.manifest.ref(), model.tables, model.levels, model.size, model.channels,
              list(names) if keep_names else None)  # fmt: skip
    return c, codes, images, warnings


def encode_images(
    src: Path,
    dst: Path,
    opts: EncodeOptions,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
) -> LatentEncodeResult:
    from codec.device import pick_device
    from codec.io.image import is_image_file, read_image
    from codec.models import default_store

    t0 = time.perf_counter()
    if not src.is_dir() and not is_image_file(src):
        raise InvalidInput(f"{src.name}: qlae encodes images or a folder of images")
    model = load_model(opts.model, default_store(), pick_device(opts.device))
    paths = image_paths(src)
    progress(ProgressEvent(phase="read", message=f"{len(paths)} image(s) for {model.manifest.spec}"))
    rgbs = [read_image(p)[0] for p in paths]
    c, codes, images, warnings = encode_arrays(
        rgbs, [p.name for p in paths], model, src.is_dir(), progress, cancel
    )
    size = container.write_file(dst, c)
    decoded = model.decode(codes)
    mse = float(((decoded.astype(np.float64) - images) ** 2).mean() / 255.0**2)
    bits = 8.0 * len(c.section("codes")) / len(images)
    progress(ProgressEvent(phase="done", message=f"{size} bytes"))
    return LatentEncodeResult(
        str(dst),
        size,
        len(images),
        model.dims,
        bits,
        mse,
        model.manifest.spec,
        time.perf_counter() - t0,
        warnings,
    )
