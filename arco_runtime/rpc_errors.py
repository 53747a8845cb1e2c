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
    "HTTP_STATUS_KEY",
    "STATUS_DETAILS_KEY",
    "FailedCall",
    "WireError",
    "parse_rpc_error",
]

log = structlog.get_logger(__name__)

ERROR_DOMAIN = "arco.dev"
STATUS_DETAILS_KEY = "grpc-status-details-bin"
# ErrorInfo metadata key of an HTTP status the gRPC code cannot express (410 Gone).
HTTP_STATUS_KEY = "http_status"


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
