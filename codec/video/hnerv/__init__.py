"""HNeRV video codec (Chen et al., CVPR 2023): a per-video network overfit to the clip.

encode.py  training + compression into a file     decode.py  file -> frames (no training code)
model.py   encoder / decoder modules                bitstream.py  what the file holds
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codec.progress import ProgressCallback, null_progress
from codec.registry import CODEC_IDS, register_codec


class HNeRVCodec:
    """Registry entry: media is a video path, the result an .hnerv file's bytes."""

    codec_id = CODEC_IDS["hnerv"]
    name = "hnerv"
    suffix = ".hnerv"

    def encode(self, media: Any, options: Any = None, progress: ProgressCallback = null_progress) -> bytes:
        import tempfile

        from codec.video.hnerv.encode import encode_video

        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out.hnerv"
            encode_video(Path(media), out, options, progress)
            return out.read_bytes()

    def decode(self, data: bytes, **kwargs: Any) -> Any:
        from codec.video.hnerv.decode import decode_frames

        return decode_frames(data, **kwargs)


@register_codec("hnerv")
def _factory() -> HNeRVCodec:
    return HNeRVCodec()
