"""The engine interface: what `index.py` needs from Qdrant Edge and from a Qdrant server alike.

Points are (int id, named prefix vectors, payload); ids are 63-bit hashes of the caller's
external ids (`point_id`), which the payload keeps. Both engines get the same search plans
(`Search.stages`): nested prefetches, innermost first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from codec.index.spec import CollectionSpec, Hit, Search


def payload_filter(models: Any, f: dict[str, Any] | None) -> Any:
    """A payload filter (every field must match one of its values) in the engine's own classes:
    qdrant_edge and qdrant_client.models name them alike (Filter, FieldCondition, MatchValue,
    MatchAny)."""
    if not f:
        return None
    conds = []
    for key, v in f.items():
        values = v if isinstance(v, list) else [v]
        match = models.MatchValue(value=values[0]) if len(values) == 1 else models.MatchAny(any=values)
        conds.append(models.FieldCondition(key=key, match=match))
    return models.Filter(must=conds)


def point_id(ext_id: str) -> int:
    """A stable 63-bit id for an external id (collisions: ~1e-7 at 1M points)."""
    return int.from_bytes(hashlib.sha256(ext_id.encode()).digest()[:8], "big") >> 1


class Backend(Protocol):
    def create(self, spec: CollectionSpec) -> None: ...
    def spec(self, name: str) -> CollectionSpec: ...
    def names(self) -> list[str]: ...
    def count(self, name: str, filter: dict[str, Any] | None = None) -> int: ...
    def drop(self, name: str) -> None: ...
    def upsert(
        self, name: str, ids: Sequence[int], vectors: dict[int, np.ndarray], payloads: list[dict]
    ) -> None: ...
    def delete(self, name: str, ids: Sequence[int]) -> None: ...
    def set_spec(self, spec: CollectionSpec) -> None: ...  # replace the record (upgrade)
    def existing(self, name: str, ids: Sequence[int]) -> set[int]: ...  # which of ids are stored
    def search(
        self, spec: CollectionSpec, queries: dict[int, np.ndarray], search: Search
    ) -> list[list[Hit]]: ...  # the caller has read the spec: one round trip less
    def scroll(self, name: str, batch: int) -> Iterator[tuple[list[int], np.ndarray, list[dict]]]: ...
    def optimize(self, name: str) -> bool: ...
    def flush(self, name: str) -> None: ...
    def close(self) -> None: ...
