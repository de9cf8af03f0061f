"""Codec registry: numeric ids are written into every file, so they are fixed forever.

Never renumber: add a new id. The CLI and the service look codecs up here instead of branching
on names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from codec.errors import InvalidInput
from codec.progress import ProgressCallback


class Codec(Protocol):
    codec_id: int
    name: str  # short name, also the file suffix (".hnerv")

    def encode(self, media: Any, options: Any, progress: ProgressCallback) -> bytes: ...

    def decode(self, data: bytes, **kwargs: Any) -> Any: ...


# Fixed ids. Reserve, never reuse.
CODEC_IDS: dict[str, int] = {
    "hnerv": 1,  # video, HNeRV
    "recombiner": 2,  # image, RECOMBINER
    "mrl": 3,  # embeddings, Matryoshka
    "bt2": 4,  # embeddings, backward-compatible
    "qlae": 5,  # latents, QLAE
    "raw-test": 255,  # container/entropy self-tests and golden files
}

_REGISTRY: dict[int, Callable[[], Codec]] = {}


def register_codec(name: str) -> Callable[[Callable[[], Codec]], Callable[[], Codec]]:
    """Decorator for a zero-argument factory; the id comes from CODEC_IDS, never from order."""
    codec_id = CODEC_IDS[name]

    def wrap(factory: Callable[[], Codec]) -> Callable[[], Codec]:
        _REGISTRY[codec_id] = factory
        return factory

    return wrap


def codec_name(codec_id: int) -> str:
    for name, cid in CODEC_IDS.items():
        if cid == codec_id:
            return name
    return f"unknown({codec_id})"


def get_codec(key: int | str) -> Codec:
    _load_builtin()
    codec_id = CODEC_IDS.get(key, -1) if isinstance(key, str) else key
    if codec_id not in _REGISTRY:
        raise InvalidInput(f"no codec registered for {key!r} (known: {sorted(CODEC_IDS)})")
    return _REGISTRY[codec_id]()


def _load_builtin() -> None:
    # Import for the side effect of registration; kept lazy so `codec info` does not import torch models.
    import codec.video.hnerv  # noqa: F401
