"""The training loop: a cancelled run resumes to exactly the weights of an uninterrupted one, and a
stored model carries what the codec needs."""

from __future__ import annotations

import pytest
import torch

from codec.errors import Cancelled
from codec.latents.data import DSPRITES
from codec.latents.options import TrainLatentsOptions
from codec.latents.train import train_latents
from codec.models import ModelStore
from codec.progress import CancelToken

TINY = dict(
    data="dsprites", steps=12, batch_size=8, width=2, eval_samples=200, precision="fp32", device="cpu"
)


def test_a_cancelled_run_resumes_to_the_same_weights(tmp_path) -> None:
    opts = TrainLatentsOptions(**TINY)
    whole = train_latents(DSPRITES, opts, work_dir=tmp_path / "a").model.state_dict()

    cancel = CancelToken()

    def stop_at_six(e) -> None:
        if e.phase == "train" and e.step >= 6:
            cancel.cancel()

    import codec.latents.train as T

    old = T.EVENT_SECONDS
    T.EVENT_SECONDS = 0.0  # an event every step, so the cancel lands at step 6
    try:
        with pytest.raises(Cancelled):
            train_latents(DSPRITES, opts, stop_at_six, cancel, tmp_path / "b")
    finally:
        T.EVENT_SECONDS = old
    resumed = train_latents(DSPRITES, opts, work_dir=tmp_path / "b", resume=True)
    assert resumed.steps == 12
    for k, v in whole.items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k


@pytest.mark.parametrize("latent", ["qlae", "ae", "vae", "vqvae"])
def test_every_latent_trains_and_is_scored(tmp_path, latent) -> None:
    r = train_latents(DSPRITES, TrainLatentsOptions(**TINY, latent=latent))
    assert r.steps == 12 and 0 <= r.metrics["infoe"] <= 1 and r.metrics["recon_mse"] < 0.5
    assert len(r.nmi) == len(DSPRITES.factors)


def test_a_stored_qlae_model_holds_its_code_tables(tmp_path) -> None:
    store = ModelStore(tmp_path)
    r = train_latents(DSPRITES, TrainLatentsOptions(**TINY, name="tiny"), store=store, command="test")
    assert r.spec == "tiny@v1"
    m = store.get("tiny")
    counts = m.load()["code_counts"]
    assert counts.shape == (10, 10) and counts.min() >= 1 and counts.sum() == 200 * 10 + 100
    assert m.manifest.training["steps"] == 12 and len(m.manifest.training["nmi"]) == 5
