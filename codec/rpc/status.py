"""The one table between library errors and gRPC status codes, shared by client and server.

The server answers a library error with its code (and an ErrorInfo reason); the client turns a
code back into the same library error, so `codec encode --server` fails with the same one-line
message and exit code as a local run.
"""

from __future__ import annotations

import grpc

from codec.errors import Cancelled, CodecError, CorruptData, InvalidInput, ModelMismatch, ResourceLimit

# (library error, status code, ErrorInfo reason); the first match wins, subclasses first.
ERROR_CODES: tuple[tuple[type[CodecError], grpc.StatusCode, str], ...] = (
    (InvalidInput, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INPUT"),
    (CorruptData, grpc.StatusCode.DATA_LOSS, "CORRUPT_DATA"),
    (ResourceLimit, grpc.StatusCode.RESOURCE_EXHAUSTED, "RESOURCE_LIMIT"),
    (ModelMismatch, grpc.StatusCode.FAILED_PRECONDITION, "MODEL_MISMATCH"),
    (Cancelled, grpc.StatusCode.CANCELLED, "CANCELLED"),
)
MODEL_MISMATCH_REASON = "MODEL_MISMATCH"  # FAILED_PRECONDITION means ModelMismatch only with this reason

# Codes whose library error is unambiguous without a reason (OUT_OF_RANGE: a bad offset or range).
_BY_CODE: dict[grpc.StatusCode, type[CodecError]] = {
    code: cls for cls, code, _ in ERROR_CODES if code != grpc.StatusCode.FAILED_PRECONDITION
}
_BY_CODE[grpc.StatusCode.OUT_OF_RANGE] = InvalidInput


def code_for(exc: BaseException) -> tuple[grpc.StatusCode, str] | None:
    """(code, reason) for a library error; None for anything else."""
    for cls, code, reason in ERROR_CODES:
        if isinstance(exc, cls):
            return code, reason
    return None


def error_for(code: grpc.StatusCode | None, reasons: set[str] = frozenset()) -> type[CodecError] | None:
    """The library error class a status code (and its ErrorInfo reasons) stands for, if any."""
    if code == grpc.StatusCode.FAILED_PRECONDITION and MODEL_MISMATCH_REASON in reasons:
        return ModelMismatch
    return _BY_CODE.get(code)


def code_from_int(value: int) -> grpc.StatusCode:
    for code in grpc.StatusCode:
        if code.value[0] == value:
            return code
    return grpc.StatusCode.UNKNOWN
