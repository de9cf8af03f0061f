"""The qlae codec with the shipped latent models: real files, round trips, edits, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from codec import api, container
from codec.cli import main
from codec.errors import CorruptData, InvalidInput, ModelMismatch
from codec.latents.data import DSPRITES, SHAPES3D
from codec.latents.decode import open_codes
from codec.latents.edit import edit
from codec.latents.zoo import load_model
from codec.models import ModelStore


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ModelStore:
    return ModelStore(tmp_path_factory.mktemp("store"))  # shipped models only


@pytest.fixture(scope="module")
def shapes(store):
    import torch

    return load_model("shapes3d", store, torch.device("cpu"))


def write_images(folder, images: np.ndarray, prefix: str = "img") -> list:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, a in enumerate(images):
        p = folder / f"{prefix}{i}.png"
        Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a).save(p)
        paths.append(p)
    return paths


def test_shipped_models_name_their_data_and_tables(store) -> None:
    for name, data in (("shapes3d", SHAPES3D), ("dsprites", DSPRITES)):
        m = store.get(name).manifest
        assert m.kind == "latent-model" and m.arch["latent"] == "qlae"
        assert m.arch["latents"] == 2 * len(data.factors) and m.arch["levels"] == 10
        assert m.training["command"].startswith("codec train latents")
        assert "code_counts" in store.get(name).load()


def test_round_trip_of_a_folder_keeps_codes_names_and_reconstructions(tmp_path, shapes) -> None:
    images, _ = SHAPES3D.batch(np.random.default_rng(5), 6)
    write_images(tmp_path / "in", images)
    out = tmp_path / "imgs.qla"
    r = api.encode(tmp_path / "in", out, "qlae", {"model": "shapes3d", "device": "cpu"})
    assert r.file_bytes == out.stat().st_size and r.rate == pytest.approx(r.file_bytes / 6)
    f = api.open(out)
    d = open_codes(f.container, f.config)
    assert d.names == [f"img{i}.png" for i in range(6)]
    assert np.array_equal(d.codes, shapes.encode(images))  # the file holds exactly the encoder's codes
    api.decode(f, tmp_path / "out", {"device": "cpu"})
    want = shapes.decode(d.codes)  # the decoder renders those codes (in one batch, as it does)
    for i in range(6):
        assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / f"img{i}.png")), want[i])
    assert r.metrics["mse"] < 0.02  # a recognisable reconstruction, pixels in [0, 1]


def test_codes_cost_less_than_fixed_length_codes(tmp_path, shapes) -> None:
    images, _ = SHAPES3D.batch(np.random.default_rng(13), 200)
    write_images(tmp_path / "in", images)
    r = api.encode(tmp_path / "in", tmp_path / "many.qla", "qlae", {"model": "shapes3d"})
    fixed = shapes.dims * np.log2(shapes.levels)  # 39.9 bits: every code in 4 bits' worth, no model
    assert r.metrics["payload_bits"] < fixed  # the model's per-dim tables do better
    names = sum(len(f"img{i}.png") + 1 for i in range(200)) - 1
    header = r.file_bytes - names - r.metrics["payload_bits"] * 200 / 8
    assert 0 < header < 300  # the rest is the header: model reference, params, section table


def test_one_image_decodes_to_a_png_and_a_resize_is_reported(tmp_path) -> None:
    images, _ = SHAPES3D.batch(np.random.default_rng(6), 1)
    big = np.kron(images[0], np.ones((3, 3, 1), np.uint8))  # 192x192
    src = write_images(tmp_path, big[None], "big")[0]
    r = api.encode(src, tmp_path / "one.qla", "qlae", {"model": "shapes3d"})
    assert any("resized from 192x192 to 64x64" in w for w in r.warnings)
    api.decode(api.open(tmp_path / "one.qla"), tmp_path / "one.png", {})
    assert np.asarray(Image.open(tmp_path / "one.png")).shape == (64, 64, 3)
    with pytest.raises(InvalidInput, match="decodes to a .png"):
        api.decode(api.open(tmp_path / "one.qla"), tmp_path / "x.jpg", {})


def test_gray_images_for_the_dsprites_model(tmp_path) -> None:
    images, _ = DSPRITES.batch(np.random.default_rng(7), 3)
    write_images(tmp_path / "in", images)
    r = api.encode(tmp_path / "in", tmp_path / "d.qla", "qlae", {"model": "dsprites"})
    assert not r.warnings  # one-channel input for a one-channel model: no conversion
    rgb = np.repeat(images[:1], 3, axis=-1)
    rgb[..., 0] //= 2  # colour
    src = write_images(tmp_path, rgb, "colour")[0]
    r = api.encode(src, tmp_path / "c.qla", "qlae", {"model": "dsprites"})
    assert any("converted to gray" in w for w in r.warnings)


def test_an_edit_changes_only_that_code(tmp_path, shapes) -> None:
    images, _ = SHAPES3D.batch(np.random.default_rng(8), 4)
    write_images(tmp_path / "in", images)
    api.encode(tmp_path / "in", tmp_path / "a.qla", "qlae", {"model": "shapes3d"})
    f = api.open(tmp_path / "a.qla")
    before = open_codes(f.container, f.config).codes
    dim = 3
    value = int((before[1, dim] + 5) % 10)
    c = edit(f.container, f.config, [(dim, value)], [1])
    container.write_file(tmp_path / "b.qla", c)
    g = api.open(tmp_path / "b.qla")
    after = open_codes(g.container, g.config).codes
    changed = np.argwhere(after != before).tolist()
    assert changed == [[1, dim]] and after[1, dim] == value
    assert open_codes(g.container, g.config).names == open_codes(f.container, f.config).names


def test_codes_and_items_out_of_range_are_refused(tmp_path) -> None:
    images, _ = SHAPES3D.batch(np.random.default_rng(9), 2)
    write_images(tmp_path / "in", images)
    api.encode(tmp_path / "in", tmp_path / "a.qla", "qlae", {"model": "shapes3d"})
    f = api.open(tmp_path / "a.qla")
    for sets, items, msg in (
        ([(12, 0)], None, "dim 12"),
        ([(0, 10)], None, "code 10"),
        ([(0, 1)], [2], "item 2"),
    ):
        with pytest.raises(InvalidInput, match=msg):
            edit(f.container, f.config, sets, items)


def test_a_file_needs_its_exact_model(tmp_path) -> None:
    images, _ = SHAPES3D.batch(np.random.default_rng(10), 1)
    src = write_images(tmp_path, images)[0]
    api.encode(src, tmp_path / "a.qla", "qlae", {"model": "shapes3d"})
    f = api.open(tmp_path / "a.qla")
    ref = f.container.models[0]
    f.container.models[0] = type(ref)(ref.name, ref.version, bytes(32), ref.role)  # other weights
    bad = tmp_path / "other.qla"
    container.write_file(bad, f.container)
    with pytest.raises(ModelMismatch, match="shapes3d"):
        api.decode(api.open(bad), tmp_path / "x.png", {})
    with pytest.raises(ModelMismatch):
        api.encode(src, tmp_path / "b.qla", "qlae", {"model": "no-such-model"})


def test_corrupt_codes_are_data_loss_not_a_crash(tmp_path) -> None:
    images, _ = SHAPES3D.batch(np.random.default_rng(11), 3)
    write_images(tmp_path / "in", images)
    api.encode(tmp_path / "in", tmp_path / "a.qla", "qlae", {"model": "shapes3d"})
    f = api.open(tmp_path / "a.qla")
    codes = f.container.sections[0]
    f.container.sections[0] = type(codes)("codes", codes.data[:-3])  # truncated, CRC recomputed
    container.write_file(tmp_path / "bad.qla", f.container)
    with pytest.raises(CorruptData):
        api.decode(api.open(tmp_path / "bad.qla"), tmp_path / "out", {})


def test_cli_encode_show_edit_traverse_decode(tmp_path, capsys) -> None:
    images, _ = SHAPES3D.batch(np.random.default_rng(12), 2)
    write_images(tmp_path / "in", images)
    qla, edited, grid = tmp_path / "a.qla", tmp_path / "b.qla", tmp_path / "grid.png"
    assert (
        main(["encode", str(tmp_path / "in"), "--codec", "qlae", "--model", "shapes3d", "-o", str(qla)]) == 0
    )
    assert main(["latents", "show", str(qla), "--json"]) == 0
    out = capsys.readouterr().out
    shown = json.loads(out[out.index("{") :])
    assert [i["name"] for i in shown["items"]] == ["img0.png", "img1.png"]
    assert main(["latents", "edit", str(qla), "--set", "0=9", "--item", "0", "-o", str(edited)]) == 0
    assert (
        main(["latents", "traverse", "--model", "shapes3d", "--dim", "0", "--rows", "2", "-o", str(grid)])
        == 0
    )
    assert Image.open(grid).size[0] > 10 * 64  # ten values across
    assert main(["decode", str(edited), "-o", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img0.png", "img1.png"]
    capsys.readouterr()
    for args, needle in (
        (["latents", "edit", str(qla), "--set", "0=99", "-o", str(tmp_path / "c.qla")], "code 99"),
        (["latents", "edit", str(qla), "--set", "x", "-o", str(tmp_path / "c.qla")], "DIM=VALUE"),
        (
            ["latents", "traverse", "--model", "shapes3d", "--dim", "40", "-o", str(tmp_path / "g.png")],
            "dim 40",
        ),
        (["latents", "traverse", "--model", "nope", "--dim", "0", "-o", str(tmp_path / "g.png")], "nope"),
        (["latents", "show", str(tmp_path / "in" / "img0.png")], ""),
    ):
        code = main(args)
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err and needle.lower() in err.lower(), (args, err)
    # without --codec, an output named .qla picks QLAE (an image's default is RECOMBINER)
    assert main(["encode", str(tmp_path / "in" / "img0.png"), "-o", str(tmp_path / "d.qla")]) == 0
    from codec import api

    assert api.open(tmp_path / "d.qla").codec.name == "qlae"


def test_the_dsprites_model_edits_and_traverses_too(tmp_path, capsys) -> None:
    images, _ = DSPRITES.batch(np.random.default_rng(14), 2)
    write_images(tmp_path / "in", images)
    qla = tmp_path / "d.qla"
    src = str(tmp_path / "in")
    assert main(["encode", src, "--codec", "qlae", "--model", "dsprites", "-o", str(qla)]) == 0
    assert main(["latents", "edit", str(qla), "--set", "4=0", "-o", str(tmp_path / "e.qla")]) == 0
    assert main(["latents", "traverse", "--model", "dsprites", "--dim", "4", "--from", str(qla), "-o",
                 str(tmp_path / "g.png")]) == 0  # fmt: skip
    assert Image.open(tmp_path / "g.png").mode == "L"  # one channel, as the model
    assert main(["decode", str(tmp_path / "e.qla"), "-o", str(tmp_path / "out")]) == 0
    assert main(["latents", "traverse", "--model", "shapes3d", "--dim", "0", "--from", str(qla), "-o",
                 str(tmp_path / "x.png")]) == 2  # fmt: skip
    assert "encoded with dsprites@v1, not shapes3d@v1" in capsys.readouterr().err
