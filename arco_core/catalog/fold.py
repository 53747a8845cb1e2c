"""Folding catalog/lineage events into state.

The API's pre-checks (:mod:`arco_core.catalog.planning`) and :func:`fold` guard the same
invariants (unique names, no orphan tables, no deleting a non-empty namespace): the fold
re-checks them and skips (with a warning) any event that would break them, so a bug or a
lost lock can never corrupt the projection, and replay never raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import assert_never

import structlog

from arco_core.canonical_json import canonical_dumps
from arco_core.catalog.events import (
    CatalogCreated,
    CatalogEventPayload,
    LineageEdgesAdded,
    NamespaceDeleted,
    ParsedCatalogEvent,
    SchemaCreated,
    TableDropped,
    TableRegistered,
    TableUpdated,
    UnknownCatalogEvent,
    payload_from_data,
)
from arco_core.catalog.model import (
    CatalogRow,
    CatalogState,
    ColumnRow,
    CommitRow,
    LineageEdgeRow,
    NamespaceRow,
    TableRow,
)
from arco_core.envelope import EventEnvelope
from arco_core.errors import InvalidArgument, ScopeViolation
from arco_core.folding import EventOutcome, TableDelta

__all__ = [
    "PROJECTION_TABLES",
    "CatalogFoldResult",
    "CatalogTableDelta",
    "FoldedEvent",
    "apply_payload",
    "describe_payload",
    "fold",
    "make_commit_row",
]

PROJECTION_TABLES = ("catalogs", "namespaces", "tables", "columns", "lineage_edges")

Row = CatalogRow | NamespaceRow | TableRow | ColumnRow | LineageEdgeRow


# Fold -----------------------------------------------------------------------------------------


# The change of one catalog table: whole rows, and the ids of removed rows.
CatalogTableDelta = TableDelta[Row, str]


@dataclass(frozen=True, slots=True)
class FoldedEvent:
    """What the fold did with one event, and why when it skipped it."""

    event_id: str
    data_type: str
    outcome: EventOutcome
    detail: str | None = None


@dataclass(frozen=True)
class CatalogFoldResult:
    state: CatalogState
    deltas: Mapping[str, CatalogTableDelta]
    outcomes: tuple[FoldedEvent, ...]
    last_applied: ParsedCatalogEvent | None = None

    @property
    def applied_event_ids(self) -> tuple[str, ...]:
        return tuple(o.event_id for o in self.outcomes if o.outcome == EventOutcome.APPLIED)

    @property
    def changed(self) -> bool:
        return any(not d.is_empty for d in self.deltas.values())


@dataclass
class _Tracker:
    """Remembers each touched row's pre-fold version, so deltas are exact net changes."""

    before: dict[str, dict[str, Row | None]] = field(
        default_factory=lambda: {name: {} for name in PROJECTION_TABLES}
    )

    def touch(self, table: str, row_id: str, current: Row | None) -> None:
        self.before[table].setdefault(row_id, current)


def _current(state: CatalogState, table: str, row_id: str) -> Row | None:
    if table == "catalogs":
        return state.catalogs.get(row_id)
    if table == "namespaces":
        return state.namespaces.get(row_id)
    if table == "tables":
        return state.tables.get(row_id)
    if table == "lineage_edges":
        return state.lineage_edges.get(row_id)
    raise AssertionError(table)


def _apply(
    state: CatalogState, payload: CatalogEventPayload, tracker: _Tracker
) -> tuple[EventOutcome, str | None]:
    match payload:
        case CatalogCreated():
            return _catalog_created(state, payload, tracker)
        case SchemaCreated():
            return _schema_created(state, payload, tracker)
        case NamespaceDeleted():
            return _namespace_deleted(state, payload, tracker)
        case TableRegistered():
            return _table_registered(state, payload, tracker)
        case TableUpdated():
            return _table_updated(state, payload, tracker)
        case TableDropped():
            return _table_dropped(state, payload, tracker)
        case LineageEdgesAdded():
            return _lineage_edges_added(state, payload, tracker)
        case _:
            assert_never(payload)


def _catalog_created(
    state: CatalogState, payload: CatalogCreated, tracker: _Tracker
) -> tuple[EventOutcome, str | None]:
    if payload.catalog_id in state.catalogs:
        return EventOutcome.DUPLICATE, None
    if state.catalog_by_name(payload.name) is not None:
        return EventOutcome.REJECTED, f"catalog name taken: {payload.name}"
    tracker.touch("catalogs", payload.catalog_id, None)
    state.put_catalog(
        CatalogRow(
            payload.catalog_id,
            payload.name,
            payload.description,
            payload.created_at,
            payload.created_at,
        )
    )
    return EventOutcome.APPLIED, None


def _schema_created(
    state: CatalogState, payload: SchemaCreated, tracker: _Tracker
) -> tuple[EventOutcome, str | None]:
    if payload.schema_id in state.namespaces:
        return EventOutcome.DUPLICATE, None
    if payload.catalog_id not in state.catalogs:
        return EventOutcome.REJECTED, f"unknown catalog {payload.catalog_id}"
    if state.namespace_name_taken(payload.catalog_id, payload.name):
        return EventOutcome.REJECTED, f"schema name taken: {payload.name}"
    tracker.touch("namespaces", payload.schema_id, None)
    state.put_namespace(
        NamespaceRow(
            payload.schema_id,
            payload.catalog_id,
            payload.name,
            payload.description,
            payload.created_at,
            payload.created_at,
        )
    )
    return EventOutcome.APPLIED, None


def _namespace_deleted(
    state: CatalogState, payload: NamespaceDeleted, tracker: _Tracker
) -> tuple[EventOutcome, str | None]:
    existing = state.namespaces.get(payload.namespace_id)
    if existing is None:
        return EventOutcome.DUPLICATE, None
    if state.has_tables(payload.namespace_id):
        return EventOutcome.REJECTED, f"namespace {payload.name} still has tables"
    tracker.touch("namespaces", existing.id, existing)
    state.remove_namespace(existing.id)
    return EventOutcome.APPLIED, None


def _table_registered(
    state: CatalogState, payload: TableRegistered, tracker: _Tracker
) -> tuple[EventOutcome, str | None]:
    if payload.table_id in state.tables:
        return EventOutcome.DUPLICATE, None
    if payload.namespace_id not in state.namespaces:
        return EventOutcome.REJECTED, f"unknown namespace {payload.namespace_id}"
    if state.table_in(payload.namespace_id, payload.name) is not None:
        return EventOutcome.REJECTED, f"table name taken: {payload.name}"
    tracker.touch("tables", payload.table_id, None)
    state.put_table(
        TableRow(
            id=payload.table_id,
            namespace_id=payload.namespace_id,
            name=payload.name,
            description=payload.description,
            location=payload.location,
            format=payload.format,
            created_at=payload.created_at,
            updated_at=payload.created_at,
        )
    )
    columns = tuple(
        ColumnRow(
            c.column_id,
            payload.table_id,
            c.name,
            c.data_type,
            c.nullable,
            c.ordinal,
            c.description,
        )
        for c in sorted(payload.columns, key=lambda c: c.ordinal)
    )
    for column in columns:
        tracker.touch("columns", column.id, None)
    state.put_columns(payload.table_id, columns)
    return EventOutcome.APPLIED, None


def _table_updated(
    state: CatalogState, payload: TableUpdated, tracker: _Tracker
) -> tuple[EventOutcome, str | None]:
    existing_table = state.tables.get(payload.table_id)
    if existing_table is None:
        return EventOutcome.REJECTED, f"unknown table {payload.table_id}"
    updated = TableRow(
        id=existing_table.id,
        namespace_id=existing_table.namespace_id,
        name=existing_table.name,
        description=payload.description,
        location=existing_table.location,
        format=existing_table.format,
        created_at=existing_table.created_at,
        updated_at=max(existing_table.updated_at, payload.updated_at),
    )
    if updated == existing_table:
        return EventOutcome.DUPLICATE, None
    tracker.touch("tables", existing_table.id, existing_table)
    state.put_table(updated)
    return EventOutcome.APPLIED, None


def _table_dropped(
    state: CatalogState, payload: TableDropped, tracker: _Tracker
) -> tuple[EventOutcome, str | None]:
    existing_table = state.tables.get(payload.table_id)
    if existing_table is None:
        return EventOutcome.DUPLICATE, None
    tracker.touch("tables", existing_table.id, existing_table)
    for column in state.columns_of(existing_table.id):
        tracker.touch("columns", column.id, column)
    state.remove_table(existing_table.id)
    return EventOutcome.APPLIED, None


def _lineage_edges_added(
    state: CatalogState, payload: LineageEdgesAdded, tracker: _Tracker
) -> tuple[EventOutcome, str | None]:
    # First write wins per content id.
    added = 0
    for edge in payload.edges:
        if edge.edge_id in state.lineage_edges:
            continue
        tracker.touch("lineage_edges", edge.edge_id, None)
        state.put_edge(
            LineageEdgeRow(
                edge.edge_id,
                edge.source_id,
                edge.target_id,
                edge.edge_type,
                edge.run_id,
                payload.created_at,
            )
        )
        added += 1
    return (EventOutcome.APPLIED if added else EventOutcome.DUPLICATE), None


def apply_payload(state: CatalogState, payload: CatalogEventPayload) -> str:
    """Apply one payload in place (tests and in-process callers); returns the outcome."""
    outcome, _ = _apply(state, payload, _Tracker())
    return outcome


def _deltas(state: CatalogState, tracker: _Tracker) -> dict[str, CatalogTableDelta]:
    columns_now: dict[str, ColumnRow] = {}
    if tracker.before["columns"]:
        touched_tables = {
            row.table_id for row in tracker.before["columns"].values() if isinstance(row, ColumnRow)
        } | set(tracker.before["tables"])
        for table_id in touched_tables:
            for column in state.columns_of(table_id):
                columns_now[column.id] = column
    deltas: dict[str, CatalogTableDelta] = {}
    for table in PROJECTION_TABLES:
        upserts: list[Row] = []
        deletes: list[str] = []
        for row_id in sorted(tracker.before[table]):
            before = tracker.before[table][row_id]
            now = columns_now.get(row_id) if table == "columns" else _current(state, table, row_id)
            if now is None:
                if before is not None:
                    deletes.append(row_id)
            elif now != before:
                upserts.append(now)
        deltas[table] = TableDelta(upserts=tuple(upserts), deletes=tuple(deletes))
    return deltas


def fold(
    events: Iterable[EventEnvelope],
    state: CatalogState | None = None,
    *,
    in_place: bool = False,
    tenant_id: str | None = None,
    workspace_id: str | None = None,
) -> CatalogFoldResult:
    """Fold ``events`` into ``state`` (empty by default) in ``event_id`` order.

    Duplicated envelopes (same ``event_id``) apply once; events at or below the state's
    watermark were folded by an earlier batch and are skipped; unknown ``data.type``
    values are tolerated as no-ops (version skew). ``state`` is copied unless
    ``in_place`` is set, which the compactor uses to keep fold cost proportional to
    the batch. When a scope is given, an event of another tenant/workspace fails the
    whole batch before anything is applied.
    """
    log = structlog.get_logger(__name__)
    batch: dict[str, EventEnvelope] = {}
    for envelope in events:
        if tenant_id is not None and envelope.tenant_id != tenant_id:
            raise ScopeViolation(f"event {envelope.event_id} belongs to another tenant")
        if workspace_id is not None and envelope.workspace_id != workspace_id:
            raise ScopeViolation(f"event {envelope.event_id} belongs to another workspace")
        previous = batch.setdefault(envelope.event_id, envelope)
        if previous is not envelope and previous.data != envelope.data:
            log.warning("catalog_fold_conflicting_duplicate", event_id=envelope.event_id)

    target = state if state is not None else CatalogState()
    if not in_place:
        target = target.copy()
    tracker = _Tracker()
    outcomes: list[FoldedEvent] = []
    last_applied: ParsedCatalogEvent | None = None

    for event_id in sorted(batch):
        envelope = batch[event_id]
        data_type = str(envelope.data.get("type", ""))
        if target.watermark_event_id is not None and event_id <= target.watermark_event_id:
            outcomes.append(FoldedEvent(event_id, data_type, EventOutcome.STALE))
            continue
        # Every event that reached the fold advances the watermark, including the
        # skipped ones: they were seen and must not be re-examined by a later batch.
        target.watermark_event_id = event_id
        try:
            parsed = payload_from_data(envelope.data)
        except InvalidArgument as exc:
            log.warning("catalog_fold_malformed_event", event_id=event_id, error=exc.message)
            outcomes.append(FoldedEvent(event_id, data_type, EventOutcome.INVALID, exc.message))
            continue
        if isinstance(parsed, UnknownCatalogEvent):
            log.warning("catalog_fold_unknown_event_type", event_id=event_id, type=parsed.type)
            outcomes.append(FoldedEvent(event_id, data_type, EventOutcome.UNKNOWN))
            continue
        outcome, detail = _apply(target, parsed, tracker)
        if outcome == EventOutcome.REJECTED:
            log.warning("catalog_fold_rejected_event", event_id=event_id, detail=detail)
        elif outcome == EventOutcome.APPLIED:
            last_applied = parsed
        outcomes.append(FoldedEvent(event_id, data_type, outcome, detail))

    return CatalogFoldResult(
        state=target,
        deltas=_deltas(target, tracker),
        outcomes=tuple(outcomes),
        last_applied=last_applied,
    )


# Commits log ----------------------------------------------------------------------------------


def describe_payload(payload: ParsedCatalogEvent) -> tuple[str, str, str | None, str | None]:
    """``(operation, object_type, object_id, object_name)`` for a commits row."""
    match payload:
        case CatalogCreated():
            return "CreateCatalog", "catalog", payload.catalog_id, payload.name
        case SchemaCreated():
            return "CreateSchema", "schema", payload.schema_id, payload.name
        case NamespaceDeleted():
            return "DeleteNamespace", "schema", payload.namespace_id, payload.name
        case TableRegistered():
            return "RegisterTable", "table", payload.table_id, payload.name
        case TableUpdated():
            return "UpdateTable", "table", payload.table_id, None
        case TableDropped():
            return "DropTable", "table", payload.table_id, payload.name
        case LineageEdgesAdded():
            return "AddLineageEdges", "lineage_edge", payload.object_id or None, None
        case UnknownCatalogEvent():
            return "Unknown", payload.type, None, None
        case _:
            assert_never(payload)


def make_commit_row(
    result: CatalogFoldResult,
    *,
    commit_ulid: str,
    snapshot_version: int,
    published_at: int,
    fencing_token: int,
    manifest_id: str | None = None,
) -> CommitRow:
    """The commits-log row the compactor appends when it publishes ``result``."""
    operation = object_type = object_id = object_name = None
    if result.last_applied is not None:
        operation, object_type, object_id, object_name = describe_payload(result.last_applied)
    return CommitRow(
        commit_ulid=commit_ulid,
        snapshot_version=snapshot_version,
        published_at=published_at,
        fencing_token=fencing_token,
        watermark_event_id=result.state.watermark_event_id,
        operation=operation,
        object_type=object_type,
        object_id=object_id,
        object_name=object_name,
        manifest_id=manifest_id,
        event_witnesses_json=canonical_dumps(list(result.applied_event_ids)),
    )
