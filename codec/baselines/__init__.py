"""Traditional codecs run the same way the neural ones are scored: whole files on disk, 8-bit RGB back.

`codec.baselines.video`: x264 / x265 / SVT-AV1 through PyAV.
`codec.baselines.image`: JPEG 4:2:0 / 4:4:4, WebP and AVIF through Pillow.
"""

from codec.baselines.image import (
    IMAGE_BASELINE_CODECS,
    ImageBaselineResult,
    ImageBaselineSearch,
    available_image_baselines,
    encode_image_baseline,
    image_baseline_at_bpp,
    image_encoder_for,
)
from codec.baselines.video import (
    BaselineResult,
    available_baselines,
    baseline_at_bpp,
    decode_speed,
    encode_baseline,
    encoder_for,
)

__all__ = [
    "IMAGE_BASELINE_CODECS",
    "BaselineResult",
    "ImageBaselineResult",
    "ImageBaselineSearch",
    "available_baselines",
    "available_image_baselines",
    "baseline_at_bpp",
    "decode_speed",
    "encode_baseline",
    "encode_image_baseline",
    "encoder_for",
    "image_baseline_at_bpp",
    "image_encoder_for",
]
