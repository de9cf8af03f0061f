"""Fixed-width bit packing for the low bits the entropy streams send uncoded."""

from __future__ import annotations

import numpy as np

_BLOCK = 1 << 16  # values per block; keeps the (n, bits) temporary small; n * bits stays byte-aligned


def packed_size(n: int, bits: int) -> int:
    return (n * bits + 7) // 8


def pack_bits(values: np.ndarray, bits: int) -> bytes:
    """Pack the low `bits` (0..64) of each uint64 value, little-endian bit order."""
    if bits == 0 or len(values) == 0:
        return b""
    if bits % 8 == 0:  # whole bytes: same layout as the bit loop below, much faster
        as_bytes = values.astype("<u8", copy=False).view(np.uint8).reshape(-1, 8)  # (n, 8)
        return as_bytes[:, : bits // 8].tobytes()
    shifts = np.arange(bits, dtype=np.uint64)
    parts = []
    for start in range(0, len(values), _BLOCK):
        block = values[start : start + _BLOCK].astype(np.uint64, copy=False)
        bitmat = ((block[:, None] >> shifts) & np.uint64(1)).astype(np.uint8)  # (B, bits)
        parts.append(np.packbits(bitmat.ravel(), bitorder="little").tobytes())
    return b"".join(parts)


def unpack_bits(buf: bytes, n: int, bits: int) -> np.ndarray:
    """Inverse of `pack_bits`; `buf` must hold `packed_size(n, bits)` bytes."""
    out = np.zeros(n, dtype=np.uint64)
    if bits == 0 or n == 0:
        return out
    raw = np.frombuffer(buf, dtype=np.uint8)
    if bits % 8 == 0:
        as_bytes = np.zeros((n, 8), dtype=np.uint8)
        as_bytes[:, : bits // 8] = raw[: n * bits // 8].reshape(n, bits // 8)
        return as_bytes.view("<u8").reshape(n).astype(np.uint64)
    shifts = np.arange(bits, dtype=np.uint64)
    bytes_per_block = _BLOCK * bits // 8
    for b, start in enumerate(range(0, n, _BLOCK)):
        count = min(_BLOCK, n - start)
        chunk = raw[b * bytes_per_block : b * bytes_per_block + packed_size(count, bits)]
        bitmat = np.unpackbits(chunk, count=count * bits, bitorder="little").reshape(count, bits)
        out[start : start + count] = (bitmat.astype(np.uint64) << shifts).sum(axis=1, dtype=np.uint64)
    return out
