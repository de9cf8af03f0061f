"""Library error hierarchy.

The CLI maps every `CodecError` to exit code 2 with a one-line message; the gRPC service maps
each subclass to one status code (see `service/errors.py`). Anything else is a bug.
"""

from __future__ import annotations


class CodecError(Exception):
    """Base class: a problem with the user's input or environment, never a bug."""


class InvalidInput(CodecError):
    """Bad option value, unreadable media, zero frames, wrong file type (INVALID_ARGUMENT)."""


class CorruptData(CodecError):
    """A bitstream that fails magic, version, CRC or size checks (DATA_LOSS)."""


class ResourceLimit(CodecError):
    """Input too large, queue full, out of memory (RESOURCE_EXHAUSTED)."""


class ModelMismatch(CodecError):
    """The file needs external weights whose name/version/SHA-256 we do not have (FAILED_PRECONDITION)."""


class Cancelled(CodecError):
    """Work stopped on request; any checkpoint written so far is kept (CANCELLED)."""


class DecodeFailure(CorruptData):
    """A decoder failed with something other than a CodecError: caught at the codec boundary and
    reported as corrupt data. A safety net, not a fix: the fuzzer counts every one as a bug."""


def shown(value: object, limit: int = 60) -> str:
    """`repr(value)`, cut to `limit` characters: error messages quote what a caller sent, and a
    4 MB job id or option string must not become a 4 MB message."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…({len(text)} chars)"


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (third-party messages can span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__


class OutOfMemory(ResourceLimit):
    """A decoder ran out of memory: the codec boundary's answer to MemoryError. The decode cost
    bound should have refused the file first, so the fuzzer counts every one as a bug."""
