"""Write the golden entropy streams that freeze format v1.

Run from the repository root:  .venv/bin/python -m tests.entropy.make_golden [--force]

Each case is one array (kept as JSON in golden/expected.json) and its stream (golden/<name>.bin).
The test decodes the files and checks that `encode_ints` still writes them byte for byte, which
also pins the planner's choices. Regenerating them is a format change: only together with a
FORMAT_VERSION bump (keep the old files for the old version).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from codec.entropy import decode_ints, encode_ints

GOLDEN = Path(__file__).parent / "golden"


def cases() -> dict[str, list[int]]:
    rng = np.random.default_rng(2024)
    i32 = np.iinfo(np.int32)
    i64 = np.iinfo(np.int64)
    laplace = np.round(rng.laplace(0, 3, 400)).astype(np.int64)
    return {
        "empty": [],
        "const": [-7] * 25,
        "raw_tiny": [3, -1, 7, 0, 12],
        "laplace": laplace.tolist(),  # rANS + 2 raw low bits (400 values: a small table wins)
        "sparse": (3 * np.round(rng.laplace(0, 2, 1000))).astype(np.int64).tolist(),  # zero-run table
        "escape": np.concatenate([laplace[:300], [i32.min, i32.max, i64.min, i64.max]]).tolist(),
        "shift": (rng.integers(0, 1 << 20, 200) * np.arange(1, 201) // 200).tolist(),  # rANS + raw low bits
        "binary": (rng.random(500) < 0.1).astype(int).tolist(),
    }


def main(force: bool) -> None:
    GOLDEN.mkdir(exist_ok=True)
    expected = cases()
    for name, values in expected.items():
        data = encode_ints(np.array(values, dtype=np.int64))
        assert decode_ints(data).tolist() == values
        path = GOLDEN / f"{name}.bin"
        if path.exists() and path.read_bytes() != data and not force:
            sys.exit(f"{path} would change: that is a format change (use --force with a version bump)")
        path.write_bytes(data)
    (GOLDEN / "expected.json").write_text(json.dumps(expected, indent=None) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(force="--force" in sys.argv)
