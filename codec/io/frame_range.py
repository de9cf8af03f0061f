"""Frame ranges as users write them ('A:B'), checked against a clip's length.

Kept apart from `codec.io.video` (which loads PyAV) so decoders can use it without it.
"""

from __future__ import annotations

from codec.errors import InvalidInput


def parse_frame_range(spec: str | tuple[int, int] | None, frames: int) -> tuple[int, int]:
    """'A:B' (half-open, either end optional) or a tuple -> a checked (A, B) within the clip.

    Every video codec's decode takes its frame range in this form (its `frames` decode option)."""
    if spec is None:
        return 0, frames
    if isinstance(spec, str):
        try:
            a_s, b_s = spec.split(":")
            a, b = int(a_s) if a_s else 0, int(b_s) if b_s else frames
        except ValueError:
            raise InvalidInput(f"--frames must look like A:B (e.g. 10:20), got {spec!r}") from None
    else:
        a, b = spec
    if not 0 <= a < b <= frames:
        raise InvalidInput(f"frame range {a}:{b} is outside the clip's 0:{frames}")
    return a, b
