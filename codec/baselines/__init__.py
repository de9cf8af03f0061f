"""Traditional codecs run the same way the neural ones are scored: whole files on disk, 8-bit RGB back.

`codec.baselines.video`: x264 / x265 / SVT-AV1 through PyAV.
"""

from codec.baselines.video import (
    BaselineResult,
    available_baselines,
    baseline_at_bpp,
    decode_speed,
    encode_baseline,
    encoder_for,
)

__all__ = [
    "BaselineResult",
    "available_baselines",
    "baseline_at_bpp",
    "decode_speed",
    "encode_baseline",
    "encoder_for",
]
