"""Fold handlers of timers: requested, acknowledged by the provider, fired."""

from __future__ import annotations

from typing import Final

from arco_core.errors import ArcoError
from arco_core.ids import parse_timer_id
from arco_core.orchestration.events import (
    TimerEnqueued,
    TimerFired,
    TimerRequested,
    TimerType,
)
from arco_core.orchestration.handlers.lifecycle import (
    writable_task,
)
from arco_core.orchestration.state import (
    TaskState,
    TimerRow,
    TimerState,
)
from arco_core.orchestration.tables import FoldEvent, ProjectionTables, stamp

_TIMER_ID_TYPES: Final = {
    "retry": TimerType.RETRY,
    "heartbeat": TimerType.HEARTBEAT_CHECK,
    "sla": TimerType.SLA_CHECK,
    "cron": TimerType.CRON,
}


def _timer_from_id(timer_id: str, state: TimerState, ev: FoldEvent) -> TimerRow | None:
    try:
        parsed = parse_timer_id(timer_id)
    except ArcoError:
        return None
    return TimerRow(
        timer_id=timer_id,
        cloud_task_id=None,
        timer_type=_TIMER_ID_TYPES[parsed.timer_type].value.upper(),
        run_id=parsed.run_id,
        task_key=parsed.task_key,
        attempt=parsed.attempt,
        fire_at=parsed.epoch * 1000,
        state=state.value,
        payload=None,
        row_version=ev.event_id,
    )


def timer_requested(s: ProjectionTables, p: TimerRequested, ev: FoldEvent) -> bool:
    row = s.writable(s.timer_table, (p.timer_id,))
    if row is None:
        s.insert(
            s.timer_table,
            TimerRow(
                timer_id=p.timer_id,
                cloud_task_id=None,
                timer_type=p.timer_type.value.upper(),
                run_id=p.run_id,
                task_key=p.task_key,
                attempt=p.attempt,
                fire_at=p.fire_at,
                state=TimerState.SCHEDULED.value,
                payload=None,
                row_version=ev.event_id,
            ),
        )
    else:
        # The request is authoritative for fire_at; fill what an early ack could not know.
        row.fire_at = p.fire_at
        row.timer_type = p.timer_type.value.upper()
        row.run_id = row.run_id if row.run_id is not None else p.run_id
        row.task_key = row.task_key if row.task_key is not None else p.task_key
        row.attempt = row.attempt if row.attempt is not None else p.attempt
        stamp(row, ev)
    if p.timer_type == TimerType.RETRY and p.run_id and p.task_key:
        task = s.task_table.rows.get((p.run_id, p.task_key))
        if task is not None and task.state == TaskState.RETRY_WAIT and task.attempt == p.attempt:
            t = writable_task(s, p.run_id, p.task_key)
            t.retry_not_before = p.fire_at
            stamp(t, ev)
    return True


def timer_enqueued(s: ProjectionTables, p: TimerEnqueued, ev: FoldEvent) -> bool:
    row = s.writable(s.timer_table, (p.timer_id,))
    if row is None:
        new = _timer_from_id(p.timer_id, TimerState.SCHEDULED, ev)
        if new is None:
            return False
        new.cloud_task_id = p.cloud_task_id
        s.insert(s.timer_table, new)
        return True
    if row.cloud_task_id is not None and ev.event_id <= row.row_version:
        return False
    row.cloud_task_id = p.cloud_task_id
    stamp(row, ev)
    return True


def timer_fired(s: ProjectionTables, p: TimerFired, ev: FoldEvent) -> bool:
    row = s.writable(s.timer_table, (p.timer_id,))
    if row is None:
        new = _timer_from_id(p.timer_id, TimerState.FIRED, ev)
        if new is None:
            return False
        s.insert(s.timer_table, new)
        return True
    if row.state != TimerState.SCHEDULED:
        return False
    row.state = TimerState.FIRED.value
    stamp(row, ev)
    return True
