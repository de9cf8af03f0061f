"""`codec index ...` on the data dir (embedded engine) and through `--index-url local:PATH`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from codec.cli import main
from tests.index.test_index import pca_ordered
from tests.vectors.conftest import pixel_vectors


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture(params=["embedded", "url"])
def where(request, tmp_path) -> list[str]:
    if request.param == "url":
        return ["--index-url", f"local:{tmp_path / 'q'}", "--data-dir", str(tmp_path)]
    return ["--data-dir", str(tmp_path)]


def test_create_add_search_snapshot_restore(where, tmp_path, capsys):
    g = pca_ordered(pixel_vectors(300))
    np.save(tmp_path / "gallery.npy", g)
    np.save(tmp_path / "queries.npy", g[:3] + 0.01)
    code, out, err = run(["index", "create", "fm", "--dims", "16,196", *where], capsys)
    assert code == 0 and "prefixes 16, 196" in out, err
    code, out, err = run(
        ["index", "add", "fm", str(tmp_path / "gallery.npy"), "--label", "shirt", *where], capsys
    )
    assert code == 0 and "added 300 points to fm (300 in all)" in out, err
    code, out, err = run(
        ["index", "search", "fm", str(tmp_path / "queries.npy"), "--k", "3", "--json", *where], capsys
    )
    assert code == 0, err
    first = [json.loads(line) for line in out.splitlines()]
    assert [r["hits"][0]["id"] for r in first] == ["gallery:0", "gallery:1", "gallery:2"]
    assert first[0]["hits"][0]["label"] == "shirt"
    code, out, _ = run(
        ["index", "search", "fm", str(tmp_path / "queries.npy"), "--filter", "label=coat", *where], capsys
    )
    assert code == 0 and out.count("  1. ") == 0  # nothing carries that label
    code, out, _ = run(["index", "info", "fm", *where], capsys)
    assert code == 0 and json.loads(out)["points"] == 300
    snap = tmp_path / "fm.snapshot"
    code, out, err = run(["index", "snapshot", "fm", "-o", str(snap), *where], capsys)
    assert code == 0 and "wrote 300 points" in out, err
    code, out, err = run(["index", "restore", str(snap), "--name", "fm2", *where], capsys)
    assert code == 0 and "restored fm2: 300 points" in out, err
    code, out, err = run(["index", "delete", "fm", "--id", "gallery:0", *where], capsys)
    assert code == 0 and "(299 points left)" in out, err
    code, out, _ = run(["index", "list", *where], capsys)
    assert code == 0 and "fm " in out and "fm2" in out
    code, out, _ = run(["index", "delete", "fm2", *where], capsys)
    assert code == 0 and "deleted collection fm2" in out


BAD = [
    (["index", "search", "nope", "Q"], "no collection named nope"),
    (["index", "create", "Bad Name", "--dims", "8,16"], "collection names are"),
    (["index", "create", "x", "--dims", "16,8"], "ascending"),
    (["index", "create", "x"], "give --model"),
    (["index", "create", "x", "--model", "nope"], "no model named nope"),
]


@pytest.mark.parametrize("args, needle", BAD, ids=[b[1][:18] for b in BAD])
def test_bad_index_requests_exit_2(args, needle, tmp_path, capsys):
    q = tmp_path / "q.npy"
    np.save(q, np.ones((1, 4), np.float32))
    args = [str(q) if a == "Q" else a for a in args]
    code, _, err = run([*args, "--data-dir", str(tmp_path)], capsys)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err


def test_wrong_length_vectors_exit_2(tmp_path, capsys):
    assert main(["index", "create", "c", "--dims", "8,16", "--data-dir", str(tmp_path)]) == 0
    bad = tmp_path / "bad.npy"
    np.save(bad, np.ones((3, 12), np.float32))
    code, _, err = run(["index", "add", "c", str(bad), "--data-dir", str(tmp_path)], capsys)
    assert code == 2 and "must be 16-d vectors" in err
    np.save(bad, np.full((3, 16), np.nan, np.float32))
    code, _, err = run(["index", "add", "c", str(bad), "--data-dir", str(tmp_path)], capsys)
    assert code == 2 and "NaN or inf" in err
