"""Model upgrades without backfill (BT², issue #9): the shipped fmnist-mrl@v1 fills a collection of
real Fashion-MNIST images, `upgrade` makes the shipped v2 answer for it, and a backfill re-embeds
the old points, resumably. Embedded engine and qdrant-client's local mode alike."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from codec.cli import main
from codec.embed.embedder import load_embedder
from codec.embed.prefix import prefix
from codec.errors import Cancelled, InvalidInput
from codec.index.backfill import BackfillOptions, backfill
from codec.index.index import check_upgrade, open_index
from codec.index.spec import CollectionSpec, Search
from codec.models import ModelStore
from codec.progress import CancelToken

SMALL = Path(__file__).resolve().parents[1] / "data" / "fashion_mnist_small.npz"
V1, V2 = "fmnist-mrl@v1", "fmnist-mrl@v2"


@pytest.fixture(scope="module")
def fm():
    with np.load(SMALL) as d:
        return d["test_x"][:160], d["test_y"][:160]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ModelStore:
    return ModelStore(tmp_path_factory.mktemp("store"))  # the shipped models, and nothing else


@pytest.fixture(scope="module")
def models(store):
    return load_embedder(V1, store), load_embedder(V2, store)


def pngs(root: Path, images: np.ndarray, start: int = 0) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for i, a in enumerate(images, start):
        p = root / f"item{i:04d}.png"
        Image.fromarray(a).save(p)
        out.append(p)
    return out


@pytest.fixture(params=["embedded", "url"])
def ix(request, tmp_path):
    url = f"local:{tmp_path / 'q'}" if request.param == "url" else None
    with open_index(data_dir=tmp_path / "dd", url=url) as index:
        yield index


def fill(ix, emb, paths: list[Path], labels: np.ndarray, name: str = "shop") -> None:
    ix.create(CollectionSpec(name, emb.spec, (16, emb.dim)))
    x = emb.embed_images(np.stack([np.asarray(Image.open(p)) for p in paths]))
    pays = [{"label": int(y), "source": str(p)} for p, y in zip(paths, labels, strict=True)]
    ix.add(name, [p.name for p in paths], x, pays)


def test_upgrade_answers_v2_queries_on_v1_vectors_at_once(ix, fm, models, store, tmp_path):
    x, y = fm
    v1, v2 = models
    paths = pngs(tmp_path / "src", x[:120])
    fill(ix, v1, paths, y[:120])
    before = list(ix.backend.scroll("shop", 1000))
    spec = ix.upgrade("shop", store.get(V2).manifest)
    assert spec.model == V2 and spec.space == V1 and spec.query_dim == v2.dim > spec.full_dim
    assert ix.names() == ["shop"] and spec.shadow in ix.backend.names()  # the shadow is kept out of lists
    assert ix.upgrade("shop", store.get(V2).manifest) == spec  # upgrading twice changes nothing
    # nothing was re-embedded: every stored vector is the one v1 wrote
    (_, a, _), (_, b, pb) = before[0], next(ix.backend.scroll("shop", 1000))
    assert np.array_equal(a, b) and all(p["model"] == V1 for p in pb)
    # v2 queries (their compatible part) find the right class among v1's vectors
    q = v2.embed_images(x[120:])
    hits = ix.search("shop", q, Search(k=1, mode="full"))
    top1 = np.mean([h[0].payload["label"] == int(t) for h, t in zip(hits, y[120:], strict=True)])
    assert top1 >= 0.7, top1
    # new items are written by v2; one list ranks old and new by cosine in the compatible space
    new = pngs(tmp_path / "src", x[120:140], start=120)
    ix.add(
        "shop", [p.name for p in new], v2.embed_images(x[120:140]), [{"label": int(t)} for t in y[120:140]]
    )
    assert ix.count("shop") == 140 and ix.info("shop")["points_by_new_model"] == 20
    g = np.concatenate([v1.embed_images(x[:120]), v2.embed_images(x[120:140])[:, : v1.dim]])
    qs = v2.embed_images(x[140:160])
    want = np.argsort(-(prefix(qs, v1.dim) @ prefix(g, v1.dim).T), axis=1, kind="stable")[:, :10]
    names = [p.name for p in paths + new]
    got = ix.search("shop", qs, Search(k=10, mode="full"))
    assert [[h.ext_id for h in hs] for hs in got] == [[names[j] for j in row] for row in want]
    writers = {h.payload["model"] for hs in got for h in hs}
    assert writers == {V1, V2}  # a mixed list
    # adaptive search (16-d shortlist, rerank at 256) keeps working across versions
    adaptive = ix.search("shop", qs, Search(k=10, mode="adaptive", shortlist=60))
    overlap = np.mean(
        [len({h.ext_id for h in a} & {h.ext_id for h in b}) / 10 for a, b in zip(adaptive, got, strict=True)]
    )
    assert overlap >= 0.8, overlap


def test_incompatible_upgrades_are_refused_with_the_lineage(store):
    m2 = store.get(V2).manifest
    spec = CollectionSpec("c", V1, (16, 256))
    check_upgrade(spec, m2)  # the shipped pair is compatible
    with pytest.raises(
        InvalidInput,
        match=r"does not name wordnet-mrl@v1 as compatible \(lineage: compatible fmnist-mrl@v1 dims 0..256\)",
    ):
        check_upgrade(CollectionSpec("c", "wordnet-mrl@v1", (16, 256)), m2)
    with pytest.raises(InvalidInput, match="not trained compatible at dim"):
        check_upgrade(CollectionSpec("c", V1, (12, 256)), m2)
    with pytest.raises(InvalidInput, match="already holds"):
        check_upgrade(CollectionSpec("c", V2, (16, 320)), m2)
    with pytest.raises(InvalidInput, match="records no model"):
        check_upgrade(CollectionSpec("c", "", (16, 256)), m2)
    m1 = store.get(V1).manifest
    with pytest.raises(InvalidInput, match="lineage: none"):
        check_upgrade(spec, replace(m1, version="v3"))
    wider = replace(m2, lineage=(replace(m2.lineage[0], dims=(0, 128)),))
    with pytest.raises(InvalidInput, match="agrees on dims 0..128, not 0..256"):
        check_upgrade(spec, wider)


def test_interrupted_backfill_resumes_with_nothing_lost_or_twice(ix, fm, models, store, tmp_path):
    x, y = fm
    v1, v2 = models
    paths = pngs(tmp_path / "src", x[:100])
    fill(ix, v1, paths, y[:100])
    ix.upgrade("shop", store.get(V2).manifest)
    (tmp_path / "src" / "item0007.png").rename(tmp_path / "moved.png")  # one source goes missing

    class CancelAtThirdBatch(CancelToken):  # a cancel (or crash) after two batches were written
        calls = 0

        def check(self) -> None:
            self.calls += 1
            if self.calls == 3:
                self.cancel()
            super().check()

    opts = BackfillOptions(collection="shop", batch=20)
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        backfill(ix, replace(opts, rate=50.0), store, cancel=CancelAtThirdBatch())
    assert time.monotonic() - t0 >= 39 / 50 * 0.95  # rate-limited to 50 items/s
    info = ix.info("shop")
    assert (
        info["points_by_new_model"] in (39, 40) and info["searched_in"] == V1
    )  # 40 read (one may lack a source)
    # mid-backfill, search is still one correct ranking over what is stored (v1's and v2's parts)
    _, stored, pays = next(ix.backend.scroll("shop", 1000))
    q = v2.embed_images(x[100:105])
    want = np.argsort(-(prefix(q, 256) @ prefix(stored, 256).T), axis=1, kind="stable")[:, :5]
    got = ix.search("shop", q, Search(k=5, mode="full"))
    assert [[h.ext_id for h in hs] for hs in got] == [[pays[j]["ext_id"] for j in row] for row in want]
    first = backfill(ix, opts, store)  # resumes: what the first run rewrote is not redone
    assert first.rewritten + info["points_by_new_model"] == 99 and first.unsourced == 1
    assert not first.full_space and ix.count("shop") == 100
    (tmp_path / "moved.png").rename(tmp_path / "src" / "item0007.png")
    last = backfill(ix, opts, store)
    assert (last.rewritten, last.already, last.unsourced, last.full_space) == (1, 99, 0, True)
    info = ix.info("shop")
    assert info["points"] == 100 and info["points_by_new_model"] == 100 and info["searched_in"] == V2
    assert ix.backend.count(info["shadow"]) == 100
    # now ranked in v2's own 320-d space: exactly a brute-force search over v2's whole vectors
    q = v2.embed_images(x[100:110])
    g = v2.embed_images(x[:100])
    want = np.argsort(-(q @ g.T), axis=1, kind="stable")[:, :5]
    got = ix.search("shop", q, Search(k=5, mode="full"))
    assert [[h.ext_id for h in hs] for hs in got] == [[paths[j].name for j in row] for row in want]
    # a snapshot holds the compatible-space vectors: restored, it ranks there until a backfill
    ix.snapshot("shop", tmp_path / "shop.snap")
    back = ix.restore(tmp_path / "shop.snap", "shop2")
    assert (back.model, back.space, back.full_space) == (V2, V1, False) and ix.count("shop2") == 100
    assert ix.info("shop2")["searched_in"] == V1 and ix.backend.count(back.shadow) == 0
    assert backfill(ix, BackfillOptions(collection="shop2"), store).full_space


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_upgrade_then_v2_queries_and_clear_errors(fm, tmp_path, capsys):
    x, y = fm
    dd = ["--data-dir", str(tmp_path / "dd")]
    paths = pngs(tmp_path / "src", x[:40])
    code, out, err = run(["index", "create", "shop", "--model", V1, *dd], capsys)
    assert code == 0, err
    code, out, err = run(["index", "add", "shop", *map(str, paths), *dd], capsys)
    assert code == 0 and "added 40 points" in out, err
    code, out, err = run(["index", "upgrade", "shop", "--to", "fmnist-mrl@v9", *dd], capsys)
    assert code == 2 and "fmnist-mrl@v9" in err and "Traceback" not in err
    code, out, err = run(["index", "upgrade", "shop", "--to", "wordnet-mrl@v1", *dd], capsys)
    assert code == 2 and "lineage" in err, err
    code, out, err = run(["index", "upgrade", "shop", "--to", V2, *dd], capsys)
    assert code == 0 and "queries and new items use fmnist-mrl@v2" in out, err
    code, out, err = run(["index", "search", "shop", str(paths[3]), "--k", "5", "--json", *dd], capsys)
    hits = json.loads(out)["hits"]  # a v2 query among v1 vectors: the same image ranks near the top
    assert code == 0 and str(paths[3]) in [h["id"] for h in hits] and hits[0]["model"] == V1, out
    code, out, err = run(["index", "backfill", "shop", *dd], capsys)
    assert code == 0 and "40 re-embedded" in out and "new model's own space" in out, err
    code, out, err = run(["index", "info", "shop", *dd], capsys)
    assert json.loads(out)["searched_in"] == V2


def test_vector_files_from_v2_name_the_space_they_search(fm, models, tmp_path):
    from codec import api

    x, _ = fm
    np.save(tmp_path / "v2.npy", models[1].embed_images(x[:64]))
    api.encode(tmp_path / "v2.npy", tmp_path / "v2.ncv", "vectors", {"bytes_per_vector": 32.0, "model": V2})
    refs = {m.role: m.spec for m in api.open(tmp_path / "v2.ncv").container.models}
    assert refs == {"embedder": V2, "space": V1}


def test_a_server_backfill_reads_images_only_under_its_sources_root(fm, models, tmp_path):
    from codec.index.backfill import _embed_sources

    x, _ = fm
    root = tmp_path / "sources"
    inside = pngs(root, x[:2])
    outside = pngs(tmp_path / "elsewhere", x[2:3])
    (root / "link.png").symlink_to(outside[0])  # a link out of the root is outside too
    pays = [{"ext_id": p.name, "source": str(p)} for p in [*inside, *outside, root / "link.png"]]
    pays.append({"ext_id": "up", "source": str(root / ".." / "elsewhere" / outside[0].name)})
    exts, vecs, _ = _embed_sources(models[1], pays, root)
    assert exts == [p.name for p in inside] and vecs.shape == (2, models[1].dim)
    assert len(_embed_sources(models[1], pays, None)[0]) == 5  # the CLI reads any path it is given


def test_a_backfill_killed_mid_run_continues_with_nothing_lost(fm, tmp_path, capsys):
    """kill -9 of `codec index backfill` mid-run, then the same command again."""
    import os
    import signal
    import subprocess
    import sys

    x, _ = fm
    dd = ["--data-dir", str(tmp_path / "dd")]
    paths = pngs(tmp_path / "src", x[:60])
    assert run(["index", "create", "shop", "--model", V1, *dd], capsys)[0] == 0
    assert run(["index", "add", "shop", *map(str, paths), *dd], capsys)[0] == 0
    assert run(["index", "upgrade", "shop", "--to", V2, *dd], capsys)[0] == 0
    cmd = [
        sys.executable,
        "-m",
        "codec.cli",
        "index",
        "backfill",
        "shop",
        "--rate",
        "10",
        "--batch",
        "10",
        *dd,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:  # the first progress line: some points are rewritten, most are not
        if line.startswith("[backfill]"):
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    code, out, _ = run(["index", "info", "shop", *dd], capsys)
    done = json.loads(out)["points_by_new_model"]
    assert code == 0 and 0 < done < 60, done
    code, out, err = run(["index", "backfill", "shop", *dd], capsys)
    assert code == 0 and f"{60 - done} re-embedded, {done} already done, 0 without a source" in out, out + err
    info = json.loads(run(["index", "info", "shop", *dd], capsys)[1])
    assert info["points"] == info["points_by_new_model"] == 60 and info["searched_in"] == V2
