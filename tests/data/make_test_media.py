"""Regenerate tests/data/odd_37x29.mp4 from assets/carphone.mp4 (run from the repository root).

    .venv/bin/python tests/data/make_test_media.py
"""

from pathlib import Path

from codec.io import read_frames, write_video

ROOT = Path(__file__).resolve().parents[2]

if __name__ == "__main__":
    frames, info = read_frames(ROOT / "assets" / "carphone.mp4", 0, 8)
    crop = frames[:, 40:69, 70:107]  # (8, 29, 37, 3): odd on both axes, around the speaker's face
    write_video(ROOT / "tests" / "data" / "odd_37x29.mp4", crop, info.fps)
