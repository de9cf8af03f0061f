"""Durations as users write them (--time-limit 10m) and as messages show them. No heavy imports."""

from __future__ import annotations

import re

from codec.errors import InvalidInput

_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?")


def parse_duration(text: str) -> float:
    """'90s', '10m', '2h', '1h30m' or a plain number of seconds -> seconds (InvalidInput if not)."""
    m = _DURATION.fullmatch(text.strip().lower()) if isinstance(text, str) else None
    if not text or not m or not any(m.groups()):
        raise InvalidInput(f"--time-limit takes a duration such as 90s, 10m, 2h or 1h30m, not {text!r:.40}")
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    seconds = h * 3600 + mi * 60 + s
    if not 1 <= seconds <= 30 * 86400:
        raise InvalidInput(f"--time-limit {text} is outside 1 s .. 30 days")
    return seconds


def fmt_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
