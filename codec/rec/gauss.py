"""Standard normal draws from integers, the same bits on every machine.

A draw is the quantile of one of 2^16 equal-probability cells, Phi^-1((k + 0.5) / 2^16), in fixed
point (20 fraction bits), looked up by the top 16 bits of a uint64. The table is computed once per
process with Python's `statistics.NormalDist` (Wichura's AS241) and checked against its SHA-256:
if a platform's float library ever rounded one entry differently, REC refuses to run there rather
than decode other weights. The draws are a discrete approximation of N(0, 1) with 65,536 levels,
symmetric, variance 0.99998, tails cut at 4.33 sigma; what matters for REC is that encoder and
decoder agree exactly, and that the encoder scores each candidate by the prior it really came from
(`coder.py` evaluates p at the candidate's value).
"""

from __future__ import annotations

import functools
import hashlib
import statistics

import numpy as np

from codec.errors import CodecError

TABLE_BITS = 16
FRACTION_BITS = 20
TABLE_SHA256 = "7030c40868edff0a36b70d4a06ceacbf25ac02eb87069f34786f8258a1e9a44d"


class PlatformMismatch(CodecError):
    """This machine's float library does not reproduce the shared Gaussian table."""


@functools.cache
def quantile_table() -> np.ndarray:
    """(2^16,) int32: the cell quantiles times 2^20, verified."""
    n = 1 << TABLE_BITS
    nd = statistics.NormalDist()
    table = np.array([round(nd.inv_cdf((k + 0.5) / n) * (1 << FRACTION_BITS)) for k in range(n)], dtype="<i4")
    digest = hashlib.sha256(table.tobytes()).hexdigest()
    if digest != TABLE_SHA256:
        raise PlatformMismatch(
            "this machine's float library computes a different REC Gaussian table; files coded"
            " with relative entropy coding cannot be encoded or decoded here"
        )
    table.setflags(write=False)
    return table


def normals(bits: np.ndarray) -> np.ndarray:
    """uint64 array -> float32 standard normal draws (exact: int32 times a power of two)."""
    idx = (np.asarray(bits, dtype=np.uint64) >> np.uint64(64 - TABLE_BITS)).astype(np.intp)
    out = quantile_table()[idx].astype(np.float32)
    out *= np.float32(2.0**-FRACTION_BITS)
    return out
