"""Regenerate the gRPC stubs in codec/_proto from proto/codec/v1 (also done on first import)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codec.rpc.generate import OUT_DIR, ensure_stubs  # noqa: E402

if __name__ == "__main__":
    ensure_stubs(force=True)
    print(f"stubs written to {OUT_DIR}")
