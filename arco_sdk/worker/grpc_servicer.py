"""The worker's own gRPC endpoint (arco.worker.v1.WorkerService).

Same semantics as ``POST /dispatch``: the dispatch secret travels as
``x-arco-dispatch-secret`` (or ``authorization: Bearer``) metadata. ACCEPTED, DUPLICATE
and IN_FLIGHT are dispositions of a successful response; the other outcomes are status
codes (INVALID_ARGUMENT, UNAUTHENTICATED, RESOURCE_EXHAUSTED, UNAVAILABLE,
FAILED_PRECONDITION).
"""

from __future__ import annotations

from typing import Any

import grpc
from arco.worker.v1 import worker_service_pb2 as pb
from arco.worker.v1 import worker_service_pb2_grpc as pb_grpc

from arco_core.errors import InvalidArgument
from arco_core.wire.worker_protocol import parse_envelope, to_json
from arco_sdk.worker.http_app import authorized
from arco_sdk.worker.runtime import ScopeMismatch, WorkerRuntime

__all__ = ["WorkerServicer"]

_DISPOSITIONS = {
    "ACCEPTED": pb.DISPATCH_DISPOSITION_ACCEPTED,
    "DUPLICATE": pb.DISPATCH_DISPOSITION_DUPLICATE,
    "IN_FLIGHT": pb.DISPATCH_DISPOSITION_IN_FLIGHT,
}
_ERRORS = {
    "BUSY": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "UNAVAILABLE": grpc.StatusCode.UNAVAILABLE,
    "REJECTED": grpc.StatusCode.FAILED_PRECONDITION,
}


class WorkerServicer(pb_grpc.WorkerServiceServicer):
    def __init__(self, runtime: WorkerRuntime, dispatch_secret: str) -> None:
        self._runtime = runtime
        self._secret = dispatch_secret

    async def Dispatch(
        self, request: pb.DispatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.DispatchResponse:
        metadata = {key.lower(): value for key, value in context.invocation_metadata() or ()}
        secret = metadata.get("x-arco-dispatch-secret")
        auth = metadata.get("authorization")
        if not authorized(
            self._secret,
            secret if isinstance(secret, str) else None,
            auth if isinstance(auth, str) else None,
        ):
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "missing or invalid dispatch authorization"
            )
        if not request.HasField("envelope"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "DispatchRequest has no envelope")
        try:
            # The same validation as the HTTP path (required fields, attempt >= 1).
            envelope = parse_envelope(to_json(request.envelope))
        except InvalidArgument as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.message)
        try:
            outcome = await self._runtime.dispatch(envelope)
        except ScopeMismatch as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if outcome.disposition in _ERRORS:
            if outcome.disposition in ("BUSY", "UNAVAILABLE"):
                context.set_trailing_metadata((("retry-after", "1"),))
            await context.abort(_ERRORS[outcome.disposition], outcome.message)
        return pb.DispatchResponse(
            disposition=_DISPOSITIONS[outcome.disposition],
            worker_id=self._runtime.settings.worker_id,
        )
