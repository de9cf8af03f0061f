"""Decode a vectors file: block by block into a .npy (written in place, never held whole)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from codec.container import Container
from codec.errors import InvalidInput
from codec.io.atomic import atomic_path
from codec.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress
from codec.vectors.bitstream import read_blocks
from codec.vectors.header import VectorConfig


def decode_to_file(
    c: Container,
    cfg: VectorConfig,
    dst: Path,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
) -> int:
    if dst.suffix.lower() != ".npy":
        raise InvalidInput(f"{dst.name}: vectors decode to a .npy file")
    with atomic_path(dst, "vectors") as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(cfg.count, cfg.dim))
        start = 0
        for b, block in enumerate(read_blocks(c, cfg)):
            if cancel is not None:
                cancel.check()
            out[start : start + len(block)] = block
            start += len(block)
            progress(
                ProgressEvent(phase="decode", step=b + 1, total=cfg.blocks, metrics={"vectors": float(start)})
            )
        out.flush()
        del out
    return cfg.count


def decode_blocks(c: Container, cfg: VectorConfig) -> Iterator[np.ndarray]:
    return read_blocks(c, cfg)
