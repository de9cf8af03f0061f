"""Shared fixtures: small real clips, cut once per session from the committed assets."""

from __future__ import annotations

from pathlib import Path

import pytest

from codec.io.video import read_frames, write_video

ROOT = Path(__file__).resolve().parents[2]
CARPHONE = ROOT / "assets" / "carphone.mp4"


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 real carphone frames, 176x144, written losslessly (FFV1) so tests see the true pixels."""
    frames, info = read_frames(CARPHONE, 0, 8)
    path = tmp_path_factory.mktemp("clips") / "carphone8.mkv"
    write_video(path, frames, info.fps)
    return path


@pytest.fixture(scope="session")
def odd_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 frames cropped to an odd 37x29 from real content."""
    frames, info = read_frames(CARPHONE, 0, 6)
    path = tmp_path_factory.mktemp("clips") / "odd.mkv"
    write_video(path, frames[:, 40:69, 60:97], info.fps)
    return path
