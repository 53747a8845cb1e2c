"""The worker protocol on the wire: envelopes and callback bodies as ProtoJSON.

The JSON form is camelCase; readers also accept the legacy snake_case field names. A
payload that is not the expected message is rejected with an error naming the
offending fields, before anything acts on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from arco.orchestration.v1 import task_callback_service_pb2 as callback_pb
from arco.orchestration.v1 import worker_protocol_pb2 as worker_pb
from google.protobuf import json_format
from google.protobuf.message import Message

from arco_core.errors import InvalidArgument

M = TypeVar("M", bound=Message)

WORKER_OUTCOMES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
ERROR_CATEGORIES = frozenset(
    {"USER_CODE", "DATA_QUALITY", "INFRASTRUCTURE", "CONFIGURATION", "TIMEOUT", "CANCELLED"}
)
VISIBILITY_STATES = frozenset({"PENDING", "VISIBLE", "FAILED"})

_ENVELOPE_REQUIRED = (
    "tenant_id",
    "workspace_id",
    "run_id",
    "task_key",
    "attempt",
    "attempt_id",
    "dispatch_id",
    "worker_queue",
    "callback_base_url",
    "task_token",
    "token_expires_at",
)
_CALLBACK_REQUIRED = ("attempt", "attempt_id", "worker_id")


def _field_names(message: type[Message]) -> dict[str, str]:
    """Both spellings (json and proto) of every field, mapped to the proto name."""
    names: dict[str, str] = {}
    for field in message.DESCRIPTOR.fields:
        names[field.name] = field.name
        names[field.json_name] = field.name
    return names


def _parse(data: object, message: type[M], what: str, required: tuple[str, ...]) -> M:
    if not isinstance(data, Mapping):
        raise InvalidArgument(f"not a {what}: expected a JSON object, got {type(data).__name__}")
    known = _field_names(message)
    unknown = sorted(key for key in data if key not in known)
    if unknown:
        raise InvalidArgument(
            f"not a {what}: unknown fields: {', '.join(unknown)}",
            reason="unknown_fields",
            metadata={"fields": ",".join(unknown)},
        )
    seen: dict[str, str] = {}
    for key in data:
        proto_name = known[key]
        if proto_name in seen and seen[proto_name] != key:
            raise InvalidArgument(
                f"not a {what}: field given twice as {seen[proto_name]} and {key}",
                reason="duplicate_fields",
            )
        seen[proto_name] = key
    present = {known[key] for key, value in data.items() if value not in (None, "")}
    missing = [name for name in required if name not in present]
    if missing:
        raise InvalidArgument(
            f"not a {what}: missing required fields: {', '.join(missing)}",
            reason="missing_fields",
            metadata={"fields": ",".join(missing)},
        )
    cleaned = {key: value for key, value in data.items() if value is not None}
    try:
        return json_format.ParseDict(cleaned, message())
    except json_format.ParseError as exc:
        raise InvalidArgument(f"not a {what}: {exc}", reason="invalid_field") from None


def to_json(message: Message) -> dict[str, Any]:
    """ProtoJSON (camelCase, unset optionals omitted, 64-bit integers as numbers)."""
    return json_format.MessageToDict(message, unquote_int64_if_possible=True)


def parse_envelope(data: object) -> worker_pb.WorkerDispatchEnvelope:
    """Parse a dispatch envelope; a missing taskId falls back to taskKey (legacy form)."""
    envelope = _parse(
        data, worker_pb.WorkerDispatchEnvelope, "WorkerDispatchEnvelope", _ENVELOPE_REQUIRED
    )
    if envelope.attempt < 1:
        raise InvalidArgument("not a WorkerDispatchEnvelope: attempt must be >= 1")
    if not envelope.task_id:
        envelope.task_id = envelope.task_key
    if not envelope.HasField("payload"):
        envelope.payload.SetInParent()
    return envelope


def _check_attempt(attempt: int) -> None:
    if attempt < 1:
        raise InvalidArgument("Invalid attempt: must be >= 1")


def parse_task_started(data: object, task_id: str = "") -> callback_pb.TaskStartedRequest:
    request = _parse(data, callback_pb.TaskStartedRequest, "TaskStartedRequest", _CALLBACK_REQUIRED)
    _check_attempt(request.attempt)
    request.task_id = task_id or request.task_id
    return request


def parse_task_heartbeat(data: object, task_id: str = "") -> callback_pb.TaskHeartbeatRequest:
    request = _parse(
        data, callback_pb.TaskHeartbeatRequest, "TaskHeartbeatRequest", _CALLBACK_REQUIRED
    )
    _check_attempt(request.attempt)
    validate_progress(request)
    request.task_id = task_id or request.task_id
    return request


def validate_progress(request: callback_pb.TaskHeartbeatRequest) -> None:
    if request.HasField("progress_pct") and request.progress_pct > 100:
        raise InvalidArgument("Invalid progressPct: must be between 0 and 100")


def parse_task_completed(data: object, task_id: str = "") -> callback_pb.TaskCompletedRequest:
    if isinstance(data, Mapping) and "result" in data:
        # `result` is the legacy spelling of `output`.
        if "output" in data:
            raise InvalidArgument("not a TaskCompletedRequest: both output and result given")
        data = {("output" if key == "result" else key): value for key, value in data.items()}
    request = _parse(
        data,
        callback_pb.TaskCompletedRequest,
        "TaskCompletedRequest",
        (*_CALLBACK_REQUIRED, "outcome"),
    )
    _check_attempt(request.attempt)
    validate_completion(request)
    request.task_id = task_id or request.task_id
    return request


def validate_completion(request: callback_pb.TaskCompletedRequest) -> None:
    if request.outcome not in WORKER_OUTCOMES:
        raise InvalidArgument(
            f"Invalid outcome {request.outcome!r}: must be one of {', '.join(sorted(WORKER_OUTCOMES))}"
        )
    if request.HasField("error") and request.error.category not in ERROR_CATEGORIES:
        raise InvalidArgument(
            f"Invalid error category {request.error.category!r}: must be one of "
            f"{', '.join(sorted(ERROR_CATEGORIES))}"
        )
    visibility = request.output.output_visibility_state if request.HasField("output") else ""
    if visibility and visibility not in VISIBILITY_STATES:
        raise InvalidArgument(f"Invalid outputVisibilityState {visibility!r}")


def parse_callback_error(data: object) -> worker_pb.CallbackError:
    return _parse(data, worker_pb.CallbackError, "CallbackError", ("error", "message"))
