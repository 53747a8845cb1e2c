"""Arrow schemas of the orchestration projections and rows <-> Arrow conversion.

Schemas are supersets of the golden files (golden columns first, in golden order, then
nullable extensions). Timestamps are Int64 epoch milliseconds, enums UPPERCASE strings,
labels canonical JSON strings. Conversion is column-wise (``to_pylist`` per column and one
constructor call per row) so that a million task rows load in a few seconds. No Parquet
here: only the compactor writes files.
"""

from __future__ import annotations

import gc
import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from arco_core.errors import InvalidArgument
from arco_core.folding import TableDelta
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.state import (
    DEFAULT_WORKER_QUEUE,
    BackfillChunkRow,
    BackfillRow,
    CodeManifestRow,
    DepRow,
    IdempotencyKeyRow,
    OutboxRow,
    PartitionStatusRow,
    RunRow,
    ScheduleRow,
    ScheduleTickRow,
    SensorEvalRow,
    SensorStateRow,
    TaskRow,
    TimerRow,
)
from arco_core.orchestration.tables import (
    BACKFILL_CHUNKS,
    BACKFILLS,
    CODE_MANIFESTS,
    DEP_SATISFACTION,
    DISPATCH_OUTBOX,
    IDEMPOTENCY_KEYS,
    PARTITION_STATUS,
    RUNS,
    SCHEDULE_TICKS,
    SCHEDULES,
    SENSOR_EVALS,
    SENSOR_STATE,
    TABLE_NAMES,
    TASKS,
    TIMERS,
    FoldDelta,
    RowDelta,
)

__all__ = [
    "PRIMARY_KEYS",
    "ROW_TYPES",
    "SCHEMAS",
    "delta_to_tables",
    "rows_to_table",
    "schema_for",
    "state_from_tables",
    "state_to_tables",
    "table_to_rows",
    "table_to_tombstones",
    "tables_to_delta",
    "tombstones_to_table",
]

_S = pa.string()
_U32 = pa.uint32()
_I64 = pa.int64()
_B = pa.bool_()

_METADATA: Final = {b"created_by": b"arco-flow"}


def _schema(fields: Sequence[tuple[str, pa.DataType, bool]]) -> pa.Schema:
    return pa.schema([pa.field(n, t, nullable=null) for n, t, null in fields], metadata=_METADATA)


SCHEMAS: Final[Mapping[str, pa.Schema]] = {
    RUNS: _schema(
        [
            ("run_id", _S, False),
            ("plan_id", _S, False),
            ("state", _S, False),
            ("run_key", _S, True),
            ("cancel_requested", _B, False),
            ("tasks_total", _U32, False),
            ("tasks_completed", _U32, False),
            ("tasks_succeeded", _U32, False),
            ("tasks_failed", _U32, False),
            ("tasks_skipped", _U32, False),
            ("tasks_cancelled", _U32, False),
            ("triggered_at", _I64, False),
            ("completed_at", _I64, True),
            ("labels", _S, True),
            ("code_version", _S, True),
            ("row_version", _S, False),
            ("parent_run_id", _S, True),
            ("rerun_kind", _S, True),
            ("rerun_reason", _S, True),
            ("cancel_requested_by", _S, True),
            ("cancel_reason", _S, True),
            ("traceparent", _S, True),
        ]
    ),
    TASKS: _schema(
        [
            ("run_id", _S, False),
            ("task_key", _S, False),
            ("state", _S, False),
            ("attempt", _U32, False),
            ("attempt_id", _S, True),
            ("started_at", _I64, True),
            ("completed_at", _I64, True),
            ("error_message", _S, True),
            ("deps_total", _U32, False),
            ("deps_satisfied_count", _U32, False),
            ("max_attempts", _U32, False),
            ("heartbeat_timeout_sec", _U32, False),
            ("last_heartbeat_at", _I64, True),
            ("ready_at", _I64, True),
            ("asset_key", _S, True),
            ("partition_key", _S, True),
            ("row_version", _S, False),
            ("requires_visible_output", _B, True),
            ("materialization_id", _S, True),
            ("output_visibility_state", _S, True),
            ("published_at", _I64, True),
            ("publish_error", _S, True),
            ("retry_not_before", _I64, True),
            ("delta_table", _S, True),
            ("delta_version", _I64, True),
            ("delta_partition", _S, True),
            ("execution_lineage_ref", _S, True),
            ("worker_queue", _S, True),
            ("past_attempts", _S, True),
        ]
    ),
    DEP_SATISFACTION: _schema(
        [
            ("run_id", _S, False),
            ("upstream_task_key", _S, False),
            ("downstream_task_key", _S, False),
            ("satisfied", _B, False),
            ("resolution", _S, True),
            ("satisfied_at", _I64, True),
            ("satisfying_attempt", _U32, True),
            ("row_version", _S, False),
        ]
    ),
    DISPATCH_OUTBOX: _schema(
        [
            ("run_id", _S, False),
            ("task_key", _S, False),
            ("attempt", _U32, False),
            ("dispatch_id", _S, False),
            ("cloud_task_id", _S, True),
            ("status", _S, False),
            ("attempt_id", _S, False),
            ("worker_queue", _S, False),
            ("created_at", _I64, False),
            ("row_version", _S, False),
        ]
    ),
    IDEMPOTENCY_KEYS: _schema(
        [
            ("tenant_id", _S, False),
            ("workspace_id", _S, False),
            ("idempotency_key", _S, False),
            ("event_id", _S, False),
            ("event_type", _S, False),
            ("recorded_at", _I64, False),
            ("row_version", _S, False),
        ]
    ),
    CODE_MANIFESTS: _schema(
        [
            ("manifest_id", _S, False),
            ("code_version_id", _S, False),
            ("fingerprint", _S, False),
            ("asset_count", _U32, False),
            ("deployed_at", _I64, False),
            ("deployed_by", _S, False),
            ("git_branch", _S, True),
            ("git_commit", _S, True),
            ("manifest_json", _S, False),
            ("row_version", _S, False),
        ]
    ),
    TIMERS: _schema(
        [
            ("timer_id", _S, False),
            ("cloud_task_id", _S, True),
            ("timer_type", _S, False),
            ("run_id", _S, True),
            ("task_key", _S, True),
            ("attempt", _U32, True),
            ("fire_at", _I64, False),
            ("state", _S, False),
            ("payload", _S, True),
            ("row_version", _S, False),
        ]
    ),
    PARTITION_STATUS: _schema(
        [
            ("tenant_id", _S, False),
            ("workspace_id", _S, False),
            ("asset_key", _S, False),
            ("partition_key", _S, False),
            ("last_materialization_run_id", _S, True),
            ("last_materialization_at", _I64, True),
            ("last_materialization_code_version", _S, True),
            ("last_attempt_run_id", _S, True),
            ("last_attempt_at", _I64, True),
            ("last_attempt_outcome", _S, True),
            ("stale_since", _I64, True),
            ("stale_reason_code", _S, True),
            ("partition_values", _S, True),
            ("row_version", _S, False),
            ("delta_table", _S, True),
            ("delta_version", _I64, True),
            ("delta_partition", _S, True),
            ("execution_lineage_ref", _S, True),
            ("last_materialization_event_id", _S, True),
            ("last_attempt_event_id", _S, True),
        ]
    ),
    BACKFILLS: _schema(
        [
            ("backfill_id", _S, False),
            ("client_request_id", _S, False),
            ("asset_selection", _S, False),
            ("selector_json", _S, False),
            ("partition_keys", _S, False),
            ("total_partitions", _I64, False),
            ("total_chunks", _I64, False),
            ("chunk_size", _I64, False),
            ("max_concurrent_runs", _I64, False),
            ("state", _S, False),
            ("state_version", _I64, False),
            ("fingerprint", _S, False),
            ("created_by", _S, False),
            ("created_at", _I64, False),
            ("created_event_id", _S, False),
            ("updated_at", _I64, False),
            ("row_version", _S, False),
            ("code_version", _S, True),
            ("parent_backfill_id", _S, True),
        ]
    ),
    BACKFILL_CHUNKS: _schema(
        [
            ("chunk_id", _S, False),
            ("backfill_id", _S, False),
            ("chunk_index", _I64, False),
            ("partition_keys", _S, False),
            ("run_key", _S, False),
            ("run_id", _S, False),
            ("request_fingerprint", _S, False),
            ("planned_at", _I64, False),
            ("row_version", _S, False),
        ]
    ),
    SCHEDULES: _schema(
        [
            ("schedule_id", _S, False),
            ("cron_expression", _S, False),
            ("timezone", _S, False),
            ("catchup_window_minutes", _U32, False),
            ("max_catchup_ticks", _U32, False),
            ("asset_selection", _S, False),
            ("enabled", _B, False),
            ("code_version", _S, True),
            ("created_at", _I64, False),
            ("definition_version", _S, False),
            ("evaluated_through", _I64, False),
            ("last_scheduled_for", _I64, True),
            ("last_tick_id", _S, True),
            ("last_run_key", _S, True),
            ("row_version", _S, False),
        ]
    ),
    SCHEDULE_TICKS: _schema(
        [
            ("tick_id", _S, False),
            ("schedule_id", _S, False),
            ("scheduled_for", _I64, False),
            ("definition_version", _S, False),
            ("asset_selection", _S, False),
            ("status", _S, False),
            ("skip_reason", _S, True),
            ("error_message", _S, True),
            ("run_key", _S, True),
            ("run_id", _S, True),
            ("skipped_through", _I64, True),
            ("recorded_at", _I64, False),
            ("row_version", _S, False),
        ]
    ),
    SENSOR_STATE: _schema(
        [
            ("tenant_id", _S, False),
            ("workspace_id", _S, False),
            ("sensor_id", _S, False),
            ("cursor", _S, True),
            ("last_evaluation_at", _I64, True),
            ("last_eval_id", _S, True),
            ("status", _S, False),
            ("state_version", _U32, False),
            ("row_version", _S, False),
            ("pending_eval_id", _S, True),
            ("pending_worker_queue", _S, True),
            ("pending_requested_at", _I64, True),
            ("pending_sent_at", _I64, True),
        ]
    ),
    SENSOR_EVALS: _schema(
        [
            ("tenant_id", _S, False),
            ("workspace_id", _S, False),
            ("eval_id", _S, False),
            ("sensor_id", _S, False),
            ("cursor_before", _S, True),
            ("cursor_after", _S, True),
            ("expected_state_version", _U32, True),
            ("trigger_source", _S, False),
            ("run_requests", _S, True),
            ("status", _S, False),
            ("evaluated_at", _I64, False),
            ("row_version", _S, False),
            ("error_message", _S, True),
            ("message_id", _S, True),
        ]
    ),
}

ROW_TYPES: Final[Mapping[str, type[Any]]] = {
    RUNS: RunRow,
    TASKS: TaskRow,
    DEP_SATISFACTION: DepRow,
    DISPATCH_OUTBOX: OutboxRow,
    IDEMPOTENCY_KEYS: IdempotencyKeyRow,
    TIMERS: TimerRow,
    CODE_MANIFESTS: CodeManifestRow,
    PARTITION_STATUS: PartitionStatusRow,
    BACKFILLS: BackfillRow,
    BACKFILL_CHUNKS: BackfillChunkRow,
    SCHEDULES: ScheduleRow,
    SCHEDULE_TICKS: ScheduleTickRow,
    SENSOR_STATE: SensorStateRow,
    SENSOR_EVALS: SensorEvalRow,
}

PRIMARY_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    RUNS: ("run_id",),
    TASKS: ("run_id", "task_key"),
    DEP_SATISFACTION: ("run_id", "upstream_task_key", "downstream_task_key"),
    DISPATCH_OUTBOX: ("dispatch_id",),
    IDEMPOTENCY_KEYS: ("tenant_id", "workspace_id", "idempotency_key"),
    TIMERS: ("timer_id",),
    CODE_MANIFESTS: ("manifest_id",),
    PARTITION_STATUS: ("tenant_id", "workspace_id", "asset_key", "partition_key"),
    BACKFILLS: ("backfill_id",),
    BACKFILL_CHUNKS: ("chunk_id",),
    SCHEDULES: ("schedule_id",),
    SCHEDULE_TICKS: ("tick_id",),
    SENSOR_STATE: ("tenant_id", "workspace_id", "sensor_id"),
    SENSOR_EVALS: ("tenant_id", "workspace_id", "eval_id"),
}

# Values substituted for nulls (or absent columns) in nullable extension columns whose row
# field is not optional: files written before the extension existed still load.
_NULL_DEFAULTS: Final[Mapping[str, Mapping[str, Any]]] = {
    TASKS: {"requires_visible_output": False, "worker_queue": DEFAULT_WORKER_QUEUE},
}

# Legacy outbox statuses the reference reader folds into CREATED.
_LEGACY_OUTBOX_STATUS: Final = {"ACKED": "CREATED", "FAILED": "CREATED"}


def schema_for(table_name: str) -> pa.Schema:
    try:
        return SCHEMAS[table_name]
    except KeyError:
        raise InvalidArgument(
            f"unknown orchestration table {table_name!r}", reason="unknown_table"
        ) from None


def rows_to_table(table_name: str, rows: Iterable[Any], *, sort: bool = False) -> pa.Table:
    """Rows -> Arrow table with the projection schema (optionally sorted by primary key)."""
    schema = schema_for(table_name)
    names = schema.names
    items = list(rows)
    if items:
        getter = operator.attrgetter(*names)
        columns: list[Sequence[Any]] = list(zip(*map(getter, items), strict=True))
    else:
        columns = [() for _ in names]
    arrays = []
    for f, values in zip(schema, columns, strict=True):
        array = pa.array(values, type=f.type)
        if not f.nullable and array.null_count:
            raise InvalidArgument(
                f"{table_name}.{f.name} must not be null", reason="invalid_projection_row"
            )
        arrays.append(array)
    table = pa.Table.from_arrays(arrays, schema=schema)
    if sort and table.num_rows:
        table = table.sort_by([(c, "ascending") for c in PRIMARY_KEYS[table_name]])
    return table


def table_to_rows(table_name: str, table: pa.Table) -> list[Any]:
    """Arrow table -> rows. Absent or null nullable extensions take their defaults."""
    schema = schema_for(table_name)
    row_type = ROW_TYPES[table_name]
    defaults = _NULL_DEFAULTS.get(table_name, {})
    present = set(table.column_names)
    n = table.num_rows
    columns: list[list[Any]] = []
    for f in schema:
        if f.name in present:
            column = table.column(f.name)
            if not f.nullable and column.null_count:
                raise InvalidArgument(
                    f"{table_name}.{f.name} contains nulls", reason="invalid_projection_table"
                )
            default = defaults.get(f.name)
            if default is not None and column.null_count:
                column = pc.fill_null(column, default)
            if table_name == DISPATCH_OUTBOX and f.name == "status":
                column = _normalise_outbox_status(column)
            values = column.to_pylist()
        elif f.nullable:
            values = [defaults.get(f.name)] * n
        else:
            raise InvalidArgument(
                f"{table_name} lacks required column {f.name!r}", reason="invalid_projection_table"
            )
        columns.append(values)
    if not n:
        return []
    # Millions of new objects would trigger many useless young-generation collections.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return [row_type(*values) for values in zip(*columns, strict=True)]
    finally:
        if gc_was_enabled:
            gc.enable()


def _normalise_outbox_status(column: pa.ChunkedArray) -> pa.ChunkedArray:
    for legacy, current in _LEGACY_OUTBOX_STATUS.items():
        column = pc.if_else(pc.equal(column, legacy), current, column)
    return column


def tombstones_to_table(table_name: str, pks: Iterable[Sequence[str]]) -> pa.Table:
    """Deleted primary keys as a table of just the key columns."""
    key_names = PRIMARY_KEYS[table_name]
    keys = list(pks)
    schema = schema_for(table_name)
    return pa.Table.from_arrays(
        [pa.array([k[i] for k in keys], type=pa.string()) for i in range(len(key_names))],
        schema=pa.schema([schema.field(name) for name in key_names], metadata=_METADATA),
    )


def table_to_tombstones(table_name: str, table: pa.Table) -> list[tuple[str, ...]]:
    columns = [table.column(name).to_pylist() for name in PRIMARY_KEYS[table_name]]
    return [tuple(values) for values in zip(*columns, strict=True)]


def delta_to_tables(delta: FoldDelta) -> dict[str, tuple[pa.Table, pa.Table]]:
    """Per table: (changed rows, tombstones). Tables without changes are left out."""
    out: dict[str, tuple[pa.Table, pa.Table]] = {}
    for name, table_delta in delta.tables.items():
        if not table_delta.is_empty:
            out[name] = (
                rows_to_table(name, table_delta.upserts, sort=True),
                tombstones_to_table(name, sorted(table_delta.deletes)),
            )
    return out


def tables_to_delta(
    upserts: Mapping[str, pa.Table], deletes: Mapping[str, pa.Table] | None = None
) -> FoldDelta:
    """Inverse of :func:`delta_to_tables` (tables may be missing on either side)."""
    deletes = deletes or {}
    tables: dict[str, RowDelta] = {}
    for name in TABLE_NAMES:
        rows = table_to_rows(name, upserts[name]) if name in upserts else []
        pks = table_to_tombstones(name, deletes[name]) if name in deletes else []
        if rows or pks:
            tables[name] = TableDelta(tuple(rows), tuple(pks))
    return FoldDelta(tables)


def state_to_tables(state: FoldState) -> dict[str, pa.Table]:
    """The full projection, every table sorted by primary key (deterministic bytes)."""
    return {name: rows_to_table(name, state.rows(name), sort=True) for name in TABLE_NAMES}


def state_from_tables(
    tables: Mapping[str, pa.Table],
    *,
    tenant_id: str | None = None,
    workspace_id: str | None = None,
) -> FoldState:
    """Load a base snapshot; the dependency graph is rebuilt from dep_satisfaction rows."""
    state = FoldState(tenant_id=tenant_id, workspace_id=workspace_id)
    state.apply_delta(tables_to_delta(tables))
    return state
