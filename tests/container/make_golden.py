"""Write the golden container files that freeze format v2 (the newest).

Run from the repository root:  .venv/bin/python -m tests.container.make_golden [--force]

The files under tests/container/golden/v2/ are committed; tests read them and also check that
`write` still reproduces them byte for byte. Regenerating them is a format change: only do it
together with a FORMAT_VERSION bump, into a new folder, keeping the old files for the old version
(golden/v1/ was written by the v1 writer, which no longer exists: those files are frozen for good).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict
from pathlib import Path

from codec.container import (
    Container,
    ImageMedia,
    LatentMedia,
    ModelRef,
    Section,
    VectorMedia,
    VideoMedia,
    write,
)

GOLDEN = Path(__file__).parent / "golden" / "v2"
I64_MIN, I64_MAX = -(2**63), 2**63 - 1

CASES: dict[str, Container] = {
    # Every param type with edge values, two sections.
    "raw_params": Container(
        codec_id=255,
        params={
            "int_zero": 0,
            "int_min": I64_MIN,
            "int_max": I64_MAX,
            "int_neg": -12345,
            "float_tenth": 0.1,
            "float_neg_zero": -0.0,
            "float_big": 1.7976931348623157e308,
            "float_tiny": 5e-324,
            "str_empty": "",
            "str_utf8": "héllo, 世界",
            "bytes_empty": b"",
            "bytes_all": bytes(range(256)),
            "ints_empty": [],
            "ints": [0, 1, -1, I64_MIN, I64_MAX, 3],
            "flag_on": True,
            "flag_off": False,
        },
        media=VideoMedia(width=64, height=48),
        sections=[Section("meta", b"hello golden"), Section("payload", bytes(range(256)) * 2)],
    ),
    # A video file that depends on two external models.
    "with_models": Container(
        codec_id=255,
        params={"arch": "hnerv-test", "fc_dim": 96, "ks": [1, 3, 3], "lr": 0.001, "quant_bits": 8},
        media=VideoMedia(
            width=1920, height=1080, frames=10, fps_num=30000, fps_den=1001, pix_fmt="yuv420p", pad_h=8
        ),
        sections=[Section("embeddings", b"\x01\x02\x03" * 10), Section("decoder", b"\xff" * 40)],
        models=[
            ModelRef("test-model", "v3", hashlib.sha256(b"neural-codec test weights").digest(), "decoder"),
            ModelRef("test-old", "v1", hashlib.sha256(b"older weights").digest(), "compatible-with"),
        ],
    ),
    "image": Container(
        codec_id=255, params={"q": 7}, media=ImageMedia(768, 512, 3), sections=[Section("z", b"\x05" * 9)]
    ),
    "vectors": Container(
        codec_id=255,
        params={"dims": [8, 16, 32, 64]},
        media=VectorMedia(10_000_000, 768, "float32"),
        sections=[Section("codes", bytes(range(64)))],
        models=[ModelRef("mrl-text", "v1", hashlib.sha256(b"embedder").digest(), "embedder")],
    ),
    "latents": Container(
        codec_id=255, params={}, media=LatentMedia(50_000, 10), sections=[Section("c", b"")]
    ),
    # The smallest valid file: no params, no sections.
    "minimal": Container(codec_id=255, params={}, media=ImageMedia(width=1, height=1, channels=1)),
}


def to_json(c: Container) -> dict:
    """Typed description of a container: the expected content the tests compare against."""
    params = {}
    for key, value in c.params.items():
        if isinstance(value, bool):
            params[key] = {"type": "bool", "value": value}
        elif isinstance(value, int):
            params[key] = {"type": "int", "value": value}
        elif isinstance(value, float):
            params[key] = {"type": "float", "value": value, "hex": value.hex()}
        elif isinstance(value, str):
            params[key] = {"type": "str", "value": value}
        elif isinstance(value, bytes):
            params[key] = {"type": "bytes", "hex": value.hex()}
        else:
            params[key] = {"type": "list[int]", "value": list(value)}
    return {
        "codec_id": c.codec_id,
        "media_kind": c.media.KIND,
        "media": asdict(c.media),
        "params": params,
        "models": [
            {"role": m.role, "name": m.name, "version": m.version, "sha256": m.sha256.hex()} for m in c.models
        ],
        "sections": [{"name": s.name, "hex": s.data.hex()} for s in c.sections],
    }


def main(force: bool) -> None:
    GOLDEN.mkdir(exist_ok=True)
    expected = {}
    for name, container in CASES.items():
        path = GOLDEN / f"{name}.ncdc"
        data = write(container)
        if path.exists() and path.read_bytes() != data and not force:
            sys.exit(f"{path} exists and differs; v1 is frozen (use --force only with a version bump)")
        path.write_bytes(data)
        expected[name] = {"file": path.name, "bytes": len(data), **to_json(container)}
    text = json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
    (GOLDEN / "expected.json").write_text(text, encoding="utf-8")
    print(f"wrote {len(CASES)} golden files to {GOLDEN}")


if __name__ == "__main__":
    main(force="--force" in sys.argv[1:])
