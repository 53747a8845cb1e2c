"""Poll sensors over the published state: which are due (the automation service asks for
their evaluation), which requested evaluations still have to reach a worker (the
dispatcher sends them), and what a worker's answer becomes.

A request names the state version it is for, so every automation process writes the
same one (``poll:{sensor_id}:v{version}:a{attempt}``); a new attempt is requested only
when the pending one has not been answered within :data:`ANSWER_TIMEOUT_MS`. The answer
carries that version back: of two answers from one version, one moves the cursor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from arco_core.automation.sensor_runs import deployed_sensors
from arco_core.automation.sensors import SensorKind, SensorState, next_poll_ms, parse_evaluation
from arco_core.errors import InvalidArgument
from arco_core.ids import callback_task_id, cloud_task_id
from arco_core.orchestration.events import (
    SensorEvaluated,
    SensorEvaluationRequested,
    SensorRunRequestRecord,
)
from arco_core.orchestration.state import DEFAULT_WORKER_QUEUE, SensorStateRow
from arco_core.orchestration.tables import ProjectionTables

__all__ = [
    "ANSWER_TIMEOUT_MS",
    "SensorDispatch",
    "due_poll_requests",
    "next_poll_due_ms",
    "pending_sensor_dispatches",
    "poll_answer",
    "sensor_run_scope",
]

# An evaluation not answered within this is requested again (a lost delivery or worker).
ANSWER_TIMEOUT_MS: Final = 5 * 60 * 1000


def sensor_run_scope(sensor_id: str) -> str:
    """The ``run_id`` an evaluation's envelope and token carry (no run has it)."""
    return f"sensor:{sensor_id}"


def _eval_id(sensor_id: str, version: int, attempt: int) -> str:
    return f"poll:{sensor_id}:v{version}:a{attempt}"


def _attempt_of(eval_id: str) -> int:
    return int(eval_id.rsplit(":a", 1)[1])


def _state(row: SensorStateRow | None) -> SensorState:
    if row is None:
        return SensorState()
    return SensorState(
        row.cursor, row.last_evaluation_at, row.last_eval_id, state_version=row.state_version
    )


def _due_at(spec_due: int | None, row: SensorStateRow | None) -> int | None:
    """When the next request is due: the poll time, or the pending one's timeout."""
    if spec_due is None:
        return None
    if row is not None and row.pending_eval_id and row.pending_requested_at is not None:
        return max(spec_due, row.pending_requested_at + ANSWER_TIMEOUT_MS)
    return spec_due


def _poll_sensors(
    state: ProjectionTables, manifest: Mapping[str, Any] | None
) -> Iterable[tuple[str, int | None, SensorStateRow | None]]:
    rows = {row.sensor_id: row for row in state.sensor_state_table.rows.values()}
    for sensor_id, deployed in deployed_sensors(manifest).items():
        if deployed.spec.kind is not SensorKind.POLL:
            continue
        row = rows.get(sensor_id)
        yield sensor_id, _due_at(next_poll_ms(deployed.spec, _state(row)), row), row


def due_poll_requests(
    state: ProjectionTables, manifest: Mapping[str, Any] | None, now_ms: int
) -> list[SensorEvaluationRequested]:
    """The evaluation requests of the poll sensors due at ``now_ms``."""
    out = []
    for sensor_id, due, row in _poll_sensors(state, manifest):
        if due is None or due > now_ms:
            continue
        version = row.state_version if row is not None else 0
        attempt = 1
        if row is not None and row.pending_eval_id:
            attempt = _attempt_of(row.pending_eval_id) + 1
        out.append(
            SensorEvaluationRequested(
                sensor_id=sensor_id,
                eval_id=_eval_id(sensor_id, version, attempt),
                expected_state_version=version,
                cursor=row.cursor if row is not None else None,
                worker_queue=DEFAULT_WORKER_QUEUE,
            )
        )
    return out


def next_poll_due_ms(state: ProjectionTables, manifest: Mapping[str, Any] | None) -> int | None:
    """The earliest time a poll sensor is due (None: no poll sensor)."""
    return min(
        (due for _, due, _ in _poll_sensors(state, manifest) if due is not None), default=None
    )


@dataclass(frozen=True, slots=True)
class SensorDispatch:
    """A requested evaluation to send to a worker."""

    sensor_id: str
    eval_id: str
    cursor: str | None
    expected_state_version: int
    worker_queue: str

    @property
    def task_id(self) -> str:
        return callback_task_id(sensor_run_scope(self.sensor_id), self.eval_id)

    @property
    def cloud_task_id(self) -> str:
        return cloud_task_id("sensor", self.eval_id)


def pending_sensor_dispatches(
    state: ProjectionTables, exclude: Iterable[str] = ()
) -> list[SensorDispatch]:
    """Requested evaluations the dispatch provider has not accepted yet."""
    skip = set(exclude)
    return [
        SensorDispatch(
            row.sensor_id,
            row.pending_eval_id,
            row.cursor,
            row.state_version,
            row.pending_worker_queue or DEFAULT_WORKER_QUEUE,
        )
        for row in state.sensor_state_table.rows.values()
        if row.pending_eval_id and row.pending_sent_at is None and row.pending_eval_id not in skip
    ]


def poll_answer(
    sensor_id: str,
    eval_id: str,
    expected_state_version: int,
    *,
    cursor: str | None,
    run_requests: Sequence[Mapping[str, Any]],
    error: str | None,
) -> SensorEvaluated:
    """A worker's answer as the event that records it, bounded like any answer."""
    raw: dict[str, Any] = {"cursor": cursor, "runRequests": [dict(r) for r in run_requests]}
    if error is not None:
        raw["error"] = error
    result = parse_evaluation(raw)
    if not eval_id.startswith(f"poll:{sensor_id}:"):
        raise InvalidArgument(
            "the evaluation id does not name this sensor", reason="invalid_payload"
        )
    return SensorEvaluated(
        sensor_id=sensor_id,
        eval_id=eval_id,
        trigger_source="poll",
        expected_state_version=expected_state_version,
        cursor_after=result.cursor,
        run_requests=tuple(
            SensorRunRequestRecord(r.run_key, r.assets, r.partition_keys, dict(r.labels))
            for r in result.run_requests
        ),
        error_message=result.error,
    )
