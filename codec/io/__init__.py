"""Media in and out. Video goes through PyAV (`codec.io.video`); see that module for formats and limits."""

from codec.io.video import (
    PNG_DIR_FPS,
    VideoInfo,
    iter_frames,
    output_kind,
    probe,
    read_frames,
    write_video,
    write_with_encoder,
)

__all__ = [
    "PNG_DIR_FPS",
    "VideoInfo",
    "iter_frames",
    "output_kind",
    "probe",
    "read_frames",
    "write_video",
    "write_with_encoder",
]
