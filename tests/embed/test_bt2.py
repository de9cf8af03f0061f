"""Backward-compatible training (BT², BCT): the basis transformation keeps norms and inner
products, and a compatible v2 trained on real Fashion-MNIST images searches its v1's vectors far
better than an independently trained model does (tiny runs on tests/data/fashion_mnist_small.npz)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from codec.embed import data
from codec.embed.compat import SCALE_C, BasisTransform
from codec.embed.embedder import load_embedder
from codec.embed.options import TrainEmbedderOptions
from codec.embed.train import train_embedder
from codec.errors import InvalidInput
from codec.models import ModelStore

SMALL = Path(__file__).resolve().parents[1] / "data" / "fashion_mnist_small.npz"
TINY = dict(epochs=3, width=8, batch_size=64, device="cpu")


def test_the_basis_transformation_is_orthonormal():
    torch.manual_seed(0)
    bt = BasisTransform(32, 8)
    with torch.no_grad():  # training moves the maps off the identity; they stay orthogonal
        for p in bt.parameters():
            p.add_(torch.randn_like(p))
    f, e = torch.randn(64, 32) * 7, torch.randn(64, 8) * 0.1
    v = bt(f, e)
    z = torch.cat([F.normalize(e, dim=1), SCALE_C * F.normalize(f, dim=1)], dim=1)
    assert torch.allclose(v.norm(dim=1), torch.full((64,), (1 + SCALE_C**2) ** 0.5), atol=1e-4)
    assert torch.allclose(v @ v.T, z @ z.T, atol=1e-3)  # all of f's geometry is kept
    for w in (bt.o_p.weight, bt.o_2.weight):
        assert torch.allclose(w @ w.T, torch.eye(32), atol=1e-5)
    with pytest.raises(ValueError):
        BasisTransform(8, 9)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """v1 on half the classes (dim 32); then BT², BCT and an independent v2 on all ten."""
    ds = data.fashion_mnist(SMALL)
    half = ds.train_y < 5
    old = data.Dataset(ds.name, ds.kind, ds.train_x[half], ds.train_y[half], ds.test_x, ds.test_y, ds.classes)
    store = ModelStore(tmp_path_factory.mktemp("dd"))
    train_embedder(old, TrainEmbedderOptions(name="tiny", dim=32, **{**TINY, "width": 4}), store=store)
    out = {"independent": train_embedder(ds, TrainEmbedderOptions(name="ref", dim=32, **TINY), store=store)}
    for method in ("bt2", "bct"):  # BT²'s reference: the independent model (as the benchmark does)
        opts = TrainEmbedderOptions(name="tiny", compatible_with="tiny@v1", method=method, extra_dims=8,
                                    reference="ref@v1" if method == "bt2" else "", **TINY)  # fmt: skip
        out[method] = train_embedder(ds, opts, store=store)
    return ds, store, out


def test_compatible_models_search_the_old_gallery(trained):
    ds, store, out = trained
    bt2, bct = out["bt2"], out["bct"]
    assert (bt2.spec, bct.spec) == ("tiny@v2", "tiny@v3")
    m = store.get("tiny@v2").manifest
    assert m.lineage[0].model == "tiny@v1" and m.lineage[0].dims == (0, 32)
    assert m.arch["compatible"]["nesting"] == [8, 16, 32] and m.arch["dim"] == 40
    # new queries against the v1 gallery, vs an independent model's (cross-model 1-NN)
    old = load_embedder("tiny@v1", store)
    g = old.embed_images(ds.train_x)
    indep = out["independent"].encoder.eval()
    with torch.no_grad():
        q = indep(torch.from_numpy(np.array(ds.test_x))).numpy()
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    chance_like = float(np.mean(ds.train_y[np.argmax(q @ g.T, axis=1)] == ds.test_y))
    for r in (bt2, bct):
        assert r.compat_top1[32] > chance_like + 0.25, (r.compat_top1, chance_like)
    new = load_embedder("tiny@v2", store)
    assert new.dim == 40 and new.dims == [8, 16, 32, 40]
    z = new.embed_images(ds.test_x[:5], dim=32)  # the compatible part, renormalised
    assert z.shape == (5, 32) and np.allclose(np.linalg.norm(z, axis=1), 1, atol=1e-5)


def test_compatible_training_needs_a_known_old_model(trained):
    ds, store, _ = trained
    with pytest.raises(InvalidInput, match="NAME@vN"):
        TrainEmbedderOptions(compatible_with="tiny").check()
    with pytest.raises(Exception, match="tiny@v9"):
        train_embedder(ds, TrainEmbedderOptions(compatible_with="tiny@v9", **TINY), store=store)
