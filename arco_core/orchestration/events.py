"""Typed payloads of the orchestration ledger events and the envelope builder.

Each payload is a frozen dataclass declaring its wire fields for :mod:`arco_core.codec`
(``to_data()`` gives the snake_case ``data`` object of the envelope, ``"type"`` included;
``from_data()`` decodes one) plus its ``idempotency_key()``. Optional fields are omitted
when null. The value records inside (``TaskDef``, ``TaskError``, ...) live in
:mod:`arco_core.orchestration.values`. ``proto/arco/orchestration/v1/events.proto`` mirrors
these declarations (``tests/contract/test_event_schema.py`` keeps the two in step).

Adding an event: declare its dataclass here, add it to ``KnownPayload`` (``PAYLOAD_TYPES``
is read from it) and to events.proto, and give the fold a handler.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, TypeAlias, get_args

from arco_core.automation.sensors import push_evaluation_key
from arco_core.clock import rfc3339_ms
from arco_core.codec import (
    Bool,
    Choice,
    Codec,
    Custom,
    Declared,
    Int,
    Json,
    Nested,
    NestedList,
    Str,
    StrList,
    StrMap,
    Timestamp,
)
from arco_core.envelope import EventEnvelope
from arco_core.errors import InvalidArgument
from arco_core.ids import is_ulid, new_ulid, ulid_timestamp_ms
from arco_core.orchestration.state import DEFAULT_WORKER_QUEUE
from arco_core.orchestration.values import (
    ORCHESTRATION_CODEC,
    OutputVisibility,
    TaskDef,
    TaskError,
    TriggerInfo,
    VisibilityState,
)

__all__ = [
    "PAYLOAD_TYPES",
    "BackfillChunkPlanned",
    "BackfillCreated",
    "BackfillStateChanged",
    "DispatchEnqueued",
    "DispatchRequested",
    "EventPayload",
    "KnownPayload",
    "ManifestDeployed",
    "PlanCreated",
    "RunCancelRequested",
    "RunTriggered",
    "ScheduleDefinitionUpserted",
    "ScheduleTicked",
    "SensorEvaluated",
    "SensorEvaluationDispatched",
    "SensorEvaluationRequested",
    "SensorRunRequestRecord",
    "TaskCompletionRecorded",
    "TaskFinished",
    "TaskHeartbeat",
    "TaskOutcome",
    "TaskOutputVisibilityChanged",
    "TaskStarted",
    "TickStatus",
    "TimerEnqueued",
    "TimerFired",
    "TimerRequested",
    "TimerType",
    "UnknownEvent",
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


def _bad(type_name: str, msg: str) -> InvalidArgument:
    return ORCHESTRATION_CODEC.error(type_name, msg)


class _Event(Declared):
    """An orchestration payload: ``TYPE`` tags ``data``, ``EVENT_TYPE`` the envelope."""

    __slots__ = ()
    CODEC: ClassVar[Codec] = ORCHESTRATION_CODEC
    EVENT_TYPE: ClassVar[str]
    # Applying the event records its idempotency key for good; False for an event whose
    # re-application changes nothing, so it need not leave a row behind.
    CONSUMES_KEY: ClassVar[bool] = True


# Field rules shared by many payloads.
_Id = Annotated[str, Str(nonempty=True)]
_Text = Annotated[str, Str()]
_OptText = Annotated[str | None, Str(optional=True)]
_Attempt = Annotated[int, Int(minimum=1)]
_OptAttempt = Annotated[int | None, Int(minimum=1, optional=True)]
_Queue = Annotated[str, Str(optional=True, default=DEFAULT_WORKER_QUEUE)]
_OptTime = Annotated[int | None, Timestamp()]  # epoch ms
_Outcome = Annotated[TaskOutcome, Choice(TaskOutcome, "outcome")]
_Timer = Annotated[TimerType, Choice(TimerType, "timer type")]
_Visibility = Annotated[VisibilityState, Choice(VisibilityState, "visibility state")]


@dataclass(frozen=True, slots=True)
class RunTriggered(_Event):
    TYPE: ClassVar[str] = "run_triggered"
    EVENT_TYPE: ClassVar[str] = "RunTriggered"

    run_id: _Id
    plan_id: _Text
    trigger: Annotated[TriggerInfo, Custom(TriggerInfo.from_json, TriggerInfo.to_json)]
    root_assets: Annotated[tuple[str, ...], StrList()] = ()
    run_key: _OptText = None
    labels: Annotated[Mapping[str, str], StrMap()] = field(default_factory=dict)
    code_version: _OptText = None
    parent_run_id: _OptText = None
    rerun_kind: _OptText = None
    rerun_reason: _OptText = None
    traceparent: _OptText = None

    def idempotency_key(self) -> str:
        return f"run:{self.run_key}" if self.run_key else f"run:{self.run_id}"


@dataclass(frozen=True, slots=True)
class PlanCreated(_Event):
    TYPE: ClassVar[str] = "plan_created"
    EVENT_TYPE: ClassVar[str] = "PlanCreated"

    run_id: _Id
    plan_id: _Text
    tasks: Annotated[tuple[TaskDef, ...], NestedList(TaskDef)]

    def __post_init__(self) -> None:
        validate_plan(self.tasks)

    def idempotency_key(self) -> str:
        return f"plan:{self.run_id}"


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
class RunCancelRequested(_Event):
    TYPE: ClassVar[str] = "run_cancel_requested"
    EVENT_TYPE: ClassVar[str] = "RunCancelRequested"

    run_id: _Id
    requested_by: _Text
    reason: _OptText = None

    def idempotency_key(self) -> str:
        return f"cancel_req:{self.run_id}"


@dataclass(frozen=True, slots=True)
class DispatchRequested(_Event):
    TYPE: ClassVar[str] = "dispatch_requested"
    EVENT_TYPE: ClassVar[str] = "DispatchRequested"

    run_id: _Id
    task_key: _Id
    attempt: _Attempt
    attempt_id: _Text
    dispatch_id: _Id
    worker_queue: _Queue = DEFAULT_WORKER_QUEUE

    def idempotency_key(self) -> str:
        return f"dispatch_req:{self.dispatch_id}"


@dataclass(frozen=True, slots=True)
class DispatchEnqueued(_Event):
    TYPE: ClassVar[str] = "dispatch_enqueued"
    EVENT_TYPE: ClassVar[str] = "DispatchEnqueued"

    dispatch_id: _Id
    cloud_task_id: _Text
    run_id: _OptText = None
    task_key: _OptText = None
    attempt: _OptAttempt = None

    def idempotency_key(self) -> str:
        return f"dispatch_ack:{self.dispatch_id}"


@dataclass(frozen=True, slots=True)
class TaskStarted(_Event):
    TYPE: ClassVar[str] = "task_started"
    EVENT_TYPE: ClassVar[str] = "TaskStarted"

    run_id: _Id
    task_key: _Id
    attempt: _Attempt
    attempt_id: _Text
    worker_id: _Text

    def idempotency_key(self) -> str:
        return f"started:{self.run_id}:{self.task_key}:{self.attempt}"


@dataclass(frozen=True, slots=True)
class TaskHeartbeat(_Event):
    TYPE: ClassVar[str] = "task_heartbeat"
    EVENT_TYPE: ClassVar[str] = "TaskHeartbeat"
    # Every heartbeat has its own key; applying one again only re-takes maxima.
    CONSUMES_KEY: ClassVar[bool] = False

    run_id: _Id
    task_key: _Id
    attempt: _Attempt
    attempt_id: _Text
    worker_id: _Text
    heartbeat_at: _OptTime = None  # server receipt time
    progress_pct: Annotated[int | None, Int(minimum=0, optional=True)] = None
    message: _OptText = None

    def __post_init__(self) -> None:
        if self.progress_pct is not None and not 0 <= self.progress_pct <= 100:
            raise _bad(self.EVENT_TYPE, "progress_pct must be between 0 and 100")

    def idempotency_key(self) -> str:
        base = f"heartbeat:{self.run_id}:{self.task_key}:{self.attempt}:{self.attempt_id}"
        return base if self.heartbeat_at is None else f"{base}:{self.heartbeat_at}"


@dataclass(frozen=True, slots=True)
class TaskFinished(_Event):
    """A task attempt's terminal report (legacy / controller-authored form)."""

    TYPE: ClassVar[str] = "task_finished"
    EVENT_TYPE: ClassVar[str] = "TaskFinished"

    run_id: _Id
    task_key: _Id
    attempt: _Attempt
    attempt_id: _Text
    worker_id: _Text
    outcome: _Outcome
    materialization_id: _OptText = None
    error_message: _OptText = None
    output: Annotated[Mapping[str, Any] | None, Json()] = None  # worker camelCase shape
    error: Annotated[TaskError | None, Nested(TaskError, optional=True)] = None
    metrics: Annotated[Mapping[str, Any] | None, Json()] = None  # worker camelCase shape
    cancelled_during_phase: _OptText = None
    partial_progress_json: _OptText = None
    asset_key: _OptText = None
    partition_key: _OptText = None
    code_version: _OptText = None

    def idempotency_key(self) -> str:
        # Shared by task_finished and task_completion_recorded: one result per attempt.
        return f"finished:{self.run_id}:{self.task_key}:{self.attempt}"


@dataclass(frozen=True, slots=True)
class TaskCompletionRecorded(TaskFinished):
    """What the completion callback writes: a TaskFinished plus output visibility."""

    TYPE: ClassVar[str] = "task_completion_recorded"
    EVENT_TYPE: ClassVar[str] = "TaskCompletionRecorded"

    output_visibility: Annotated[
        OutputVisibility | None, Nested(OutputVisibility, optional=True)
    ] = None


@dataclass(frozen=True, slots=True)
class TaskOutputVisibilityChanged(_Event):
    TYPE: ClassVar[str] = "task_output_visibility_changed"
    EVENT_TYPE: ClassVar[str] = "TaskOutputVisibilityChanged"

    run_id: _Id
    task_key: _Id
    attempt: _Attempt
    attempt_id: _Text
    visibility_state: _Visibility
    published_at: _OptTime = None
    publish_error: _OptText = None

    def idempotency_key(self) -> str:
        return (
            f"output_visibility:{self.run_id}:{self.task_key}:{self.attempt}:"
            f"{self.visibility_state.value}"
        )


@dataclass(frozen=True, slots=True)
class TimerRequested(_Event):
    TYPE: ClassVar[str] = "timer_requested"
    EVENT_TYPE: ClassVar[str] = "TimerRequested"

    timer_id: _Id
    timer_type: _Timer
    fire_at: Annotated[int, Timestamp(optional=False)]  # epoch ms
    run_id: _OptText = None
    task_key: _OptText = None
    attempt: _OptAttempt = None

    def idempotency_key(self) -> str:
        return f"timer_req:{self.timer_id}"


@dataclass(frozen=True, slots=True)
class TimerEnqueued(_Event):
    TYPE: ClassVar[str] = "timer_enqueued"
    EVENT_TYPE: ClassVar[str] = "TimerEnqueued"

    timer_id: _Id
    cloud_task_id: _Text
    run_id: _OptText = None
    task_key: _OptText = None
    attempt: _OptAttempt = None

    def idempotency_key(self) -> str:
        return f"timer_ack:{self.timer_id}"


@dataclass(frozen=True, slots=True)
class TimerFired(_Event):
    TYPE: ClassVar[str] = "timer_fired"
    EVENT_TYPE: ClassVar[str] = "TimerFired"

    timer_id: _Id
    timer_type: _Timer
    run_id: _OptText = None
    task_key: _OptText = None
    attempt: _OptAttempt = None

    def idempotency_key(self) -> str:
        return f"timer_fired:{self.timer_id}"


@dataclass(frozen=True, slots=True)
class ManifestDeployed(_Event):
    """A code deployment (asset graph) was accepted. The whole stored manifest travels in
    the event, so the published ``code_manifests`` table is the only place readers look."""

    TYPE: ClassVar[str] = "manifest_deployed"
    EVENT_TYPE: ClassVar[str] = "ManifestDeployed"

    manifest_id: _Id
    code_version_id: _Text
    fingerprint: _Id
    asset_count: Annotated[int, Int(minimum=0)]
    deployed_by: _Text
    manifest_json: _Id  # canonical JSON of the stored manifest
    git_branch: _OptText = None
    git_commit: _OptText = None

    @property
    def run_id(self) -> None:
        return None

    def idempotency_key(self) -> str:
        return f"manifest:{self.manifest_id}"


# -- BACKFILLS --


@dataclass(frozen=True, slots=True)
class BackfillCreated(_Event):
    """A backfill was accepted. It carries the partitions it resolved to (in order): the
    selector is resolved once, against the asset and partition status of that moment, so
    a later deploy or materialization never changes what the backfill covers."""

    TYPE: ClassVar[str] = "backfill_created"
    EVENT_TYPE: ClassVar[str] = "BackfillCreated"

    backfill_id: _Id
    client_request_id: _Id
    asset_selection: Annotated[tuple[str, ...], StrList()]
    selector_json: _Id  # canonical JSON of the selector as the caller gave it (normalised)
    partition_keys: Annotated[tuple[str, ...], StrList()]
    chunk_size: Annotated[int, Int(minimum=1)]
    max_concurrent_runs: Annotated[int, Int(minimum=1)]
    fingerprint: _Id
    created_by: _Text
    code_version: _OptText = None
    parent_backfill_id: _OptText = None

    @property
    def run_id(self) -> None:
        return None

    def idempotency_key(self) -> str:
        return f"backfill_create:{self.client_request_id}"


@dataclass(frozen=True, slots=True)
class BackfillChunkPlanned(_Event):
    """A chunk's run was requested (its RunTriggered and PlanCreated share the batch)."""

    TYPE: ClassVar[str] = "backfill_chunk_planned"
    EVENT_TYPE: ClassVar[str] = "BackfillChunkPlanned"

    backfill_id: _Id
    chunk_index: Annotated[int, Int(minimum=0)]
    partition_keys: Annotated[tuple[str, ...], StrList()]
    run_key: _Id
    run_id: _Id
    request_fingerprint: _Id

    def idempotency_key(self) -> str:
        return f"backfill_chunk:{self.backfill_id}:{self.chunk_index}"


@dataclass(frozen=True, slots=True)
class BackfillStateChanged(_Event):
    """A state move; it applies only from ``from_state`` at ``state_version - 1``, so of
    two concurrent moves from one version exactly one applies."""

    TYPE: ClassVar[str] = "backfill_state_changed"
    EVENT_TYPE: ClassVar[str] = "BackfillStateChanged"

    backfill_id: _Id
    from_state: _Id
    to_state: _Id
    state_version: Annotated[int, Int(minimum=2)]
    changed_by: _Text

    @property
    def run_id(self) -> None:
        return None

    def idempotency_key(self) -> str:
        return f"backfill_state:{self.backfill_id}:{self.state_version}:{self.to_state}"


# -- SCHEDULES --------------------------------------------------------------------------


class TickStatus(enum.StrEnum):
    TRIGGERED = "triggered"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ScheduleDefinitionUpserted(_Event):
    """A schedule's whole definition as an api request set it (a manifest deploy defines
    its schedules through :class:`ManifestDeployed`)."""

    TYPE: ClassVar[str] = "schedule_definition_upserted"
    EVENT_TYPE: ClassVar[str] = "ScheduleDefinitionUpserted"

    schedule_id: _Id
    cron_expression: _Id
    timezone: _Id
    catchup_window_minutes: Annotated[int, Int(minimum=0)]  # 0: the 24-hour default
    max_catchup_ticks: Annotated[int, Int(minimum=1)]
    asset_selection: Annotated[tuple[str, ...], StrList()]
    enabled: Annotated[bool, Bool()]
    request_id: _Id  # "{operation}:{idempotency key or event id}"
    code_version: _OptText = None

    @property
    def run_id(self) -> None:
        return None

    def idempotency_key(self) -> str:
        return f"sched_def:{self.schedule_id}:{self.request_id}"


@dataclass(frozen=True, slots=True)
class ScheduleTicked(_Event):
    """One tick and what became of it; a triggered tick travels in the batch of its run."""

    TYPE: ClassVar[str] = "schedule_ticked"
    EVENT_TYPE: ClassVar[str] = "ScheduleTicked"

    tick_id: _Id
    schedule_id: _Id
    scheduled_for: Annotated[int, Timestamp(optional=False)]  # epoch ms
    status: Annotated[TickStatus, Choice(TickStatus, "tick status")]
    asset_selection: Annotated[tuple[str, ...], StrList()]
    definition_version: _Text
    skip_reason: _OptText = None
    error_message: _OptText = None
    run_key: _OptText = None
    run_id: _OptText = None
    # A tick skipped as outside the catch-up window stands for every later one up to here.
    skipped_through: _OptTime = None

    def idempotency_key(self) -> str:
        return f"sched_tick:{self.tick_id}"


# -- SENSORS -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SensorRunRequestRecord:
    """A run an evaluation asked for, as the user named it (the run key is scoped to the
    sensor when the run is made)."""

    run_key: _Id
    assets: Annotated[tuple[str, ...], StrList()]
    partition_keys: Annotated[tuple[str, ...], StrList()] = ()
    labels: Annotated[Mapping[str, str], StrMap()] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SensorEvaluated(_Event):
    """One evaluation of a sensor: a pushed message (``message_id``) or a worker's poll
    answer (``expected_state_version``, the state it started from). The fold decides
    whether it applies or is a stale loser."""

    TYPE: ClassVar[str] = "sensor_evaluated"
    EVENT_TYPE: ClassVar[str] = "SensorEvaluated"

    sensor_id: _Id
    eval_id: _Id
    trigger_source: _Id  # "push" or "poll"
    message_id: _OptText = None
    expected_state_version: Annotated[int | None, Int(minimum=0, optional=True)] = None
    cursor_after: _OptText = None
    run_requests: Annotated[
        tuple[SensorRunRequestRecord, ...], NestedList(SensorRunRequestRecord)
    ] = ()
    error_message: _OptText = None

    @property
    def run_id(self) -> None:
        return None

    def idempotency_key(self) -> str:
        # A pushed message is evaluated once; every poll answer is recorded, the stale
        # ones included (as skipped).
        if self.message_id is not None:
            return push_evaluation_key(self.sensor_id, self.message_id)
        return f"sensor_eval:{self.sensor_id}:{self.eval_id}"


@dataclass(frozen=True, slots=True)
class SensorEvaluationRequested(_Event):
    """A poll sensor is due; the dispatcher sends its evaluation to a worker."""

    TYPE: ClassVar[str] = "sensor_evaluation_requested"
    EVENT_TYPE: ClassVar[str] = "SensorEvaluationRequested"

    sensor_id: _Id
    eval_id: _Id
    expected_state_version: Annotated[int, Int(minimum=0)]
    cursor: _OptText = None
    worker_queue: _Queue = DEFAULT_WORKER_QUEUE

    @property
    def run_id(self) -> None:
        return None

    def idempotency_key(self) -> str:
        return f"sensor_eval_req:{self.eval_id}"


@dataclass(frozen=True, slots=True)
class SensorEvaluationDispatched(_Event):
    """The dispatch provider accepted a sensor evaluation."""

    TYPE: ClassVar[str] = "sensor_evaluation_dispatched"
    EVENT_TYPE: ClassVar[str] = "SensorEvaluationDispatched"

    sensor_id: _Id
    eval_id: _Id
    cloud_task_id: _Text

    @property
    def run_id(self) -> None:
        return None

    def idempotency_key(self) -> str:
        return f"sensor_eval_ack:{self.eval_id}"


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """A ``data.type`` this reader does not know (written by a newer version)."""

    type: str
    data: Mapping[str, Any]


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
    | BackfillCreated
    | BackfillChunkPlanned
    | BackfillStateChanged
    | ScheduleDefinitionUpserted
    | ScheduleTicked
    | SensorEvaluated
    | SensorEvaluationRequested
    | SensorEvaluationDispatched
)
EventPayload: TypeAlias = KnownPayload | UnknownEvent

# The payload classes, in union order: the union above is the one list to extend.
PAYLOAD_TYPES: tuple[type[KnownPayload], ...] = get_args(KnownPayload)
_BY_TAG: Mapping[str, type[KnownPayload]] = MappingProxyType({c.TYPE: c for c in PAYLOAD_TYPES})


def parse_payload(data: Mapping[str, Any]) -> EventPayload:
    """Parse an envelope's ``data``. Unknown tags give :class:`UnknownEvent`.

    Raises InvalidArgument when a known tag carries a malformed payload.
    """
    tag = data.get("type")
    if not isinstance(tag, str):
        raise _bad("event", "data.type must be a string")
    payload_type = _BY_TAG.get(tag)
    if payload_type is None:
        return UnknownEvent(tag, MappingProxyType(dict(data)))
    return payload_type.from_data(data)


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
