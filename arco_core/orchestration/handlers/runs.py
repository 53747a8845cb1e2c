"""Fold handlers of runs: trigger, plan and cancel."""

from __future__ import annotations

from arco_core.canonical_json import canonical_dumps
from arco_core.orchestration.events import (
    PlanCreated,
    RunCancelRequested,
    RunTriggered,
)
from arco_core.orchestration.handlers.lifecycle import (
    count_terminal,
    finish_task,
    maybe_complete,
    writable_task,
)
from arco_core.orchestration.state import (
    TERMINAL_RUN_STATES,
    TERMINAL_TASK_STATES,
    DepRow,
    RunRow,
    RunState,
    TaskRow,
    TaskState,
)
from arco_core.orchestration.tables import FoldEvent, ProjectionTables, stamp


def run_triggered(s: ProjectionTables, p: RunTriggered, ev: FoldEvent) -> bool:
    if (p.run_id,) in s.run_table.rows:
        return False
    run = RunRow(
        run_id=p.run_id,
        plan_id=p.plan_id,
        state=RunState.TRIGGERED.value,
        run_key=p.run_key,
        cancel_requested=False,
        tasks_total=0,
        tasks_completed=0,
        tasks_succeeded=0,
        tasks_failed=0,
        tasks_skipped=0,
        tasks_cancelled=0,
        triggered_at=ev.ts,
        completed_at=None,
        labels=canonical_dumps(dict(p.labels)) if p.labels else None,
        code_version=p.code_version,
        row_version=ev.event_id,
        parent_run_id=p.parent_run_id,
        rerun_kind=p.rerun_kind,
        rerun_reason=p.rerun_reason,
        traceparent=p.traceparent,
    )
    keys = s.tasks_by_run.get(p.run_id)
    if keys:
        # PlanCreated was folded first: recover the counters from the task rows.
        run.tasks_total = len(keys)
        run.state = RunState.RUNNING.value
        for key in keys:
            count_terminal(run, s.task_table.rows[(p.run_id, key)].state)
        maybe_complete(run, ev)
    s.insert(s.run_table, run)
    return True


def plan_created(s: ProjectionTables, p: PlanCreated, ev: FoldEvent) -> bool:
    if p.run_id in s.tasks_by_run:
        return False
    run = s.writable(s.run_table, (p.run_id,))
    cancelled = run is not None and run.cancel_requested
    for td in p.tasks:
        if cancelled:
            state, ready_at, completed_at = TaskState.CANCELLED, None, ev.ts
        elif td.depends_on:
            state, ready_at, completed_at = TaskState.BLOCKED, None, None
        else:
            state, ready_at, completed_at = TaskState.READY, ev.ts, None
        s.insert(
            s.task_table,
            TaskRow(
                run_id=p.run_id,
                task_key=td.key,
                state=state.value,
                attempt=0,
                attempt_id=None,
                started_at=None,
                completed_at=completed_at,
                error_message=None,
                deps_total=len(td.depends_on),
                deps_satisfied_count=0,
                max_attempts=td.max_attempts,
                heartbeat_timeout_sec=td.heartbeat_timeout_sec,
                last_heartbeat_at=None,
                ready_at=ready_at,
                asset_key=td.asset_key,
                partition_key=td.partition_key,
                row_version=ev.event_id,
                requires_visible_output=td.requires_visible_output,
                worker_queue=td.worker_queue,
            ),
        )
        for up in td.depends_on:
            s.insert(
                s.dep_table,
                DepRow(
                    run_id=p.run_id,
                    upstream_task_key=up,
                    downstream_task_key=td.key,
                    satisfied=False,
                    resolution=None,
                    satisfied_at=None,
                    satisfying_attempt=None,
                    row_version=ev.event_id,
                ),
            )
    if run is not None:
        run.tasks_total = len(p.tasks)
        if run.state == RunState.TRIGGERED:
            run.state = RunState.RUNNING.value
        if cancelled:
            n = len(p.tasks)
            run.tasks_completed += n
            run.tasks_cancelled += n
        maybe_complete(run, ev)
        stamp(run, ev)
    return True


def cancel_requested(s: ProjectionTables, p: RunCancelRequested, ev: FoldEvent) -> bool:
    current = s.run_table.rows.get((p.run_id,))
    if current is None or current.state in TERMINAL_RUN_STATES or current.cancel_requested:
        return False
    run = s.writable(s.run_table, (p.run_id,))
    assert run is not None
    run.cancel_requested = True
    run.cancel_requested_by = p.requested_by
    run.cancel_reason = p.reason
    stamp(run, ev)
    for key in list(s.tasks_by_run.get(p.run_id, ())):
        task = s.task_table.rows[(p.run_id, key)]
        if task.state in TERMINAL_TASK_STATES or task.state == TaskState.RUNNING:
            continue  # running tasks learn about the cancel from their heartbeat
        finish_task(s, writable_task(s, p.run_id, key), TaskState.CANCELLED, ev)
    if run.tasks_total == 0 and not s.tasks_by_run.get(p.run_id):
        # Cancelled before it was planned: nothing will ever run.
        run.state = RunState.CANCELLED.value
        run.completed_at = ev.ts
    return True
