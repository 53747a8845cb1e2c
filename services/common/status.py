"""The one table from domain errors to gRPC status, and its inverse for clients.

Errors travel as ``google.rpc.Status`` with a ``google.rpc.ErrorInfo`` detail carrying the
stable reason and metadata; clients rebuild the same domain error class from
(code, reason). Unexpected exceptions become INTERNAL with an error id that is logged
with the traceback; they are never mapped to a guessed status.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf import any_pb2, message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from arco_core import errors

ERROR_DOMAIN = "arco.dev"

GRPC_STATUS: dict[errors.ErrorCode, grpc.StatusCode] = {
    errors.ErrorCode.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    errors.ErrorCode.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    errors.ErrorCode.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    errors.ErrorCode.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ErrorCode.ABORTED: grpc.StatusCode.ABORTED,
    errors.ErrorCode.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    errors.ErrorCode.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    errors.ErrorCode.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.ErrorCode.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    errors.ErrorCode.DEADLINE_EXCEEDED: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.ErrorCode.UNIMPLEMENTED: grpc.StatusCode.UNIMPLEMENTED,
    errors.ErrorCode.INTERNAL: grpc.StatusCode.INTERNAL,
}

_CODE_BY_GRPC = {status: code for code, status in GRPC_STATUS.items()}

# Client-side reconstruction: the most specific class registered for a code.
_CLASS_BY_CODE: dict[errors.ErrorCode, type[errors.ArcoError]] = {
    errors.ErrorCode.INVALID_ARGUMENT: errors.InvalidArgument,
    errors.ErrorCode.NOT_FOUND: errors.NotFound,
    errors.ErrorCode.ALREADY_EXISTS: errors.AlreadyExists,
    errors.ErrorCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    errors.ErrorCode.ABORTED: errors.Conflict,
    errors.ErrorCode.PERMISSION_DENIED: errors.PermissionDenied,
    errors.ErrorCode.UNAUTHENTICATED: errors.Unauthenticated,
    errors.ErrorCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
    errors.ErrorCode.UNAVAILABLE: errors.Unavailable,
    errors.ErrorCode.DEADLINE_EXCEEDED: errors.Unavailable,
    errors.ErrorCode.UNIMPLEMENTED: errors.Unimplemented,
    errors.ErrorCode.INTERNAL: errors.InternalError,
}


def to_status(
    error: errors.ArcoError, extra_details: Sequence[message.Message] = ()
) -> grpc.Status:
    """The gRPC status (with ErrorInfo and any extra details) for a domain error."""
    info = error_details_pb2.ErrorInfo(
        reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata
    )
    details = []
    for detail in (info, *extra_details):
        packed = any_pb2.Any()
        packed.Pack(detail)
        details.append(packed)
    proto = status_pb2.Status(
        code=GRPC_STATUS[error.code].value[0], message=error.message, details=details
    )
    return rpc_status.to_status(proto)


def internal_status(error_id: str) -> grpc.Status:
    """INTERNAL with only an error id: the cause stays in the server log."""
    return to_status(
        errors.InternalError(
            f"internal error (error id {error_id})",
            reason="internal",
            metadata={"error_id": error_id},
        )
    )


def error_info(call: grpc.aio.AioRpcError | grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo detail of a failed call, if the server attached one."""
    status = rpc_status.from_call(call)  # type: ignore[arg-type]
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None


def from_rpc_error(call: grpc.aio.AioRpcError) -> errors.ArcoError:
    """Rebuild the domain error a server raised (UNAVAILABLE for transport failures)."""
    code = _CODE_BY_GRPC.get(call.code(), errors.ErrorCode.INTERNAL)
    info = error_info(call)
    cls = _CLASS_BY_CODE[code]
    return cls(
        call.details() or call.code().name,
        reason=info.reason if info else None,
        metadata=dict(info.metadata) if info else None,
    )
