"""Fixed codec ids: written into every file, so they never change meaning.

A leaf module (it imports nothing from the project): the container names codecs through it, and
codecs never need to import each other. Never renumber or reuse an id; add a new one.
"""

from __future__ import annotations

CODEC_IDS: dict[str, int] = {
    "hnerv": 1,  # video, HNeRV
    "recombiner": 2,  # image, RECOMBINER
    "vectors": 3,  # retrieval vectors (MRL / BT2 embeddings)
    "qlae": 5,  # latents, QLAE
    "raw-test": 255,  # container/entropy self-tests and golden files
}
RESERVED_IDS: frozenset[int] = frozenset({4})  # once planned for a second embedding codec; never reuse
# Codecs defined outside a release (tests, experiments) take ids from this range; no shipped file uses it.
EXPERIMENTAL_IDS = range(240, 255)


def codec_name(codec_id: int) -> str:
    """The name for an id, or a readable placeholder (for error messages about foreign files)."""
    for name, cid in CODEC_IDS.items():
        if cid == codec_id:
            return name
    if codec_id in RESERVED_IDS:
        return f"reserved({codec_id})"
    return f"unknown({codec_id})"
