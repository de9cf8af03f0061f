"""The vector codec on real vectors (Fashion-MNIST items as pixel vectors): budgets met by the bytes
on disk, decoded vectors within the quantizer's bound, and clear errors for bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codec import api, container
from codec.cli import main
from codec.errors import CorruptData, InvalidInput

from .conftest import pixel_vectors


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def recall_at_10(queries: np.ndarray, gallery: np.ndarray, decoded: np.ndarray) -> float:
    truth = np.argsort(-(queries @ gallery.T), axis=1)[:, :10]
    found = np.argsort(-(queries @ decoded.T), axis=1)[:, :10]
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found, strict=True)]))


@pytest.mark.parametrize("budget", [8.0, 32.0])
def test_cli_round_trip_meets_the_budget_from_the_bytes_on_disk(
    budget, gallery, gallery_file, tmp_path, capsys
):
    out = tmp_path / "g.ncv"
    code, text, err = run(
        [
            "encode",
            str(gallery_file),
            "--codec",
            "vectors",
            "--bytes-per-vector",
            str(budget),
            "-o",
            str(out),
        ],
        capsys,
    )
    assert code == 0, err
    per_vector = out.stat().st_size / len(gallery)
    assert 0.9 * budget <= per_vector <= budget
    assert f"{per_vector:.4f} bytes/vector" in text
    dec = tmp_path / "g.npy"
    code, text, err = run(["decode", str(out), "-o", str(dec)], capsys)
    assert code == 0, err
    assert f"wrote {len(gallery)} vectors" in text
    x = np.load(dec)
    assert x.shape == gallery.shape and x.dtype == np.float32
    assert np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5)  # unit inputs stay unit
    queries = pixel_vectors(100, "test")
    r = recall_at_10(queries, gallery, x)
    assert r > (0.3 if budget == 8 else 0.7)


def test_more_bytes_give_smaller_error(gallery_file, tmp_path):
    errs = []
    for b in (4.0, 16.0, 64.0):
        r = api.encode(gallery_file, tmp_path / f"{b}.ncv", "vectors", {"bytes_per_vector": b})
        errs.append(r.metrics["mse"])
        assert r.rate == (tmp_path / f"{b}.ncv").stat().st_size / 1000
    assert errs[0] > errs[1] > errs[2]


def test_decoded_coordinates_are_within_half_a_step(gallery, gallery_file, tmp_path):
    """Without renormalisation, each kept coordinate is off by at most step/2 (plus float16 basis
    rounding); the dropped coordinates are what the error consists of beyond that."""
    out = tmp_path / "g.ncv"
    api.encode(gallery_file, out, "vectors", {"bytes_per_vector": 24.0, "normalize": "no"})
    f = api.open(out)
    cfg = f.config
    assert cfg.basis == 1 and not cfg.unit_norm and 1 <= cfg.kept < 196
    api.decode(f, tmp_path / "d.npy")
    dec = np.load(tmp_path / "d.npy").astype(np.float64)
    basis = np.frombuffer(f.container.section("basis"), "<f2").astype(np.float64).reshape(196, cfg.kept)
    mean = (
        np.frombuffer(f.container.section("mean"), "<f2").astype(np.float64)
        if cfg.centered
        else np.zeros(196)
    )
    # Recover the codes from the decoded vectors: they are integers, and each is the nearest
    # multiple of the step to the input's coordinate on the stored basis.
    q = np.linalg.solve(basis.T @ basis, basis.T @ (dec - mean).T).T / cfg.step
    assert np.abs(q - np.rint(q)).max() < 1e-3
    y = (gallery.astype(np.float64) - mean) @ basis
    assert np.abs(y - np.rint(q) * cfg.step).max() <= cfg.step / 2 + 1e-5


def test_same_input_same_file(gallery_file, tmp_path):
    a, b = tmp_path / "a.ncv", tmp_path / "b.ncv"
    api.encode(gallery_file, a, "vectors", {"bytes_per_vector": 12.0})
    api.encode(gallery_file, b, "vectors", {"bytes_per_vector": 12.0})
    assert a.read_bytes() == b.read_bytes()


def test_max_dims_caps_what_is_kept(gallery_file, tmp_path):
    api.encode(gallery_file, tmp_path / "a.ncv", "vectors", {"bytes_per_vector": 64.0, "max_dims": 8})
    assert api.open(tmp_path / "a.ncv").config.kept <= 8


BAD = [
    ("nan", lambda g: np.where(np.arange(g.shape[0])[:, None] == 3, np.nan, g), "NaN or inf (first in row 3"),
    ("inf", lambda g: np.where(np.arange(g.shape[0])[:, None] == 0, np.inf, g), "NaN or inf"),
    ("1-D", lambda g: g[0], "2-D float array"),
    ("ints", lambda g: (g * 100).astype(np.int32), "2-D float array"),
    ("empty", lambda g: g[:0], "empty"),
]


@pytest.mark.parametrize("name, make, needle", BAD, ids=[b[0] for b in BAD])
def test_bad_vectors_exit_2_with_one_line(name, make, needle, gallery, tmp_path, capsys):
    src = tmp_path / "bad.npy"
    np.save(src, make(gallery))
    code, _, err = run(["encode", str(src), "--codec", "vectors", "-o", str(tmp_path / "o.ncv")], capsys)
    assert code == 2
    errors = [line for line in err.splitlines() if not line.startswith("[")]  # not the progress lines
    assert needle in err and len(errors) == 1 and "Traceback" not in err
    assert not (tmp_path / "o.ncv").exists()


def test_too_small_a_budget_says_what_fits(gallery_file, tmp_path):
    with pytest.raises(InvalidInput, match="bytes/vector"):
        api.encode(gallery_file, tmp_path / "o.ncv", "vectors", {"bytes_per_vector": 0.05})


def test_decode_refuses_other_outputs(gallery_file, tmp_path, capsys):
    api.encode(gallery_file, tmp_path / "g.ncv", "vectors", {"bytes_per_vector": 8.0})
    code, _, err = run(["decode", str(tmp_path / "g.ncv"), "-o", str(tmp_path / "g.png")], capsys)
    assert code == 2 and ".npy" in err


def _crafted(tmp_path: Path, src: Path, media: dict | None = None, keep=None, **params) -> Path:
    c = container.read_file(src)
    c.params.update(params)
    for k, v in (media or {}).items():
        setattr(c.media, k, v)
    if keep is not None:
        c.sections = keep(c.sections)
    out = tmp_path / "crafted.ncv"
    container.write_file(out, c)
    return out


HOSTILE = [
    ("nan step", {"step": float("nan")}, None, None, CorruptData, "not a finite number"),
    ("kept beyond dim", {"kept": 500}, None, None, CorruptData, "keeps 500 coordinates of 196-d"),
    ("bool for int", {"kept": True}, None, None, CorruptData, "'kept' must be int"),
    ("missing codes", {}, None, lambda s: s[:-1], CorruptData, "sections are"),
    ("more vectors than blocks", {}, {"count": 10**6}, None, CorruptData, "sections are"),
    ("short basis", {"kept": 7}, None, None, CorruptData, "section 'basis' holds"),
    ("stored-basis flag off", {"basis": 0}, None, None, CorruptData, "sections are"),
]


@pytest.mark.parametrize("name, params, media, keep, error, needle", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_crafted_headers_are_refused(name, params, media, keep, error, needle, gallery_file, tmp_path):
    src = tmp_path / "g.ncv"
    api.encode(gallery_file, src, "vectors", {"bytes_per_vector": 16.0})
    path = _crafted(tmp_path, src, media, keep, **params)
    with pytest.raises(error, match=needle):
        api.decode(path, tmp_path / "o.npy")
    assert not (tmp_path / "o.npy").exists()


def test_golden_file_decodes_to_the_committed_vectors(tmp_path):
    golden = Path(__file__).resolve().parent / "golden"
    api.decode(golden / "fmnist_pixels.ncv", tmp_path / "d.npy")
    got = np.load(tmp_path / "d.npy")
    want = np.load(golden / "fmnist_pixels.decoded.npy").astype(np.float32)
    assert got.shape == want.shape == (128, 196)
    assert np.abs(got - want).max() < 2e-3  # float16 storage of the expectation
