"""Row models of the orchestration projections and their enums.

Rows are plain mutable slotted dataclasses so that the fold can update them cheaply, but a
row object that is reachable from a :class:`~arco_core.orchestration.fold.FoldState` after a
fold has finished is never mutated again (the fold copies a row before its first write).
Readers may therefore hold on to rows, and deltas may share row objects with the state.

Field order equals the Arrow column order in :mod:`arco_core.orchestration.projection`:
the golden columns first, then the nullable extensions.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import TypeAlias

from arco_core.canonical_json import canonical_dumps

__all__ = [
    "DEFAULT_WORKER_QUEUE",
    "BackfillChunkRow",
    "BackfillRow",
    "DepResolution",
    "DepRow",
    "EndedAttempt",
    "IdempotencyKeyRow",
    "OutboxRow",
    "OutboxStatus",
    "PartitionStatusRow",
    "Row",
    "RunRow",
    "RunState",
    "ScheduleRow",
    "ScheduleTickRow",
    "SensorEvalRow",
    "SensorStateRow",
    "TaskRow",
    "TaskState",
    "TimerRow",
    "TimerState",
    "VisibilityStateRow",
]

DEFAULT_WORKER_QUEUE = "default-queue"


class TaskState(enum.StrEnum):
    PLANNED = "PLANNED"
    BLOCKED = "BLOCKED"
    READY = "READY"
    DISPATCHED = "DISPATCHED"
    RUNNING = "RUNNING"
    RETRY_WAIT = "RETRY_WAIT"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"
    SUCCEEDED = "SUCCEEDED"

    @property
    def rank(self) -> int:
        return _TASK_RANK[self]

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_TASK_STATES


_TASK_RANK = {
    TaskState.PLANNED: 0,
    TaskState.BLOCKED: 1,
    TaskState.READY: 2,
    TaskState.DISPATCHED: 3,
    TaskState.RUNNING: 4,
    TaskState.RETRY_WAIT: 5,
    TaskState.SKIPPED: 10,
    TaskState.CANCELLED: 11,
    TaskState.FAILED: 12,
    TaskState.SUCCEEDED: 13,
}

TERMINAL_TASK_STATES = frozenset(
    {TaskState.SKIPPED, TaskState.CANCELLED, TaskState.FAILED, TaskState.SUCCEEDED}
)


def task_state_rank(state: str) -> int:
    """Merge tie-break rank; unknown (newer) states rank below everything."""
    try:
        return _TASK_RANK[TaskState(state)]
    except ValueError:
        return -1


class RunState(enum.StrEnum):
    TRIGGERED = "TRIGGERED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return self in (RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED)


TERMINAL_RUN_STATES = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED})


class DepResolution(enum.StrEnum):
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"


class OutboxStatus(enum.StrEnum):
    PENDING = "PENDING"
    CREATED = "CREATED"


class TimerState(enum.StrEnum):
    SCHEDULED = "SCHEDULED"
    FIRED = "FIRED"
    CANCELLED = "CANCELLED"


class VisibilityStateRow(enum.StrEnum):
    PENDING = "PENDING"
    VISIBLE = "VISIBLE"
    FAILED = "FAILED"


@dataclass(slots=True)
class RunRow:
    run_id: str
    plan_id: str
    state: str
    run_key: str | None
    cancel_requested: bool
    tasks_total: int
    tasks_completed: int
    tasks_succeeded: int
    tasks_failed: int
    tasks_skipped: int
    tasks_cancelled: int
    triggered_at: int
    completed_at: int | None
    labels: str | None  # canonical JSON object, None when empty
    code_version: str | None
    row_version: str
    # extensions (nullable in Arrow)
    parent_run_id: str | None = None
    rerun_kind: str | None = None
    rerun_reason: str | None = None
    cancel_requested_by: str | None = None
    cancel_reason: str | None = None
    # W3C trace context of the trigger, carried into every envelope of the run.
    traceparent: str | None = None

    @property
    def pk(self) -> tuple[str]:
        return (self.run_id,)


@dataclass(slots=True)
class TaskRow:
    run_id: str
    task_key: str
    state: str
    attempt: int
    attempt_id: str | None
    started_at: int | None
    completed_at: int | None
    error_message: str | None
    deps_total: int
    deps_satisfied_count: int
    max_attempts: int
    heartbeat_timeout_sec: int
    last_heartbeat_at: int | None
    ready_at: int | None
    asset_key: str | None
    partition_key: str | None
    row_version: str
    # extensions (nullable in Arrow)
    requires_visible_output: bool = False
    materialization_id: str | None = None
    output_visibility_state: str | None = None
    published_at: int | None = None
    publish_error: str | None = None
    retry_not_before: int | None = None
    delta_table: str | None = None
    delta_version: int | None = None
    delta_partition: str | None = None
    execution_lineage_ref: str | None = None
    worker_queue: str = DEFAULT_WORKER_QUEUE
    # Canonical JSON list of the attempts that failed and were retried, oldest first
    # (the columns above hold only the current one); None before the first retry.
    past_attempts: str | None = None

    @property
    def pk(self) -> tuple[str, str]:
        return (self.run_id, self.task_key)

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_TASK_STATES


@dataclass(frozen=True, slots=True)
class EndedAttempt:
    """An attempt of a task that failed and was retried (kept in ``past_attempts``)."""

    attempt: int
    attempt_id: str | None
    started_at: int | None
    completed_at: int
    error_message: str | None

    @staticmethod
    def of(task: TaskRow) -> list[EndedAttempt]:
        if not task.past_attempts:
            return []
        return [
            EndedAttempt(
                item["attempt"],
                item.get("attemptId"),
                item.get("startedAt"),
                item["completedAt"],
                item.get("errorMessage"),
            )
            for item in json.loads(task.past_attempts)
        ]

    @staticmethod
    def current_started_at(task: TaskRow, earlier: list[EndedAttempt]) -> int | None:
        """The current attempt's start: ``started_at`` unless it is an earlier attempt's
        (the current one was dispatched but its start is not folded)."""
        if task.started_at is None or (earlier and task.started_at < earlier[-1].completed_at):
            return None
        return task.started_at

    @staticmethod
    def record(task: TaskRow, completed_at: int) -> None:
        """Keep the (writable) task's current attempt, which just failed and is retried."""
        kept = [a for a in EndedAttempt.of(task) if a.attempt < task.attempt]
        started = EndedAttempt.current_started_at(task, kept)
        kept.append(
            EndedAttempt(task.attempt, task.attempt_id, started, completed_at, task.error_message)
        )
        task.past_attempts = canonical_dumps(
            [
                {
                    "attempt": a.attempt,
                    "attemptId": a.attempt_id,
                    "startedAt": a.started_at,
                    "completedAt": a.completed_at,
                    "errorMessage": a.error_message,
                }
                for a in kept
            ]
        )


@dataclass(slots=True)
class DepRow:
    run_id: str
    upstream_task_key: str
    downstream_task_key: str
    satisfied: bool
    resolution: str | None
    satisfied_at: int | None
    satisfying_attempt: int | None
    row_version: str

    @property
    def pk(self) -> tuple[str, str, str]:
        return (self.run_id, self.upstream_task_key, self.downstream_task_key)


@dataclass(slots=True)
class OutboxRow:
    run_id: str
    task_key: str
    attempt: int
    dispatch_id: str
    cloud_task_id: str | None
    status: str
    attempt_id: str  # "" until the DispatchRequested is folded
    worker_queue: str
    created_at: int
    row_version: str

    @property
    def pk(self) -> tuple[str]:
        return (self.dispatch_id,)


@dataclass(slots=True)
class IdempotencyKeyRow:
    tenant_id: str
    workspace_id: str
    idempotency_key: str
    event_id: str
    event_type: str
    recorded_at: int
    row_version: str

    @property
    def pk(self) -> tuple[str, str, str]:
        return (self.tenant_id, self.workspace_id, self.idempotency_key)


@dataclass(slots=True)
class TimerRow:
    timer_id: str
    cloud_task_id: str | None
    timer_type: str
    run_id: str | None
    task_key: str | None
    attempt: int | None
    fire_at: int
    state: str
    payload: str | None
    row_version: str

    @property
    def pk(self) -> tuple[str]:
        return (self.timer_id,)


@dataclass(slots=True)
class CodeManifestRow:
    """A deployed code manifest (asset graph); ``manifest_json`` is the stored document."""

    manifest_id: str
    code_version_id: str
    fingerprint: str
    asset_count: int
    deployed_at: int
    deployed_by: str
    git_branch: str | None
    git_commit: str | None
    manifest_json: str
    row_version: str

    @property
    def pk(self) -> tuple[str]:
        return (self.manifest_id,)


@dataclass(slots=True)
class PartitionStatusRow:
    """What is known of one (asset, partition): its last success, its last finished
    attempt, and since when an upstream partition is newer than it.

    The ``*_event_id`` extensions name the events the fields came from: the newest event
    wins whatever order they are folded in, so a replay equals an incremental fold."""

    tenant_id: str
    workspace_id: str
    asset_key: str
    partition_key: str
    last_materialization_run_id: str | None
    last_materialization_at: int | None
    last_materialization_code_version: str | None
    last_attempt_run_id: str | None
    last_attempt_at: int | None
    last_attempt_outcome: str | None  # SUCCEEDED | FAILED | SKIPPED | CANCELLED
    stale_since: int | None
    stale_reason_code: str | None
    partition_values: str | None  # canonical JSON object; None (no dimensions yet)
    row_version: str
    # extensions (nullable in Arrow)
    delta_table: str | None = None
    delta_version: int | None = None
    delta_partition: str | None = None
    execution_lineage_ref: str | None = None
    last_materialization_event_id: str | None = None
    last_attempt_event_id: str | None = None

    @property
    def pk(self) -> tuple[str, str, str, str]:
        return (self.tenant_id, self.workspace_id, self.asset_key, self.partition_key)


# -- BACKFILLS --


@dataclass(slots=True)
class BackfillRow:
    """One backfill: what it covers (resolved once, at creation), its sizes and its
    versioned state. List columns are canonical JSON arrays."""

    backfill_id: str
    client_request_id: str
    asset_selection: str  # JSON array
    selector_json: str
    partition_keys: str  # JSON array, in chunk order
    total_partitions: int
    total_chunks: int
    chunk_size: int
    max_concurrent_runs: int
    state: str  # BackfillState
    state_version: int
    fingerprint: str
    created_by: str
    created_at: int
    created_event_id: str
    updated_at: int
    row_version: str
    code_version: str | None = None
    parent_backfill_id: str | None = None

    @property
    def pk(self) -> tuple[str]:
        return (self.backfill_id,)


@dataclass(slots=True)
class BackfillChunkRow:
    """A planned chunk and the run it requested; its state is that run's."""

    chunk_id: str  # "{backfill_id}:{chunk_index}"
    backfill_id: str
    chunk_index: int
    partition_keys: str  # JSON array
    run_key: str
    run_id: str
    request_fingerprint: str
    planned_at: int
    row_version: str

    @property
    def pk(self) -> tuple[str]:
        return (self.chunk_id,)


# -- SCHEDULES ---------------------------------------------------------------------------


@dataclass(slots=True)
class ScheduleRow:
    """A schedule's definition and how far its ticks got: every tick at or before
    ``evaluated_through`` has a tick record (or lies in a recorded expired stretch)."""

    schedule_id: str
    cron_expression: str
    timezone: str
    catchup_window_minutes: int  # 0: the 24-hour default
    max_catchup_ticks: int
    asset_selection: str  # canonical JSON list, sorted
    enabled: bool
    code_version: str | None
    created_at: int
    definition_version: str  # event id of the last definition change
    evaluated_through: int
    last_scheduled_for: int | None
    last_tick_id: str | None
    last_run_key: str | None  # None after a tick that requested no run
    row_version: str

    @property
    def pk(self) -> tuple[str]:
        return (self.schedule_id,)


@dataclass(slots=True)
class ScheduleTickRow:
    tick_id: str
    schedule_id: str
    scheduled_for: int
    definition_version: str
    asset_selection: str  # canonical JSON list
    status: str  # TRIGGERED | SKIPPED | FAILED
    skip_reason: str | None
    error_message: str | None
    run_key: str | None
    run_id: str | None
    skipped_through: int | None
    recorded_at: int
    row_version: str

    @property
    def pk(self) -> tuple[str]:
        return (self.tick_id,)


@dataclass(slots=True)
class SensorStateRow:
    """A sensor's cursor; ``state_version`` counts its applied evaluations (the expected
    version a poll answer must name)."""

    tenant_id: str
    workspace_id: str
    sensor_id: str
    cursor: str | None
    last_evaluation_at: int | None
    last_eval_id: str | None
    status: str  # ACTIVE | PAUSED
    state_version: int
    row_version: str
    # extensions (nullable in Arrow): the poll evaluation requested and not answered yet
    pending_eval_id: str | None = None
    pending_worker_queue: str | None = None
    pending_requested_at: int | None = None
    pending_sent_at: int | None = None  # when the dispatch provider accepted it

    @property
    def pk(self) -> tuple[str, str, str]:
        return (self.tenant_id, self.workspace_id, self.sensor_id)


@dataclass(slots=True)
class SensorEvalRow:
    """One entry of a sensor's evaluation history."""

    tenant_id: str
    workspace_id: str
    eval_id: str
    sensor_id: str
    cursor_before: str | None
    cursor_after: str | None
    expected_state_version: int | None
    trigger_source: str  # push | poll
    run_requests: str | None  # canonical JSON list of the requested runs
    status: str  # TRIGGERED | NO_NEW_DATA | ERROR | SKIPPED_STALE_CURSOR
    evaluated_at: int
    row_version: str
    # extensions (nullable in Arrow)
    error_message: str | None = None
    message_id: str | None = None

    @property
    def pk(self) -> tuple[str, str, str]:
        return (self.tenant_id, self.workspace_id, self.eval_id)


Row: TypeAlias = (
    RunRow
    | TaskRow
    | DepRow
    | OutboxRow
    | IdempotencyKeyRow
    | TimerRow
    | CodeManifestRow
    | PartitionStatusRow
    | BackfillRow
    | BackfillChunkRow
    | ScheduleRow
    | ScheduleTickRow
    | SensorStateRow
    | SensorEvalRow
)
