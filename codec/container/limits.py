"""Sanity limits for container files.

The reader checks every count and length against these before it allocates anything, so a hostile
or corrupt file cannot make it reserve gigabytes. The writer checks the same limits, so it never
produces a file the reader would refuse. Raising a limit is a format change: see docs/FORMAT.md.
"""

from __future__ import annotations

MAX_HEADER_BYTES = 1 << 20  # params are hyper-parameters; bulk data belongs in sections
MAX_SECTIONS_V1 = 64
MAX_SECTIONS = 4096  # v2: long videos coded as many segments take two sections each
MAX_PARAMS = 256
MAX_MODELS = 8  # model references per file (a BT2 file relates two)
MAX_DIM = 1 << 16  # width or height, in pixels
MAX_FRAME_PIXELS = 1 << 28  # width * height (16384 x 16384)
MAX_FRAMES = 1 << 24  # video frames
MAX_COUNT = 1 << 32  # vectors or latent items in one file (10M embeddings fit with room to spare)
MAX_VECTOR_DIM = 1 << 16  # components per vector, codes per latent item
MAX_FILE_BYTES = 1 << 36  # read_file refuses larger files with ResourceLimit
MAX_NAME_BYTES = 64  # param keys and section names
