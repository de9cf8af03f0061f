"""Thin, memory-safe wrapper around compressai's rANS coder (symbols in [0, K) of one CDF, or of
one of several CDFs chosen per symbol by an index).

compressai's C++ coder has three sharp edges this module keeps away from:
- the encoder's output buffer holds one 32-bit word per symbol and the final flush writes two, so
  fewer than ~6 symbols overrun the heap: callers must pass at least `MIN_SYMBOLS`;
- the decoder reads words without bounds checks: at most 2 + one per symbol without bypass coding
  (made unreachable, see `cdf_for_compressai`), so each payload is zero-padded to that size;
- table indexes are not checked either (an index past the last CDF reads out of bounds), so the
  indexed calls check them here;
- the encoder keeps each symbol's frequency in 16 bits and divides by it: a symbol of frequency 0,
  or of frequency 2**16 (the only codable symbol of its table) is a division by zero. Callers pass
  in-range symbols of nonzero frequency and leave certain symbols out (they cost nothing anyway).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import math
import sys
import threading
from types import ModuleType

import numpy as np

from codec.errors import CorruptData

MIN_SYMBOLS = 16  # <= 16 bits/symbol (every frequency >= 1) + 64-bit flush fits the 1 word/symbol buffer
CHUNK_SYMBOLS = 1 << 20  # one rANS call per chunk bounds the Python lists compressai's bindings build

_lock = threading.Lock()
_ans: ModuleType | None = None


def _load_ans() -> ModuleType:
    """Import `compressai.ans` without `compressai/__init__`, which pulls in torch and its model zoo
    (~10 s); the compiled extension needs none of that. Falls back to the normal import."""
    global _ans
    with _lock:
        if _ans is not None:
            return _ans
        mod = sys.modules.get("compressai.ans")
        if mod is None:
            pkg = importlib.util.find_spec("compressai")
            spec = None
            if pkg is not None and pkg.submodule_search_locations:
                spec = importlib.machinery.PathFinder.find_spec(
                    "compressai.ans", pkg.submodule_search_locations
                )
            if spec is not None and spec.loader is not None:
                mod = importlib.util.module_from_spec(spec)
                sys.modules["compressai.ans"] = mod  # shared with a later `import compressai`
                spec.loader.exec_module(mod)
            else:
                mod = importlib.import_module("compressai.ans")
        _ans = mod
        return mod


def chunk_sizes(n: int) -> list[int]:
    """Split n symbols into near-equal rANS chunks; all >= MIN_SYMBOLS when n >= MIN_SYMBOLS."""
    if n == 0:
        return []
    k = math.ceil(n / CHUNK_SYMBOLS)
    base, extra = divmod(n, k)
    return [base + 1] * extra + [base] * (k - extra)


def max_payload_bytes(n: int) -> int:
    """The encoder's buffer size for n symbols: no valid payload is longer."""
    return 4 * n


def encode_chunk(symbols: np.ndarray, cdf: list[int]) -> bytes:
    """Code symbols (ints in [0, len(cdf) - 2), each with a nonzero frequency) with one CDF."""
    return _encode(symbols.tolist(), [0] * len(symbols), [cdf])


def encode_chunk_indexed(symbols: np.ndarray, indexes: np.ndarray, cdfs: list[list[int]]) -> bytes:
    """Code symbol i with CDF `cdfs[indexes[i]]` (each symbol in range, with a nonzero frequency)."""
    _check_indexes(indexes, len(symbols), len(cdfs))
    return _encode(symbols.tolist(), indexes.tolist(), cdfs)


def _encode(symbols: list[int], indexes: list[int], cdfs: list[list[int]]) -> bytes:
    n = len(symbols)
    if n < MIN_SYMBOLS:
        raise ValueError(f"rANS chunk needs >= {MIN_SYMBOLS} symbols, got {n}")
    enc = _load_ans().RansEncoder()
    return enc.encode_with_indexes(symbols, indexes, cdfs, [len(c) for c in cdfs], [0] * len(cdfs))


def decode_chunk(payload: bytes, cdf: list[int], n: int) -> np.ndarray:
    """Decode n symbols; garbage payloads give garbage symbols in range, never a stray read."""
    return _decode(payload, [0] * n, [cdf])


def decode_chunk_indexed(payload: bytes, indexes: np.ndarray, cdfs: list[list[int]]) -> np.ndarray:
    """Decode one symbol per index with CDF `cdfs[index]`; garbage gives in-range symbols, as above."""
    _check_indexes(indexes, len(indexes), len(cdfs))
    return _decode(payload, indexes.tolist(), cdfs)


def _decode(payload: bytes, indexes: list[int], cdfs: list[list[int]]) -> np.ndarray:
    n = len(indexes)
    if n < MIN_SYMBOLS:
        raise CorruptData(f"entropy stream: rANS chunk of {n} symbols (< {MIN_SYMBOLS})")
    if len(payload) % 4 or not 8 <= len(payload) <= max_payload_bytes(n):
        raise CorruptData(f"entropy stream: bad rANS payload size {len(payload)} for {n} symbols")
    padded = payload + bytes(4 * (n + 2) - len(payload))
    dec = _load_ans().RansDecoder()
    out = dec.decode_with_indexes(padded, indexes, cdfs, [len(c) for c in cdfs], [0] * len(cdfs))
    return np.fromiter(out, dtype=np.int64, count=n)


def _check_indexes(indexes: np.ndarray, n: int, n_tables: int) -> None:
    """compressai indexes its CDF vector unchecked: a bad index would read out of bounds."""
    if indexes.ndim != 1 or len(indexes) != n:
        raise ValueError(f"rANS chunk: {indexes.shape} indexes for {n} symbols")
    if n and (int(indexes.min()) < 0 or int(indexes.max()) >= n_tables):
        raise ValueError(f"rANS chunk: table index outside [0, {n_tables})")
