"""Typed payloads of the orchestration ledger events and the envelope builder.

Each payload is a frozen dataclass with ``to_data()`` (the snake_case ``data`` object of the
envelope, including ``"type"``), ``from_data()`` and ``idempotency_key()``. Optional fields
are omitted from ``to_data()`` when null. Nested worker-contract objects (``error``,
``output``, ``metrics``) keep the worker's camelCase shape.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, TypeAlias

from arco_core.clock import parse_rfc3339_ms, rfc3339_ms
from arco_core.envelope import EventEnvelope
from arco_core.errors import InvalidArgument
from arco_core.ids import is_ulid, new_ulid, ulid_timestamp_ms
from arco_core.orchestration.state import DEFAULT_WORKER_QUEUE

__all__ = [
    "DEFAULT_WORKER_QUEUE",
    "DispatchEnqueued",
    "DispatchRequested",
    "ErrorCategory",
    "EventPayload",
    "OutputVisibility",
    "PlanCreated",
    "RunCancelRequested",
    "RunTriggered",
    "TaskCompletionRecorded",
    "TaskDef",
    "TaskError",
    "TaskFinished",
    "TaskHeartbeat",
    "TaskOutcome",
    "TaskOutputVisibilityChanged",
    "TaskStarted",
    "TimerEnqueued",
    "TimerFired",
    "TimerRequested",
    "TimerType",
    "TriggerInfo",
    "UnknownEvent",
    "VisibilityState",
    "make_event",
    "parse_payload",
]

EVENT_VERSION = 1


class TaskOutcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class TimerType(enum.StrEnum):
    RETRY = "retry"
    HEARTBEAT_CHECK = "heartbeat_check"
    CRON = "cron"
    SLA_CHECK = "sla_check"


class VisibilityState(enum.StrEnum):
    PENDING = "pending"
    VISIBLE = "visible"
    FAILED = "failed"


class ErrorCategory(enum.StrEnum):
    USER_CODE = "USER_CODE"
    DATA_QUALITY = "DATA_QUALITY"
    INFRASTRUCTURE = "INFRASTRUCTURE"
    CONFIGURATION = "CONFIGURATION"
    TIMEOUT = "TIMEOUT"
    CANCELLED = "CANCELLED"

    @property
    def retryable_by_default(self) -> bool:
        return self in (
            ErrorCategory.USER_CODE,
            ErrorCategory.INFRASTRUCTURE,
            ErrorCategory.TIMEOUT,
        )


_RETRYABLE_CATEGORIES = frozenset(
    {ErrorCategory.USER_CODE, ErrorCategory.INFRASTRUCTURE, ErrorCategory.TIMEOUT}
)


# --- field readers: raise InvalidArgument with the field name, never KeyError/TypeError ------


def _bad(type_name: str, msg: str) -> InvalidArgument:
    return InvalidArgument(f"{type_name}: {msg}", reason="invalid_event_payload")


def _req_str(d: Mapping[str, Any], key: str, t: str) -> str:
    v = d.get(key)
    if not isinstance(v, str):
        raise _bad(t, f"field {key!r} must be a string")
    return v


def _req_nonempty(d: Mapping[str, Any], key: str, t: str) -> str:
    v = _req_str(d, key, t)
    if not v:
        raise _bad(t, f"field {key!r} must not be empty")
    return v


def _opt_str(d: Mapping[str, Any], key: str, t: str) -> str | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise _bad(t, f"field {key!r} must be a string")
    return v


def _req_int(d: Mapping[str, Any], key: str, t: str, minimum: int = 0) -> int:
    v = d.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
        raise _bad(t, f"field {key!r} must be an integer >= {minimum}")
    return v


def _opt_int(d: Mapping[str, Any], key: str, t: str, minimum: int = 0) -> int | None:
    if d.get(key) is None:
        return None
    return _req_int(d, key, t, minimum)


def _opt_bool(d: Mapping[str, Any], key: str, t: str) -> bool | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, bool):
        raise _bad(t, f"field {key!r} must be a boolean")
    return v


def _opt_map(d: Mapping[str, Any], key: str, t: str) -> Mapping[str, Any] | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, Mapping):
        raise _bad(t, f"field {key!r} must be an object")
    return MappingProxyType(dict(v))


def _opt_ts(d: Mapping[str, Any], key: str, t: str) -> int | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise _bad(t, f"field {key!r} must be an RFC 3339 timestamp")
    return parse_rfc3339_ms(v)


def _str_list(d: Mapping[str, Any], key: str, t: str) -> tuple[str, ...]:
    v = d.get(key, [])
    if not isinstance(v, list | tuple) or not all(isinstance(x, str) for x in v):
        raise _bad(t, f"field {key!r} must be a list of strings")
    return tuple(v)


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    """Optional fields are omitted when null, as in the reference ledger."""
    if value is not None:
        out[key] = value


def _ms(value: int | None) -> str | None:
    return None if value is None else rfc3339_ms(value)


# --- nested types ------------------------------------------------------------------------------

_TRIGGER_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "cron": ("schedule_id",),
        "manual": ("user_id",),
        "materialization": ("upstream_materialization_id",),
        "webhook": ("webhook_id",),
        "sensor": ("sensor_id", "cursor"),
    }
)


@dataclass(frozen=True, slots=True)
class TriggerInfo:
    """How a run was triggered; ``kind`` is the JSON ``type`` tag."""

    kind: str
    fields: Mapping[str, str | None] = field(default_factory=dict)

    @classmethod
    def manual(cls, user_id: str) -> TriggerInfo:
        return cls("manual", {"user_id": user_id})

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        for name in _TRIGGER_FIELDS.get(self.kind, tuple(sorted(self.fields))):
            _put(out, name, self.fields.get(name))
        return out

    @classmethod
    def from_json(cls, d: Any) -> TriggerInfo:
        if not isinstance(d, Mapping):
            raise _bad("TriggerInfo", "must be an object")
        kind = _req_nonempty(d, "type", "TriggerInfo")
        names = _TRIGGER_FIELDS.get(kind)
        if names is None:
            raise _bad("TriggerInfo", f"unknown trigger type {kind!r}")
        return cls(kind, {n: _opt_str(d, n, "TriggerInfo") for n in names})


@dataclass(frozen=True, slots=True)
class TaskDef:
    key: str
    depends_on: tuple[str, ...] = ()
    asset_key: str | None = None
    partition_key: str | None = None
    max_attempts: int = 3
    heartbeat_timeout_sec: int = 300
    requires_visible_output: bool = False
    worker_queue: str = DEFAULT_WORKER_QUEUE

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "depends_on": list(self.depends_on)}
        _put(out, "asset_key", self.asset_key)
        _put(out, "partition_key", self.partition_key)
        out["max_attempts"] = self.max_attempts
        out["heartbeat_timeout_sec"] = self.heartbeat_timeout_sec
        out["requires_visible_output"] = self.requires_visible_output
        out["worker_queue"] = self.worker_queue
        return out

    @classmethod
    def from_json(cls, d: Any) -> TaskDef:
        t = "TaskDef"
        if not isinstance(d, Mapping):
            raise _bad(t, "must be an object")
        return cls(
            key=_req_nonempty(d, "key", t),
            depends_on=_str_list(d, "depends_on", t),
            asset_key=_opt_str(d, "asset_key", t),
            partition_key=_opt_str(d, "partition_key", t),
            max_attempts=_opt_int(d, "max_attempts", t, 1) or 3,
            heartbeat_timeout_sec=_opt_int(d, "heartbeat_timeout_sec", t, 0) or 300,
            requires_visible_output=bool(_opt_bool(d, "requires_visible_output", t)),
            worker_queue=_opt_str(d, "worker_queue", t) or DEFAULT_WORKER_QUEUE,
        )


@dataclass(frozen=True, slots=True)
class TaskError:
    """Worker error object (camelCase on the wire)."""

    category: str
    message: str
    stack_trace: str | None = None
    retryable: bool | None = None

    def effective_retryable(self) -> bool:
        if self.retryable is not None:
            return self.retryable
        try:
            return ErrorCategory(self.category.upper()).retryable_by_default
        except ValueError:
            # An unknown category comes from a newer worker; failing safe means retrying.
            return True

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"category": self.category, "message": self.message}
        _put(out, "stackTrace", self.stack_trace)
        _put(out, "retryable", self.retryable)
        return out

    @classmethod
    def from_json(cls, d: Any) -> TaskError:
        t = "TaskError"
        if not isinstance(d, Mapping):
            raise _bad(t, "must be an object")
        return cls(
            category=_req_nonempty(d, "category", t),
            message=_req_str(d, "message", t),
            stack_trace=_opt_str(d, "stackTrace", t) or _opt_str(d, "stack_trace", t),
            retryable=_opt_bool(d, "retryable", t),
        )


@dataclass(frozen=True, slots=True)
class OutputVisibility:
    visibility_state: VisibilityState
    published_at: int | None = None  # epoch ms
    publish_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"visibility_state": self.visibility_state.value}
        _put(out, "published_at", _ms(self.published_at))
        _put(out, "publish_error", self.publish_error)
        return out

    @classmethod
    def from_json(cls, d: Any) -> OutputVisibility:
        t = "OutputVisibility"
        if not isinstance(d, Mapping):
            raise _bad(t, "must be an object")
        return cls(
            visibility_state=_visibility(_req_str(d, "visibility_state", t), t),
            published_at=_opt_ts(d, "published_at", t),
            publish_error=_opt_str(d, "publish_error", t),
        )


def _visibility(value: str, t: str) -> VisibilityState:
    try:
        return VisibilityState(value.lower())
    except ValueError:
        raise _bad(t, f"unknown visibility state {value!r}") from None


# --- payloads ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunTriggered:
    TYPE: ClassVar[str] = "run_triggered"
    EVENT_TYPE: ClassVar[str] = "RunTriggered"

    run_id: str
    plan_id: str
    trigger: TriggerInfo
    root_assets: tuple[str, ...] = ()
    run_key: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    code_version: str | None = None
    parent_run_id: str | None = None
    rerun_kind: str | None = None
    rerun_reason: str | None = None
    traceparent: str | None = None

    def idempotency_key(self) -> str:
        return f"run:{self.run_key}" if self.run_key else f"run:{self.run_id}"

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.TYPE,
            "run_id": self.run_id,
            "plan_id": self.plan_id,
            "trigger": self.trigger.to_json(),
            "root_assets": list(self.root_assets),
        }
        _put(out, "run_key", self.run_key)
        if self.labels:
            out["labels"] = dict(self.labels)
        _put(out, "code_version", self.code_version)
        _put(out, "parent_run_id", self.parent_run_id)
        _put(out, "rerun_kind", self.rerun_kind)
        _put(out, "rerun_reason", self.rerun_reason)
        _put(out, "traceparent", self.traceparent)
        return out

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> RunTriggered:
        t = cls.EVENT_TYPE
        labels = d.get("labels") or {}
        if not isinstance(labels, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
        ):
            raise _bad(t, "field 'labels' must map strings to strings")
        return cls(
            run_id=_req_nonempty(d, "run_id", t),
            plan_id=_req_str(d, "plan_id", t),
            trigger=TriggerInfo.from_json(d.get("trigger")),
            root_assets=_str_list(d, "root_assets", t),
            run_key=_opt_str(d, "run_key", t),
            labels=MappingProxyType(dict(labels)),
            code_version=_opt_str(d, "code_version", t),
            parent_run_id=_opt_str(d, "parent_run_id", t),
            rerun_kind=_opt_str(d, "rerun_kind", t),
            rerun_reason=_opt_str(d, "rerun_reason", t),
            traceparent=_opt_str(d, "traceparent", t),
        )


@dataclass(frozen=True, slots=True)
class PlanCreated:
    TYPE: ClassVar[str] = "plan_created"
    EVENT_TYPE: ClassVar[str] = "PlanCreated"

    run_id: str
    plan_id: str
    tasks: tuple[TaskDef, ...]

    def __post_init__(self) -> None:
        validate_plan(self.tasks)

    def idempotency_key(self) -> str:
        return f"plan:{self.run_id}"

    def to_data(self) -> dict[str, Any]:
        return {
            "type": self.TYPE,
            "run_id": self.run_id,
            "plan_id": self.plan_id,
            "tasks": [task.to_json() for task in self.tasks],
        }

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> PlanCreated:
        t = cls.EVENT_TYPE
        tasks = d.get("tasks")
        if not isinstance(tasks, list):
            raise _bad(t, "field 'tasks' must be a list")
        return cls(
            run_id=_req_nonempty(d, "run_id", t),
            plan_id=_req_str(d, "plan_id", t),
            tasks=tuple(TaskDef.from_json(x) for x in tasks),
        )


def validate_plan(tasks: Sequence[TaskDef]) -> None:
    """A plan must be a non-empty DAG over unique keys; the fold relies on it."""
    t = "PlanCreated"
    if not tasks:
        raise _bad(t, "a plan needs at least one task")
    keys = {task.key for task in tasks}
    if len(keys) != len(tasks):
        raise _bad(t, "task keys must be unique")
    for task in tasks:
        if len(set(task.depends_on)) != len(task.depends_on):
            raise _bad(t, f"task {task.key!r} lists a dependency twice")
        for dep in task.depends_on:
            if dep not in keys:
                raise _bad(t, f"task {task.key!r} depends on unknown task {dep!r}")
        if task.max_attempts < 1:
            raise _bad(t, f"task {task.key!r}: max_attempts must be >= 1")
    # Kahn's algorithm: anything left over sits on a cycle.
    indegree = {task.key: len(task.depends_on) for task in tasks}
    dependents: dict[str, list[str]] = {}
    for task in tasks:
        for dep in task.depends_on:
            dependents.setdefault(dep, []).append(task.key)
    frontier = [k for k, n in indegree.items() if n == 0]
    seen = 0
    while frontier:
        key = frontier.pop()
        seen += 1
        for down in dependents.get(key, ()):
            indegree[down] -= 1
            if indegree[down] == 0:
                frontier.append(down)
    if seen != len(tasks):
        raise _bad(t, "the task graph has a cycle")


@dataclass(frozen=True, slots=True)
class RunCancelRequested:
    TYPE: ClassVar[str] = "run_cancel_requested"
    EVENT_TYPE: ClassVar[str] = "RunCancelRequested"

    run_id: str
    requested_by: str
    reason: str | None = None

    def idempotency_key(self) -> str:
        return f"cancel_req:{self.run_id}"

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.TYPE, "run_id": self.run_id}
        _put(out, "reason", self.reason)
        out["requested_by"] = self.requested_by
        return out

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> RunCancelRequested:
        t = cls.EVENT_TYPE
        return cls(
            run_id=_req_nonempty(d, "run_id", t),
            requested_by=_req_str(d, "requested_by", t),
            reason=_opt_str(d, "reason", t),
        )


@dataclass(frozen=True, slots=True)
class DispatchRequested:
    TYPE: ClassVar[str] = "dispatch_requested"
    EVENT_TYPE: ClassVar[str] = "DispatchRequested"

    run_id: str
    task_key: str
    attempt: int
    attempt_id: str
    dispatch_id: str
    worker_queue: str = DEFAULT_WORKER_QUEUE

    def idempotency_key(self) -> str:
        return f"dispatch_req:{self.dispatch_id}"

    def to_data(self) -> dict[str, Any]:
        return {
            "type": self.TYPE,
            "run_id": self.run_id,
            "task_key": self.task_key,
            "attempt": self.attempt,
            "attempt_id": self.attempt_id,
            "worker_queue": self.worker_queue,
            "dispatch_id": self.dispatch_id,
        }

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> DispatchRequested:
        t = cls.EVENT_TYPE
        return cls(
            run_id=_req_nonempty(d, "run_id", t),
            task_key=_req_nonempty(d, "task_key", t),
            attempt=_req_int(d, "attempt", t, 1),
            attempt_id=_req_str(d, "attempt_id", t),
            dispatch_id=_req_nonempty(d, "dispatch_id", t),
            worker_queue=_opt_str(d, "worker_queue", t) or DEFAULT_WORKER_QUEUE,
        )


@dataclass(frozen=True, slots=True)
class DispatchEnqueued:
    TYPE: ClassVar[str] = "dispatch_enqueued"
    EVENT_TYPE: ClassVar[str] = "DispatchEnqueued"

    dispatch_id: str
    cloud_task_id: str
    run_id: str | None = None
    task_key: str | None = None
    attempt: int | None = None

    def idempotency_key(self) -> str:
        return f"dispatch_ack:{self.dispatch_id}"

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.TYPE, "dispatch_id": self.dispatch_id}
        _put(out, "run_id", self.run_id)
        _put(out, "task_key", self.task_key)
        _put(out, "attempt", self.attempt)
        out["cloud_task_id"] = self.cloud_task_id
        return out

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> DispatchEnqueued:
        t = cls.EVENT_TYPE
        return cls(
            dispatch_id=_req_nonempty(d, "dispatch_id", t),
            cloud_task_id=_req_str(d, "cloud_task_id", t),
            run_id=_opt_str(d, "run_id", t),
            task_key=_opt_str(d, "task_key", t),
            attempt=_opt_int(d, "attempt", t, 1),
        )


@dataclass(frozen=True, slots=True)
class TaskStarted:
    TYPE: ClassVar[str] = "task_started"
    EVENT_TYPE: ClassVar[str] = "TaskStarted"

    run_id: str
    task_key: str
    attempt: int
    attempt_id: str
    worker_id: str

    def idempotency_key(self) -> str:
        return f"started:{self.run_id}:{self.task_key}:{self.attempt}"

    def to_data(self) -> dict[str, Any]:
        return {
            "type": self.TYPE,
            "run_id": self.run_id,
            "task_key": self.task_key,
            "attempt": self.attempt,
            "attempt_id": self.attempt_id,
            "worker_id": self.worker_id,
        }

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> TaskStarted:
        t = cls.EVENT_TYPE
        return cls(
            run_id=_req_nonempty(d, "run_id", t),
            task_key=_req_nonempty(d, "task_key", t),
            attempt=_req_int(d, "attempt", t, 1),
            attempt_id=_req_str(d, "attempt_id", t),
            worker_id=_req_str(d, "worker_id", t),
        )


@dataclass(frozen=True, slots=True)
class TaskHeartbeat:
    TYPE: ClassVar[str] = "task_heartbeat"
    EVENT_TYPE: ClassVar[str] = "TaskHeartbeat"

    run_id: str
    task_key: str
    attempt: int
    attempt_id: str
    worker_id: str
    heartbeat_at: int | None = None  # epoch ms (server receipt time)
    progress_pct: int | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if self.progress_pct is not None and not 0 <= self.progress_pct <= 100:
            raise _bad(self.EVENT_TYPE, "progress_pct must be between 0 and 100")

    def idempotency_key(self) -> str:
        base = f"heartbeat:{self.run_id}:{self.task_key}:{self.attempt}:{self.attempt_id}"
        return base if self.heartbeat_at is None else f"{base}:{self.heartbeat_at}"

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.TYPE,
            "run_id": self.run_id,
            "task_key": self.task_key,
            "attempt": self.attempt,
            "attempt_id": self.attempt_id,
            "worker_id": self.worker_id,
        }
        _put(out, "heartbeat_at", _ms(self.heartbeat_at))
        _put(out, "progress_pct", self.progress_pct)
        _put(out, "message", self.message)
        return out

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> TaskHeartbeat:
        t = cls.EVENT_TYPE
        return cls(
            run_id=_req_nonempty(d, "run_id", t),
            task_key=_req_nonempty(d, "task_key", t),
            attempt=_req_int(d, "attempt", t, 1),
            attempt_id=_req_str(d, "attempt_id", t),
            worker_id=_req_str(d, "worker_id", t),
            heartbeat_at=_opt_ts(d, "heartbeat_at", t),
            progress_pct=_opt_int(d, "progress_pct", t, 0),
            message=_opt_str(d, "message", t),
        )


@dataclass(frozen=True, slots=True)
class TaskFinished:
    """A task attempt's terminal report (legacy / controller-authored form)."""

    TYPE: ClassVar[str] = "task_finished"
    EVENT_TYPE: ClassVar[str] = "TaskFinished"

    run_id: str
    task_key: str
    attempt: int
    attempt_id: str
    worker_id: str
    outcome: TaskOutcome
    materialization_id: str | None = None
    error_message: str | None = None
    output: Mapping[str, Any] | None = None  # worker camelCase shape
    error: TaskError | None = None
    metrics: Mapping[str, Any] | None = None  # worker camelCase shape
    cancelled_during_phase: str | None = None
    partial_progress_json: str | None = None
    asset_key: str | None = None
    partition_key: str | None = None
    code_version: str | None = None

    def idempotency_key(self) -> str:
        # Shared by task_finished and task_completion_recorded: one result per attempt.
        return f"finished:{self.run_id}:{self.task_key}:{self.attempt}"

    def _common_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.TYPE,
            "run_id": self.run_id,
            "task_key": self.task_key,
            "attempt": self.attempt,
            "attempt_id": self.attempt_id,
            "worker_id": self.worker_id,
            "outcome": self.outcome.value,
        }
        _put(out, "materialization_id", self.materialization_id)
        _put(out, "error_message", self.error_message)
        _put(out, "output", None if self.output is None else dict(self.output))
        _put(out, "error", None if self.error is None else self.error.to_json())
        _put(out, "metrics", None if self.metrics is None else dict(self.metrics))
        _put(out, "cancelled_during_phase", self.cancelled_during_phase)
        _put(out, "partial_progress_json", self.partial_progress_json)
        _put(out, "asset_key", self.asset_key)
        _put(out, "partition_key", self.partition_key)
        _put(out, "code_version", self.code_version)
        return out

    def to_data(self) -> dict[str, Any]:
        return self._common_data()

    @staticmethod
    def _common_fields(d: Mapping[str, Any], t: str) -> dict[str, Any]:
        outcome_raw = _req_str(d, "outcome", t)
        try:
            outcome = TaskOutcome(outcome_raw.lower())
        except ValueError:
            raise _bad(t, f"unknown outcome {outcome_raw!r}") from None
        error = d.get("error")
        return {
            "run_id": _req_nonempty(d, "run_id", t),
            "task_key": _req_nonempty(d, "task_key", t),
            "attempt": _req_int(d, "attempt", t, 1),
            "attempt_id": _req_str(d, "attempt_id", t),
            "worker_id": _req_str(d, "worker_id", t),
            "outcome": outcome,
            "materialization_id": _opt_str(d, "materialization_id", t),
            "error_message": _opt_str(d, "error_message", t),
            "output": _opt_map(d, "output", t),
            "error": None if error is None else TaskError.from_json(error),
            "metrics": _opt_map(d, "metrics", t),
            "cancelled_during_phase": _opt_str(d, "cancelled_during_phase", t),
            "partial_progress_json": _opt_str(d, "partial_progress_json", t),
            "asset_key": _opt_str(d, "asset_key", t),
            "partition_key": _opt_str(d, "partition_key", t),
            "code_version": _opt_str(d, "code_version", t),
        }

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> TaskFinished:
        return cls(**cls._common_fields(d, cls.EVENT_TYPE))


@dataclass(frozen=True, slots=True)
class TaskCompletionRecorded(TaskFinished):
    """What the completion callback writes: a TaskFinished plus output visibility."""

    TYPE: ClassVar[str] = "task_completion_recorded"
    EVENT_TYPE: ClassVar[str] = "TaskCompletionRecorded"

    output_visibility: OutputVisibility | None = None

    def to_data(self) -> dict[str, Any]:
        out = self._common_data()
        if self.output_visibility is not None:
            out["output_visibility"] = self.output_visibility.to_json()
        return out

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> TaskCompletionRecorded:
        fields = cls._common_fields(d, cls.EVENT_TYPE)
        vis = d.get("output_visibility")
        return cls(
            **fields, output_visibility=None if vis is None else OutputVisibility.from_json(vis)
        )


@dataclass(frozen=True, slots=True)
class TaskOutputVisibilityChanged:
    TYPE: ClassVar[str] = "task_output_visibility_changed"
    EVENT_TYPE: ClassVar[str] = "TaskOutputVisibilityChanged"

    run_id: str
    task_key: str
    attempt: int
    attempt_id: str
    visibility_state: VisibilityState
    published_at: int | None = None
    publish_error: str | None = None

    def idempotency_key(self) -> str:
        return (
            f"output_visibility:{self.run_id}:{self.task_key}:{self.attempt}:"
            f"{self.visibility_state.value}"
        )

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.TYPE,
            "run_id": self.run_id,
            "task_key": self.task_key,
            "attempt": self.attempt,
            "attempt_id": self.attempt_id,
            "visibility_state": self.visibility_state.value,
        }
        _put(out, "published_at", _ms(self.published_at))
        _put(out, "publish_error", self.publish_error)
        return out

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> TaskOutputVisibilityChanged:
        t = cls.EVENT_TYPE
        return cls(
            run_id=_req_nonempty(d, "run_id", t),
            task_key=_req_nonempty(d, "task_key", t),
            attempt=_req_int(d, "attempt", t, 1),
            attempt_id=_req_str(d, "attempt_id", t),
            visibility_state=_visibility(_req_str(d, "visibility_state", t), t),
            published_at=_opt_ts(d, "published_at", t),
            publish_error=_opt_str(d, "publish_error", t),
        )


def _timer_type(value: str, t: str) -> TimerType:
    try:
        return TimerType(value.lower())
    except ValueError:
        raise _bad(t, f"unknown timer type {value!r}") from None


@dataclass(frozen=True, slots=True)
class TimerRequested:
    TYPE: ClassVar[str] = "timer_requested"
    EVENT_TYPE: ClassVar[str] = "TimerRequested"

    timer_id: str
    timer_type: TimerType
    fire_at: int  # epoch ms
    run_id: str | None = None
    task_key: str | None = None
    attempt: int | None = None

    def idempotency_key(self) -> str:
        return f"timer_req:{self.timer_id}"

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.TYPE,
            "timer_id": self.timer_id,
            "timer_type": self.timer_type.value,
        }
        _put(out, "run_id", self.run_id)
        _put(out, "task_key", self.task_key)
        _put(out, "attempt", self.attempt)
        out["fire_at"] = rfc3339_ms(self.fire_at)
        return out

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> TimerRequested:
        t = cls.EVENT_TYPE
        fire_at = _opt_ts(d, "fire_at", t)
        if fire_at is None:
            raise _bad(t, "field 'fire_at' is required")
        return cls(
            timer_id=_req_nonempty(d, "timer_id", t),
            timer_type=_timer_type(_req_str(d, "timer_type", t), t),
            fire_at=fire_at,
            run_id=_opt_str(d, "run_id", t),
            task_key=_opt_str(d, "task_key", t),
            attempt=_opt_int(d, "attempt", t, 1),
        )


@dataclass(frozen=True, slots=True)
class TimerEnqueued:
    TYPE: ClassVar[str] = "timer_enqueued"
    EVENT_TYPE: ClassVar[str] = "TimerEnqueued"

    timer_id: str
    cloud_task_id: str
    run_id: str | None = None
    task_key: str | None = None
    attempt: int | None = None

    def idempotency_key(self) -> str:
        return f"timer_ack:{self.timer_id}"

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.TYPE, "timer_id": self.timer_id}
        _put(out, "run_id", self.run_id)
        _put(out, "task_key", self.task_key)
        _put(out, "attempt", self.attempt)
        out["cloud_task_id"] = self.cloud_task_id
        return out

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> TimerEnqueued:
        t = cls.EVENT_TYPE
        return cls(
            timer_id=_req_nonempty(d, "timer_id", t),
            cloud_task_id=_req_str(d, "cloud_task_id", t),
            run_id=_opt_str(d, "run_id", t),
            task_key=_opt_str(d, "task_key", t),
            attempt=_opt_int(d, "attempt", t, 1),
        )


@dataclass(frozen=True, slots=True)
class TimerFired:
    TYPE: ClassVar[str] = "timer_fired"
    EVENT_TYPE: ClassVar[str] = "TimerFired"

    timer_id: str
    timer_type: TimerType
    run_id: str | None = None
    task_key: str | None = None
    attempt: int | None = None

    def idempotency_key(self) -> str:
        return f"timer_fired:{self.timer_id}"

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.TYPE,
            "timer_id": self.timer_id,
            "timer_type": self.timer_type.value,
        }
        _put(out, "run_id", self.run_id)
        _put(out, "task_key", self.task_key)
        _put(out, "attempt", self.attempt)
        return out

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> TimerFired:
        t = cls.EVENT_TYPE
        return cls(
            timer_id=_req_nonempty(d, "timer_id", t),
            timer_type=_timer_type(_req_str(d, "timer_type", t), t),
            run_id=_opt_str(d, "run_id", t),
            task_key=_opt_str(d, "task_key", t),
            attempt=_opt_int(d, "attempt", t, 1),
        )


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """A ``data.type`` this reader does not know (written by a newer version)."""

    type: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ManifestDeployed:
    """A code deployment (asset graph) was accepted. The whole stored manifest travels in
    the event, so the published ``code_manifests`` table is the only place readers look."""

    TYPE: ClassVar[str] = "manifest_deployed"
    EVENT_TYPE: ClassVar[str] = "ManifestDeployed"

    manifest_id: str
    code_version_id: str
    fingerprint: str
    asset_count: int
    deployed_by: str
    manifest_json: str  # canonical JSON of the stored manifest
    git_branch: str | None = None
    git_commit: str | None = None

    @property
    def run_id(self) -> None:
        return None

    def idempotency_key(self) -> str:
        return f"manifest:{self.manifest_id}"

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.TYPE,
            "manifest_id": self.manifest_id,
            "code_version_id": self.code_version_id,
            "fingerprint": self.fingerprint,
            "asset_count": self.asset_count,
            "deployed_by": self.deployed_by,
            "manifest_json": self.manifest_json,
        }
        _put(out, "git_branch", self.git_branch)
        _put(out, "git_commit", self.git_commit)
        return out

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> ManifestDeployed:
        t = cls.EVENT_TYPE
        return cls(
            manifest_id=_req_nonempty(d, "manifest_id", t),
            code_version_id=_req_str(d, "code_version_id", t),
            fingerprint=_req_nonempty(d, "fingerprint", t),
            asset_count=_req_int(d, "asset_count", t),
            deployed_by=_req_str(d, "deployed_by", t),
            manifest_json=_req_nonempty(d, "manifest_json", t),
            git_branch=_opt_str(d, "git_branch", t),
            git_commit=_opt_str(d, "git_commit", t),
        )


KnownPayload: TypeAlias = (
    RunTriggered
    | PlanCreated
    | RunCancelRequested
    | DispatchRequested
    | DispatchEnqueued
    | TaskStarted
    | TaskHeartbeat
    | TaskFinished
    | TaskCompletionRecorded
    | TaskOutputVisibilityChanged
    | TimerRequested
    | TimerEnqueued
    | TimerFired
    | ManifestDeployed
)
EventPayload: TypeAlias = KnownPayload | UnknownEvent

_PARSERS: Mapping[str, Callable[[Mapping[str, Any]], KnownPayload]] = MappingProxyType(
    {
        cls.TYPE: cls.from_data
        for cls in (
            RunTriggered,
            PlanCreated,
            RunCancelRequested,
            DispatchRequested,
            DispatchEnqueued,
            TaskStarted,
            TaskHeartbeat,
            TaskFinished,
            TaskCompletionRecorded,
            TaskOutputVisibilityChanged,
            TimerRequested,
            TimerEnqueued,
            TimerFired,
            ManifestDeployed,
        )
    }
)


def parse_payload(data: Mapping[str, Any]) -> EventPayload:
    """Parse an envelope's ``data``. Unknown tags give :class:`UnknownEvent`.

    Raises InvalidArgument when a known tag carries a malformed payload.
    """
    tag = data.get("type")
    if not isinstance(tag, str):
        raise _bad("event", "data.type must be a string")
    parser = _PARSERS.get(tag)
    if parser is None:
        return UnknownEvent(tag, MappingProxyType(dict(data)))
    return parser(data)


def payload_run_id(payload: KnownPayload) -> str | None:
    return payload.run_id


def make_event(
    payload: KnownPayload,
    *,
    tenant_id: str,
    workspace_id: str,
    event_id: str | None = None,
    timestamp_ms: int | None = None,
    source: str | None = None,
    causation_id: str | None = None,
    idempotency_key: str | None = None,
) -> EventEnvelope:
    """Wrap ``payload`` in an envelope.

    ``timestamp_ms`` defaults to the ULID time of ``event_id`` so the two never disagree in
    tests; callers on the callback path pass server receipt time. ``idempotency_key`` is an
    override for the rare writer that needs one (retry-failed backfills).
    """
    eid = event_id or new_ulid()
    if timestamp_ms is None:
        if not is_ulid(eid):
            raise InvalidArgument(
                "timestamp_ms is required when event_id is not a ULID", reason="invalid_event"
            )
        timestamp_ms = ulid_timestamp_ms(eid)
    return EventEnvelope(
        event_id=eid,
        event_type=payload.EVENT_TYPE,
        event_version=EVENT_VERSION,
        timestamp=rfc3339_ms(timestamp_ms),
        source=source or f"arco-flow/{tenant_id}/{workspace_id}",
        tenant_id=tenant_id,
        workspace_id=workspace_id,
        idempotency_key=idempotency_key or payload.idempotency_key(),
        data=payload.to_data(),
        correlation_id=payload_run_id(payload),
        causation_id=causation_id,
    )
