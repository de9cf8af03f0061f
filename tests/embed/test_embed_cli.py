"""`codec train embedder` and `codec embed` end to end, offline: an image embedder from the
Fashion-MNIST subset and a text embedder (MiniLM backbone + projection) from the WordNet subset,
stored in a data dir's model store, then asked for every nesting dim."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from codec.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"


def run(args: list[str], capsys, store: Path | None = None) -> tuple[int, str, str]:
    code = main(args + (["--data-dir", str(store)] if store is not None else []))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("store")


@pytest.fixture(scope="module")
def image_model(store) -> str:
    code = main(["train", "embedder", "--data", str(DATA / "fashion_mnist_small.npz"), "--name", "fm-tiny",
                 "--epochs", "3", "--dim", "64", "--width", "8", "--data-dir", str(store)])  # fmt: skip
    assert code == 0
    return "fm-tiny@v1"


@pytest.fixture(scope="module")
def text_model(store) -> str:
    code = main(["train", "embedder", "--data", str(DATA / "wordnet_small.tsv"), "--name", "wn-tiny",
                 "--epochs", "15", "--dim", "32", "--batch-size", "64", "--data-dir", str(store)]
                )  # fmt: skip
    assert code == 0
    return "wn-tiny@v1"


@pytest.fixture(scope="module")
def items(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("items")
    with np.load(DATA / "fashion_mnist_small.npz") as d:
        imgs = d["test_x"][:4]
    paths = []
    for i, a in enumerate(imgs):
        paths.append(folder / f"item{i}.png")
        Image.fromarray(a).save(paths[-1])
    return paths


def test_image_embedder_answers_every_nesting_dim(image_model, store, items, tmp_path, capsys):
    full = None
    for dim in (8, 16, 32, 64):
        out = tmp_path / f"e{dim}.npy"
        args = ["embed", "--model", image_model, "--dim", str(dim), *map(str, items), "-o", str(out)]
        code, text, err = run(args, capsys, store)
        assert code == 0, err
        assert "items/s" in text
        v = np.load(out)
        assert v.shape == (4, dim) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
        if dim == 64:
            full = v
    # a dim-8 embedding is the renormalised prefix of the full one, in input order
    code, text, _ = run(
        ["embed", "--model", "fm-tiny", "--dim", "8", str(items[2]), "--data-dir", str(store)], capsys
    )
    line = json.loads(text)
    p = full[2, :8] / np.linalg.norm(full[2, :8])
    assert code == 0 and line["dim"] == 8 and np.allclose(line["vector"], p, atol=1e-5)


def test_text_embedder_answers_every_nesting_dim(text_model, store, tmp_path, capsys):
    texts = tmp_path / "t.txt"
    texts.write_text("a small striped cat\na large oak tree\n")
    args = ["embed", "--model", text_model, "--dim", "8", "--text", "a running horse", str(texts)]
    code, text, err = run(args, capsys, store)
    assert code == 0, err
    lines = [json.loads(x) for x in text.splitlines()]
    assert [x["input"] for x in lines] == ["a running horse", "a small striped cat", "a large oak tree"]
    assert all(x["dim"] == 8 for x in lines)
    for dim in (16, 32):
        code, text, err = run(
            ["embed", "--model", text_model, "--dim", str(dim), "--text", "x"], capsys, store
        )
        assert code == 0 and json.loads(text)["dim"] == dim


def test_text_embedder_learned_the_topics(text_model, store, capsys):
    """Animals sit nearer animals than plants, at a short prefix too."""
    texts = [
        "dog: a domestic animal that barks",
        "wolf: a wild carnivorous mammal",
        "rose: a flowering shrub",
    ]
    args = [a for t in texts for a in ("--text", t)]
    for dim in (8, 32):
        code, text, _ = run(
            ["embed", "--model", text_model, "--dim", str(dim), *args, "--data-dir", str(store)], capsys
        )
        v = np.array([json.loads(x)["vector"] for x in text.splitlines()])
        assert v[0] @ v[1] > v[0] @ v[2], dim


BAD = [
    (["--model", "nope"], "no model named nope"),
    (["--model", "fm-tiny@v7"], "no model fm-tiny@v7 (fm-tiny has v1)"),
    (["--model", "fm-tiny", "--dim", "12"], "not a nesting dim of fm-tiny@v1"),
    (["--model", "fm-tiny", "--dim", "65"], "outside 1..64"),
    (["--model", "fm-tiny"], "nothing to embed"),
    (["--model", "fm-tiny", "--text", "hello"], "embeds images"),
    (["--model", "fm-tiny", "-o", "x.png"], "writes a .npy"),
]


@pytest.mark.parametrize("args, needle", BAD, ids=[b[1][:20] for b in BAD])
def test_bad_embed_requests_exit_2_with_one_line(args, needle, image_model, store, capsys):
    code, _, err = run(["embed", *args], capsys, store)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err


def test_any_dim_is_allowed_when_asked(image_model, store, items, capsys):
    code, text, err = run(
        ["embed", "--model", "fm-tiny", "--dim", "12", "--allow-any-dim", str(items[0])], capsys, store
    )
    assert code == 0 and json.loads(text)["dim"] == 12


def test_train_refuses_bad_options(store, capsys):
    code, _, err = run(["train", "embedder", "--data", "wordnet"], capsys, store)
    assert code == 2 and "--name NAME is required" in err
    code, _, err = run(["train", "embedder", "--name", "x", "--dims", "8,16", "--dim", "64"], capsys)
    assert code == 2 and "end at the full size 64" in err
    code, _, err = run(["train", "embedder", "--name", "x", "--data", "/no/such/place"], capsys)
    assert code == 2 and "not fashion-mnist, wordnet" in err


def test_an_oversized_batch_is_refused(image_model, store, items, capsys, monkeypatch):
    import codec.embed.embedder as embedder

    monkeypatch.setattr(embedder, "MAX_BATCH", 3)
    code, _, err = run(["embed", "--model", "fm-tiny", *map(str, items)], capsys, store)
    assert code == 2 and "4 items exceed the batch limit of 3" in err
