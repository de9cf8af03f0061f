"""RECOMBINER's coding loop on a real photo crop (issue #10, step 4): fit, code every block with
REC, and the decoder rebuilds exactly the encoder's weights from the indices alone. A reduced
schedule (8-bit blocks, 60 fitting steps) so it runs in seconds; the prior here is the initial
one, not a trained prior."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data as skdata

from codec.image.recombiner.coding import FitConfig, PriorModel, decode_weights, encode_posterior, render
from codec.image.recombiner.inr import RecombinerINR
from codec.image.recombiner.patches import to_patched
from codec.image.recombiner.prior import INIT_RHO, LEVEL_SIZES, LevelPrior, make_blocks


@pytest.fixture(scope="module")
def small_model() -> PriorModel:
    torch.manual_seed(0)
    bits = 8
    blocks = [make_blocks(np.full(n, 0.5), bits) for n in LEVEL_SIZES]  # 16 coordinates per block
    return PriorModel(
        RecombinerINR(),
        [LevelPrior.initial(n) for n in LEVEL_SIZES],
        blocks,
        [np.full(n, INIT_RHO, np.float32) for n in LEVEL_SIZES],
        block_bits=bits,
    )


def test_the_decoder_rebuilds_the_encoders_weights_and_picture(small_model) -> None:
    rgb = skdata.astronaut()[100:164, 200:264]  # one 64x64 patch of a real photo
    x, lay = to_patched(rgb)
    events = []
    enc = encode_posterior(
        x, lay, small_model, FitConfig(steps=60, finetune_steps=0, samples=1), events.append
    )
    assert [i.shape for i in enc.indices] == [(1, len(b)) for b in small_model.blocks]
    assert all(int(i.max()) < 2**8 for i in enc.indices)
    dec = decode_weights(small_model, lay, enc.indices)
    for a, b in zip(dec, enc.weights, strict=True):
        assert a.dtype == np.float32 and np.array_equal(a, b)  # bit for bit
    assert np.array_equal(render(small_model, lay, dec), enc.recon)
    assert {"fit", "code"} <= {e.phase for e in events}
    assert sum(small_model.blocks_of(lay)) == sum(len(b) for b in small_model.blocks)


def test_a_cancelled_encode_resumes_to_the_same_indices(small_model, tmp_path) -> None:
    from codec.errors import Cancelled
    from codec.progress import CancelToken

    rgb = skdata.astronaut()[100:164, 200:264]
    x, lay = to_patched(rgb)
    cfg = FitConfig(steps=30, finetune_steps=2, samples=1)
    whole = encode_posterior(x, lay, small_model, cfg)
    for phase, at in (("fit", 10), ("code", 40)):
        cancel = CancelToken()

        def stop(e, phase=phase, at=at, cancel=cancel) -> None:
            done = e.metrics.get("blocks", 0) if phase == "code" else e.step  # code: blocks coded
            if e.phase == phase and done >= at:
                cancel.cancel()

        work = tmp_path / phase
        with pytest.raises(Cancelled):
            encode_posterior(x, lay, small_model, cfg, stop, cancel, work)
        assert (work / "recombiner.pt").exists()
        again = encode_posterior(x, lay, small_model, cfg, work_dir=work, resume=True)
        for a, b in zip(again.indices, whole.indices, strict=True):
            assert np.array_equal(a, b), phase


@pytest.mark.parametrize("adapt", [False, True])
def test_fine_tuning_holds_the_betas_the_fit_ended_at(small_model, monkeypatch, adapt) -> None:
    """Adapting beta once per fine-tuning round grew it 1.05x per round, so fine-tuning after every
    block squeezed the uncoded posteriors onto the prior (bench/results/recombiner_finetune.json);
    the encoder now holds the fit's betas through every round, and `finetune_beta` is the old way."""
    import codec.image.recombiner.coding as coding

    fit, changed = coding._fit, []

    def watch(q, model, levels, betas, *args, **kw) -> None:
        before = [b.clone() for b in betas]
        fit(q, model, levels, betas, *args, **kw)
        if "adapt_beta" in kw:  # a fine-tuning round (_code passes it), not the fit
            changed.append(any(not torch.equal(a, b) for a, b in zip(before, betas, strict=True)))

    monkeypatch.setattr(coding, "_fit", watch)
    x, lay = to_patched(skdata.astronaut()[100:164, 200:264])
    cfg = FitConfig(steps=20, finetune_steps=2, samples=1, round_blocks=4, finetune_beta=adapt)
    encode_posterior(x, lay, small_model, cfg)
    assert len(changed) > 3
    assert any(changed) if adapt else not any(changed)
