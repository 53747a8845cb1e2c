"""Dispatcher and sweeper decisions over the published projection (pure: no I/O).

The dispatcher asks ``ready_dispatches`` which READY tasks need a dispatch intent and
``pending_dispatches`` which outbox rows to send; the sweeper asks ``plan_sweep`` what
was lost or is stuck. Every decision is deterministic in the state and the time, so two
instances emit identical events and the fold's idempotency keys converge them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from arco_core.ids import cloud_task_id, deterministic_attempt_id, dispatch_id, new_ulid
from arco_core.orchestration.events import (
    DispatchRequested,
    TaskFinished,
    TaskOutcome,
)
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.state import OutboxRow, TaskRow

ANTI_ENTROPY_WORKER = "anti-entropy"
HEARTBEAT_TIMEOUT_REASON = "heartbeat_timeout_anti_entropy"


@dataclass(frozen=True)
class DispatchAction:
    """One attempt to send to a worker, with what its envelope needs."""

    run_id: str
    task_key: str
    attempt: int
    attempt_id: str
    dispatch_id: str
    worker_queue: str
    partition_key: str | None
    heartbeat_timeout_sec: int
    cloud_task_id: str
    reason: str = "pending"
    traceparent: str | None = None


def _request(task: TaskRow, attempt: int) -> DispatchRequested:
    did = dispatch_id(task.run_id, task.task_key, attempt)
    return DispatchRequested(
        run_id=task.run_id,
        task_key=task.task_key,
        attempt=attempt,
        attempt_id=deterministic_attempt_id(did),
        worker_queue=task.worker_queue,
        dispatch_id=did,
    )


def _cancelled(state: FoldState, run_id: str) -> bool:
    run = state.get_run(run_id)
    return run is not None and run.cancel_requested


def ready_dispatches(state: FoldState) -> list[DispatchRequested]:
    """READY tasks without an outbox row for their next attempt (cancelled runs skipped)."""
    out = []
    for task in state.ready_tasks_without_outbox():
        if not _cancelled(state, task.run_id):
            out.append(_request(task, max(task.attempt, 1)))
    return sorted(out, key=lambda r: r.dispatch_id)


def action_for(
    state: FoldState,
    row: OutboxRow | DispatchRequested,
    *,
    reason: str = "pending",
    repair: str = "",
) -> DispatchAction | None:
    """The attempt an outbox row (or the request that creates it) sends."""
    task = state.get_task(row.run_id, row.task_key)
    if task is None:  # never dispatch work the projection does not scope
        return None
    attempt_id = row.attempt_id or deterministic_attempt_id(row.dispatch_id)
    cloud_id = cloud_task_id(
        "d", f"{row.dispatch_id}:repair:{repair}" if repair else row.dispatch_id
    )
    return DispatchAction(
        run_id=row.run_id,
        task_key=row.task_key,
        attempt=row.attempt,
        attempt_id=attempt_id,
        dispatch_id=row.dispatch_id,
        worker_queue=row.worker_queue,
        partition_key=task.partition_key,
        heartbeat_timeout_sec=task.heartbeat_timeout_sec,
        cloud_task_id=cloud_id,
        reason=reason,
        traceparent=run.traceparent if (run := state.get_run(row.run_id)) else None,
    )


def requested_dispatches(
    state: FoldState, requests: Collection[DispatchRequested]
) -> list[DispatchAction]:
    """The attempts ``ready_dispatches`` requested, to send as soon as the requests are
    durable in the ledger (their outbox rows appear once the compactor folds them)."""
    actions = (action_for(state, request) for request in requests)
    return sorted((a for a in actions if a is not None), key=lambda a: a.dispatch_id)


def pending_dispatches(state: FoldState, *, exclude: Collection[str] = ()) -> list[DispatchAction]:
    """PENDING outbox rows to send now, except those already in flight here."""
    actions = []
    for row in state.pending_outbox():
        if row.dispatch_id in exclude or _cancelled(state, row.run_id):
            continue
        action = action_for(state, row)
        if action is not None:
            actions.append(action)
    return sorted(actions, key=lambda a: a.dispatch_id)


@dataclass(frozen=True)
class SweepThresholds:
    ready_timeout_ms: int = 5 * 60_000
    dispatch_timeout_ms: int = 10 * 60_000
    running_grace_ms: int = 30_000


@dataclass
class SweepPlan:
    """Events to append and attempts to redispatch, with why."""

    events: list[DispatchRequested | TaskFinished] = field(default_factory=list)
    redispatch: list[DispatchAction] = field(default_factory=list)
    force_failed: list[tuple[str, str]] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    # Earliest moment (epoch ms) a currently waiting repair becomes due, if any.
    next_due_ms: int | None = None

    def note_due(self, at_ms: int) -> None:
        if self.next_due_ms is None or at_ms < self.next_due_ms:
            self.next_due_ms = at_ms


def plan_sweep(state: FoldState, now_ms: int, thresholds: SweepThresholds) -> SweepPlan:
    """Anti-entropy repairs of READY, DISPATCHED, RETRY_WAIT and RUNNING tasks."""
    plan = SweepPlan()
    for task in state.tasks_in_state("READY"):
        if _cancelled(state, task.run_id):
            continue
        attempt = max(task.attempt, 1)
        has_row = state.get_outbox(dispatch_id(task.run_id, task.task_key, attempt)) is not None
        waited = now_ms - (task.ready_at or now_ms)
        if not has_row:
            if waited > thresholds.ready_timeout_ms:
                plan.events.append(_request(task, attempt))
                plan.reasons[f"{task.run_id}/{task.task_key}"] = f"stuck_ready_{waited // 1000}s"
            else:
                plan.note_due((task.ready_at or now_ms) + thresholds.ready_timeout_ms + 1)
    for task in state.tasks_in_state("DISPATCHED"):
        if _cancelled(state, task.run_id):
            continue
        row = state.get_outbox(dispatch_id(task.run_id, task.task_key, task.attempt))
        if row is None:
            plan.events.append(_request(task, task.attempt))
            plan.reasons[f"{task.run_id}/{task.task_key}"] = "missing_dispatch_outbox"
            continue
        age = now_ms - row.created_at
        if age > thresholds.dispatch_timeout_ms:
            action = action_for(state, row, reason="stale_dispatch", repair=new_ulid())
            if action is not None:
                plan.redispatch.append(action)
        else:
            plan.note_due(row.created_at + thresholds.dispatch_timeout_ms + 1)
    for task in state.tasks_in_state("RETRY_WAIT"):
        if task.attempt >= task.max_attempts or _cancelled(state, task.run_id):
            continue
        due = task.retry_not_before
        if due is None or now_ms >= due:
            if state.get_outbox(dispatch_id(task.run_id, task.task_key, task.attempt + 1)) is None:
                plan.events.append(_request(task, task.attempt + 1))
                plan.reasons[f"{task.run_id}/{task.task_key}"] = "retry_wait_bootstrap"
        else:
            plan.note_due(due)
    for task in state.tasks_in_state("RUNNING"):
        reference = task.last_heartbeat_at or task.started_at
        if reference is None or not task.attempt_id:
            continue
        deadline = reference + task.heartbeat_timeout_sec * 1000 + thresholds.running_grace_ms
        if now_ms > deadline:
            plan.events.append(
                TaskFinished(
                    run_id=task.run_id,
                    task_key=task.task_key,
                    attempt=task.attempt,
                    attempt_id=task.attempt_id,
                    worker_id=ANTI_ENTROPY_WORKER,
                    outcome=TaskOutcome.FAILED,
                    error_message=HEARTBEAT_TIMEOUT_REASON,
                )
            )
            plan.force_failed.append((task.run_id, task.task_key))
        else:
            plan.note_due(deadline + 1)
    return plan
