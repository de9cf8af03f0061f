"""The header layouts (v1 and v2) as field tables: `format.py` packs and unpacks through these only.

These tables ARE the format, so the writer and the reader cannot disagree. Changing a table means
a new FORMAT_VERSION, a reader that keeps accepting the old ones, and new golden files
(docs/FORMAT.md). Writers always write the newest version.
"""

from __future__ import annotations

from codec.container import fields

MAGIC = b"NCDC"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)

# Frozen for every version, so any reader can say "newer version" instead of "corrupt".
PREAMBLE: fields.Table = (
    ("magic", "4s"),
    ("version", "H"),
    ("header_len", "I"),  # bytes from the first magic byte through the header CRC
)
PREAMBLE_SIZE = fields.fixed_size(PREAMBLE)

# v2: the media kind picks which media table follows (codec/container/media.py); any number of
# model references, each with a role, so a file can relate several models.
HEADER_V2: fields.Table = (
    ("codec_id", "H"),  # codec.ids.CODEC_IDS
    ("flags", "H"),  # none defined in v2: must be 0
    ("media_kind", "B"),  # media.BY_CODE
    ("n_models", "B"),
    ("n_params", "H"),
    ("n_sections", "H"),
)
KNOWN_FLAGS_V2 = 0
MODEL_REF_V2: fields.Table = (
    ("role", "str8"),  # what the codec uses it for, e.g. "embedder", "old-embedder"
    ("name", "str8"),
    ("version", "str8"),
    ("sha256", "32s"),  # of the weights file
)

# v1 (read only): video-shaped media facts for every codec, at most one model reference.
HEADER_V1: fields.Table = (
    ("codec_id", "H"),
    ("flags", "H"),  # bit 0: a model reference follows
    ("width", "I"),
    ("height", "I"),
    ("frames", "I"),
    ("fps_num", "I"),
    ("fps_den", "I"),
    ("pad_h", "H"),
    ("pad_w", "H"),
    ("pix_fmt", "str8"),
    ("n_params", "H"),
    ("n_sections", "H"),
)
FLAG_MODEL_V1 = 0x0001
MODEL_REF_V1: fields.Table = (("name", "str8"), ("version", "str8"), ("sha256", "32s"))
V1_MODEL_ROLE = "model"  # the role a v1 file's single reference is read back with

SECTION_ENTRY: fields.Table = (("name", "str8"), ("length", "Q"), ("crc32", "I"))

HEADER_CRC: fields.Table = (("header_crc", "I"),)  # CRC-32 of every header byte before it
CRC_SIZE = fields.fixed_size(HEADER_CRC)
