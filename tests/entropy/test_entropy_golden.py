"""Entropy stream format v1 is frozen by committed files (see make_golden.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from codec.entropy import FORMAT_VERSION, decode_ints, encode_ints

GOLDEN = Path(__file__).parent / "golden"
EXPECTED: dict[str, list[int]] = json.loads((GOLDEN / "expected.json").read_text(encoding="utf-8"))


def test_golden_set_is_complete() -> None:
    assert FORMAT_VERSION == 1
    assert sorted(p.stem for p in GOLDEN.glob("*.bin")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_golden_decodes(name: str) -> None:
    data = (GOLDEN / f"{name}.bin").read_bytes()
    assert data[0] == FORMAT_VERSION
    assert decode_ints(data).tolist() == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_encoder_reproduces_golden(name: str) -> None:
    """Same bytes on every machine: the CDFs come from integer arithmetic only."""
    data = (GOLDEN / f"{name}.bin").read_bytes()
    assert encode_ints(np.array(EXPECTED[name], dtype=np.int64)) == data
