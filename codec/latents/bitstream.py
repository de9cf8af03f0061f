"""QLAE files: codes and names to a container and back (layout: header.py, docs/FORMAT.md).

The codes are coded with the model's per-dim tables (`encode_indexed`, value j of an item with
table j), so the tables cost the file nothing: a 64x64 image is about 40 bits of codes.
"""

from __future__ import annotations

import numpy as np

from codec import entropy
from codec.container import Container, LatentMedia, ModelRef, Section
from codec.errors import CorruptData, InvalidInput
from codec.ids import CODEC_IDS
from codec.latents.header import MAX_NAME, LatentConfig


def check_name(name: str) -> str:
    """An item name as a file keeps it: a plain file name, no folders."""
    if (
        not name
        or len(name.encode()) > MAX_NAME
        or any(c in name for c in "/\\\n\r\0")
        or name in (".", "..")
    ):
        raise InvalidInput(f"{name[:40]!r} is not a plain file name")
    return name


def build(
    codes: np.ndarray,
    ref: ModelRef,
    tables: entropy.CdfTables,
    levels: int,
    size: int,
    channels: int,
    names: list[str] | None = None,
) -> Container:
    count, dims = codes.shape
    indexes = np.broadcast_to(np.arange(dims, dtype=np.int64), codes.shape).reshape(-1)
    params = {"levels": levels, "height": size, "width": size, "channels": channels}
    c = Container(CODEC_IDS["qlae"], params, LatentMedia(count, dims), models=[ref])
    c.sections.append(Section("codes", entropy.encode_indexed(codes.reshape(-1), indexes, tables)))
    if names is not None:
        c.sections.append(Section("names", "\n".join(check_name(n) for n in names).encode()))
    return c


def read_codes(c: Container, cfg: LatentConfig, tables: entropy.CdfTables) -> np.ndarray:
    """(count, codes) int64, each in 0 .. levels-1."""
    if len(tables) != cfg.codes:
        raise CorruptData(f"the file has {cfg.codes} codes per item; its model has {len(tables)} dims")
    indexes = np.broadcast_to(np.arange(cfg.codes, dtype=np.int64), (cfg.count, cfg.codes)).reshape(-1)
    q = entropy.decode_indexed(c.section("codes"), indexes, tables).reshape(cfg.count, cfg.codes)
    if q.size and (q.min() < 0 or q.max() >= cfg.levels):
        raise CorruptData(f"qlae codes outside 0..{cfg.levels - 1}")
    return q


def read_names(c: Container, cfg: LatentConfig) -> list[str] | None:
    if not cfg.named:
        return None
    try:
        names = c.section("names").decode("utf-8").split("\n")
    except UnicodeDecodeError:
        raise CorruptData("qlae names section is not UTF-8") from None
    if len(names) != cfg.count or len(set(names)) != len(names):
        raise CorruptData(f"qlae names section holds {len(names)} names (unique) for {cfg.count} items")
    try:
        return [check_name(n) for n in names]
    except InvalidInput as e:
        raise CorruptData(f"qlae names section: {e}") from None
