"""The orchestration fold: ledger events -> projection rows, in memory and O(batch).

:class:`FoldState` is the projection of one scope (:mod:`~arco_core.orchestration.tables`
holds the rows, indexes and the copy-on-write journal). ``fold`` runs one batch: it checks
scope, parses, drops events whose idempotency key is consumed, and hands each payload to
its aggregate's handler in :mod:`arco_core.orchestration.handlers`. A batch is all or
nothing, and the most recent one can be rolled back when its commit loses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, assert_never

import structlog

from arco_core.envelope import EventEnvelope
from arco_core.errors import ArcoError
from arco_core.folding import EventOutcome, RetentionCutoffs, TableDelta
from arco_core.ids import is_ulid
from arco_core.orchestration import backfills_fold, schedules_fold, sensors_fold
from arco_core.orchestration.events import (
    BackfillChunkPlanned,
    BackfillCreated,
    BackfillStateChanged,
    DispatchEnqueued,
    DispatchRequested,
    KnownPayload,
    ManifestDeployed,
    PlanCreated,
    RunCancelRequested,
    RunTriggered,
    ScheduleDefinitionUpserted,
    ScheduleTicked,
    SensorEvaluated,
    SensorEvaluationDispatched,
    SensorEvaluationRequested,
    TaskFinished,
    TaskHeartbeat,
    TaskOutputVisibilityChanged,
    TaskStarted,
    TimerEnqueued,
    TimerFired,
    TimerRequested,
    UnknownEvent,
    parse_payload,
)
from arco_core.orchestration.handlers import attempts, manifests, runs, timers
from arco_core.orchestration.state import TERMINAL_RUN_STATES, IdempotencyKeyRow
from arco_core.orchestration.tables import (
    CODE_MANIFESTS,
    DEP_SATISFACTION,
    DISPATCH_OUTBOX,
    IDEMPOTENCY_KEYS,
    PK,
    RUNS,
    TABLE_NAMES,
    TASKS,
    TIMERS,
    FoldDelta,
    FoldEvent,
    Journal,
    ProjectionTables,
    Table,
    merge_wins,
)

__all__ = [
    "CODE_MANIFESTS",
    "DEP_SATISFACTION",
    "DISPATCH_OUTBOX",
    "IDEMPOTENCY_KEYS",
    "RUNS",
    "TABLE_NAMES",
    "TASKS",
    "TIMERS",
    "EventOutcome",
    "FoldDelta",
    "FoldResult",
    "FoldState",
    "TableDelta",
    "merge_wins",
]

log = structlog.get_logger(__name__)
# Crockford base32 digits -> the digits int(..., 32) reads; ULIDs use no I, L, O or U.
_CROCKFORD_TO_INT32: Final = str.maketrans("ABCDEFGHJKMNPQRSTVWXYZ", "ABCDEFGHIJKLMNOPQRSTUV")


def _ulid_ms(event_id: str) -> int:
    """``ulid_timestamp_ms`` for an id already known to be a ULID, in C speed."""
    return int(event_id[:10].translate(_CROCKFORD_TO_INT32), 32)


@dataclass(frozen=True, slots=True)
class FoldResult:
    delta: FoldDelta
    applied: int
    skipped_duplicate: int
    rejected: int
    unknown: int
    invalid: int
    outcomes: Mapping[str, EventOutcome]  # event_id -> outcome
    max_event_id: str | None  # highest event id in the batch (the watermark candidate)
    fold_seq: int


class FoldState(ProjectionTables):
    """In-memory projection state of one tenant/workspace scope, folded batch by batch."""

    def __init__(self, *, tenant_id: str | None = None, workspace_id: str | None = None) -> None:
        super().__init__(tenant_id=tenant_id, workspace_id=workspace_id)
        self._last_journal: Journal | None = None
        self._fold_seq = 0

    def fold(self, events: Sequence[EventEnvelope]) -> FoldResult:
        """Fold one batch (sorted by event_id) and return its delta and counts."""
        counts = dict.fromkeys(EventOutcome, 0)
        outcomes: dict[str, EventOutcome] = {}
        ordered = sorted(events, key=lambda e: e.event_id)

        def fold_all() -> None:
            for env in ordered:
                outcome = self._fold_one(env)
                counts[outcome] += 1
                # A redelivered copy in the same batch must not hide that the event applied.
                if outcomes.get(env.event_id) != EventOutcome.APPLIED:
                    outcomes[env.event_id] = outcome

        delta = self._batch(fold_all)
        return FoldResult(
            delta=delta,
            applied=counts[EventOutcome.APPLIED],
            skipped_duplicate=counts[EventOutcome.DUPLICATE],
            rejected=counts[EventOutcome.REJECTED],
            unknown=counts[EventOutcome.UNKNOWN],
            invalid=counts[EventOutcome.INVALID],
            outcomes=outcomes,
            max_event_id=ordered[-1].event_id if ordered else None,
            fold_seq=self._fold_seq,
        )

    def expire(self, cutoffs: RetentionCutoffs) -> FoldResult:
        """Remove what retention no longer keeps, as one rollback-able batch: terminal runs
        completed before the run cutoff with their tasks, edges, outbox rows and timers,
        schedule ticks recorded before it (unless their run is kept), and idempotency
        records made before the key cutoff. O(rows): the compactor runs it
        rarely, when idle."""
        runs = {
            run.run_id
            for run in self.run_table.rows.values()
            if run.state in TERMINAL_RUN_STATES
            and run.completed_at is not None
            and run.completed_at < cutoffs.terminal_runs_before_ms
        }
        expired: list[tuple[Table[Any], PK]] = [(self.run_table, (r,)) for r in runs]
        for table in (self.task_table, self.dep_table, self.outbox_table, self.timer_table):
            expired.extend((table, pk) for pk, row in table.rows.items() if row.run_id in runs)
        expired.extend(
            (self.idem_table, pk)
            for pk, row in self.idem_table.rows.items()
            if row.recorded_at < cutoffs.idempotency_keys_before_ms
        )
        expired.extend(
            (self.schedule_tick_table, pk)
            for pk in schedules_fold.expired_ticks(self, cutoffs.terminal_runs_before_ms, runs)
        )

        def delete_all() -> None:
            for table, pk in expired:
                self.delete(table, pk)

        delta = self._batch(delete_all)
        log.info(
            "orchestration_retention_applied",
            runs_removed=len(runs),
            rows_removed=delta.row_count,
        )
        return FoldResult(
            delta=delta,
            applied=0,
            skipped_duplicate=0,
            rejected=0,
            unknown=0,
            invalid=0,
            outcomes={},
            max_event_id=None,
            fold_seq=self._fold_seq,
        )

    def _batch(self, change: Callable[[], None]) -> FoldDelta:
        """Run ``change`` as one journaled batch (the one ``rollback`` can undo)."""
        journal = self._begin_journal()
        try:
            change()
            delta = self._delta_from_journal(journal)
        except BaseException:
            # A bug must not leave a half-applied batch behind.
            self._undo(journal)
            self._end_journal()
            raise
        self._last_journal = journal
        self._end_journal()
        self._fold_seq += 1
        return delta

    def rollback(self, result: FoldResult) -> None:
        """Undo the most recent fold (e.g. its commit lost the manifest race)."""
        if self._last_journal is None or result.fold_seq != self._fold_seq:
            raise RuntimeError("only the most recent fold can be rolled back")
        self._undo(self._last_journal)
        self._last_journal = None
        self._fold_seq += 1

    def apply_delta(self, delta: FoldDelta) -> None:
        self._last_journal = None  # a rollback across a merge would be wrong
        super().apply_delta(delta)

    def _fold_one(self, env: EventEnvelope) -> EventOutcome:
        if (self.tenant_id is not None and env.tenant_id != self.tenant_id) or (
            self.workspace_id is not None and env.workspace_id != self.workspace_id
        ):
            log.warning("orchestration_event_out_of_scope", event_id=env.event_id)
            return EventOutcome.INVALID
        try:
            payload = parse_payload(env.data)
            ts = env.timestamp_ms
        except ArcoError as exc:
            log.warning("orchestration_event_invalid", event_id=env.event_id, error=exc.message)
            return EventOutcome.INVALID
        if isinstance(payload, UnknownEvent):
            # Version skew: a newer writer's event. No-op, and its key stays unconsumed so
            # that an upgraded reader replaying the ledger can still apply it.
            log.warning(
                "orchestration_event_unknown_type", event_id=env.event_id, data_type=payload.type
            )
            return EventOutcome.UNKNOWN
        idem_pk = (env.tenant_id, env.workspace_id, env.idempotency_key)
        if idem_pk in self.idem_table.rows:
            return EventOutcome.DUPLICATE
        ev = FoldEvent(
            event_id=env.event_id,
            ts=ts,
            anchor=_ulid_ms(env.event_id) if is_ulid(env.event_id) else ts,
            tenant_id=env.tenant_id,
            workspace_id=env.workspace_id,
        )
        if not self._apply(payload, ev):
            return EventOutcome.REJECTED
        if not payload.CONSUMES_KEY:
            return EventOutcome.APPLIED
        self.insert(
            self.idem_table,
            IdempotencyKeyRow(
                tenant_id=env.tenant_id,
                workspace_id=env.workspace_id,
                idempotency_key=env.idempotency_key,
                event_id=env.event_id,
                event_type=env.event_type,
                recorded_at=ts,
                row_version=env.event_id,
            ),
        )
        return EventOutcome.APPLIED

    def _apply(self, payload: KnownPayload, ev: FoldEvent) -> bool:
        match payload:
            # TaskCompletionRecorded subclasses TaskFinished, so one case serves both.
            case TaskFinished():
                return attempts.task_finished(self, payload, ev)
            case TaskHeartbeat():
                return attempts.heartbeat(self, payload, ev)
            case TaskStarted():
                return attempts.task_started(self, payload, ev)
            case DispatchRequested():
                return attempts.dispatch_requested(self, payload, ev)
            case DispatchEnqueued():
                return attempts.dispatch_enqueued(self, payload, ev)
            case TaskOutputVisibilityChanged():
                return attempts.visibility_changed(self, payload, ev)
            case RunTriggered():
                applied = runs.run_triggered(self, payload, ev)
                if applied:
                    schedules_fold.run_triggered(self, payload, ev)
                return applied
            case PlanCreated():
                return runs.plan_created(self, payload, ev)
            case RunCancelRequested():
                return runs.cancel_requested(self, payload, ev)
            case TimerRequested():
                return timers.timer_requested(self, payload, ev)
            case TimerEnqueued():
                return timers.timer_enqueued(self, payload, ev)
            case TimerFired():
                return timers.timer_fired(self, payload, ev)
            case ManifestDeployed():
                applied = manifests.manifest_deployed(self, payload, ev)
                if applied:
                    schedules_fold.manifest_deployed(self, payload, ev)
                return applied
            case BackfillCreated() | BackfillChunkPlanned() | BackfillStateChanged():
                return backfills_fold.fold_backfill(self, payload, ev)
            case ScheduleDefinitionUpserted():
                return schedules_fold.definition_upserted(self, payload, ev)
            case ScheduleTicked():
                return schedules_fold.schedule_ticked(self, payload, ev)
            case SensorEvaluated():
                return sensors_fold.sensor_evaluated(self, payload, ev)
            case SensorEvaluationRequested():
                return sensors_fold.evaluation_requested(self, payload, ev)
            case SensorEvaluationDispatched():
                return sensors_fold.evaluation_dispatched(self, payload, ev)
            case _:
                assert_never(payload)
