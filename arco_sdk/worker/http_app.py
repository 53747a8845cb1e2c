"""The worker's HTTP endpoint: ``POST /dispatch`` (camelCase envelope) and ``GET /health``.

The dispatch secret is checked (constant-time) before the body is read. Answers:

=========================  ===========================================================
200 ``ACCEPTED``           claimed, ``started`` acknowledged, executing
200 ``DUPLICATE``          already completed here, or the control plane refused start
400                        not an envelope, or an envelope for another scope
401                        missing or wrong dispatch secret
429 + ``Retry-After``      at the concurrency limit
502                        ``started`` was rejected (e.g. invalid token)
503 + ``Retry-After: 1``   a twin delivery is executing, ``started`` failed, or
                           the worker is shutting down
=========================  ===========================================================
"""

from __future__ import annotations

import hmac
import json

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from arco_core.errors import InvalidArgument
from arco_core.wire.worker_protocol import parse_envelope
from arco_sdk.worker.runtime import ScopeMismatch, WorkerRuntime

__all__ = ["authorized", "create_app"]

log = structlog.get_logger(__name__)

_STATUS = {
    "ACCEPTED": 200,
    "DUPLICATE": 200,
    "IN_FLIGHT": 503,
    "UNAVAILABLE": 503,
    "BUSY": 429,
    "REJECTED": 502,
}


def authorized(secret: str, header_secret: str | None, authorization: str | None) -> bool:
    """True when either header carries ``secret`` (compared in constant time)."""
    expected = secret.strip().encode()
    if not expected:
        return False
    candidates = []
    if header_secret is not None:
        candidates.append(header_secret.strip())
    if authorization is not None and authorization[:7].lower() == "bearer ":
        candidates.append(authorization[7:].strip())
    ok = False
    for candidate in candidates:
        ok |= hmac.compare_digest(candidate.encode(), expected)
    return ok


def create_app(runtime: WorkerRuntime, dispatch_secret: str) -> Starlette:
    async def health(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok" if runtime.accepting else "draining",
                "workerId": runtime.settings.worker_id,
                "running": runtime.running,
            }
        )

    async def dispatch(request: Request) -> Response:
        if not authorized(
            dispatch_secret,
            request.headers.get("x-arco-dispatch-secret"),
            request.headers.get("authorization"),
        ):
            return PlainTextResponse("missing or invalid dispatch authorization", status_code=401)
        try:
            data = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return PlainTextResponse("dispatch body is not valid JSON", status_code=400)
        try:
            envelope = parse_envelope(data)
        except InvalidArgument as exc:
            return PlainTextResponse(exc.message, status_code=400)
        try:
            outcome = await runtime.dispatch(envelope)
        except ScopeMismatch as exc:
            log.warning(
                "dispatch_scope_mismatch", fields=exc.fields, dispatch_id=envelope.dispatch_id
            )
            return PlainTextResponse(str(exc), status_code=400)
        status = _STATUS[outcome.disposition]
        headers = {"Retry-After": "1"} if status in (429, 503) else None
        return JSONResponse(
            {
                "disposition": outcome.disposition,
                "message": outcome.message,
                "workerId": runtime.settings.worker_id,
            },
            status_code=status,
            headers=headers,
        )

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/dispatch", dispatch, methods=["POST"]),
        ]
    )
