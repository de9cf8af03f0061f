"""Backfill after an upgrade: re-embed a collection's old points with its new model, in the background.

Points written by the old model are re-embedded from their stored sources (the payload's
`source`: an image path or the text itself, which `codec index add` records) and rewritten: the
compatible part replaces the old vector here, the whole vector goes to the shadow. Search stays
correct throughout, because every point is always in the compatible space. When the shadow holds
every point the collection ranks in the new model's own space (`Index.finish_backfill`).

The work is idempotent: a point already in the shadow (or written by the new model, when there is
no shadow) is skipped, so a crashed or cancelled backfill continues where it stopped with nothing
done twice and nothing lost. `codec index upgrade --backfill` runs it here with a progress bar;
over gRPC it is the `index.backfill` job (JobService), which reads only text sources and images
under the server's data dir (a client must not make the server read paths of its choosing).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codec.errors import InvalidInput, ResourceLimit
from codec.index.spec import check_collection_name
from codec.options import option
from codec.progress import CancelToken, ProgressCallback, ProgressEvent, null_progress, with_eta
from codec.tasks import Task, TaskContext, register_task


@dataclass
class BackfillOptions:
    collection: str = option("", "the upgraded collection to backfill")
    rate: float = option(0.0, "re-embed at most this many items per second (0: as fast as it goes)",
                         lo=0, hi=1e6)  # fmt: skip
    batch: int = option(256, "points read, embedded and written together", lo=1, hi=10_000)

    def check(self) -> None:
        check_collection_name(self.collection)


@dataclass
class BackfillResult:
    rewritten: int = 0  # points re-embedded by this run
    already: int = 0  # points an earlier run (or the new model itself) had written
    unsourced: int = 0  # points with no readable source: they stay in the compatible space only
    full_space: bool = False  # the collection now ranks in the new model's own space
    seconds: float = 0.0


def backfill(
    ix, opts: BackfillOptions, store=None, progress: ProgressCallback = null_progress,
    cancel: CancelToken | None = None, sources_root: Path | None = None,
) -> BackfillResult:  # fmt: skip
    """Re-embed the points the old model wrote. `sources_root`: image sources must lie under it
    (None: any path this process can read)."""
    from codec.embed.embedder import load_embedder

    t0 = time.monotonic()
    opts.check()
    spec = ix.spec(opts.collection)
    if not spec.upgraded:
        raise InvalidInput(f"collection {spec.name} has not been upgraded: run codec index upgrade first")
    emb = load_embedder(spec.model, store)
    total = ix.count(spec.name)
    r = BackfillResult()
    done = 0
    last = 0.0
    for ids, _, pays in ix.backend.scroll(spec.name, opts.batch):
        if cancel is not None:
            cancel.check()
        if spec.shadow:
            have = ix.backend.existing(spec.shadow, ids)
            todo = [p for i, p in zip(ids, pays, strict=True) if i not in have]
        else:
            todo = [p for p in pays if p.get("model") != spec.model]
        r.already += len(pays) - len(todo)
        exts, vecs, kept = _embed_sources(emb, todo, sources_root)
        r.unsourced += len(todo) - len(exts)
        if exts:
            ix.add(spec.name, exts, vecs, kept, optimize=False, model=spec.model)
            r.rewritten += len(exts)
        done += len(pays)
        if time.monotonic() - last >= 1.0 or done >= total:
            last = time.monotonic()
            rate = r.rewritten / max(1e-9, last - t0)
            progress(ProgressEvent(phase="backfill", step=done, total=total,
                                   metrics={"rewritten": r.rewritten, "items_per_s": rate}))  # fmt: skip
        if opts.rate > 0 and exts:  # hold the average at the rate limit
            time.sleep(max(0.0, r.rewritten / opts.rate - (time.monotonic() - t0)))
    progress(ProgressEvent(phase="index", message="building the graphs"))
    ix.backend.optimize(spec.name)
    if spec.shadow:
        ix.backend.optimize(spec.shadow)
    if r.unsourced == 0:
        r.full_space = ix.finish_backfill(spec.name).full_space
    r.seconds = time.monotonic() - t0
    note = f"{r.rewritten} re-embedded, {r.already} already done, {r.unsourced} without a source"
    progress(ProgressEvent(phase="done", message=note))
    return r


def _embed_sources(emb, pays: list[dict], root: Path | None) -> tuple[list[str], np.ndarray, list[dict]]:
    """(ids, new vectors, payloads) of the points whose source can be re-embedded: texts, and
    image files that exist, lie under `root` (when given) and read as images; each is read once."""
    from codec.embed.embedder import read_inputs

    exts, kept, items = [], [], []
    for p in pays:
        src = p.get("source")
        if not isinstance(src, str) or not src:
            continue
        if emb.kind == "image":
            path = Path(src)
            if root is not None:  # read what the check saw: the resolved path, inside the root
                if not _under(path, root):
                    continue
                path = path.resolve()
            if not path.is_file():
                continue
            try:
                items.append(read_inputs([path])[0])
            except (InvalidInput, ResourceLimit):  # not an image (any more), or too large: stays in the
                continue  # compatible space
        else:
            items.append(src)
        exts.append(p["ext_id"])
        kept.append({k: v for k, v in p.items() if k in ("label", "source")})
    if not exts:
        return [], np.zeros((0, emb.dim), np.float32), []
    if emb.kind == "image":
        return exts, emb.embed_images(np.stack(items)), kept
    return exts, emb.embed_texts(items), kept


def _under(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except (ValueError, OSError):
        return False


def run(ctx: TaskContext) -> dict[str, float]:
    from codec.datadir import resolve_data_dir
    from codec.index.index import shared_index
    from codec.models import ModelStore

    root = resolve_data_dir()  # the server's (use_data_dir)
    opts: BackfillOptions = ctx.options
    r = backfill(shared_index(root), opts, ModelStore(root), with_eta(ctx.progress), ctx.cancel,
                 sources_root=root / "sources")  # fmt: skip
    ctx.result_path.write_text(f"{opts.collection}\n")
    return {"rewritten": float(r.rewritten), "already": float(r.already), "unsourced": float(r.unsourced),
            "full_space": float(r.full_space), "seconds": r.seconds}  # fmt: skip


TASK = register_task(
    Task("index.backfill", BackfillOptions, (), run, "re-embed an upgraded collection's old points")
)
