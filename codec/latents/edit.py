"""What `codec latents show|edit|traverse` and gRPC LatentService do, written once for both.

Edits work on codes: the file's codes are read with its model's tables, changed, and coded again
against the same model, so an edited file is a file like any other (it decodes anywhere the model
is). A dim's meaning comes from the model's training record: the factor it shares the most
information with (its NMI column), when the model was trained on data with known factors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codec.container import Container
from codec.errors import InvalidInput
from codec.latents.bitstream import build
from codec.latents.decode import Decoded, open_codes, set_codes, traverse
from codec.latents.header import LatentConfig
from codec.latents.images import grid
from codec.latents.zoo import LatentModel

MEANING_NMI = 0.25  # a dim "is" a factor when it holds at least this share of the factor's entropy
MAX_ROWS = 64


@dataclass
class DimInfo:
    dim: int
    factor: str  # "" when no factor is known for it
    nmi: float
    values: list[float]  # the codebook


def dim_meanings(model: LatentModel) -> list[DimInfo]:
    arch, training = model.manifest.arch, model.manifest.training
    factors = list(arch.get("factors") or [])
    nmi = np.asarray(training.get("nmi") or [], dtype=np.float64)
    values = model.values()
    out = []
    for j in range(model.dims):
        f, v = "", 0.0
        if nmi.ndim == 2 and nmi.shape == (len(factors), model.dims) and factors:
            i = int(nmi[:, j].argmax())
            if nmi[i, j] >= MEANING_NMI:
                f, v = factors[i], float(nmi[i, j])
        out.append(DimInfo(j, f, v, [round(float(x), 4) for x in values[j]]))
    return out


def show(c: Container, cfg: LatentConfig) -> dict:
    d = open_codes(c, cfg)
    return {
        "model": d.model.manifest.spec,
        "dims": cfg.codes,
        "levels": cfg.levels,
        "images": cfg.count,
        "meaning": [
            {"dim": m.dim, "factor": m.factor, "nmi": round(m.nmi, 3)} for m in dim_meanings(d.model)
        ],
        "items": [
            {"name": n, "codes": [int(x) for x in row]} for n, row in zip(d.names, d.codes, strict=True)
        ],
    }


def edit(c: Container, cfg: LatentConfig, sets: list[tuple[int, int]], items: list[int] | None) -> Container:
    """The same file with dim d set to value v (each of `sets`) in `items` (all when None)."""
    d = open_codes(c, cfg)
    codes = set_codes(d.codes, sets, cfg.levels, items)
    m = d.model
    names = d.names if cfg.named else None
    return build(codes, c.model("model"), m.tables, m.levels, m.size, m.channels, names)


def base_codes(model: LatentModel, rows: int, seed: int = 0, decoded: Decoded | None = None) -> np.ndarray:
    """The codes a traversal starts from: a file's items, else held-out samples of the model's data."""
    if not 1 <= rows <= MAX_ROWS:
        raise InvalidInput(f"--rows takes 1..{MAX_ROWS}")
    if decoded is not None:
        return decoded.codes[:rows]
    from codec.latents.data import BUILTIN, load

    name = model.manifest.arch.get("data")
    if name in BUILTIN:
        data = load(name)
        images, _ = data.batch(np.random.default_rng(seed), rows)
        return model.encode(images)
    return np.random.default_rng(seed).integers(0, model.levels, (rows, model.dims))


def traverse_grid(model: LatentModel, dim: int, base: np.ndarray) -> np.ndarray:
    """A PNG-ready grid: one row per base item, one column per value of `dim`."""
    return grid(traverse(model, dim, base), len(base), model.levels)
