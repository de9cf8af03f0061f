"""Models built from the store, kept once per (model, weights, variant): decoding many small files
(a server, the fuzzer) does not rebuild a network each time. Built models are used read-only."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from codec.models.store import StoredModel

T = TypeVar("T")


class BuiltModels(Generic[T]):
    """A small LRU of what `build(stored)` returns, keyed by the stored model's spec and SHA-256."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._items: OrderedDict[tuple, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, stored: StoredModel, build: Callable[[StoredModel], T], variant: Hashable = None) -> T:
        key = (stored.manifest.spec, stored.manifest.weights.sha256, variant)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        built = build(stored)
        with self._lock:
            self._items[key] = built
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return built
