"""The shipped embedders answer `codec embed` at every nesting dim, offline, and still separate
what they were trained to separate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from codec.cli import main
from codec.models import ModelStore

DATA = Path(__file__).resolve().parents[1] / "data"


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.mark.parametrize("spec", ["fmnist-mrl@v1", "wordnet-mrl@v1"])
def test_shipped_embedder_answers_every_nesting_dim(spec, tmp_path, capsys):
    m = ModelStore(tmp_path).get(spec)
    assert m.shipped and m.manifest.kind == "embedder" and m.manifest.license
    dims = m.manifest.arch["dims"]
    assert dims == [8, 16, 32, 64, 128, 256]
    if spec.startswith("fmnist"):
        with np.load(DATA / "fashion_mnist_small.npz") as d:
            imgs, labels = d["test_x"][:40], d["test_y"][:40]
        paths = []
        for i, a in enumerate(imgs):
            paths.append(str(tmp_path / f"{i}.png"))
            Image.fromarray(a).save(paths[-1])
        inputs = paths
    else:
        lines = (DATA / "wordnet_small.tsv").read_text().splitlines()[:40]
        labels = np.array([line.split("\t")[0] for line in lines])
        (tmp_path / "t.txt").write_text("\n".join(line.split("\t")[1] for line in lines) + "\n")
        inputs = [str(tmp_path / "t.txt")]
    for dim in dims:
        args = ["embed", "--model", spec, "--dim", str(dim), *inputs, "--data-dir", str(tmp_path)]
        code, out, err = run(args, capsys)
        assert code == 0, err
        v = np.array([json.loads(x)["vector"] for x in out.splitlines()])
        assert v.shape == (40, dim)
        # nearest other item shares the label far more often than chance, even at 8 dims
        sim = v @ v.T
        np.fill_diagonal(sim, -2)
        agree = np.mean(labels[sim.argmax(1)] == labels)
        assert agree > 0.5, (dim, agree)
