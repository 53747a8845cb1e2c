"""Fold handlers of a task's attempts: dispatch, start, heartbeat, result, visibility."""

from __future__ import annotations

from arco_core.orchestration.events import (
    DispatchEnqueued,
    DispatchRequested,
    TaskCompletionRecorded,
    TaskFinished,
    TaskHeartbeat,
    TaskOutcome,
    TaskOutputVisibilityChanged,
    TaskStarted,
)
from arco_core.orchestration.handlers import partitions
from arco_core.orchestration.handlers.lifecycle import (
    attempt_consumed,
    finish_task,
    prune_outbox,
    writable_task,
)
from arco_core.orchestration.retry import retry_deadline_ms
from arco_core.orchestration.state import (
    DEFAULT_WORKER_QUEUE,
    TERMINAL_TASK_STATES,
    DepResolution,
    EndedAttempt,
    OutboxRow,
    OutboxStatus,
    TaskRow,
    TaskState,
    VisibilityStateRow,
)
from arco_core.orchestration.tables import FoldEvent, ProjectionTables, stamp


def dispatch_requested(s: ProjectionTables, p: DispatchRequested, ev: FoldEvent) -> bool:
    task = s.task_table.rows.get((p.run_id, p.task_key))
    if task is None:
        return False
    if attempt_consumed(task, p.attempt):
        s.delete(s.outbox_table, (p.dispatch_id,))
        return False
    outbox = s.writable(s.outbox_table, (p.dispatch_id,))
    if outbox is not None:
        # DispatchEnqueued came first: fill what only the request knows; never regress
        # status or row_version.
        if not outbox.attempt_id:
            outbox.attempt_id = p.attempt_id
        if outbox.worker_queue in ("", DEFAULT_WORKER_QUEUE) and p.worker_queue not in (
            "",
            DEFAULT_WORKER_QUEUE,
        ):
            outbox.worker_queue = p.worker_queue
        stamp(outbox, ev)
    else:
        outbox = s.insert(
            s.outbox_table,
            OutboxRow(
                run_id=p.run_id,
                task_key=p.task_key,
                attempt=p.attempt,
                dispatch_id=p.dispatch_id,
                cloud_task_id=None,
                status=OutboxStatus.PENDING.value,
                attempt_id=p.attempt_id,
                worker_queue=p.worker_queue,
                created_at=ev.ts,
                row_version=ev.event_id,
            ),
        )
    if (
        task.state in (TaskState.READY, TaskState.RETRY_WAIT, TaskState.DISPATCHED)
        and p.attempt >= task.attempt
    ):
        t = writable_task(s, p.run_id, p.task_key)
        new_attempt = p.attempt > t.attempt
        if new_attempt:
            t.attempt = p.attempt
            t.attempt_id = outbox.attempt_id or p.attempt_id
            t.last_heartbeat_at = None
            prune_outbox(s, t.run_id, t.task_key, p.attempt - 1)
        elif not t.attempt_id:
            t.attempt_id = outbox.attempt_id or p.attempt_id
        s.set_task_state(t, TaskState.DISPATCHED)
        t.retry_not_before = None
        if p.worker_queue not in ("", DEFAULT_WORKER_QUEUE):
            t.worker_queue = p.worker_queue
        stamp(t, ev)
    return True


def dispatch_enqueued(s: ProjectionTables, p: DispatchEnqueued, ev: FoldEvent) -> bool:
    existing = s.outbox_table.rows.get((p.dispatch_id,))
    if existing is not None:
        run_id, task_key, attempt = existing.run_id, existing.task_key, existing.attempt
    elif p.run_id is not None and p.task_key is not None and p.attempt is not None:
        run_id, task_key, attempt = p.run_id, p.task_key, p.attempt
    else:
        return False
    task = s.task_table.rows.get((run_id, task_key))
    if task is None:
        return False
    if attempt_consumed(task, attempt):
        s.delete(s.outbox_table, (p.dispatch_id,))
        return False
    if existing is None:
        s.insert(
            s.outbox_table,
            OutboxRow(
                run_id=run_id,
                task_key=task_key,
                attempt=attempt,
                dispatch_id=p.dispatch_id,
                cloud_task_id=p.cloud_task_id,
                status=OutboxStatus.CREATED.value,
                attempt_id="",
                worker_queue=DEFAULT_WORKER_QUEUE,
                created_at=ev.ts,
                row_version=ev.event_id,
            ),
        )
        return True
    if existing.status == OutboxStatus.CREATED and ev.event_id <= existing.row_version:
        return False  # an older ack for a row that is already acknowledged
    row = s.writable(s.outbox_table, (p.dispatch_id,))
    assert row is not None
    s.set_outbox_status(row, OutboxStatus.CREATED)
    row.cloud_task_id = p.cloud_task_id
    row.created_at = ev.ts  # the dispatch age restarts at the acknowledgement
    stamp(row, ev)
    return True


def task_started(s: ProjectionTables, p: TaskStarted, ev: FoldEvent) -> bool:
    task = s.task_table.rows.get((p.run_id, p.task_key))
    if task is None or task.state in TERMINAL_TASK_STATES or p.attempt < task.attempt:
        return False
    if p.attempt == task.attempt:
        if task.attempt_id and task.attempt_id != p.attempt_id:
            return False
        if task.state in (TaskState.RUNNING, TaskState.RETRY_WAIT):
            # RUNNING: already started. RETRY_WAIT: this attempt already reported its
            # result; a redelivered start must not resurrect it.
            return False
    t = writable_task(s, p.run_id, p.task_key)
    if p.attempt > t.attempt:
        t.last_heartbeat_at = None
    t.attempt = p.attempt
    t.attempt_id = p.attempt_id
    s.set_task_state(t, TaskState.RUNNING)
    t.started_at = ev.ts
    t.retry_not_before = None
    stamp(t, ev)
    prune_outbox(s, t.run_id, t.task_key, p.attempt)
    return True


def heartbeat(s: ProjectionTables, p: TaskHeartbeat, ev: FoldEvent) -> bool:
    task = s.task_table.rows.get((p.run_id, p.task_key))
    if task is None or task.attempt != p.attempt or task.attempt_id != p.attempt_id:
        return False
    # A heartbeat of the current attempt that is folded after the attempt's result
    # (delivery delay) still records its time: it never changes the state, and this
    # keeps last_heartbeat_at independent of batch boundaries. The API itself refuses
    # heartbeats for terminal tasks (410) before anything is appended.
    at = p.heartbeat_at if p.heartbeat_at is not None else ev.ts
    t = writable_task(s, p.run_id, p.task_key)
    # max(): a delayed older heartbeat must not move the liveness clock backwards.
    if t.last_heartbeat_at is None or at > t.last_heartbeat_at:
        t.last_heartbeat_at = at
    stamp(t, ev)
    return True


def task_finished(s: ProjectionTables, p: TaskFinished, ev: FoldEvent) -> bool:
    if not _apply_result(s, p, ev):
        return False
    task = s.task_table.rows[(p.run_id, p.task_key)]
    partitions.record_finish(s, p, task, ev)
    return True


def _apply_result(s: ProjectionTables, p: TaskFinished, ev: FoldEvent) -> bool:
    task = s.task_table.rows.get((p.run_id, p.task_key))
    if (
        task is None
        or task.state in TERMINAL_TASK_STATES
        or task.state == TaskState.RETRY_WAIT  # this attempt's result is already in
        or task.attempt != p.attempt
        or task.attempt_id != p.attempt_id
    ):
        return False
    t = writable_task(s, p.run_id, p.task_key)
    output = p.output or {}
    if p.outcome == TaskOutcome.SUCCEEDED:
        t.error_message = None
        t.materialization_id = p.materialization_id or _str_or_none(output.get("materializationId"))
        t.delta_table = _str_or_none(output.get("deltaTable"))
        t.delta_version = _int_or_none(output.get("deltaVersion"))
        t.delta_partition = _str_or_none(output.get("deltaPartition"))
        t.execution_lineage_ref = _str_or_none(output.get("executionLineageRef"))
        finish_task(s, t, TaskState.SUCCEEDED, ev)
        _satisfy_downstream(s, t, ev)
        if isinstance(p, TaskCompletionRecorded) and p.output_visibility is not None:
            vis = p.output_visibility
            _apply_visibility(
                t, vis.visibility_state.value.upper(), vis.published_at, vis.publish_error, ev
            )
        return True
    if p.outcome == TaskOutcome.FAILED:
        t.error_message = p.error_message or (p.error.message if p.error else None)
        retryable = p.error.effective_retryable() if p.error is not None else True
        run = s.run_table.rows.get((t.run_id,))
        if run is not None and run.cancel_requested:
            # The run is being cancelled: no retry. The attempt ends CANCELLED (keeping
            # its error) so the run completes as CANCELLED rather than waiting forever.
            finish_task(s, t, TaskState.CANCELLED, ev)
            _propagate_failure(s, t, DepResolution.CANCELLED, ev)
            return True
        if retryable and t.attempt < t.max_attempts:
            # The row's columns move on to the next attempt: keep this one's span.
            EndedAttempt.record(t, ev.ts)
            s.set_task_state(t, TaskState.RETRY_WAIT)
            t.retry_not_before = retry_deadline_ms(ev.anchor, t.attempt)
            t.output_visibility_state = None
            t.published_at = None
            t.publish_error = None
            stamp(t, ev)
            prune_outbox(s, t.run_id, t.task_key, t.attempt)
            return True
        finish_task(s, t, TaskState.FAILED, ev)
        _propagate_failure(s, t, DepResolution.FAILED, ev)
        return True
    if p.outcome == TaskOutcome.SKIPPED:
        finish_task(s, t, TaskState.SKIPPED, ev)
        _propagate_failure(s, t, DepResolution.SKIPPED, ev)
        return True
    finish_task(s, t, TaskState.CANCELLED, ev)
    _propagate_failure(s, t, DepResolution.CANCELLED, ev)
    return True


def _satisfy_downstream(s: ProjectionTables, up: TaskRow, ev: FoldEvent) -> None:
    for down_key in s.dependents_index.get((up.run_id, up.task_key), ()):
        edge = s.writable(s.dep_table, (up.run_id, up.task_key, down_key))
        if edge is None:
            continue
        was_satisfied = edge.satisfied
        edge.satisfied = True
        edge.resolution = DepResolution.SUCCESS.value
        edge.satisfied_at = ev.ts
        edge.satisfying_attempt = up.attempt
        stamp(edge, ev)
        if was_satisfied:
            continue  # never count an edge twice
        down = s.writable(s.task_table, (up.run_id, down_key))
        if down is None:
            continue
        down.deps_satisfied_count += 1
        if down.deps_satisfied_count >= down.deps_total and down.state == TaskState.BLOCKED:
            s.set_task_state(down, TaskState.READY)
            down.ready_at = ev.ts
        stamp(down, ev)


def _propagate_failure(
    s: ProjectionTables, origin: TaskRow, resolution: DepResolution, ev: FoldEvent
) -> None:
    """BFS: resolve out-edges and skip (or cancel) every non-terminal descendant."""
    queue: list[tuple[str, DepResolution]] = [(origin.task_key, resolution)]
    run_id = origin.run_id
    while queue:
        up_key, edge_res = queue.pop()
        for down_key in s.dependents_index.get((run_id, up_key), ()):
            edge = s.writable(s.dep_table, (run_id, up_key, down_key))
            if edge is not None:
                edge.satisfied = False
                edge.resolution = edge_res.value
                edge.satisfied_at = ev.ts
                edge.satisfying_attempt = None
                stamp(edge, ev)
            down = s.task_table.rows.get((run_id, down_key))
            if down is None or down.state in TERMINAL_TASK_STATES:
                continue
            cancel = edge_res == DepResolution.CANCELLED
            finish_task(
                s,
                writable_task(s, run_id, down_key),
                TaskState.CANCELLED if cancel else TaskState.SKIPPED,
                ev,
            )
            queue.append((down_key, DepResolution.CANCELLED if cancel else DepResolution.SKIPPED))


def _apply_visibility(
    t: TaskRow,
    state: str,
    published_at: int | None,
    publish_error: str | None,
    ev: FoldEvent,
) -> bool:
    current = t.output_visibility_state
    if current == state or current in (VisibilityStateRow.VISIBLE, VisibilityStateRow.FAILED):
        return False  # VISIBLE and FAILED are final
    t.output_visibility_state = state
    if state == VisibilityStateRow.VISIBLE:
        t.published_at = published_at if published_at is not None else ev.ts
    elif state == VisibilityStateRow.FAILED:
        t.publish_error = publish_error
    stamp(t, ev)
    return True


def visibility_changed(s: ProjectionTables, p: TaskOutputVisibilityChanged, ev: FoldEvent) -> bool:
    task = s.task_table.rows.get((p.run_id, p.task_key))
    if (
        task is None
        or task.state != TaskState.SUCCEEDED
        or task.attempt != p.attempt
        or task.attempt_id != p.attempt_id
    ):
        return False
    state = p.visibility_state.value.upper()
    current = task.output_visibility_state
    if current == state or current in (VisibilityStateRow.VISIBLE, VisibilityStateRow.FAILED):
        return False
    t = writable_task(s, p.run_id, p.task_key)
    return _apply_visibility(t, state, p.published_at, p.publish_error, ev)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
