"""Matryoshka embedders: the prefix rule, the two head forms, and the nesting effect against a
control trained the same way without nesting (tiny runs on tests/data/fashion_mnist_small.npz)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from codec.embed import data
from codec.embed.mrl import MatryoshkaHead, mrl_loss, prefix
from codec.embed.options import TrainEmbedderOptions, nesting_dims
from codec.embed.train import train_embedder
from codec.errors import Cancelled, InvalidInput
from codec.progress import CancelToken

SMALL = Path(__file__).resolve().parents[1] / "data" / "fashion_mnist_small.npz"
TINY = dict(epochs=6, dim=128, width=8, batch_size=64, device="cpu")


@pytest.fixture(scope="module")
def small() -> data.Dataset:
    return data.fashion_mnist(SMALL)


def test_prefix_truncates_and_renormalises():
    z = np.array([[3.0, 4.0, 12.0], [0.0, 0.0, 1.0]], np.float32)
    p = prefix(z, 2)
    assert np.allclose(p[0], [0.6, 0.8]) and np.allclose(p[1], [0.0, 0.0])  # a zero prefix stays zero
    assert np.allclose(prefix(z, 3)[0], z[0] / 13)


def test_nesting_dims_are_powers_of_two_up_to_the_full_size():
    assert nesting_dims(256) == [8, 16, 32, 64, 128, 256]
    assert nesting_dims(384) == [8, 16, 32, 64, 128, 256, 384]
    with pytest.raises(InvalidInput, match="end at the full size"):
        TrainEmbedderOptions(dim=64, dims="8,16").nesting()


def test_efficient_heads_share_one_classifier():
    head = MatryoshkaHead([2, 4, 8], classes=3, efficient=True)
    z = torch.randn(5, 8)
    logits = head(z)
    w, b = head.shared.weight, head.shared.bias
    assert torch.allclose(logits[0], z[:, :2] @ w[:, :2].T + b)
    assert sum(p.numel() for p in head.parameters()) == 8 * 3 + 3
    separate = MatryoshkaHead([2, 4, 8], classes=3)
    assert sum(p.numel() for p in separate.parameters()) == (2 + 4 + 8) * 3 + 3 * 3
    y = torch.tensor([0, 1, 2, 0, 1])
    loss = mrl_loss(logits, y)
    assert torch.isclose(loss, sum(torch.nn.functional.cross_entropy(lg, y) for lg in logits))


def test_mrl_prefixes_beat_a_control_trained_without_nesting(small):
    """The paper's pattern: at the smallest dims MRL's prefixes are far better than the first dims
    of an embedding trained only at full size; at full size they are alike."""
    mrl = train_embedder(small, TrainEmbedderOptions(dims="2,4,8,16,32,64,128", **TINY))
    control = train_embedder(small, TrainEmbedderOptions(dims="128", **TINY))
    assert mrl.knn_top1[2] > control.knn_top1[2] + 0.05, (mrl.knn_top1, control.knn_top1)
    assert mrl.knn_top1[4] > control.knn_top1[4], (mrl.knn_top1, control.knn_top1)
    assert abs(mrl.knn_top1[128] - control.knn_top1[128]) < 0.08
    assert mrl.knn_top1[128] > 0.7  # the tiny model learns (chance is 0.1)


def test_cancel_then_resume_ends_where_an_uninterrupted_run_ends(small, tmp_path):
    opts = TrainEmbedderOptions(epochs=2, dim=32, width=4, batch_size=128, device="cpu", seed=3)
    whole = train_embedder(small, opts)
    token = CancelToken()

    def stop_after_first_epoch(ev) -> None:
        if ev.phase == "train" and ev.step == 1:
            token.cancel()

    with pytest.raises(Cancelled):
        train_embedder(small, opts, stop_after_first_epoch, token, tmp_path)
    assert (tmp_path / "checkpoint.pt").exists()
    resumed = train_embedder(small, opts, work_dir=tmp_path, resume=True)
    assert resumed.knn_top1 == whole.knn_top1 and resumed.head_top1 == whole.head_top1
