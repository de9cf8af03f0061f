"""Encode a batch of vectors at a byte budget: transform, search (kept, step), code, confirm.

The search (quantize.RateSearch) works from the entropy of a sample; the file is then coded for
real and the step nudged until the bytes on disk fit the budget and are within a few percent of it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codec import container
from codec.container import Container, ModelRef, VectorMedia
from codec.errors import InvalidInput
from codec.ids import CODEC_IDS
from codec.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress
from codec.vectors.bitstream import code_sections, float16_section, read_blocks
from codec.vectors.header import BASIS_NAMES, BASIS_PCA, BASIS_PREFIX, MAX_CODE, VectorConfig
from codec.vectors.options import EncodeOptions
from codec.vectors.quantize import (
    FIXED_BYTES,
    Plan,
    RateSearch,
    Transform,
    candidate_dims,
    fit_transform,
    recall_proxy,
    sample_rows,
)

UNIT_TOL = 1e-3  # |norm - 1| under which a batch counts as unit-length vectors
REAL_TRIES = 14  # full encodes allowed to bring the file under the budget
FILL = 0.97  # stop once the file uses this share of the budget


@dataclass
class VectorEncodeResult:
    path: str
    file_bytes: int
    bytes_per_vector: float
    count: int
    dim: int
    basis: str
    kept: int
    step: float
    mse: float  # mean squared error per vector, measured on the decoded file
    mean_cosine: float  # mean cosine similarity between each input and its decoded vector
    seconds: float
    model: str = ""
    warnings: list[str] = field(default_factory=list)


def _block_rows(count: int) -> int:
    return max(65536, -(-count // 4000))


def resolve_model(spec: str, dim: int) -> tuple[list[ModelRef], list[int]]:
    """The embedder named by --model: refs for the header, and its nesting dims. A model trained
    compatible with an older one (BT², BCT) also names that one, role "space": the file's vectors
    (their first dims) are searchable among that model's vectors."""
    from codec.models import default_store

    store = default_store()
    m = store.get(spec).manifest
    if m.kind != "embedder":
        raise InvalidInput(f"--model {spec} is a {m.kind}, not an embedder")
    full = m.arch.get("dim")
    if full != dim:
        raise InvalidInput(f"--model {m.spec} makes {full}-d vectors; these are {dim}-d")
    nesting = [int(d) for d in m.arch.get("dims", []) if isinstance(d, int)]
    refs = [ModelRef(m.name, m.version, m.sha256, "embedder")]
    compatible = next((r for r in m.lineage if r.relation == "compatible"), None)
    if compatible is not None:
        old = store.get(compatible.model).manifest
        refs.append(ModelRef(old.name, old.version, old.sha256, "space"))
    return refs, nesting


def _container(cfg: VectorConfig, t: Transform, q: np.ndarray, refs: list[ModelRef]) -> Container:
    params: dict[str, Any] = {
        "basis": cfg.basis,
        "kept": cfg.kept,
        "step": cfg.step,
        "centered": cfg.centered,
        "unit_norm": cfg.unit_norm,
        "block_rows": cfg.block_rows,
    }
    c = Container(CODEC_IDS["vectors"], params, VectorMedia(cfg.count, cfg.dim, "float32"), models=list(refs))
    if t.mean is not None:
        c.sections.append(float16_section("mean", t.mean))
    if t.basis is not None:
        c.sections.append(float16_section("basis", t.basis[:, : cfg.kept]))
    c.sections += code_sections(q, cfg.block_rows)
    return c


def encode_vectors(
    src: Path,
    dst: Path,
    opts: EncodeOptions,
    progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None,
    x: np.ndarray | None = None,
) -> VectorEncodeResult:
    """Code the .npy batch at `src` (or the array `x`) into `dst` within opts.bytes_per_vector."""
    from codec.io.vectors import check_finite, read_vectors

    t0 = time.perf_counter()
    warnings: list[str] = []
    progress(ProgressEvent(phase="read", message=f"reading {src.name}"))
    if x is None:
        x = read_vectors(src)
    else:
        check_finite(x)
    count, dim = x.shape
    if count < 16:
        warnings.append(f"only {count} vectors: the file's fixed costs dominate its bytes per vector")
    norms = np.linalg.norm(x, axis=1)
    unit_in = bool(np.abs(norms - 1).max() <= UNIT_TOL)
    unit = unit_in if opts.normalize == "auto" else opts.normalize == "yes"
    refs, nesting = [], None
    if opts.model:
        refs, nesting = resolve_model(opts.model, dim)
    pca = not opts.model
    budget = opts.bytes_per_vector * count
    candidates = candidate_dims(dim, nesting, opts.max_dims)
    rows = sample_rows(count)

    progress(ProgressEvent(phase="search", message=f"choosing dimensions and step for {count}x{dim}"))
    best: tuple[float, Plan, Transform, bool] | None = None
    by_recall = opts.objective == "recall" and len(rows) >= 64
    for centered in (True, False) if count < 256 else (True,):
        if cancel is not None:
            cancel.check()
        t = fit_transform(x, pca, centered)
        y = t.coords(x[rows], dim)
        fixed = FIXED_BYTES + (2 * dim if centered else 0) + sum(len(r.name) + 48 for r in refs)
        search = RateSearch(y, count, fixed, 2 * dim if pca else 0)
        for plan in (p for k in candidates if (p := search.best_step(k, budget)) is not None):
            # lower is better: -recall (ties to lower error), or the error itself
            score = -recall_proxy(x[rows], t, plan, unit) + 1e-9 * plan.mse if by_recall else plan.mse
            if best is None or score < best[0]:
                best = (score, plan, t, centered)
    if best is None:
        floor = FIXED_BYTES + (2 * dim if pca else 0)
        raise InvalidInput(
            f"{opts.bytes_per_vector:g} bytes/vector cannot hold {count} vectors of dimension {dim}: even"
            f" all-zero codes take about {floor / count:.3g} bytes/vector"
        )
    _, plan, t, centered = best
    kept = plan.kept
    y = t.coords(x, kept).astype(np.float32)

    def config(step: float) -> VectorConfig:
        basis = BASIS_PCA if pca else BASIS_PREFIX
        return VectorConfig(count, dim, basis, kept, step, centered, unit, _block_rows(count))

    def code(step: float) -> Container:
        cfg = config(step)
        q = np.rint(y / np.float32(step)).astype(np.int64)
        np.clip(q, -MAX_CODE, MAX_CODE, out=q)
        return _container(cfg, t, q, refs)

    # Confirm on the real bytes: the smallest step whose file fits, to within FILL of the budget.
    step, fits, over = plan.step, None, None
    for i in range(REAL_TRIES):
        if cancel is not None:
            cancel.check()
        c = code(step)
        size = len(container.write(c))
        progress(
            ProgressEvent(
                phase="entropy",
                step=i + 1,
                total=REAL_TRIES,
                message=f"step {step:.4g}: {size / count:.3f} bytes/vector",
                metrics={"bytes_per_vector": size / count},
            )
        )
        if size <= budget:
            fits = (step, c)
            if size >= FILL * budget:
                break
        else:
            over = step
        if fits is not None and over is not None:
            step = math.sqrt(fits[0] * over)
        elif fits is None:
            step *= max(1.01, (size / budget) ** 1.5)
        else:
            step /= max(1.01, (budget / size) ** 1.5)
    if fits is None:
        step = plan.step * 1e6  # all-zero codes: what the estimate said must fit
        fits = (step, code(step))
        if len(container.write(fits[1])) > budget:
            raise InvalidInput(f"{opts.bytes_per_vector:g} bytes/vector is too few for this batch")
    step, c = fits
    size = container.write_file(dst, c)

    progress(ProgressEvent(phase="verify", message="decoding the file to measure its error"))
    cfg = config(step)
    sq, cos, start = 0.0, 0.0, 0
    for block in read_blocks(c, cfg):
        ref = x[start : start + len(block)]
        sq += float(((block - ref) ** 2).sum())
        num = (block * ref).sum(axis=1)
        den = np.linalg.norm(block, axis=1) * np.linalg.norm(ref, axis=1)
        cos += float(np.where(den > 0, num / np.where(den > 0, den, 1), 0).sum())
        start += len(block)
    progress(ProgressEvent(phase="done", message=f"{size} bytes"))
    return VectorEncodeResult(
        str(dst),
        size,
        size / count,
        count,
        dim,
        BASIS_NAMES[cfg.basis],
        kept,
        step,
        sq / count,
        cos / count,
        time.perf_counter() - t0,
        refs[0].spec if refs else "",
        warnings,
    )
