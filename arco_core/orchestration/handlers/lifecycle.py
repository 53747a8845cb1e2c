"""Task and run bookkeeping every handler shares: finishing a task, counting it on its run."""

from __future__ import annotations

from arco_core.orchestration.state import (
    TERMINAL_RUN_STATES,
    TERMINAL_TASK_STATES,
    RunRow,
    RunState,
    TaskRow,
    TaskState,
)
from arco_core.orchestration.tables import FoldEvent, ProjectionTables, stamp


def writable_task(s: ProjectionTables, run_id: str, task_key: str) -> TaskRow:
    row = s.writable(s.task_table, (run_id, task_key))
    assert row is not None
    return row


def finish_task(s: ProjectionTables, task: TaskRow, state: TaskState, ev: FoldEvent) -> None:
    """Move a non-terminal task to a terminal state and do the run bookkeeping."""
    s.set_task_state(task, state)
    task.completed_at = ev.ts
    task.retry_not_before = None
    if state != TaskState.SUCCEEDED:
        task.output_visibility_state = None
        task.published_at = None
        task.publish_error = None
    stamp(task, ev)
    prune_outbox(s, task.run_id, task.task_key, None)
    count_run_terminal(s, task, ev)


def attempt_consumed(task: TaskRow, attempt: int) -> bool:
    """Whether no dispatch of ``attempt`` may ever run.

    A terminal task consumes every attempt (the reference only compares attempts, which
    lets an outbox row appear for a task that was cancelled before its first dispatch).
    """
    if task.state in TERMINAL_TASK_STATES or attempt < task.attempt:
        return True
    return attempt == task.attempt and task.state in (TaskState.RUNNING, TaskState.RETRY_WAIT)


def prune_outbox(
    s: ProjectionTables, run_id: str, task_key: str, up_to_attempt: int | None
) -> None:
    ids = s.outbox_by_task.get((run_id, task_key))
    if not ids:
        return
    for dispatch_id in list(ids):
        row = s.outbox_table.rows[(dispatch_id,)]
        if up_to_attempt is None or row.attempt <= up_to_attempt:
            s.delete(s.outbox_table, (dispatch_id,))


def count_run_terminal(s: ProjectionTables, task: TaskRow, ev: FoldEvent) -> None:
    run = s.writable(s.run_table, (task.run_id,))
    if run is None:
        return  # RunTriggered not folded yet; it recomputes counters from the tasks
    count_terminal(run, task.state)
    maybe_complete(run, ev)
    stamp(run, ev)


def count_terminal(run: RunRow, state: str) -> None:
    if state not in TERMINAL_TASK_STATES:
        return
    run.tasks_completed += 1
    if state == TaskState.SUCCEEDED:
        run.tasks_succeeded += 1
    elif state == TaskState.FAILED:
        run.tasks_failed += 1
    elif state == TaskState.SKIPPED:
        run.tasks_skipped += 1
    else:
        run.tasks_cancelled += 1


def derive_run_state(run: RunRow) -> RunState:
    """Run state implied by the counters (precedence: cancelled, failed, succeeded)."""
    if run.tasks_total == 0:
        return RunState(run.state)
    if run.tasks_completed < run.tasks_total:
        return RunState.RUNNING
    if run.tasks_cancelled > 0:
        return RunState.CANCELLED
    if run.tasks_failed > 0:
        return RunState.FAILED
    return RunState.SUCCEEDED


def maybe_complete(run: RunRow, ev: FoldEvent) -> None:
    if run.tasks_total == 0 or run.tasks_completed < run.tasks_total:
        return
    if run.state in TERMINAL_RUN_STATES:
        return
    run.state = derive_run_state(run).value
    run.completed_at = ev.ts
