"""The committed HNeRV files must keep decoding to the same picture (they freeze payload v1).

`odd_37x29.hnerv` was written by the v1 container writer, before the codec registry existed;
`odd_37x29_v2.hnerv` by the current one. Both decode, with one CPU thread, to their committed
frames within one code value at fp32 (float conv results may differ in the last bit across CPUs),
and in bf16 (what `--precision auto` picks on CPUs with AMX) within a few, at the same PSNR.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from codec import api, container
from codec.io.video import read_frames
from codec.metrics import psnr
from codec.video.hnerv.decode import decode_frames

GOLDEN = Path(__file__).resolve().parent / "golden"
SOURCE = Path(__file__).resolve().parents[1] / "data" / "odd_37x29.mp4"
EXPECTED = json.loads((GOLDEN / "expected.json").read_text())


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", sorted(EXPECTED["files"]))
def test_golden_file_decodes_to_the_committed_frames(name):
    e = EXPECTED["files"][name]
    path = GOLDEN / name
    c = container.read_file(path)
    assert c.format_version == e["format_version"]
    assert c.params["payload"] == 1 and c.params["segments"] == [2, 2]
    assert {s.name: hashlib.sha256(s.data).hexdigest() for s in c.sections} == e["sections_sha256"]
    decoded = np.stack(list(decode_frames(path, device="cpu", precision="fp32")))
    assert decoded.shape == (e["frames"], e["height"], e["width"], 3)
    frozen = np.load(path.with_suffix(".frames.npy"))
    assert np.abs(decoded.astype(int) - frozen.astype(int)).max() <= 1
    source, _ = read_frames(SOURCE, 0, e["frames"])
    assert psnr(decoded, source).mean == pytest.approx(e["psnr"], abs=0.05)
    fast = np.stack(list(decode_frames(path, device="cpu", precision="bf16")))  # the default on AMX CPUs
    assert np.abs(fast.astype(int) - frozen.astype(int)).max() <= 6
    assert psnr(fast, source).mean == pytest.approx(e["psnr"], abs=0.05)


def test_both_container_versions_decode_through_the_registry(tmp_path):
    for name in EXPECTED["files"]:
        f = api.open(GOLDEN / name)
        assert f.codec.name == "hnerv" and f.describe()["codec_info"]["segments"] == 2
        assert api.decode(f, tmp_path / f"{name}.mkv", {"device": "cpu"}).items == 4


def test_a_v1_file_rewritten_as_v2_keeps_its_payload_bit_for_bit():
    v1 = container.read_file(GOLDEN / "odd_37x29.hnerv")
    v2 = container.read(container.write(v1))
    assert v2.format_version == 2 and v2 == v1
    np.testing.assert_array_equal(np.stack(list(decode_frames(v2))), np.stack(list(decode_frames(v1))))
