"""Crafted HNeRV files, built the way an attacker would: a valid file with edited header values and
the CRCs recomputed (`container.write` does that). Each is refused before anything big is built,
with one line: CorruptData for what no encoder writes, ResourceLimit for what costs too much."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

import codec
from codec import container
from codec.errors import CorruptData, ResourceLimit

GOLDEN = Path(__file__).resolve().parent / "golden" / "odd_37x29_v2.hnerv"


def crafted(tmp_path: Path, media: dict | None = None, drop: tuple[str, ...] = (), **params) -> Path:
    c = container.read_file(GOLDEN)
    c.params.update(params)
    n = len(c.params["segments"])
    if n > 2:  # a section pair per claimed segment, copied from segment 0 (sizes are what is checked)
        w0, e0 = c.section("w0"), c.section("e0")
        c.sections = [container.Section(f"{t}{k}", d) for k in range(n) for t, d in (("w", w0), ("e", e0))]
    for k, v in (media or {}).items():
        setattr(c.media, k, v)
    c.sections = [sec for sec in c.sections if sec.name not in drop]
    out = tmp_path / "crafted.hnerv"
    container.write_file(out, c)
    return out


CASES = [
    ("bool for an int", {"fc_dim": True}, None, CorruptData, "'fc_dim' must be int"),
    ("even kernel", {"ks": [1, 3, 4, 5, 5]}, None, CorruptData, "kernel sizes must be odd"),
    ("kernels per block", {"ks": [1, 3, 5]}, None, CorruptData, "3 kernel sizes for 5 blocks"),
    ("huge padding", None, {"pad_h": 60000}, CorruptData, "not below the stride product"),
    ("stride vs size", {"strides": [4, 3, 1, 1, 1]}, None, CorruptData, "not a multiple of the stride"),
    ("unknown param", {"extra": 1}, None, CorruptData, r"unexpected parameter\(s\) extra"),
    ("payload version", {"payload": 9}, None, CorruptData, "payload version 9"),
    # A 5 KB file whose weights would need gigabytes: the stream cannot hold them.
    ("weights from nothing", {"fc_dim": 1400}, None, CorruptData, "cannot hold 175639691 weights"),
    ("decoder too big", {"fc_dim": 4096, "lower_width": 1024}, None, CorruptData, "beyond the limit"),
    ("segment without sections", {"drop": ("e1",)}, None, CorruptData, "missing section 'e1' for segment 1"),
    # 512 GiB of embeddings: one segment of 2^24 frames of a stride-1 model.
    ("embedding memory", {"strides": [1, 1, 1, 1, 1], "segments": [2**24], "weight_bits": [8]},
     {"frames": 2**24, "pad_h": 0, "pad_w": 0}, ResourceLimit, "of memory"),
    # 16M frames in 2048 small segments: tiny memory, but hours of work and 16M frames out.
    ("frames from nothing", {"segments": [8192] * 2048, "weight_bits": [8] * 2048},
     {"frames": 8192 * 2048}, ResourceLimit, "items"),
]  # fmt: skip


@pytest.mark.parametrize("name, params, media, error, needle", CASES, ids=[c[0] for c in CASES])
def test_crafted_header_is_refused_before_allocating(name, params, media, error, needle, tmp_path):
    path = crafted(tmp_path, media, **(params or {}))
    tracemalloc.start()
    try:
        with pytest.raises(error, match=needle) as info:
            f = codec.open(path)
            codec.decode(f, tmp_path / "out.mkv", {"device": "cpu"})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "\n" not in str(info.value) and str(tmp_path) not in str(info.value)
    assert peak < 64 << 20, f"{peak / 2**20:.0f} MiB allocated before refusing"
    assert not (tmp_path / "out.mkv").exists()


def test_the_cli_says_one_line_and_exits_2(tmp_path, capsys):
    from codec.cli import main

    path = crafted(tmp_path, None, ks=[1, 3, 4, 5, 5])
    assert main(["decode", str(path), "-o", str(tmp_path / "o.mkv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "kernel sizes must be odd" in err and "Traceback" not in err


def test_info_describes_a_file_too_costly_to_decode(tmp_path, capsys):
    import json

    from codec.cli import main

    path = crafted(tmp_path, {"frames": 8192 * 2048}, segments=[8192] * 2048, weight_bits=[8] * 2048)
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["decode_cost"]["items"] == 8192 * 2048 and info["codec_info"]["segments"] == 2048
    assert main(["decode", str(path), "-o", str(tmp_path / "o.mkv")]) == 2
    assert "CODEC_MAX_DECODE_ITEMS" in capsys.readouterr().err
