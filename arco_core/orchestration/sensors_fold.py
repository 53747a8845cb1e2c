"""The sensor fold: ``SensorEvaluated`` -> ``sensor_state`` and ``sensor_evals`` rows.

The rules are those of :func:`arco_core.automation.sensors.apply_evaluation`: an answer
that names another state version than the sensor's is recorded as skipped (stale cursor)
with no run requests and leaves the state as it is, so of two concurrent evaluations one
moves the cursor. Runs are not made here: whoever wrote the evaluation reads its folded
record and requests the runs of an applied one (:mod:`arco_core.automation.sensor_runs`).
"""

from __future__ import annotations

from arco_core.automation.sensors import (
    EvaluationResult,
    EvaluationStatus,
    SensorRunRequest,
    SensorState,
    SensorStatus,
    apply_evaluation,
)
from arco_core.canonical_json import canonical_dumps
from arco_core.orchestration.events import (
    SensorEvaluated,
    SensorEvaluationDispatched,
    SensorEvaluationRequested,
    SensorRunRequestRecord,
)
from arco_core.orchestration.state import SensorEvalRow, SensorStateRow
from arco_core.orchestration.tables import FoldEvent, ProjectionTables, stamp

__all__ = [
    "evaluation_dispatched",
    "evaluation_requested",
    "run_requests_json",
    "sensor_evaluated",
]


def run_requests_json(requests: tuple[SensorRunRequestRecord, ...]) -> str | None:
    """The ``run_requests`` column: the requested runs as canonical JSON (None: none)."""
    if not requests:
        return None
    return canonical_dumps(
        [
            {
                "run_key": r.run_key,
                "assets": list(r.assets),
                "partition_keys": list(r.partition_keys),
                "labels": dict(r.labels),
            }
            for r in requests
        ]
    )


def _state(row: SensorStateRow | None) -> SensorState:
    if row is None:
        return SensorState()
    return SensorState(
        cursor=row.cursor,
        last_evaluation_at_ms=row.last_evaluation_at,
        last_eval_id=row.last_eval_id,
        status=SensorStatus(row.status),
        state_version=row.state_version,
    )


def sensor_evaluated(s: ProjectionTables, p: SensorEvaluated, ev: FoldEvent) -> bool:
    eval_pk = (ev.tenant_id, ev.workspace_id, p.eval_id)
    if eval_pk in s.sensor_eval_table.rows:
        return False
    state_pk = (ev.tenant_id, ev.workspace_id, p.sensor_id)
    current = s.sensor_state_table.rows.get(state_pk)
    result = EvaluationResult(
        p.cursor_after,
        tuple(
            SensorRunRequest(r.run_key, r.assets, r.partition_keys, dict(r.labels))
            for r in p.run_requests
        ),
        p.error_message,
    )
    after, record = apply_evaluation(
        _state(current),
        result,
        eval_id=p.eval_id,
        at_ms=ev.ts,
        expected_state_version=p.expected_state_version,
    )
    applied = record.status is not EvaluationStatus.SKIPPED_STALE_CURSOR
    s.insert(
        s.sensor_eval_table,
        SensorEvalRow(
            tenant_id=ev.tenant_id,
            workspace_id=ev.workspace_id,
            eval_id=p.eval_id,
            sensor_id=p.sensor_id,
            cursor_before=record.cursor_before,
            cursor_after=record.cursor_after,
            expected_state_version=p.expected_state_version,
            trigger_source=p.trigger_source,
            run_requests=run_requests_json(p.run_requests if applied else ()),
            status=record.status.value,
            evaluated_at=record.evaluated_at_ms,
            row_version=ev.event_id,
            error_message=record.error,
            message_id=p.message_id,
        ),
    )
    if not applied:
        return True
    row = s.writable(s.sensor_state_table, state_pk)
    if row is None:
        row = s.insert(
            s.sensor_state_table,
            SensorStateRow(
                tenant_id=ev.tenant_id,
                workspace_id=ev.workspace_id,
                sensor_id=p.sensor_id,
                cursor=None,
                last_evaluation_at=None,
                last_eval_id=None,
                status=after.status.value,
                state_version=0,
                row_version=ev.event_id,
            ),
        )
    row.cursor = after.cursor
    row.last_evaluation_at = after.last_evaluation_at_ms
    row.last_eval_id = after.last_eval_id
    row.state_version = after.state_version
    # The version moved: any requested poll is answered (or obsolete).
    row.pending_eval_id = row.pending_worker_queue = None
    row.pending_requested_at = row.pending_sent_at = None
    stamp(row, ev)
    return True


def evaluation_requested(s: ProjectionTables, p: SensorEvaluationRequested, ev: FoldEvent) -> bool:
    """A poll request for the sensor's current version becomes its pending evaluation (a
    later attempt replaces an unanswered one); a request for an older version is stale."""
    pk = (ev.tenant_id, ev.workspace_id, p.sensor_id)
    row = s.writable(s.sensor_state_table, pk)
    if row is None:
        if p.expected_state_version != 0:
            return False
        row = s.insert(
            s.sensor_state_table,
            SensorStateRow(
                tenant_id=ev.tenant_id,
                workspace_id=ev.workspace_id,
                sensor_id=p.sensor_id,
                cursor=None,
                last_evaluation_at=None,
                last_eval_id=None,
                status=SensorStatus.ACTIVE.value,
                state_version=0,
                row_version=ev.event_id,
            ),
        )
    elif row.state_version != p.expected_state_version:
        return False
    row.pending_eval_id = p.eval_id
    row.pending_worker_queue = p.worker_queue
    row.pending_requested_at = ev.ts
    row.pending_sent_at = None
    stamp(row, ev)
    return True


def evaluation_dispatched(
    s: ProjectionTables, p: SensorEvaluationDispatched, ev: FoldEvent
) -> bool:
    row = s.sensor_state_table.rows.get((ev.tenant_id, ev.workspace_id, p.sensor_id))
    if row is None or row.pending_eval_id != p.eval_id:
        return False
    row = s.writable(s.sensor_state_table, row.pk)
    assert row is not None
    row.pending_sent_at = ev.ts
    stamp(row, ev)
    return True
