"""Committed files freeze the format: v1 files (from the v1 writer) must still read, and v2 files
must read and be reproduced byte for byte by this writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codec.container import (
    Container,
    ModelRef,
    Section,
    VideoMedia,
    describe,
    read,
    read_file,
    write,
)
from codec.container.media import BY_KIND

GOLDEN = Path(__file__).parent / "golden"
V1 = json.loads((GOLDEN / "v1" / "expected.json").read_text(encoding="utf-8"))
V2 = json.loads((GOLDEN / "v2" / "expected.json").read_text(encoding="utf-8"))


def _params(e: dict) -> dict:
    params = {}
    for key, p in e["params"].items():
        if p["type"] == "bytes":
            params[key] = bytes.fromhex(p["hex"])
        elif p["type"] == "float":
            params[key] = float.fromhex(p["hex"])
        else:
            params[key] = p["value"]
    return params


def _sections(e: dict) -> list[Section]:
    return [Section(s["name"], bytes.fromhex(s["hex"])) for s in e["sections"]]


def from_json_v1(e: dict) -> Container:
    """The v1 expectation as this reader returns it: video media, the one model with role 'model'."""
    m = e["model"]
    models = [] if m is None else [ModelRef(m["name"], m["version"], bytes.fromhex(m["sha256"]), "model")]
    return Container(e["codec_id"], _params(e), VideoMedia(**e["media"]), _sections(e), models)


def from_json_v2(e: dict) -> Container:
    models = [ModelRef(m["name"], m["version"], bytes.fromhex(m["sha256"]), m["role"]) for m in e["models"]]
    media = BY_KIND[e["media_kind"]](**e["media"])
    return Container(e["codec_id"], _params(e), media, _sections(e), models)


def _types(params: dict) -> dict:
    return {k: type(v).__name__ for k, v in params.items()}


@pytest.mark.parametrize("version, expected", [("v1", V1), ("v2", V2)])
def test_golden_set_is_complete(version, expected):
    files = sorted(p.name for p in (GOLDEN / version).glob("*.ncdc"))
    assert files == sorted(e["file"] for e in expected.values())
    assert len(files) >= 3


@pytest.mark.parametrize("name", sorted(V1))
def test_reads_v1_golden_file(name):
    e = V1[name]
    path = GOLDEN / "v1" / e["file"]
    data = path.read_bytes()
    assert len(data) == e["bytes"] and data[4:6] == b"\x01\x00"
    got, want = read(data), from_json_v1(e)
    assert got == want and got.format_version == 1
    assert _types(got.params) == _types(want.params)  # True must not come back as 1
    assert read_file(path) == want


@pytest.mark.parametrize("name", sorted(V2))
def test_reads_v2_golden_file_and_writer_reproduces_it(name):
    e = V2[name]
    path = GOLDEN / "v2" / e["file"]
    data = path.read_bytes()
    assert len(data) == e["bytes"] and data[4:6] == b"\x02\x00"
    got, want = read(data), from_json_v2(e)
    assert got == want and got.format_version == 2
    assert _types(got.params) == _types(want.params)
    assert read_file(path) == want
    assert write(want) == data


def test_v1_file_rewritten_is_v2_with_the_same_content():
    data = (GOLDEN / "v1" / "with_model.ncdc").read_bytes()
    old = read(data)
    new = read(write(old))
    assert new == old and new.format_version == 2


def test_golden_float_edge_values_are_bit_exact():
    for version in ("v1", "v2"):
        params = read((GOLDEN / version / "raw_params.ncdc").read_bytes()).params
        assert params["float_neg_zero"].hex() == "-0x0.0p+0"
        assert params["float_tiny"] == 5e-324
        assert params["int_min"] == -(2**63) and params["int_max"] == 2**63 - 1


def test_describe_golden_files():
    data = (GOLDEN / "v1" / "with_model.ncdc").read_bytes()
    info = describe(read(data), len(data))
    assert info["codec"] == "raw-test" and info["format_version"] == 1 and info["media_kind"] == "video"
    assert info["rate"] == pytest.approx(len(data) * 8 / (1920 * 1080 * 10)) and info["rate_unit"] == "bpp"
    assert [(s["name"], s["bytes"]) for s in info["sections"]] == [("embeddings", 30), ("decoder", 40)]
    assert info["header_bytes"] == len(data) - 70
    assert info["models"][0]["sha256"] == V1["with_model"]["model"]["sha256"]
    data = (GOLDEN / "v2" / "vectors.ncdc").read_bytes()
    info = describe(read(data), len(data))
    assert info["media_kind"] == "vectors" and info["rate_unit"] == "bytes/vector"
    assert info["rate"] == pytest.approx(len(data) / 10_000_000)
    assert [m["role"] for m in info["models"]] == ["embedder"]
    json.dumps(info)  # `codec info --json` must be able to print it
