"""Lossless coding of integer tensors: the one entropy coder every codec uses.

    encode_ints(x) -> bytes
        x: any integer or bool numpy array (or torch tensor, moved to the CPU), any shape; coded
        flattened in C order as a self-describing stream (layout: codec/entropy/int_stream.py).
    decode_ints(data, max_count=None) -> np.ndarray
        Flat int64 array. Raises CorruptData (one line) for a malformed or truncated stream or
        more than max_count values (default DEFAULT_MAX_COUNT), checked before allocating.
    empirical_entropy_bits(x) -> float
        Zeroth-order entropy times count: the reference the coded size is measured against.

Symbols go through compressai's rANS coder with 16-bit CDFs that the decoder rebuilds from the
stream with integer arithmetic, so a stream written next to a GPU decodes bit-exactly on any CPU.
"""

from codec.entropy.int_stream import DEFAULT_MAX_COUNT, FORMAT_VERSION, decode_ints, encode_ints
from codec.entropy.plan import MAX_ALPHABET
from codec.entropy.stats import empirical_entropy_bits

__all__ = [
    "DEFAULT_MAX_COUNT",
    "FORMAT_VERSION",
    "MAX_ALPHABET",
    "decode_ints",
    "empirical_entropy_bits",
    "encode_ints",
]
