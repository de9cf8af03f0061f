"""The shared structure-aware fuzzer, a short run over every registered codec (the long run is
bench/fuzz_long.py). A codec joins by having seed files: HNeRV's golden files, and here a file of
the test-only toy codec, fuzzed by the same harness with no code of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from skimage import data as skdata

from codec.io.image import write_image
from tests.toy_codec import register_toy, unregister_toy

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 40


def test_short_fuzz_run_finds_nothing(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    photo = tmp_path / "p.png"
    write_image(photo, skdata.astronaut()[:48, :64])
    register_toy()
    try:
        from codec import api

        api.encode(photo, seeds / "photo.toy", "toy", {"bits": 3})
    finally:
        unregister_toy()
    out = tmp_path / "fuzz.json"
    cmd = [
        *(sys.executable, "-m", "codec.fuzz", "--seconds", str(SECONDS), "--json", str(out)),
        *("--seeds", str(ROOT / "tests"), "--seeds", str(seeds)),
        *("--register", "tests.toy_codec:register_toy"),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=SECONDS + 120)
    report = json.loads(out.read_text())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report["failed"] == 0 and report["without_seeds"] == []
    from codec import api

    shipped = {c.name for c in api.load_codecs() if c.name != "toy"}
    assert set(report["codecs"]) == shipped | {"toy"} and {"hnerv", "vectors"} <= shipped
    for name, tally in report["codecs"].items():
        assert tally["cases"] >= 500, (name, tally["cases"])
        assert tally["outcomes"].get("decoded", 0) > 0 and tally["outcomes"].get("CorruptData", 0) > 0, name
        assert {"param", "section", "raw"} <= set(tally["mutations"]), name
        assert tally["slowest_s"] < 10
    assert report["peak_rss_bytes"] < 2 << 30
