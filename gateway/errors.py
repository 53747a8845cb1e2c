"""Errors: the one gRPC-status -> HTTP table, per-reason overrides and the response bodies.

Every error the gateway answers is one of two shapes:

* the envelope ``{code, message, requestId?, details?}`` (every family), where ``code`` is
  a stable upper-case name derived from the HTTP status (``CODE_BY_HTTP``);
* the callback body ``{error, message, state?, expectedAttempt?, receivedAttempt?,
  expectedAttemptId?, receivedAttemptId?}`` for 4xx answers of the three task-callback
  routes, built from the ``CallbackError`` or ``google.rpc.ErrorInfo`` detail the api
  attaches (reason -> ``error``; metadata ``state``/``expected_attempt``/... -> the
  camelCase fields, attempts as JSON numbers). 5xx on callbacks use the envelope.

Internal errors (INTERNAL, UNKNOWN, DATA_LOSS and anything the gateway did not expect)
are redacted to "Internal server error" plus an error id that is logged with the cause.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
import structlog
from arco.orchestration.v1 import worker_protocol_pb2
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2
from starlette.responses import Response

log = structlog.get_logger(__name__)

STATUS_DETAILS_KEY = "grpc-status-details-bin"
INTERNAL_MESSAGE = "Internal server error"

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

# Statuses gRPC cannot express, pinned by the stable ErrorInfo reason the api attaches.
# The callback reasons are listed so callbacks get their documented status whichever
# gRPC code the api picks for them.
REASON_OVERRIDES: Mapping[str, int] = {
    # heartbeat on a terminal task: the worker must stop (reference: 410 Gone)
    "task_expired": 410,
    "task_already_terminal": 409,
    "attempt_mismatch": 409,
    "attempt_id_mismatch": 409,
    "attempt_already_completed": 409,
    "task_not_found": 404,
    "invalid_token": 401,
    "task_id_ambiguous": 400,
}

CODE_BY_HTTP: Mapping[int, str] = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    408: "REQUEST_TIMEOUT",
    409: "CONFLICT",
    410: "GONE",
    412: "PRECONDITION_FAILED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE_ENTITY",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
}
UPSTREAM_ERROR = "UPSTREAM_ERROR"  # any other status (499, 503, 504)

# Default callback `error` when the api attached no reason.
_CALLBACK_ERROR_BY_STATUS: Mapping[int, str] = {
    400: "invalid_argument",
    401: "invalid_token",
    403: "forbidden",
    404: "task_not_found",
    409: "conflict",
    410: "task_expired",
    412: "failed_precondition",
    413: "payload_too_large",
}

_CALLBACK_INT_FIELDS = {
    "expected_attempt": "expectedAttempt",
    "received_attempt": "receivedAttempt",
}
_CALLBACK_STR_FIELDS = {
    "state": "state",
    "expected_attempt_id": "expectedAttemptId",
    "received_attempt_id": "receivedAttemptId",
}


def code_for(status: int) -> str:
    return CODE_BY_HTTP.get(status, UPSTREAM_ERROR)


@dataclasses.dataclass
class ApiError(Exception):
    """An error answered by the gateway itself (auth, validation, limits)."""

    status: int
    message: str
    code: str = ""
    details: Any = None
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # Callback routes: the `error` field of the callback body.
    callback_error: str = ""
    callback_fields: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)
        if not self.code:
            self.code = code_for(self.status)


def bad_request(message: str, details: Any = None) -> ApiError:
    return ApiError(400, message, details=details, callback_error="invalid_argument")


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def _json(status: int, body: Mapping[str, Any], headers: Mapping[str, str]) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        status_code=status,
        media_type="application/json",
        headers=dict(headers),
    )


def envelope(
    status: int,
    message: str,
    request_id: str,
    *,
    code: str = "",
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"code": code or code_for(status), "message": message}
    if request_id:
        body["requestId"] = request_id
    if details is not None:
        body["details"] = details
    return _json(status, body, {**(headers or {}), "x-request-id": request_id})


def callback_body(
    status: int,
    error: str,
    message: str,
    request_id: str,
    *,
    fields: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"error": error, "message": message, **(fields or {})}
    return _json(status, body, {**(headers or {}), "x-request-id": request_id})


def internal_error(request_id: str, error_id: str | None = None) -> Response:
    return envelope(
        500,
        INTERNAL_MESSAGE,
        request_id,
        details={"errorId": error_id or uuid.uuid4().hex},
    )


def render_api_error(error: ApiError, request_id: str, *, callback: bool) -> Response:
    if callback and 400 <= error.status < 500 and error.status != 429:
        return callback_body(
            error.status,
            error.callback_error or _CALLBACK_ERROR_BY_STATUS.get(error.status, "error"),
            error.message,
            request_id,
            fields=error.callback_fields,
            headers=error.headers,
        )
    return envelope(
        error.status,
        error.message,
        request_id,
        code=error.code,
        details=error.details,
        headers=error.headers,
    )


# -- upstream (gRPC) errors ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class UpstreamError:
    """What the gateway learned from a failed RPC."""

    grpc_code: grpc.StatusCode
    status: int
    message: str
    reason: str = ""
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)
    callback: Mapping[str, Any] | None = None
    details: Sequence[Mapping[str, Any]] = ()

    @property
    def internal(self) -> bool:
        return self.status == 500


def _status_details(call: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    for key, value in call.trailing_metadata() or ():
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            try:
                return status_pb2.Status.FromString(value)
            except Exception:  # a corrupt detail must not turn into a 500 of its own
                log.warning("status_details_undecodable")
                return None
    return None


def from_rpc_error(call: grpc.aio.AioRpcError) -> UpstreamError:
    code = call.code()
    reason = ""
    metadata: dict[str, str] = {}
    callback: dict[str, Any] | None = None
    details: list[Mapping[str, Any]] = []
    status = _status_details(call)
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Is(worker_protocol_pb2.CallbackError.DESCRIPTOR):
            cb = worker_protocol_pb2.CallbackError()
            detail.Unpack(cb)
            callback = json_format.MessageToDict(cb)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            details.append(json_format.MessageToDict(bad))
    http = REASON_OVERRIDES.get(reason) or HTTP_BY_GRPC.get(code, 500)
    # A service may also pin a status explicitly (ErrorInfo metadata http_status).
    pinned = metadata.get("http_status", "")
    if pinned.isdigit() and 400 <= int(pinned) <= 599:
        http = int(pinned)
    return UpstreamError(
        grpc_code=code,
        status=http,
        message=call.details() or code.name,
        reason=reason,
        metadata=metadata,
        callback=callback,
        details=tuple(details),
    )


def _callback_fields(error: UpstreamError) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, name in _CALLBACK_STR_FIELDS.items():
        if error.metadata.get(key):
            fields[name] = error.metadata[key]
    for key, name in _CALLBACK_INT_FIELDS.items():
        raw = error.metadata.get(key, "")
        if raw.lstrip("-").isdigit():
            fields[name] = int(raw)
    return fields


def render_upstream_error(error: UpstreamError, request_id: str, *, callback: bool) -> Response:
    if error.internal:
        error_id = error.metadata.get("error_id") or uuid.uuid4().hex
        log.error(
            "upstream_internal_error",
            grpc_code=error.grpc_code.name,
            upstream_message=error.message,
            error_id=error_id,
        )
        return internal_error(request_id, error_id)
    if callback and 400 <= error.status < 500 and error.status != 429:
        if error.callback is not None:
            body = dict(error.callback)
            body.setdefault("error", error.reason or _CALLBACK_ERROR_BY_STATUS[error.status])
            body.setdefault("message", error.message)
            return callback_body(
                error.status, body.pop("error"), body.pop("message"), request_id, fields=body
            )
        return callback_body(
            error.status,
            error.reason or _CALLBACK_ERROR_BY_STATUS.get(error.status, "error"),
            error.message,
            request_id,
            fields=_callback_fields(error),
        )
    details: dict[str, Any] = {}
    if error.reason:
        details["reason"] = error.reason
    public_metadata = {k: v for k, v in error.metadata.items() if k != "http_status"}
    if public_metadata:
        details["metadata"] = public_metadata
    for extra in error.details:
        details.update(extra)
    headers: dict[str, str] = {}
    retry_after = error.metadata.get("retry_after_sec", "")
    if retry_after.isdigit():
        headers["Retry-After"] = retry_after
    return envelope(
        error.status,
        error.message,
        request_id,
        details=details or None,
        headers=headers,
    )
