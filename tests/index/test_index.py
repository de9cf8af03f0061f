"""The vector index on real vectors (Fashion-MNIST items, PCA-ordered so that prefixes carry the
most variance, like Matryoshka embeddings), through both engines: Qdrant Edge embedded and
qdrant-client's local mode (the server backend's code path)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codec.errors import CorruptData, InvalidInput
from codec.index.index import open_index
from codec.index.spec import CollectionSpec, Search
from tests.vectors.conftest import pixel_vectors

ROOT = Path(__file__).resolve().parents[2]


def pca_ordered(x: np.ndarray) -> np.ndarray:
    """Rotate onto principal axes, largest first: leading dims carry the most, as in MRL."""
    _, _, vt = np.linalg.svd(x - x.mean(0), full_matrices=False)
    y = x @ vt.T
    return (y / np.linalg.norm(y, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def gallery() -> np.ndarray:
    return pca_ordered(pixel_vectors(400))


@pytest.fixture(params=["edge", "local"])
def index(request, tmp_path):
    ix = (
        open_index(data_dir=tmp_path)
        if request.param == "edge"
        else open_index(url=f"local:{tmp_path / 'q'}")
    )
    yield ix
    ix.close()


def ids(n: int) -> list[str]:
    return [f"item-{i}" for i in range(n)]


def exact_top(q: np.ndarray, g: np.ndarray, k: int) -> list[list[str]]:
    return [[f"item-{j}" for j in row] for row in np.argsort(-(q @ g.T), axis=1)[:, :k]]


def test_search_modes_agree_on_small_exact_cases(index, gallery):
    index.create(CollectionSpec("c", "", (8, 32, 196), full_hnsw=True))
    labels = [{"label": i % 4} for i in range(len(gallery))]
    assert index.add("c", ids(len(gallery)), gallery, labels) == len(gallery)
    q = gallery[:12] + 0.02
    truth = exact_top(q, gallery, 10)
    for mode in ("full", "hnsw", "adaptive", "funnel"):
        # a shortlist as big as the collection makes every plan exact
        hits = index.search("c", q, Search(k=10, mode=mode, shortlist=len(gallery), funnel_factor=2))
        assert [[h.ext_id for h in hs] for hs in hits] == truth, mode
    # a real shortlist on the 8-d prefix still finds most of the exact neighbours
    hits = index.search("c", q, Search(k=10, mode="adaptive", shortlist=60))
    recall = np.mean([len({h.ext_id for h in hs} & set(t)) / 10 for hs, t in zip(hits, truth, strict=True)])
    assert recall > 0.6
    hits = index.search("c", q, Search(k=5, mode="adaptive", filter={"label": 2}))
    assert all(h.payload["label"] == 2 for hs in hits for h in hs) and all(len(hs) == 5 for hs in hits)
    assert index.count("c", {"label": [1, 2]}) == len(gallery) // 2


def test_upsert_replaces_and_delete_removes(index, gallery):
    index.create(CollectionSpec("c", "", (8, 196)))
    index.add("c", ids(100), gallery[:100])
    index.add("c", ["item-0"], gallery[200:201], [{"source": "again"}])
    assert index.count("c") == 100
    hit = index.search("c", gallery[200:201], Search(k=1, mode="full"))[0][0]
    assert hit.ext_id == "item-0" and hit.payload["source"] == "again"
    index.remove("c", ["item-0", "item-1"])
    assert index.count("c") == 98


BAD = [
    (lambda g: g[:, :100], "must be 196-d vectors"),
    (lambda g: np.where(np.arange(len(g))[:, None] == 1, np.nan, g), "NaN or inf"),
    (lambda g: g[:0], "the batch is empty"),
]


@pytest.mark.parametrize("make, needle", BAD, ids=["length", "nan", "empty"])
def test_bad_vectors_are_refused(index, gallery, make, needle):
    index.create(CollectionSpec("c", "", (8, 196)))
    x = make(gallery[:5])
    with pytest.raises(InvalidInput, match=needle):
        index.add("c", ids(len(x)), x)
    with pytest.raises(InvalidInput, match=needle):
        index.search("c", x, Search())
    with pytest.raises(InvalidInput, match="no collection named nope"):
        index.search("nope", gallery[:1], Search())
    with pytest.raises(InvalidInput, match="search mode"):
        Search(mode="fast")


def test_collections_survive_a_restart(tmp_path, gallery):
    for where in (dict(data_dir=tmp_path), dict(url=f"local:{tmp_path / 'q'}")):
        with open_index(**where) as ix:
            ix.create(CollectionSpec("c", "m@v1", (8, 196)))
            ix.add("c", ids(50), gallery[:50])
        with open_index(**where) as ix:
            assert ix.names() == ["c"] and ix.count("c") == 50 and ix.spec("c").model == "m@v1"
            assert ix.search("c", gallery[7:8], Search(k=1, mode="full"))[0][0].ext_id == "item-7"


def test_snapshot_moves_a_collection_between_engines(tmp_path, gallery):
    snap = tmp_path / "c.snapshot"
    with open_index(data_dir=tmp_path / "edge") as ix:
        ix.create(CollectionSpec("c", "", (8, 196)))
        ix.add("c", ids(120), gallery[:120], [{"label": i % 3} for i in range(120)])
        assert ix.snapshot("c", snap) == 120
    with open_index(url=f"local:{tmp_path / 'q'}") as ix:
        ix.restore(snap, "copy")
        assert ix.count("copy") == 120 and ix.count("copy", {"label": 0}) == 40
        assert ix.search("copy", gallery[3:4], Search(k=1, mode="full"))[0][0].ext_id == "item-3"
    snap.write_bytes(snap.read_bytes()[:300])
    with open_index(data_dir=tmp_path / "edge") as ix, pytest.raises(CorruptData):
        ix.restore(snap, "broken")


WRITER = """
import sys, numpy as np
from codec.index.index import open_index
from codec.index.spec import CollectionSpec
x = np.load(sys.argv[2])
ix = open_index(data_dir=sys.argv[1])
ix.create(CollectionSpec("c", "", (8, x.shape[1])))
for b in range(0, 10**9, 20):
    i = b % len(x)
    ix.add("c", [f"p{b + j}" for j in range(20)], x[i:i + 20], optimize=False)
    print("ack", b + 20, flush=True)
"""


def test_no_acknowledged_write_is_lost_after_kill_9(tmp_path, gallery):
    vecs = tmp_path / "g.npy"
    np.save(vecs, gallery[:200])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", WRITER, str(tmp_path), str(vecs)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
    acked = 0
    for line in proc.stdout:
        acked = int(line.split()[1])
        if acked >= 400:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with open_index(data_dir=tmp_path) as ix:
        assert ix.count("c") >= acked  # every add that printed "ack" is there


def test_a_second_process_is_told_the_collection_is_in_use(tmp_path, gallery):
    with open_index(data_dir=tmp_path) as ix:
        ix.create(CollectionSpec("c", "", (8, 196)))
        ix.add("c", ids(10), gallery[:10])
        code = f"from codec.index.index import open_index; open_index(data_dir={str(tmp_path)!r}).count('c')"
        r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode != 0 and "open in another process" in r.stderr
