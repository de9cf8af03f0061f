"""Decode QLAE files to images, and the operations on codes: show, edit, traverse.

Decoding needs the model the file names (its tables read the codes, its decoder renders them);
`codes_of` reads the codes alone, which is all `show` and `edit` need besides the tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from codec.container import Container
from codec.errors import CorruptData, InvalidInput
from codec.latents.bitstream import read_codes, read_names
from codec.latents.header import BATCH, LatentConfig
from codec.latents.images import to_rgb
from codec.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress

if TYPE_CHECKING:
    from codec.latents.zoo import LatentModel


@dataclass
class Decoded:
    codes: np.ndarray  # (count, dims) int64
    names: list[str]  # one per item (stored, or item-0000.png ...)
    model: LatentModel


def open_codes(c: Container, cfg: LatentConfig, device: str = "cpu") -> Decoded:
    from codec.device import pick_device
    from codec.latents.zoo import load_ref
    from codec.models import default_store

    ref = c.model("model")
    model = load_ref(ref.name, ref.version, ref.sha256, default_store(), pick_device(device))
    if (model.levels, model.size, model.channels) != (
        cfg.levels,
        cfg.height,
        cfg.channels,
    ) or cfg.width != cfg.height:
        raise CorruptData(
            f"the file says {cfg.levels} levels, {cfg.width}x{cfg.height}x{cfg.channels}; its model"
            f" {ref.spec}"
            f" has {model.levels} levels, {model.size}x{model.size}x{model.channels}"
        )
    codes = read_codes(c, cfg, model.tables)
    names = read_names(c, cfg) or [f"item-{i:04d}.png" for i in range(cfg.count)]
    return Decoded(codes, names, model)


def decode_batches(d: Decoded) -> Iterator[np.ndarray]:
    for i in range(0, len(d.codes), BATCH):
        yield d.model.decode(d.codes[i : i + BATCH])


def decode_to_path(
    c: Container,
    cfg: LatentConfig,
    dst: Path,
    device: str = "cpu",
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
) -> int:
    """One item to a .png, or every item into a folder (its stored names, else item-NNNN.png)."""
    from codec.io.image import write_image

    single = dst.suffix.lower() == ".png"
    if single and cfg.count != 1:
        raise InvalidInput(f"{dst.name}: the file holds {cfg.count} images; give a folder to decode into")
    if not single and dst.suffix:
        raise InvalidInput(f"{dst.name}: qlae decodes to a .png (one image) or a folder")
    d = open_codes(c, cfg, device)
    if not single:
        dst.mkdir(parents=True, exist_ok=True)
    done = 0
    for batch in decode_batches(d):
        if cancel is not None:
            cancel.check()
        for img in batch:
            write_image(dst if single else dst / _png(d.names[done]), to_rgb(img))
            done += 1
        progress(ProgressEvent(phase="decode", step=done, total=cfg.count))
    return done


def _png(name: str) -> str:
    return str(Path(name).with_suffix(".png"))


def set_codes(
    codes: np.ndarray, sets: list[tuple[int, int]], levels: int, items: list[int] | None
) -> np.ndarray:
    """A copy with dim d set to value v in the given items (all when None); range-checked."""
    out = codes.copy()
    rows = list(range(len(codes))) if items is None else items
    for i in rows:
        if not 0 <= i < len(codes):
            raise InvalidInput(f"item {i} is out of range: the file holds {len(codes)} (0..{len(codes) - 1})")
    for d, v in sets:
        if not 0 <= d < codes.shape[1]:
            raise InvalidInput(
                f"dim {d} is out of range: the model has {codes.shape[1]} dims (0..{codes.shape[1] - 1})"
            )
        if not 0 <= v < levels:
            raise InvalidInput(f"code {v} for dim {d} is out of range: codes are 0..{levels - 1}")
        out[rows, d] = v
    return out


def parse_sets(texts: list[str]) -> list[tuple[int, int]]:
    """['3=7', '0=1'] -> [(3, 7), (0, 1)]."""
    out = []
    for t in texts:
        try:
            d, v = t.split("=")
            out.append((int(d), int(v)))
        except ValueError:
            raise InvalidInput(f"--set takes DIM=VALUE (integers), got {t[:40]!r}") from None
    if not out:
        raise InvalidInput("give at least one --set DIM=VALUE")
    return out


def traverse(model: LatentModel, dim: int, base: np.ndarray) -> np.ndarray:
    """Rows: the base codes; columns: every value of `dim`. (rows * levels, H, W, C) uint8."""
    if not 0 <= dim < model.dims:
        raise InvalidInput(
            f"dim {dim} is out of range: the model has {model.dims} dims (0..{model.dims - 1})"
        )
    grid = np.repeat(base, model.levels, axis=0)
    grid[:, dim] = np.tile(np.arange(model.levels), len(base))
    return model.decode(grid)
