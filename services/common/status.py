"""Domain errors to gRPC status and back: the table is derived from the error registry.

Errors travel as ``google.rpc.Status`` with a ``google.rpc.ErrorInfo`` detail carrying the
stable reason and metadata; clients rebuild the specific domain error class from
(code, reason) through :func:`arco_core.errors.error_class`. Unexpected exceptions become
INTERNAL with an error id that is logged with the traceback; they are never mapped to a
guessed status.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from arco_core import errors
from arco_runtime.rpc_errors import ERROR_DOMAIN, HTTP_STATUS_KEY, FailedCall, parse_rpc_error

# Every ErrorCode is named after its canonical gRPC code.
GRPC_STATUS: Mapping[errors.ErrorCode, grpc.StatusCode] = {
    code: grpc.StatusCode[code.value] for code in errors.ErrorCode
}
_CODE_BY_GRPC = {status: code for code, status in GRPC_STATUS.items()}


def to_status(error: errors.ArcoError) -> grpc.Status:
    """The gRPC status, with its ErrorInfo detail, for a domain error."""
    metadata = dict(error.metadata)
    if error.http_status is not None:
        metadata[HTTP_STATUS_KEY] = str(error.http_status)
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=metadata)
    packed = any_pb2.Any()
    packed.Pack(info)
    proto = status_pb2.Status(
        code=GRPC_STATUS[error.code].value[0], message=error.message, details=[packed]
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


def from_rpc_error(call: FailedCall) -> errors.ArcoError:
    """Rebuild the domain error a server raised (UNAVAILABLE for transport failures)."""
    wire = parse_rpc_error(call)
    code = _CODE_BY_GRPC.get(wire.code, errors.ErrorCode.INTERNAL)
    metadata = {k: v for k, v in wire.metadata.items() if k != HTTP_STATUS_KEY}
    cls = errors.error_class(code, wire.reason)
    return cls(wire.message, reason=wire.reason or None, metadata=metadata or None)
