"""Atomic output files: written under a unique hidden name beside the target, renamed into place.

A failure (or a cancel) leaves no partial file at the target and removes the temporary one; two
writers racing for one path each finish with a whole file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from codec.errors import InvalidInput, one_line


@contextlib.contextmanager
def atomic_path(path: Path, what: str) -> Iterator[Path]:
    """Yields the temporary path to write; on success it replaces `path`. OSError -> InvalidInput
    naming `what` ("image", "vectors") and the file's name."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise InvalidInput(f"{path.name}: cannot write {what}: {one_line(exc)}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
