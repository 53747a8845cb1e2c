"""The orchestration fold: ledger events -> projection rows, in memory and O(batch).

Design notes (why, briefly):

* Every table is a dict keyed by primary key plus small key-only indexes (tasks per run,
  tasks per state, edges per node, outbox rows per task, pending outbox rows), so an event
  costs a handful of dict operations whatever the size of the history.
* Copy-on-write per fold: the first write to a row inside a fold replaces it by a private
  copy and journals the original. The journal gives the delta (changed rows and deleted
  keys, so deletions can be persisted as tombstones) and a cheap :meth:`FoldState.rollback`
  for a compactor that lost its commit. Rows visible after a fold are never mutated again.
* ``row_version`` is stamped as ``max(row_version, event_id)``, so a straggler folded in a
  later batch produces a row whose version is never below what is persisted, and
  :meth:`FoldState.apply_delta` (newer-or-equal version wins, later delta wins ties) always
  reproduces the folding state. See :func:`merge_wins` for why the rank tie-break is not
  allowed to override a later delta.
"""

from __future__ import annotations

import copy as _copy
import dataclasses
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar, assert_never

import structlog

from arco_core.canonical_json import canonical_dumps
from arco_core.envelope import EventEnvelope
from arco_core.errors import ArcoError
from arco_core.ids import is_ulid, parse_timer_id
from arco_core.orchestration.events import (
    DispatchEnqueued,
    DispatchRequested,
    KnownPayload,
    ManifestDeployed,
    PlanCreated,
    RunCancelRequested,
    RunTriggered,
    TaskCompletionRecorded,
    TaskFinished,
    TaskHeartbeat,
    TaskOutcome,
    TaskOutputVisibilityChanged,
    TaskStarted,
    TimerEnqueued,
    TimerFired,
    TimerRequested,
    TimerType,
    UnknownEvent,
    parse_payload,
)
from arco_core.orchestration.retry import retry_deadline_ms
from arco_core.orchestration.state import (
    DEFAULT_WORKER_QUEUE,
    TERMINAL_RUN_STATES,
    TERMINAL_TASK_STATES,
    CodeManifestRow,
    DepResolution,
    DepRow,
    IdempotencyKeyRow,
    OutboxRow,
    OutboxStatus,
    Row,
    RunRow,
    RunState,
    TaskRow,
    TaskState,
    TimerRow,
    TimerState,
    VisibilityStateRow,
    task_state_rank,
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

RUNS: Final = "runs"
TASKS: Final = "tasks"
DEP_SATISFACTION: Final = "dep_satisfaction"
DISPATCH_OUTBOX: Final = "dispatch_outbox"
IDEMPOTENCY_KEYS: Final = "idempotency_keys"
TIMERS: Final = "timers"
CODE_MANIFESTS: Final = "code_manifests"
TABLE_NAMES: Final = (
    RUNS,
    TASKS,
    DEP_SATISFACTION,
    DISPATCH_OUTBOX,
    IDEMPOTENCY_KEYS,
    TIMERS,
    CODE_MANIFESTS,
)


_TIMER_ID_TYPES: Final = {
    "retry": TimerType.RETRY,
    "heartbeat": TimerType.HEARTBEAT_CHECK,
    "sla": TimerType.SLA_CHECK,
    "cron": TimerType.CRON,
}

PK = tuple[str, ...]

log = structlog.get_logger(__name__)
# Crockford base32 digits -> the digits int(..., 32) reads; ULIDs use no I, L, O or U.
_CROCKFORD_TO_INT32 = str.maketrans("ABCDEFGHJKMNPQRSTVWXYZ", "ABCDEFGHIJKLMNOPQRSTUV")


_COPIERS: dict[type[Any], Callable[[Any], Any]] = {}


def _shallow_copy(row: R) -> R:
    """A new row with the same field values.

    The rows are plain slotted dataclasses: rebuilding one from its fields positionally
    is about twice as fast as ``copy.copy`` (which goes through ``__reduce_ex__``).
    """
    row_type: Any = type(row)
    copier = _COPIERS.get(row_type)
    if copier is None:
        fields = dataclasses.fields(row_type)
        names = [f.name for f in fields]
        getter = operator.attrgetter(*names)
        if not all(f.init for f in fields):
            copier = _COPIERS[row_type] = _copy.copy  # the constructor cannot rebuild it
        elif len(names) == 1:
            copier = _COPIERS[row_type] = lambda r: row_type(getter(r))
        else:
            copier = _COPIERS[row_type] = lambda r: row_type(*getter(r))
    copied: R = copier(row)
    return copied


def _ulid_ms(event_id: str) -> int:
    """``ulid_timestamp_ms`` for an id already known to be a ULID, in C speed."""
    return int(event_id[:10].translate(_CROCKFORD_TO_INT32), 32)


R = TypeVar("R", RunRow, TaskRow, DepRow, OutboxRow, IdempotencyKeyRow, TimerRow, CodeManifestRow)


class EventOutcome:
    """Per-event fold outcome labels (plain strings so they log and serialise as is)."""

    APPLIED: Final = "applied"
    DUPLICATE: Final = "duplicate"
    REJECTED: Final = "rejected"
    UNKNOWN: Final = "unknown"
    INVALID: Final = "invalid"


def merge_wins(current: Row, incoming: Row) -> bool:
    """True if ``incoming`` (from a later delta) replaces ``current``.

    Newer ``row_version`` wins. On an equal version the later delta wins: because the fold
    stamps ``max(row_version, event_id)``, a straggler can legitimately change a row without
    raising its version (e.g. a late DispatchRequested moving RETRY_WAIT to DISPATCHED), and
    a state-rank tie-break would silently discard that change on reload. Ranks are
    therefore only consulted when two rows with the same version are merged without an
    order, see :func:`merge_unordered`.
    """
    return incoming.row_version >= current.row_version


def merge_unordered(a: Row, b: Row) -> Row:
    """Deterministic pick between two rows whose relative order is unknown."""
    if a.row_version != b.row_version:
        return a if a.row_version > b.row_version else b
    if isinstance(a, TaskRow) and isinstance(b, TaskRow):
        ra, rb = task_state_rank(a.state), task_state_rank(b.state)
        if ra != rb:
            return a if ra > rb else b
    return b


# --- deltas ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TableDelta:
    """Changed rows (full rows, final state) and deleted primary keys of one table."""

    upserts: tuple[Any, ...] = ()
    deletes: tuple[PK, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.upserts or self.deletes)


@dataclass(frozen=True, slots=True)
class FoldDelta:
    tables: Mapping[str, TableDelta] = field(default_factory=dict)

    def table(self, name: str) -> TableDelta:
        return self.tables.get(name, TableDelta())

    @property
    def is_empty(self) -> bool:
        return not any(self.tables.values())

    @property
    def row_count(self) -> int:
        return sum(len(t.upserts) + len(t.deletes) for t in self.tables.values())


@dataclass(frozen=True, slots=True)
class FoldResult:
    delta: FoldDelta
    applied: int
    skipped_duplicate: int
    rejected: int
    unknown: int
    invalid: int
    outcomes: Mapping[str, str]  # event_id -> EventOutcome label
    max_event_id: str | None  # highest event id in the batch (the watermark candidate)
    fold_seq: int


# --- tables ------------------------------------------------------------------------------------


class _Table(Generic[R]):
    """A primary-key dict with index hooks; hooks see every add and remove."""

    __slots__ = ("name", "on_add", "on_remove", "rows")

    def __init__(
        self,
        name: str,
        on_add: Callable[[R], None] | None = None,
        on_remove: Callable[[R], None] | None = None,
    ) -> None:
        self.name = name
        self.rows: dict[PK, R] = {}
        self.on_add: Callable[[R], None] | None = on_add
        self.on_remove: Callable[[R], None] | None = on_remove

    def put(self, pk: PK, row: R) -> None:
        old = self.rows.get(pk)
        if old is not None and self.on_remove is not None:
            self.on_remove(old)
        self.rows[pk] = row
        if self.on_add is not None:
            self.on_add(row)

    def remove(self, pk: PK) -> R | None:
        old = self.rows.pop(pk, None)
        if old is not None and self.on_remove is not None:
            self.on_remove(old)
        return old


@dataclass(slots=True)
class _EventContext:
    """What a handler needs of the envelope it folds."""

    event_id: str
    ts: int  # envelope timestamp, epoch ms
    anchor: int  # ULID time of event_id (falls back to ts)
    tenant_id: str
    workspace_id: str


_Journal = dict[str, dict[PK, Any]]


class FoldState:
    """In-memory projection state of one tenant/workspace scope.

    Not thread-safe: one writer folds; readers use the returned rows, which are never
    mutated after the fold that produced them.
    """

    def __init__(self, *, tenant_id: str | None = None, workspace_id: str | None = None) -> None:
        # Scope is optional; when set, events of another scope are rejected (never applied).
        self.tenant_id = tenant_id
        self.workspace_id = workspace_id
        self._run_tasks: dict[str, dict[str, None]] = {}
        self._by_state: dict[str, dict[tuple[str, str], None]] = {s.value: {} for s in TaskState}
        self._dependents: dict[tuple[str, str], list[str]] = {}
        self._dependencies: dict[tuple[str, str], list[str]] = {}
        self._outbox_by_task: dict[tuple[str, str], dict[str, None]] = {}
        self._pending_outbox: dict[str, None] = {}
        self._runs: _Table[RunRow] = _Table(RUNS)
        self._tasks: _Table[TaskRow] = _Table(TASKS, self._task_added, self._task_removed)
        self._deps: _Table[DepRow] = _Table(DEP_SATISFACTION, self._dep_added, self._dep_removed)
        self._outbox: _Table[OutboxRow] = _Table(
            DISPATCH_OUTBOX, self._outbox_added, self._outbox_removed
        )
        self._idem: _Table[IdempotencyKeyRow] = _Table(IDEMPOTENCY_KEYS)
        self._timers: _Table[TimerRow] = _Table(TIMERS)
        self._code_manifests: _Table[CodeManifestRow] = _Table(CODE_MANIFESTS)
        self._journal: _Journal | None = None
        self._last_journal: _Journal | None = None
        self._fold_seq = 0

    # --- index hooks -------------------------------------------------------------------------

    def _task_added(self, row: TaskRow) -> None:
        self._run_tasks.setdefault(row.run_id, {})[row.task_key] = None
        self._by_state.setdefault(row.state, {})[(row.run_id, row.task_key)] = None

    def _task_removed(self, row: TaskRow) -> None:
        keys = self._run_tasks.get(row.run_id)
        if keys is not None:
            keys.pop(row.task_key, None)
            if not keys:
                del self._run_tasks[row.run_id]
        self._by_state.get(row.state, {}).pop((row.run_id, row.task_key), None)

    def _dep_added(self, row: DepRow) -> None:
        downs = self._dependents.setdefault((row.run_id, row.upstream_task_key), [])
        if row.downstream_task_key not in downs:
            downs.append(row.downstream_task_key)
        ups = self._dependencies.setdefault((row.run_id, row.downstream_task_key), [])
        if row.upstream_task_key not in ups:
            ups.append(row.upstream_task_key)

    def _dep_removed(self, row: DepRow) -> None:
        for index, key, other in (
            (self._dependents, (row.run_id, row.upstream_task_key), row.downstream_task_key),
            (self._dependencies, (row.run_id, row.downstream_task_key), row.upstream_task_key),
        ):
            items = index.get(key)
            if items is not None and other in items:
                items.remove(other)
                if not items:
                    del index[key]

    def _outbox_added(self, row: OutboxRow) -> None:
        self._outbox_by_task.setdefault((row.run_id, row.task_key), {})[row.dispatch_id] = None
        if row.status == OutboxStatus.PENDING:
            self._pending_outbox[row.dispatch_id] = None

    def _outbox_removed(self, row: OutboxRow) -> None:
        ids = self._outbox_by_task.get((row.run_id, row.task_key))
        if ids is not None:
            ids.pop(row.dispatch_id, None)
            if not ids:
                del self._outbox_by_task[(row.run_id, row.task_key)]
        self._pending_outbox.pop(row.dispatch_id, None)

    # --- copy-on-write primitives ---------------------------------------------------------------

    def _tables(self) -> tuple[_Table[Any], ...]:
        return (
            self._runs,
            self._tasks,
            self._deps,
            self._outbox,
            self._idem,
            self._timers,
            self._code_manifests,
        )

    def _table(self, name: str) -> _Table[Any]:
        for table in self._tables():
            if table.name == name:
                return table
        raise KeyError(name)

    def _note(self, table: _Table[Any], pk: PK) -> bool:
        """Journal the pre-fold row of ``pk``; True if this is its first touch."""
        assert self._journal is not None, "rows may only change inside fold()"
        journal = self._journal[table.name]
        if pk in journal:
            return False
        journal[pk] = table.rows.get(pk)
        return True

    def _writable(self, table: _Table[R], pk: PK) -> R | None:
        """The row of ``pk`` made writable (a private copy on first touch), or None."""
        row = table.rows.get(pk)
        if row is None:
            return None
        if self._note(table, pk):
            row = _shallow_copy(row)
            table.rows[pk] = row  # same pk and indexed values: the indexes are unaffected
        return row

    def _insert(self, table: _Table[R], row: R) -> R:
        pk: PK = row.pk
        self._note(table, pk)
        table.put(pk, row)
        return row

    def _delete(self, table: _Table[Any], pk: PK) -> None:
        if pk in table.rows:
            self._note(table, pk)
            table.remove(pk)

    def _set_task_state(self, task: TaskRow, state: TaskState) -> None:
        if task.state != state:
            key = (task.run_id, task.task_key)
            self._by_state.get(task.state, {}).pop(key, None)
            self._by_state.setdefault(state.value, {})[key] = None
            task.state = state.value

    def _set_outbox_status(self, row: OutboxRow, status: OutboxStatus) -> None:
        row.status = status.value
        if status == OutboxStatus.PENDING:
            self._pending_outbox[row.dispatch_id] = None
        else:
            self._pending_outbox.pop(row.dispatch_id, None)

    @staticmethod
    def _stamp(row: Row, ev: _EventContext) -> None:
        row.row_version = max(row.row_version, ev.event_id)

    # --- folding -----------------------------------------------------------------------------

    def fold(self, events: Sequence[EventEnvelope]) -> FoldResult:
        """Fold one batch (sorted by event_id) and return its delta and counts."""
        self._journal = {table.name: {} for table in self._tables()}
        counts = {
            EventOutcome.APPLIED: 0,
            EventOutcome.DUPLICATE: 0,
            EventOutcome.REJECTED: 0,
            EventOutcome.UNKNOWN: 0,
            EventOutcome.INVALID: 0,
        }
        outcomes: dict[str, str] = {}
        ordered = sorted(events, key=lambda e: e.event_id)
        try:
            for env in ordered:
                outcome = self._fold_one(env)
                counts[outcome] += 1
                # A redelivered copy in the same batch must not hide that the event applied.
                if outcomes.get(env.event_id) != EventOutcome.APPLIED:
                    outcomes[env.event_id] = outcome
            delta = self._delta_from_journal(self._journal)
        except BaseException:
            # A bug must not leave a half-applied batch behind.
            self._undo(self._journal)
            self._journal = None
            raise
        self._last_journal = self._journal
        self._journal = None
        self._fold_seq += 1
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

    def rollback(self, result: FoldResult) -> None:
        """Undo the most recent fold (e.g. its commit lost the manifest race)."""
        if self._last_journal is None or result.fold_seq != self._fold_seq:
            raise RuntimeError("only the most recent fold can be rolled back")
        self._undo(self._last_journal)
        self._last_journal = None
        self._fold_seq += 1

    def _undo(self, journal: _Journal) -> None:
        for name, entries in journal.items():
            table = self._table(name)
            for pk, original in entries.items():
                if original is None:
                    table.remove(pk)
                else:
                    table.put(pk, original)

    def _delta_from_journal(self, journal: _Journal) -> FoldDelta:
        tables: dict[str, TableDelta] = {}
        for name, entries in journal.items():
            rows = self._table(name).rows
            upserts: list[Any] = []
            deletes: list[PK] = []
            for pk, original in entries.items():
                current = rows.get(pk)
                if current is None:
                    if original is not None:
                        deletes.append(pk)
                elif original is None or current != original:
                    upserts.append(current)
            tables[name] = TableDelta(tuple(upserts), tuple(deletes))
        return FoldDelta(tables)

    def _fold_one(self, env: EventEnvelope) -> str:
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
        if idem_pk in self._idem.rows:
            return EventOutcome.DUPLICATE
        ev = _EventContext(
            event_id=env.event_id,
            ts=ts,
            anchor=_ulid_ms(env.event_id) if is_ulid(env.event_id) else ts,
            tenant_id=env.tenant_id,
            workspace_id=env.workspace_id,
        )
        if not self._apply(payload, ev):
            return EventOutcome.REJECTED
        self._insert(
            self._idem,
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

    def _apply(self, payload: KnownPayload, event: _EventContext) -> bool:
        match payload:
            # TaskCompletionRecorded subclasses TaskFinished, so one case serves both.
            case TaskFinished():
                return self._fold_task_finished(payload, event)
            case TaskHeartbeat():
                return self._fold_heartbeat(payload, event)
            case TaskStarted():
                return self._fold_task_started(payload, event)
            case DispatchRequested():
                return self._fold_dispatch_requested(payload, event)
            case DispatchEnqueued():
                return self._fold_dispatch_enqueued(payload, event)
            case RunTriggered():
                return self._fold_run_triggered(payload, event)
            case PlanCreated():
                return self._fold_plan_created(payload, event)
            case RunCancelRequested():
                return self._fold_cancel_requested(payload, event)
            case TaskOutputVisibilityChanged():
                return self._fold_visibility_changed(payload, event)
            case TimerRequested():
                return self._fold_timer_requested(payload, event)
            case TimerEnqueued():
                return self._fold_timer_enqueued(payload, event)
            case TimerFired():
                return self._fold_timer_fired(payload, event)
            case ManifestDeployed():
                return self._fold_manifest_deployed(payload, event)
            case _:
                assert_never(payload)

    # --- code deployments --------------------------------------------------------------------

    def _fold_manifest_deployed(self, p: ManifestDeployed, ev: _EventContext) -> bool:
        if (p.manifest_id,) in self._code_manifests.rows:
            return False
        self._insert(
            self._code_manifests,
            CodeManifestRow(
                manifest_id=p.manifest_id,
                code_version_id=p.code_version_id,
                fingerprint=p.fingerprint,
                asset_count=p.asset_count,
                deployed_at=ev.ts,
                deployed_by=p.deployed_by,
                git_branch=p.git_branch,
                git_commit=p.git_commit,
                manifest_json=p.manifest_json,
                row_version=ev.event_id,
            ),
        )
        return True

    # --- runs ----------------------------------------------------------------------------------

    def _fold_run_triggered(self, p: RunTriggered, ev: _EventContext) -> bool:
        if (p.run_id,) in self._runs.rows:
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
        keys = self._run_tasks.get(p.run_id)
        if keys:
            # PlanCreated was folded first: recover the counters from the task rows.
            run.tasks_total = len(keys)
            run.state = RunState.RUNNING.value
            for key in keys:
                _count_terminal(run, self._tasks.rows[(p.run_id, key)].state)
            _maybe_complete(run, ev)
        self._insert(self._runs, run)
        return True

    def _fold_plan_created(self, p: PlanCreated, ev: _EventContext) -> bool:
        if p.run_id in self._run_tasks:
            return False
        run = self._writable(self._runs, (p.run_id,))
        cancelled = run is not None and run.cancel_requested
        for td in p.tasks:
            if cancelled:
                state, ready_at, completed_at = TaskState.CANCELLED, None, ev.ts
            elif td.depends_on:
                state, ready_at, completed_at = TaskState.BLOCKED, None, None
            else:
                state, ready_at, completed_at = TaskState.READY, ev.ts, None
            self._insert(
                self._tasks,
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
                self._insert(
                    self._deps,
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
            _maybe_complete(run, ev)
            self._stamp(run, ev)
        return True

    def _fold_cancel_requested(self, p: RunCancelRequested, ev: _EventContext) -> bool:
        current = self._runs.rows.get((p.run_id,))
        if current is None or current.state in TERMINAL_RUN_STATES or current.cancel_requested:
            return False
        run = self._writable(self._runs, (p.run_id,))
        assert run is not None
        run.cancel_requested = True
        run.cancel_requested_by = p.requested_by
        run.cancel_reason = p.reason
        self._stamp(run, ev)
        for key in list(self._run_tasks.get(p.run_id, ())):
            task = self._tasks.rows[(p.run_id, key)]
            if task.state in TERMINAL_TASK_STATES or task.state == TaskState.RUNNING:
                continue  # running tasks learn about the cancel from their heartbeat
            self._finish_task(self._writable_task(p.run_id, key), TaskState.CANCELLED, ev)
        if run.tasks_total == 0 and not self._run_tasks.get(p.run_id):
            # Cancelled before it was planned: nothing will ever run.
            run.state = RunState.CANCELLED.value
            run.completed_at = ev.ts
        return True

    def _count_run_terminal(self, task: TaskRow, ev: _EventContext) -> None:
        run = self._writable(self._runs, (task.run_id,))
        if run is None:
            return  # RunTriggered not folded yet; it recomputes counters from the tasks
        _count_terminal(run, task.state)
        _maybe_complete(run, ev)
        self._stamp(run, ev)

    # --- tasks ---------------------------------------------------------------------------------

    def _writable_task(self, run_id: str, task_key: str) -> TaskRow:
        row = self._writable(self._tasks, (run_id, task_key))
        assert row is not None
        return row

    def _finish_task(self, task: TaskRow, state: TaskState, ev: _EventContext) -> None:
        """Move a non-terminal task to a terminal state and do the run bookkeeping."""
        self._set_task_state(task, state)
        task.completed_at = ev.ts
        task.retry_not_before = None
        if state != TaskState.SUCCEEDED:
            task.output_visibility_state = None
            task.published_at = None
            task.publish_error = None
        self._stamp(task, ev)
        self._prune_outbox(task.run_id, task.task_key, None)
        self._count_run_terminal(task, ev)

    def _attempt_consumed(self, task: TaskRow, attempt: int) -> bool:
        """Whether no dispatch of ``attempt`` may ever run.

        A terminal task consumes every attempt (the reference only compares attempts, which
        lets an outbox row appear for a task that was cancelled before its first dispatch).
        """
        if task.state in TERMINAL_TASK_STATES or attempt < task.attempt:
            return True
        return attempt == task.attempt and task.state in (TaskState.RUNNING, TaskState.RETRY_WAIT)

    def _prune_outbox(self, run_id: str, task_key: str, up_to_attempt: int | None) -> None:
        ids = self._outbox_by_task.get((run_id, task_key))
        if not ids:
            return
        for dispatch_id in list(ids):
            row = self._outbox.rows[(dispatch_id,)]
            if up_to_attempt is None or row.attempt <= up_to_attempt:
                self._delete(self._outbox, (dispatch_id,))

    def _fold_dispatch_requested(self, p: DispatchRequested, ev: _EventContext) -> bool:
        task = self._tasks.rows.get((p.run_id, p.task_key))
        if task is None:
            return False
        if self._attempt_consumed(task, p.attempt):
            self._delete(self._outbox, (p.dispatch_id,))
            return False
        outbox = self._writable(self._outbox, (p.dispatch_id,))
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
            self._stamp(outbox, ev)
        else:
            outbox = self._insert(
                self._outbox,
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
            t = self._writable_task(p.run_id, p.task_key)
            new_attempt = p.attempt > t.attempt
            if new_attempt:
                t.attempt = p.attempt
                t.attempt_id = outbox.attempt_id or p.attempt_id
                t.last_heartbeat_at = None
                self._prune_outbox(t.run_id, t.task_key, p.attempt - 1)
            elif not t.attempt_id:
                t.attempt_id = outbox.attempt_id or p.attempt_id
            self._set_task_state(t, TaskState.DISPATCHED)
            t.retry_not_before = None
            if p.worker_queue not in ("", DEFAULT_WORKER_QUEUE):
                t.worker_queue = p.worker_queue
            self._stamp(t, ev)
        return True

    def _fold_dispatch_enqueued(self, p: DispatchEnqueued, ev: _EventContext) -> bool:
        existing = self._outbox.rows.get((p.dispatch_id,))
        if existing is not None:
            run_id, task_key, attempt = existing.run_id, existing.task_key, existing.attempt
        elif p.run_id is not None and p.task_key is not None and p.attempt is not None:
            run_id, task_key, attempt = p.run_id, p.task_key, p.attempt
        else:
            return False
        task = self._tasks.rows.get((run_id, task_key))
        if task is None:
            return False
        if self._attempt_consumed(task, attempt):
            self._delete(self._outbox, (p.dispatch_id,))
            return False
        if existing is None:
            self._insert(
                self._outbox,
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
        row = self._writable(self._outbox, (p.dispatch_id,))
        assert row is not None
        self._set_outbox_status(row, OutboxStatus.CREATED)
        row.cloud_task_id = p.cloud_task_id
        row.created_at = ev.ts  # the dispatch age restarts at the acknowledgement
        self._stamp(row, ev)
        return True

    def _fold_task_started(self, p: TaskStarted, ev: _EventContext) -> bool:
        task = self._tasks.rows.get((p.run_id, p.task_key))
        if task is None or task.state in TERMINAL_TASK_STATES or p.attempt < task.attempt:
            return False
        if p.attempt == task.attempt:
            if task.attempt_id and task.attempt_id != p.attempt_id:
                return False
            if task.state in (TaskState.RUNNING, TaskState.RETRY_WAIT):
                # RUNNING: already started. RETRY_WAIT: this attempt already reported its
                # result; a redelivered start must not resurrect it.
                return False
        t = self._writable_task(p.run_id, p.task_key)
        if p.attempt > t.attempt:
            t.last_heartbeat_at = None
        t.attempt = p.attempt
        t.attempt_id = p.attempt_id
        self._set_task_state(t, TaskState.RUNNING)
        t.started_at = ev.ts
        t.retry_not_before = None
        self._stamp(t, ev)
        self._prune_outbox(t.run_id, t.task_key, p.attempt)
        return True

    def _fold_heartbeat(self, p: TaskHeartbeat, ev: _EventContext) -> bool:
        task = self._tasks.rows.get((p.run_id, p.task_key))
        if task is None or task.attempt != p.attempt or task.attempt_id != p.attempt_id:
            return False
        # A heartbeat of the current attempt that is folded after the attempt's result
        # (delivery delay) still records its time: it never changes the state, and this
        # keeps last_heartbeat_at independent of batch boundaries. The API itself refuses
        # heartbeats for terminal tasks (410) before anything is appended.
        at = p.heartbeat_at if p.heartbeat_at is not None else ev.ts
        t = self._writable_task(p.run_id, p.task_key)
        # max(): a delayed older heartbeat must not move the liveness clock backwards.
        if t.last_heartbeat_at is None or at > t.last_heartbeat_at:
            t.last_heartbeat_at = at
        self._stamp(t, ev)
        return True

    def _fold_task_finished(self, p: TaskFinished, ev: _EventContext) -> bool:
        task = self._tasks.rows.get((p.run_id, p.task_key))
        if (
            task is None
            or task.state in TERMINAL_TASK_STATES
            or task.state == TaskState.RETRY_WAIT  # this attempt's result is already in
            or task.attempt != p.attempt
            or task.attempt_id != p.attempt_id
        ):
            return False
        t = self._writable_task(p.run_id, p.task_key)
        output = p.output or {}
        if p.outcome == TaskOutcome.SUCCEEDED:
            t.error_message = None
            t.materialization_id = p.materialization_id or _str_or_none(
                output.get("materializationId")
            )
            t.delta_table = _str_or_none(output.get("deltaTable"))
            t.delta_version = _int_or_none(output.get("deltaVersion"))
            t.delta_partition = _str_or_none(output.get("deltaPartition"))
            t.execution_lineage_ref = _str_or_none(output.get("executionLineageRef"))
            self._finish_task(t, TaskState.SUCCEEDED, ev)
            self._satisfy_downstream(t, ev)
            if isinstance(p, TaskCompletionRecorded) and p.output_visibility is not None:
                vis = p.output_visibility
                self._apply_visibility(
                    t, vis.visibility_state.value.upper(), vis.published_at, vis.publish_error, ev
                )
            return True
        if p.outcome == TaskOutcome.FAILED:
            t.error_message = p.error_message or (p.error.message if p.error else None)
            retryable = p.error.effective_retryable() if p.error is not None else True
            run = self._runs.rows.get((t.run_id,))
            if run is not None and run.cancel_requested:
                # The run is being cancelled: no retry. The attempt ends CANCELLED (keeping
                # its error) so the run completes as CANCELLED rather than waiting forever.
                self._finish_task(t, TaskState.CANCELLED, ev)
                self._propagate_failure(t, DepResolution.CANCELLED, ev)
                return True
            if retryable and t.attempt < t.max_attempts:
                self._set_task_state(t, TaskState.RETRY_WAIT)
                t.retry_not_before = retry_deadline_ms(ev.anchor, t.attempt)
                t.output_visibility_state = None
                t.published_at = None
                t.publish_error = None
                self._stamp(t, ev)
                self._prune_outbox(t.run_id, t.task_key, t.attempt)
                return True
            self._finish_task(t, TaskState.FAILED, ev)
            self._propagate_failure(t, DepResolution.FAILED, ev)
            return True
        if p.outcome == TaskOutcome.SKIPPED:
            self._finish_task(t, TaskState.SKIPPED, ev)
            self._propagate_failure(t, DepResolution.SKIPPED, ev)
            return True
        self._finish_task(t, TaskState.CANCELLED, ev)
        self._propagate_failure(t, DepResolution.CANCELLED, ev)
        return True

    def _satisfy_downstream(self, up: TaskRow, ev: _EventContext) -> None:
        for down_key in self._dependents.get((up.run_id, up.task_key), ()):
            edge = self._writable(self._deps, (up.run_id, up.task_key, down_key))
            if edge is None:
                continue
            was_satisfied = edge.satisfied
            edge.satisfied = True
            edge.resolution = DepResolution.SUCCESS.value
            edge.satisfied_at = ev.ts
            edge.satisfying_attempt = up.attempt
            self._stamp(edge, ev)
            if was_satisfied:
                continue  # never count an edge twice
            down = self._writable(self._tasks, (up.run_id, down_key))
            if down is None:
                continue
            down.deps_satisfied_count += 1
            if down.deps_satisfied_count >= down.deps_total and down.state == TaskState.BLOCKED:
                self._set_task_state(down, TaskState.READY)
                down.ready_at = ev.ts
            self._stamp(down, ev)

    def _propagate_failure(
        self, origin: TaskRow, resolution: DepResolution, ev: _EventContext
    ) -> None:
        """BFS: resolve out-edges and skip (or cancel) every non-terminal descendant."""
        queue: list[tuple[str, DepResolution]] = [(origin.task_key, resolution)]
        run_id = origin.run_id
        while queue:
            up_key, edge_res = queue.pop()
            for down_key in self._dependents.get((run_id, up_key), ()):
                edge = self._writable(self._deps, (run_id, up_key, down_key))
                if edge is not None:
                    edge.satisfied = False
                    edge.resolution = edge_res.value
                    edge.satisfied_at = ev.ts
                    edge.satisfying_attempt = None
                    self._stamp(edge, ev)
                down = self._tasks.rows.get((run_id, down_key))
                if down is None or down.state in TERMINAL_TASK_STATES:
                    continue
                cancel = edge_res == DepResolution.CANCELLED
                self._finish_task(
                    self._writable_task(run_id, down_key),
                    TaskState.CANCELLED if cancel else TaskState.SKIPPED,
                    ev,
                )
                queue.append(
                    (down_key, DepResolution.CANCELLED if cancel else DepResolution.SKIPPED)
                )

    def _apply_visibility(
        self,
        t: TaskRow,
        state: str,
        published_at: int | None,
        publish_error: str | None,
        ev: _EventContext,
    ) -> bool:
        current = t.output_visibility_state
        if current == state or current in (VisibilityStateRow.VISIBLE, VisibilityStateRow.FAILED):
            return False  # VISIBLE and FAILED are final
        t.output_visibility_state = state
        if state == VisibilityStateRow.VISIBLE:
            t.published_at = published_at if published_at is not None else ev.ts
        elif state == VisibilityStateRow.FAILED:
            t.publish_error = publish_error
        self._stamp(t, ev)
        return True

    def _fold_visibility_changed(self, p: TaskOutputVisibilityChanged, ev: _EventContext) -> bool:
        task = self._tasks.rows.get((p.run_id, p.task_key))
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
        t = self._writable_task(p.run_id, p.task_key)
        return self._apply_visibility(t, state, p.published_at, p.publish_error, ev)

    # --- timers --------------------------------------------------------------------------------

    def _timer_from_id(
        self, timer_id: str, state: TimerState, ev: _EventContext
    ) -> TimerRow | None:
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

    def _fold_timer_requested(self, p: TimerRequested, ev: _EventContext) -> bool:
        row = self._writable(self._timers, (p.timer_id,))
        if row is None:
            self._insert(
                self._timers,
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
            self._stamp(row, ev)
        if p.timer_type == TimerType.RETRY and p.run_id and p.task_key:
            task = self._tasks.rows.get((p.run_id, p.task_key))
            if (
                task is not None
                and task.state == TaskState.RETRY_WAIT
                and task.attempt == p.attempt
            ):
                t = self._writable_task(p.run_id, p.task_key)
                t.retry_not_before = p.fire_at
                self._stamp(t, ev)
        return True

    def _fold_timer_enqueued(self, p: TimerEnqueued, ev: _EventContext) -> bool:
        row = self._writable(self._timers, (p.timer_id,))
        if row is None:
            new = self._timer_from_id(p.timer_id, TimerState.SCHEDULED, ev)
            if new is None:
                return False
            new.cloud_task_id = p.cloud_task_id
            self._insert(self._timers, new)
            return True
        if row.cloud_task_id is not None and ev.event_id <= row.row_version:
            return False
        row.cloud_task_id = p.cloud_task_id
        self._stamp(row, ev)
        return True

    def _fold_timer_fired(self, p: TimerFired, ev: _EventContext) -> bool:
        row = self._writable(self._timers, (p.timer_id,))
        if row is None:
            new = self._timer_from_id(p.timer_id, TimerState.FIRED, ev)
            if new is None:
                return False
            self._insert(self._timers, new)
            return True
        if row.state != TimerState.SCHEDULED:
            return False
        row.state = TimerState.FIRED.value
        self._stamp(row, ev)
        return True

    # --- loading and merging ------------------------------------------------------------------

    def apply_delta(self, delta: FoldDelta) -> None:
        """Merge a persisted delta (or base snapshot) on top of this state, in commit order."""
        self._last_journal = None  # a rollback across a merge would be wrong
        for name, table_delta in delta.tables.items():
            table = self._table(name)
            for row in table_delta.upserts:
                pk = row.pk
                current = table.rows.get(pk)
                if current is None or merge_wins(current, row):
                    table.put(pk, row)
            for pk in table_delta.deletes:
                table.remove(tuple(pk))

    def load_rows(self, name: str, rows: Iterable[Any]) -> None:
        """Bulk-load rows of one table (a base snapshot); same merge rule as apply_delta."""
        self.apply_delta(FoldDelta({name: TableDelta(tuple(rows))}))

    def copy(self) -> FoldState:
        """An independent state sharing the (never mutated) row objects; O(rows)."""
        other = FoldState(tenant_id=self.tenant_id, workspace_id=self.workspace_id)
        for mine, theirs in zip(self._tables(), other._tables(), strict=True):
            theirs.rows = dict(mine.rows)
        other._run_tasks = {k: dict(v) for k, v in self._run_tasks.items()}
        other._by_state = {k: dict(v) for k, v in self._by_state.items()}
        other._dependents = {k: list(v) for k, v in self._dependents.items()}
        other._dependencies = {k: list(v) for k, v in self._dependencies.items()}
        other._outbox_by_task = {k: dict(v) for k, v in self._outbox_by_task.items()}
        other._pending_outbox = dict(self._pending_outbox)
        return other

    # --- reads ---------------------------------------------------------------------------------

    def rows(self, name: str) -> Iterator[Any]:
        """All rows of a table (projection order is the caller's business)."""
        return iter(list(self._table(name).rows.values()))

    def row_count(self, name: str) -> int:
        return len(self._table(name).rows)

    def get_run(self, run_id: str) -> RunRow | None:
        return self._runs.rows.get((run_id,))

    def get_task(self, run_id: str, task_key: str) -> TaskRow | None:
        return self._tasks.rows.get((run_id, task_key))

    def list_tasks(self, run_id: str) -> list[TaskRow]:
        rows = self._tasks.rows
        return [rows[(run_id, key)] for key in self._run_tasks.get(run_id, ())]

    def run_ids(self) -> list[str]:
        return [pk[0] for pk in self._runs.rows]

    def tasks_in_state(self, *states: str) -> list[TaskRow]:
        rows = self._tasks.rows
        return [rows[pk] for state in states for pk in self._by_state.get(state, ())]

    def get_edge(self, run_id: str, upstream: str, downstream: str) -> DepRow | None:
        return self._deps.rows.get((run_id, upstream, downstream))

    def dependents(self, run_id: str, task_key: str) -> list[str]:
        return list(self._dependents.get((run_id, task_key), ()))

    def dependencies(self, run_id: str, task_key: str) -> list[str]:
        return list(self._dependencies.get((run_id, task_key), ()))

    def get_outbox(self, dispatch_id: str) -> OutboxRow | None:
        return self._outbox.rows.get((dispatch_id,))

    def outbox_for_task(self, run_id: str, task_key: str) -> list[OutboxRow]:
        rows = self._outbox.rows
        return [rows[(d,)] for d in self._outbox_by_task.get((run_id, task_key), ())]

    def pending_outbox(self) -> list[OutboxRow]:
        rows = self._outbox.rows
        return [rows[(d,)] for d in self._pending_outbox]

    def ready_tasks_without_outbox(self) -> list[TaskRow]:
        """READY tasks that no dispatch request covers yet (the dispatcher's work list)."""
        rows = self._tasks.rows
        return [
            rows[pk]
            for pk in self._by_state.get(TaskState.READY.value, ())
            if pk not in self._outbox_by_task
        ]

    def code_manifests(self) -> list[CodeManifestRow]:
        """Deployed manifests, newest first (manifest ids are ULIDs)."""
        return sorted(self._code_manifests.rows.values(), key=lambda r: r.manifest_id, reverse=True)

    def get_code_manifest(self, manifest_id: str) -> CodeManifestRow | None:
        return self._code_manifests.rows.get((manifest_id,))

    def latest_code_manifest(self) -> CodeManifestRow | None:
        rows = self._code_manifests.rows
        return rows[max(rows)] if rows else None

    def get_timer(self, timer_id: str) -> TimerRow | None:
        return self._timers.rows.get((timer_id,))

    def has_idempotency_key(self, tenant_id: str, workspace_id: str, key: str) -> bool:
        return (tenant_id, workspace_id, key) in self._idem.rows

    def idempotency_owner(self, tenant_id: str, workspace_id: str, key: str) -> str | None:
        """The event id that consumed ``key``, if any."""
        row = self._idem.rows.get((tenant_id, workspace_id, key))
        return None if row is None else row.event_id


# --- helpers ---------------------------------------------------------------------------------


def _count_terminal(run: RunRow, state: str) -> None:
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


def _maybe_complete(run: RunRow, ev: _EventContext) -> None:
    if run.tasks_total == 0 or run.tasks_completed < run.tasks_total:
        return
    if run.state in TERMINAL_RUN_STATES:
        return
    run.state = derive_run_state(run).value
    run.completed_at = ev.ts


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
