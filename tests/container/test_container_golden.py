"""Format v1 is frozen by committed files: this reader must read them and this writer reproduce them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codec.container import Container, MediaInfo, ModelRef, Section, describe, read, read_file, write

GOLDEN = Path(__file__).parent / "golden"
EXPECTED = json.loads((GOLDEN / "expected.json").read_text(encoding="utf-8"))


def from_json(e: dict) -> Container:
    """Rebuild the expected container from the typed JSON (independent of make_golden's objects)."""
    params = {}
    for key, p in e["params"].items():
        if p["type"] == "bytes":
            params[key] = bytes.fromhex(p["hex"])
        elif p["type"] == "float":
            params[key] = float.fromhex(p["hex"])
        else:
            params[key] = p["value"]
    model = e["model"] and ModelRef(
        e["model"]["name"], e["model"]["version"], bytes.fromhex(e["model"]["sha256"])
    )
    sections = [Section(s["name"], bytes.fromhex(s["hex"])) for s in e["sections"]]
    return Container(e["codec_id"], params, MediaInfo(**e["media"]), sections, model)


def _types(params: dict) -> dict:
    return {k: type(v).__name__ for k, v in params.items()}


def test_golden_set_is_complete():
    assert sorted(EXPECTED) == ["minimal", "raw_params", "with_model"]
    assert sorted(p.name for p in GOLDEN.glob("*.ncdc")) == sorted(e["file"] for e in EXPECTED.values())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reads_golden_file(name):
    e = EXPECTED[name]
    data = (GOLDEN / e["file"]).read_bytes()
    assert len(data) == e["bytes"]
    got, want = read(data), from_json(e)
    assert got == want
    assert _types(got.params) == _types(want.params)  # True must not come back as 1
    assert read_file(GOLDEN / e["file"]) == want


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_writer_reproduces_golden_bytes(name):
    e = EXPECTED[name]
    assert write(from_json(e)) == (GOLDEN / e["file"]).read_bytes()


def test_golden_float_edge_values_are_bit_exact():
    params = read((GOLDEN / "raw_params.ncdc").read_bytes()).params
    assert params["float_neg_zero"].hex() == "-0x0.0p+0"
    assert params["float_tiny"] == 5e-324
    assert params["int_min"] == -(2**63) and params["int_max"] == 2**63 - 1


def test_describe_golden_video():
    data = (GOLDEN / "with_model.ncdc").read_bytes()
    info = describe(read(data), len(data))
    assert info["codec"] == "raw-test" and info["format_version"] == 1
    assert info["bpp"] == pytest.approx(len(data) * 8 / (1920 * 1080 * 10))
    assert [(s["name"], s["bytes"]) for s in info["sections"]] == [("embeddings", 30), ("decoder", 40)]
    assert info["header_bytes"] == len(data) - 70
    assert info["model"]["sha256"] == EXPECTED["with_model"]["model"]["sha256"]
    json.dumps(info)  # `codec info --json` must be able to print it
