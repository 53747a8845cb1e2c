"""The orchestration projection tables of one scope: rows, indexes and the fold journal.

Design notes (why, briefly):

* Every table is a dict keyed by primary key plus small key-only indexes (tasks per run,
  tasks per state, edges per node, outbox rows per task, pending outbox rows), so an event
  costs a handful of dict operations whatever the size of the history.
* Copy-on-write per fold: the first write to a row inside a fold replaces it by a private
  copy and journals the original. The journal gives the delta (changed rows and deleted
  keys, so deletions can be persisted as tombstones) and a cheap undo for a compactor that
  lost its commit. Rows visible after a fold are never mutated again.
* ``row_version`` is stamped as ``max(row_version, event_id)`` (:func:`stamp`), so a
  straggler folded in a later batch produces a row whose version is never below what is
  persisted, and :meth:`ProjectionTables.apply_delta` (newer-or-equal version wins, later
  delta wins ties) always reproduces the folding state. See :func:`merge_wins` for why the
  rank tie-break is not allowed to override a later delta.

The write primitives (``writable``, ``insert``, ``delete``, ``set_task_state``,
``set_outbox_status``) and the index attributes are for the fold handlers in
:mod:`arco_core.orchestration.handlers`; everyone else reads through the query methods.
"""

from __future__ import annotations

import copy as _copy
import dataclasses
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic, Self, TypeVar

from arco_core.folding import TableDelta
from arco_core.orchestration.state import (
    TERMINAL_RUN_STATES,
    BackfillChunkRow,
    BackfillRow,
    CodeManifestRow,
    DepRow,
    IdempotencyKeyRow,
    OutboxRow,
    OutboxStatus,
    PartitionStatusRow,
    Row,
    RunRow,
    ScheduleRow,
    ScheduleTickRow,
    SensorEvalRow,
    SensorStateRow,
    TaskRow,
    TaskState,
    TimerRow,
    task_state_rank,
)

__all__ = [
    "BACKFILLS",
    "BACKFILL_CHUNKS",
    "CODE_MANIFESTS",
    "DEP_SATISFACTION",
    "DISPATCH_OUTBOX",
    "IDEMPOTENCY_KEYS",
    "PARTITION_STATUS",
    "PK",
    "RUNS",
    "SCHEDULES",
    "SCHEDULE_TICKS",
    "SENSOR_EVALS",
    "SENSOR_STATE",
    "TABLE_NAMES",
    "TASKS",
    "TIMERS",
    "FoldDelta",
    "FoldEvent",
    "Journal",
    "ProjectionTables",
    "RowDelta",
    "Table",
    "merge_unordered",
    "merge_wins",
    "stamp",
]

RUNS: Final = "runs"
TASKS: Final = "tasks"
DEP_SATISFACTION: Final = "dep_satisfaction"
DISPATCH_OUTBOX: Final = "dispatch_outbox"
IDEMPOTENCY_KEYS: Final = "idempotency_keys"
TIMERS: Final = "timers"
CODE_MANIFESTS: Final = "code_manifests"
PARTITION_STATUS: Final = "partition_status"
BACKFILLS: Final = "backfills"
BACKFILL_CHUNKS: Final = "backfill_chunks"
SCHEDULES: Final = "schedules"
SCHEDULE_TICKS: Final = "schedule_ticks"
SENSOR_STATE: Final = "sensor_state"
SENSOR_EVALS: Final = "sensor_evals"
TABLE_NAMES: Final = (
    RUNS,
    TASKS,
    DEP_SATISFACTION,
    DISPATCH_OUTBOX,
    IDEMPOTENCY_KEYS,
    TIMERS,
    CODE_MANIFESTS,
    PARTITION_STATUS,
    BACKFILLS,
    BACKFILL_CHUNKS,
    SCHEDULES,
    SCHEDULE_TICKS,
    SENSOR_STATE,
    SENSOR_EVALS,
)

PK = tuple[str, ...]
# The change of one orchestration table: whole rows, and the primary keys of removed rows.
RowDelta = TableDelta[Row, PK]

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


R = TypeVar(
    "R",
    RunRow,
    TaskRow,
    DepRow,
    OutboxRow,
    IdempotencyKeyRow,
    TimerRow,
    CodeManifestRow,
    PartitionStatusRow,
    BackfillRow,
    BackfillChunkRow,
    ScheduleRow,
    ScheduleTickRow,
    SensorStateRow,
    SensorEvalRow,
)


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


def stamp(row: Row, ev: FoldEvent) -> None:
    """Raise ``row_version`` to the folding event's id (never lower it)."""
    row.row_version = max(row.row_version, ev.event_id)


@dataclass(slots=True)
class FoldEvent:
    """What a handler needs of the envelope it folds."""

    event_id: str
    ts: int  # envelope timestamp, epoch ms
    anchor: int  # ULID time of event_id (falls back to ts)
    tenant_id: str
    workspace_id: str


# --- deltas ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FoldDelta:
    """The net change of one fold (or a persisted delta), per table."""

    tables: Mapping[str, RowDelta] = field(default_factory=dict)

    def table(self, name: str) -> RowDelta:
        return self.tables.get(name, TableDelta())

    @property
    def is_empty(self) -> bool:
        return all(t.is_empty for t in self.tables.values())

    @property
    def row_count(self) -> int:
        return sum(len(t.upserts) + len(t.deletes) for t in self.tables.values())


# --- tables ------------------------------------------------------------------------------------


class Table(Generic[R]):
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


Journal = dict[str, dict[PK, Any]]
AssetGraphCache = tuple[str, Mapping[str, tuple[str, ...]], Mapping[str, tuple[str, ...]]]


class ProjectionTables:
    """The projection tables of one tenant/workspace scope, their indexes and journal.

    Not thread-safe: one writer folds; readers use the returned rows, which are never
    mutated after the fold that produced them.
    """

    def __init__(self, *, tenant_id: str | None = None, workspace_id: str | None = None) -> None:
        # Scope is optional; when set, events of another scope are rejected (never applied).
        self.tenant_id = tenant_id
        self.workspace_id = workspace_id
        self.tasks_by_run: dict[str, dict[str, None]] = {}
        self.tasks_by_state: dict[str, dict[tuple[str, str], None]] = {
            s.value: {} for s in TaskState
        }
        self.dependents_index: dict[tuple[str, str], list[str]] = {}
        self.dependencies_index: dict[tuple[str, str], list[str]] = {}
        self.outbox_by_task: dict[tuple[str, str], dict[str, None]] = {}
        self.pending_dispatch_ids: dict[str, None] = {}
        self.run_table: Table[RunRow] = Table(RUNS)
        self.task_table: Table[TaskRow] = Table(TASKS, self._task_added, self._task_removed)
        self.dep_table: Table[DepRow] = Table(DEP_SATISFACTION, self._dep_added, self._dep_removed)
        self.outbox_table: Table[OutboxRow] = Table(
            DISPATCH_OUTBOX, self._outbox_added, self._outbox_removed
        )
        self.idem_table: Table[IdempotencyKeyRow] = Table(IDEMPOTENCY_KEYS)
        self.timer_table: Table[TimerRow] = Table(TIMERS)
        self.manifest_table: Table[CodeManifestRow] = Table(CODE_MANIFESTS)
        self.partition_table: Table[PartitionStatusRow] = Table(PARTITION_STATUS)
        self.backfill_table: Table[BackfillRow] = Table(BACKFILLS)
        self.backfill_chunk_table: Table[BackfillChunkRow] = Table(BACKFILL_CHUNKS)
        self.schedule_table: Table[ScheduleRow] = Table(SCHEDULES)
        self.schedule_tick_table: Table[ScheduleTickRow] = Table(SCHEDULE_TICKS)
        self.sensor_state_table: Table[SensorStateRow] = Table(SENSOR_STATE)
        self.sensor_eval_table: Table[SensorEvalRow] = Table(SENSOR_EVALS)
        # (manifest id, upstreams per asset, downstreams per asset) of the latest manifest:
        # derived from code_manifests, rebuilt by the partition handler when that changes.
        self.asset_graph_cache: AssetGraphCache = ("", {}, {})
        self._journal: Journal | None = None

    # --- index hooks -------------------------------------------------------------------------

    def _task_added(self, row: TaskRow) -> None:
        self.tasks_by_run.setdefault(row.run_id, {})[row.task_key] = None
        self.tasks_by_state.setdefault(row.state, {})[(row.run_id, row.task_key)] = None

    def _task_removed(self, row: TaskRow) -> None:
        keys = self.tasks_by_run.get(row.run_id)
        if keys is not None:
            keys.pop(row.task_key, None)
            if not keys:
                del self.tasks_by_run[row.run_id]
        self.tasks_by_state.get(row.state, {}).pop((row.run_id, row.task_key), None)

    def _dep_added(self, row: DepRow) -> None:
        downs = self.dependents_index.setdefault((row.run_id, row.upstream_task_key), [])
        if row.downstream_task_key not in downs:
            downs.append(row.downstream_task_key)
        ups = self.dependencies_index.setdefault((row.run_id, row.downstream_task_key), [])
        if row.upstream_task_key not in ups:
            ups.append(row.upstream_task_key)

    def _dep_removed(self, row: DepRow) -> None:
        for index, key, other in (
            (self.dependents_index, (row.run_id, row.upstream_task_key), row.downstream_task_key),
            (self.dependencies_index, (row.run_id, row.downstream_task_key), row.upstream_task_key),
        ):
            items = index.get(key)
            if items is not None and other in items:
                items.remove(other)
                if not items:
                    del index[key]

    def _outbox_added(self, row: OutboxRow) -> None:
        self.outbox_by_task.setdefault((row.run_id, row.task_key), {})[row.dispatch_id] = None
        if row.status == OutboxStatus.PENDING:
            self.pending_dispatch_ids[row.dispatch_id] = None

    def _outbox_removed(self, row: OutboxRow) -> None:
        ids = self.outbox_by_task.get((row.run_id, row.task_key))
        if ids is not None:
            ids.pop(row.dispatch_id, None)
            if not ids:
                del self.outbox_by_task[(row.run_id, row.task_key)]
        self.pending_dispatch_ids.pop(row.dispatch_id, None)

    # --- copy-on-write primitives ---------------------------------------------------------------

    def _tables(self) -> tuple[Table[Any], ...]:
        return (
            self.run_table,
            self.task_table,
            self.dep_table,
            self.outbox_table,
            self.idem_table,
            self.timer_table,
            self.manifest_table,
            self.partition_table,
            self.backfill_table,
            self.backfill_chunk_table,
            self.schedule_table,
            self.schedule_tick_table,
            self.sensor_state_table,
            self.sensor_eval_table,
        )

    def _table(self, name: str) -> Table[Any]:
        for table in self._tables():
            if table.name == name:
                return table
        raise KeyError(name)

    def _note(self, table: Table[Any], pk: PK) -> bool:
        """Journal the pre-fold row of ``pk``; True if this is its first touch."""
        assert self._journal is not None, "rows may only change inside fold()"
        journal = self._journal[table.name]
        if pk in journal:
            return False
        journal[pk] = table.rows.get(pk)
        return True

    def writable(self, table: Table[R], pk: PK) -> R | None:
        """The row of ``pk`` made writable (a private copy on first touch), or None."""
        row = table.rows.get(pk)
        if row is None:
            return None
        if self._note(table, pk):
            row = _shallow_copy(row)
            table.rows[pk] = row  # same pk and indexed values: the indexes are unaffected
        return row

    def insert(self, table: Table[R], row: R) -> R:
        pk: PK = row.pk
        self._note(table, pk)
        table.put(pk, row)
        return row

    def delete(self, table: Table[Any], pk: PK) -> None:
        if pk in table.rows:
            self._note(table, pk)
            table.remove(pk)

    def set_task_state(self, task: TaskRow, state: TaskState) -> None:
        if task.state != state:
            key = (task.run_id, task.task_key)
            self.tasks_by_state.get(task.state, {}).pop(key, None)
            self.tasks_by_state.setdefault(state.value, {})[key] = None
            task.state = state.value

    def set_outbox_status(self, row: OutboxRow, status: OutboxStatus) -> None:
        row.status = status.value
        if status == OutboxStatus.PENDING:
            self.pending_dispatch_ids[row.dispatch_id] = None
        else:
            self.pending_dispatch_ids.pop(row.dispatch_id, None)

    # --- journal ------------------------------------------------------------------------------

    def _begin_journal(self) -> Journal:
        self._journal = {table.name: {} for table in self._tables()}
        return self._journal

    def _end_journal(self) -> None:
        self._journal = None

    def _undo(self, journal: Journal) -> None:
        for name, entries in journal.items():
            table = self._table(name)
            for pk, original in entries.items():
                if original is None:
                    table.remove(pk)
                else:
                    table.put(pk, original)

    def _delta_from_journal(self, journal: Journal) -> FoldDelta:
        tables: dict[str, RowDelta] = {}
        for name, entries in journal.items():
            rows = self._table(name).rows
            upserts: list[Row] = []
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

    # --- loading and merging ------------------------------------------------------------------

    def apply_delta(self, delta: FoldDelta) -> None:
        """Merge a persisted delta (or base snapshot) on top of this state, in commit order."""
        for name, table_delta in delta.tables.items():
            table = self._table(name)
            for row in table_delta.upserts:
                current = table.rows.get(row.pk)
                if current is None or merge_wins(current, row):
                    table.put(row.pk, row)
            for pk in table_delta.deletes:
                table.remove(tuple(pk))

    def load_rows(self, name: str, rows: Iterable[Any]) -> None:
        """Bulk-load rows of one table (a base snapshot); same merge rule as apply_delta."""
        self.apply_delta(FoldDelta({name: TableDelta(tuple(rows))}))

    def copy(self) -> Self:
        """An independent state sharing the (never mutated) row objects; O(rows)."""
        other = type(self)(tenant_id=self.tenant_id, workspace_id=self.workspace_id)
        for mine, theirs in zip(self._tables(), other._tables(), strict=True):
            theirs.rows = dict(mine.rows)
        other.tasks_by_run = {k: dict(v) for k, v in self.tasks_by_run.items()}
        other.tasks_by_state = {k: dict(v) for k, v in self.tasks_by_state.items()}
        other.dependents_index = {k: list(v) for k, v in self.dependents_index.items()}
        other.dependencies_index = {k: list(v) for k, v in self.dependencies_index.items()}
        other.outbox_by_task = {k: dict(v) for k, v in self.outbox_by_task.items()}
        other.pending_dispatch_ids = dict(self.pending_dispatch_ids)
        return other

    # --- reads ---------------------------------------------------------------------------------

    def rows(self, name: str) -> Iterator[Any]:
        """All rows of a table (projection order is the caller's business)."""
        return iter(list(self._table(name).rows.values()))

    def row_count(self, name: str) -> int:
        return len(self._table(name).rows)

    def get_run(self, run_id: str) -> RunRow | None:
        return self.run_table.rows.get((run_id,))

    def run_unfinished(self, run_id: str) -> bool:
        """True if ``run_id`` is a run of this state that has not reached a terminal state."""
        run = self.run_table.rows.get((run_id,))
        return run is not None and run.state not in TERMINAL_RUN_STATES

    def get_task(self, run_id: str, task_key: str) -> TaskRow | None:
        return self.task_table.rows.get((run_id, task_key))

    def list_tasks(self, run_id: str) -> list[TaskRow]:
        rows = self.task_table.rows
        return [rows[(run_id, key)] for key in self.tasks_by_run.get(run_id, ())]

    def run_ids(self) -> list[str]:
        return [pk[0] for pk in self.run_table.rows]

    def tasks_in_state(self, *states: str) -> list[TaskRow]:
        rows = self.task_table.rows
        return [rows[pk] for state in states for pk in self.tasks_by_state.get(state, ())]

    def get_edge(self, run_id: str, upstream: str, downstream: str) -> DepRow | None:
        return self.dep_table.rows.get((run_id, upstream, downstream))

    def dependents(self, run_id: str, task_key: str) -> list[str]:
        return list(self.dependents_index.get((run_id, task_key), ()))

    def dependencies(self, run_id: str, task_key: str) -> list[str]:
        return list(self.dependencies_index.get((run_id, task_key), ()))

    def get_outbox(self, dispatch_id: str) -> OutboxRow | None:
        return self.outbox_table.rows.get((dispatch_id,))

    def outbox_for_task(self, run_id: str, task_key: str) -> list[OutboxRow]:
        rows = self.outbox_table.rows
        return [rows[(d,)] for d in self.outbox_by_task.get((run_id, task_key), ())]

    def pending_outbox(self) -> list[OutboxRow]:
        rows = self.outbox_table.rows
        return [rows[(d,)] for d in self.pending_dispatch_ids]

    def ready_tasks_without_outbox(self) -> list[TaskRow]:
        """READY tasks that no dispatch request covers yet (the dispatcher's work list)."""
        rows = self.task_table.rows
        return [
            rows[pk]
            for pk in self.tasks_by_state.get(TaskState.READY.value, ())
            if pk not in self.outbox_by_task
        ]

    def code_manifests(self) -> list[CodeManifestRow]:
        """Deployed manifests, newest first (manifest ids are ULIDs)."""
        return sorted(self.manifest_table.rows.values(), key=lambda r: r.manifest_id, reverse=True)

    def get_code_manifest(self, manifest_id: str) -> CodeManifestRow | None:
        return self.manifest_table.rows.get((manifest_id,))

    def latest_code_manifest(self) -> CodeManifestRow | None:
        rows = self.manifest_table.rows
        return rows[max(rows)] if rows else None

    def partition_statuses(self, asset_key: str | None = None) -> list[PartitionStatusRow]:
        """Partition status rows sorted by (asset key, partition key), optionally of one asset."""
        rows = [
            row
            for row in self.partition_table.rows.values()
            if asset_key is None or row.asset_key == asset_key
        ]
        rows.sort(key=lambda r: (r.asset_key, r.partition_key))
        return rows

    def schedules(self) -> list[ScheduleRow]:
        """Schedule rows sorted by schedule id."""
        return sorted(self.schedule_table.rows.values(), key=lambda r: r.schedule_id)

    def get_schedule(self, schedule_id: str) -> ScheduleRow | None:
        return self.schedule_table.rows.get((schedule_id,))

    def get_schedule_tick(self, tick_id: str) -> ScheduleTickRow | None:
        return self.schedule_tick_table.rows.get((tick_id,))

    def schedule_ticks(self, schedule_id: str) -> list[ScheduleTickRow]:
        """One schedule's tick records, newest first (scheduled time, then tick id). O(ticks
        of all schedules): only the api's tick listing calls it."""
        rows = [r for r in self.schedule_tick_table.rows.values() if r.schedule_id == schedule_id]
        rows.sort(key=lambda r: (r.scheduled_for, r.tick_id), reverse=True)
        return rows

    def get_timer(self, timer_id: str) -> TimerRow | None:
        return self.timer_table.rows.get((timer_id,))

    def has_idempotency_key(self, tenant_id: str, workspace_id: str, key: str) -> bool:
        return (tenant_id, workspace_id, key) in self.idem_table.rows

    def idempotency_owner(self, tenant_id: str, workspace_id: str, key: str) -> str | None:
        """The event id that consumed ``key``, if any."""
        row = self.idem_table.rows.get((tenant_id, workspace_id, key))
        return None if row is None else row.event_id


# --- helpers ---------------------------------------------------------------------------------
