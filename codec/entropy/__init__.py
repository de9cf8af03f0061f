"""Lossless coding of integer tensors: the entropy coders every codec uses.

    encode_ints(x) -> bytes
        x: any integer or bool numpy array (or torch tensor, moved to the CPU), any shape; coded
        flattened in C order as a self-describing stream (layout: codec/entropy/int_stream.py).
    decode_ints(data, max_count=None) -> np.ndarray
        Flat int64 array. Raises CorruptData (one line) for a malformed or truncated stream or
        more than max_count values (default DEFAULT_MAX_COUNT), checked before allocating.
    empirical_entropy_bits(x) -> float
        Zeroth-order entropy times count: the reference the coded size is measured against.

Per-dimension codes (each embedding or latent dimension on its own scale) are coded with indexed
CDF tables, one of N tables chosen per value (layouts: codec/entropy/indexed.py):

    encode_columns(x) -> bytes / decode_columns(data, rows=None, cols=None, max_count=None)
        A (rows, cols) array, one table per column built from the data and stored in the stream.
    CdfTables.from_counts(counts, offsets) / CdfTables.from_pmfs(pmfs, offsets)
        Integer tables from histograms or from a model's probabilities; to_bytes / from_bytes.
    encode_indexed(values, indexes, tables) -> bytes / decode_indexed(data, indexes, tables)
        Value i coded with table indexes[i]; the tables and indexes travel separately.
    column_entropy_bits(x) -> float
        Sum of the columns' zeroth-order entropies: the reference for encode_columns.

Symbols go through compressai's rANS coder with 16-bit CDFs that the decoder rebuilds from the
stream with integer arithmetic, so a stream written next to a GPU decodes bit-exactly on any CPU.
"""

from codec.entropy.indexed import (
    CdfTables,
    column_entropy_bits,
    decode_columns,
    decode_indexed,
    encode_columns,
    encode_indexed,
)
from codec.entropy.int_stream import DEFAULT_MAX_COUNT, FORMAT_VERSION, decode_ints, encode_ints
from codec.entropy.plan import MAX_ALPHABET
from codec.entropy.stats import empirical_entropy_bits

__all__ = [
    "DEFAULT_MAX_COUNT",
    "FORMAT_VERSION",
    "MAX_ALPHABET",
    "CdfTables",
    "column_entropy_bits",
    "decode_columns",
    "decode_indexed",
    "decode_ints",
    "empirical_entropy_bits",
    "encode_columns",
    "encode_indexed",
    "encode_ints",
]
