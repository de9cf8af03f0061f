"""neural-codec: neural compression and representation codecs behind one container format.

The library API (`codec.encode`, `codec.decode`, `codec.open`, `codec.load_codecs`) lives in
`codec.api`; it is loaded on first use so that `import codec.container` stays light.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
_API = ("encode", "decode", "open", "load_codecs", "get_codec")


def __getattr__(name: str) -> Any:
    if name in _API:
        from codec import api

        return getattr(api, name)
    raise AttributeError(f"module 'codec' has no attribute {name!r}")
