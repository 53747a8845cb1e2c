"""The error a failed RPC carries, parsed once for every gRPC client (services and gateway).

Servers attach a ``google.rpc.Status`` whose first detail is a ``google.rpc.ErrorInfo``
with the stable reason and its metadata. Services rebuild the domain error class from it
(``services.common.status.from_rpc_error``); the gateway turns it into an HTTP answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import grpc
import structlog
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

__all__ = [
    "ERROR_DOMAIN",
    "HTTP_BY_GRPC",
    "HTTP_STATUS_KEY",
    "STATUS_DETAILS_KEY",
    "FailedCall",
    "WireError",
    "http_status",
    "parse_rpc_error",
]

log = structlog.get_logger(__name__)

ERROR_DOMAIN = "arco.dev"
STATUS_DETAILS_KEY = "grpc-status-details-bin"
# ErrorInfo metadata key of an HTTP status the gRPC code cannot express (410 Gone).
HTTP_STATUS_KEY = "http_status"

# THE table. Chosen to match the reference REST contract, not grpc-gateway: FAILED_PRECONDITION
# is a failed precondition (412: stale fencing token, lock still held), CANCELLED/UNAVAILABLE/
# DEADLINE_EXCEEDED are upstream failures the client may retry.
HTTP_BY_GRPC: Mapping[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 412,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


@dataclass(frozen=True)
class WireError:
    """What a client learns from a failed call."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)


# A failed call: grpc.aio raises AioRpcError, sync stubs raise an error that is a grpc.Call.
FailedCall = grpc.aio.AioRpcError | grpc.Call


def _status(call: FailedCall) -> status_pb2.Status | None:
    for key, value in call.trailing_metadata() or ():
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            try:
                return status_pb2.Status.FromString(value)
            except DecodeError:  # a corrupt detail must not become an error of its own
                log.warning("status_details_undecodable")
                return None
    return None


def parse_rpc_error(call: FailedCall) -> WireError:
    """The code, message, reason and metadata of a failed call (reason "" when absent)."""
    code = call.code()
    details = call.details()
    status = _status(call)
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return WireError(code, details or code.name, info.reason, dict(info.metadata))
    return WireError(code, details or code.name)


def http_status(wire: WireError) -> int:
    """The HTTP status of a failed call: ``HTTP_BY_GRPC`` of its code, unless the error
    class the service raised pinned one gRPC cannot express (410 Gone)."""
    pinned = wire.metadata.get(HTTP_STATUS_KEY, "")
    if pinned.isdigit() and 400 <= int(pinned) <= 599:
        return int(pinned)
    return HTTP_BY_GRPC.get(wire.code, 500)
