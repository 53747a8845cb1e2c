"""Errors: the response bodies. The one gRPC-status -> HTTP table (``HTTP_BY_GRPC``) is in
:mod:`arco_runtime.rpc_errors`, so that the SDK's gRPC callbacks answer the same statuses.

Every error the gateway answers is one of two shapes:

* the envelope ``{code, message, requestId?, details?}`` (every family), where ``code`` is
  a stable upper-case name derived from the HTTP status (``CODE_BY_HTTP``);
* the callback body ``{error, message, state?, expectedAttempt?, receivedAttempt?,
  expectedAttemptId?, receivedAttemptId?}`` for 4xx answers of the three task-callback
  routes, built from the ``google.rpc.ErrorInfo`` detail the api attaches (reason ->
  ``error``; metadata ``state``/``expected_attempt``/... -> the camelCase fields, attempts
  as JSON numbers). 5xx on callbacks use the envelope.

The HTTP status is ``HTTP_BY_GRPC`` of the gRPC code, unless the service's error class
pins one gRPC cannot express (ErrorInfo metadata ``http_status``, e.g. 410 task_expired).

Internal errors (INTERNAL, UNKNOWN, DATA_LOSS and anything the gateway did not expect)
are redacted to "Internal server error" plus an error id that is logged with the cause.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Mapping
from typing import Any

import grpc
import structlog
from starlette.responses import Response

from arco_runtime.rpc_errors import HTTP_STATUS_KEY, http_status, parse_rpc_error

log = structlog.get_logger(__name__)

INTERNAL_MESSAGE = "Internal server error"

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

    @property
    def internal(self) -> bool:
        return self.status == 500


def from_rpc_error(call: grpc.aio.AioRpcError) -> UpstreamError:
    wire = parse_rpc_error(call)
    return UpstreamError(
        grpc_code=wire.code,
        status=http_status(wire),
        message=wire.message,
        reason=wire.reason,
        metadata={k: v for k, v in wire.metadata.items() if k != HTTP_STATUS_KEY},
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
    if error.metadata:
        details["metadata"] = dict(error.metadata)
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
