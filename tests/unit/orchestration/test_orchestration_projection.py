"""Arrow projections: golden-schema conformance, round trips, deltas, merge and rollback."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from orch_support import TENANT, WORKSPACE, Events, projection

from arco_core.errors import InvalidArgument
from arco_core.folding import TableDelta
from arco_core.ids import dispatch_id
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.projection import (
    PRIMARY_KEYS,
    ROW_TYPES,
    SCHEMAS,
    delta_to_tables,
    rows_to_table,
    state_from_tables,
    state_to_tables,
    table_to_rows,
    tables_to_delta,
)
from arco_core.orchestration.state import TaskState
from arco_core.orchestration.tables import (
    DISPATCH_OUTBOX,
    TABLE_NAMES,
    TASKS,
    FoldDelta,
    merge_unordered,
)
from tests.support.reference import reference_path

GOLDEN_TYPES = {
    "Utf8": pa.string(),
    "UInt32": pa.uint32(),
    "Int64": pa.int64(),
    "Boolean": pa.bool_(),
}


# Tables of this implementation with no reference counterpart (hence no golden file).
OWN_TABLES = {"code_manifests", "backfills", "backfill_chunks", "schedules", "schedule_ticks"}


@pytest.mark.parametrize("table_name", [t for t in TABLE_NAMES if t not in OWN_TABLES])
def test_schema_is_a_superset_of_the_golden_file(table_name: str) -> None:
    golden_path = (
        reference_path("contracts/golden_schemas/orchestration") / f"{table_name}.schema.json"
    )
    assert golden_path.exists(), f"no golden schema for {table_name}"
    golden = json.loads(golden_path.read_text())
    schema = SCHEMAS[table_name]
    golden_names = [f["name"] for f in golden["fields"]]
    assert schema.names[: len(golden_names)] == golden_names
    for gf in golden["fields"]:
        field = schema.field(gf["name"])
        assert field.type == GOLDEN_TYPES[gf["data_type"]], gf["name"]
        assert field.nullable == gf["nullable"], gf["name"]
    for field in schema:
        if field.name not in golden_names:
            assert field.nullable, f"extension column {field.name} must be nullable"


@pytest.mark.parametrize("table_name", TABLE_NAMES)
def test_row_fields_follow_the_schema_order(table_name: str) -> None:
    fields = list(ROW_TYPES[table_name].__dataclass_fields__)
    assert fields == SCHEMAS[table_name].names


def _busy_state() -> FoldState:
    e = Events()
    s = FoldState()
    s.fold(
        [
            e.trigger("r1", labels={"team": "data"}, code_version="v1"),
            e.plan("r1", {"a": [], "b": ["a"], "c": []}, asset_key="x.y", partition_key="p"),
            e.dispatch("r1", "a"),
            e.enqueued("r1", "a"),
            e.started("r1", "a"),
            e.heartbeat("r1", "a"),
            e.finished("r1", "a"),
            e.dispatch("r1", "c"),
            e.trigger("r2"),
            e.plan("r2", {"z": []}),
            e.dispatch("r2", "z"),
            e.started("r2", "z"),
            e.failed("r2", "z"),
        ]
    )
    return s


def test_state_round_trips_through_arrow() -> None:
    s = _busy_state()
    tables = state_to_tables(s)
    for name, table in tables.items():
        assert table.schema.equals(SCHEMAS[name])
    loaded = state_from_tables(tables)
    assert projection(loaded) == projection(s)
    # The graph is rebuilt from dep_satisfaction rows.
    assert loaded.dependents("r1", "a") == ["b"]
    assert [t.task_key for t in loaded.ready_tasks_without_outbox()] == ["b"]
    assert [o.dispatch_id for o in loaded.pending_outbox()] == [dispatch_id("r1", "c", 1)]
    run = loaded.get_run("r1")
    assert run is not None and run.labels == '{"team":"data"}'


def test_loaded_state_keeps_folding_like_the_original() -> None:
    s = _busy_state()
    loaded = state_from_tables(state_to_tables(s))
    e = Events(start_ms=1_767_225_700_000)
    more = [e.dispatch("r1", "b"), e.started("r1", "b"), e.finished("r1", "b")]
    s.fold(more)
    loaded.fold(more)
    assert projection(loaded) == projection(s)


def test_old_files_without_extension_columns_still_load() -> None:
    s = _busy_state()
    full = rows_to_table(TASKS, s.rows(TASKS))
    golden_only = full.select(full.column_names[:17])
    rows = table_to_rows(TASKS, golden_only)
    assert all(r.requires_visible_output is False for r in rows)
    assert all(r.worker_queue == "default-queue" for r in rows)


def test_legacy_outbox_statuses_read_as_created() -> None:
    s = _busy_state()
    table = rows_to_table(DISPATCH_OUTBOX, s.rows(DISPATCH_OUTBOX))
    i = table.schema.get_field_index("status")
    legacy = table.set_column(i, "status", pa.array(["ACKED"] * table.num_rows, pa.string()))
    assert {r.status for r in table_to_rows(DISPATCH_OUTBOX, legacy)} == {"CREATED"}


def test_non_nullable_columns_are_enforced() -> None:
    s = _busy_state()
    row = next(iter(s.rows(TASKS)))
    broken = type(row)(**{f: getattr(row, f) for f in row.__dataclass_fields__})
    broken.row_version = None  # type: ignore[assignment]
    with pytest.raises(InvalidArgument):
        rows_to_table(TASKS, [broken])
    with pytest.raises(InvalidArgument):
        table_to_rows(TASKS, pa.table({"run_id": ["r"]}))


def test_deltas_round_trip_and_rebuild_the_state_with_tombstones() -> None:
    e = Events()
    folder = FoldState()
    reader = FoldState()
    batches = [
        [e.trigger("r1"), e.plan("r1", {"a": [], "b": ["a"]})],
        [e.dispatch("r1", "a"), e.enqueued("r1", "a")],
        [e.started("r1", "a")],  # prunes the outbox row: a tombstone
        [e.finished("r1", "a"), e.dispatch("r1", "b")],
    ]
    for batch in batches:
        result = folder.fold(batch)
        tables = delta_to_tables(result.delta)
        delta = tables_to_delta(
            {name: pair[0] for name, pair in tables.items()},
            {name: pair[1] for name, pair in tables.items()},
        )
        reader.apply_delta(delta)
        assert projection(reader) == projection(folder)
    assert reader.get_outbox(dispatch_id("r1", "a", 1)) is None


def test_deleted_outbox_rows_do_not_resurrect_from_earlier_deltas() -> None:
    e = Events()
    s = FoldState()
    deltas = [
        s.fold([e.trigger("r1"), e.plan("r1", {"a": []})]).delta,
        s.fold([e.dispatch("r1", "a")]).delta,
        s.fold([e.started("r1", "a")]).delta,
    ]
    reader = FoldState()
    for delta in deltas:
        reader.apply_delta(delta)
    assert reader.row_count(DISPATCH_OUTBOX) == 0
    assert deltas[2].table(DISPATCH_OUTBOX).deletes == ((dispatch_id("r1", "a", 1),),)


def test_straggler_in_a_later_batch_survives_reload() -> None:
    """Reference defect: a straggler stamped with its (older) id lost its effect on merge."""
    e = Events()
    folder = FoldState()
    trig, plan = e.trigger("r1"), e.plan("r1", {"a": []})
    early_dispatch2 = e.dispatch("r1", "a", 2)  # generated early (skewed sweeper clock)
    batch1 = [trig, plan, e.dispatch("r1", "a"), e.started("r1", "a"), e.failed("r1", "a")]
    reader = FoldState()
    reader.apply_delta(folder.fold(batch1).delta)
    a = folder.get_task("r1", "a")
    assert a is not None and a.state == TaskState.RETRY_WAIT
    version_before = a.row_version
    reader.apply_delta(folder.fold([early_dispatch2]).delta)
    a = folder.get_task("r1", "a")
    assert a is not None and a.state == TaskState.DISPATCHED and a.attempt == 2
    assert a.row_version == version_before  # max(current, event_id)
    # The reload keeps the straggler's effect even though the rank went down at equal version.
    loaded = state_from_tables(state_to_tables(folder))
    for state in (reader, loaded):
        t = state.get_task("r1", "a")
        assert t is not None and t.state == TaskState.DISPATCHED and t.attempt == 2


def test_merge_uses_row_version_not_file_order() -> None:
    s = _busy_state()
    a = s.get_task("r1", "a")
    assert a is not None
    older = type(a)(**{f: getattr(a, f) for f in a.__dataclass_fields__})
    older.row_version = "0" * 26
    older.state = TaskState.READY.value
    s.apply_delta(FoldDelta({TASKS: TableDelta((older,))}))
    t = s.get_task("r1", "a")
    assert t is not None and t.state == TaskState.SUCCEEDED


def test_unordered_merge_uses_state_rank_then_later_row() -> None:
    s = _busy_state()
    a = s.get_task("r1", "a")
    assert a is not None
    lower = type(a)(**{f: getattr(a, f) for f in a.__dataclass_fields__})
    lower.state = TaskState.RUNNING.value
    assert merge_unordered(lower, a) is a
    assert merge_unordered(a, lower) is a
    twin = type(a)(**{f: getattr(a, f) for f in a.__dataclass_fields__})
    assert merge_unordered(a, twin) is twin


def test_rollback_restores_the_exact_state() -> None:
    s = _busy_state()
    before = projection(s)
    ready_before = [t.pk for t in s.ready_tasks_without_outbox()]
    e = Events(start_ms=1_767_225_700_000)
    result = s.fold(
        [e.dispatch("r1", "b"), e.cancel("r1"), e.trigger("r3"), e.plan("r3", {"q": []})]
    )
    assert result.applied == 4
    s.rollback(result)
    assert projection(s) == before
    assert [t.pk for t in s.ready_tasks_without_outbox()] == ready_before
    assert s.tasks_in_state("CANCELLED") == []
    with pytest.raises(RuntimeError):
        s.rollback(result)


def test_copy_is_independent_and_rows_are_never_mutated() -> None:
    s = _busy_state()
    snapshot = s.copy()
    held = s.get_task("r1", "b")
    assert held is not None and held.state == TaskState.READY
    e = Events(start_ms=1_767_225_700_000)
    s.fold([e.dispatch("r1", "b"), e.started("r1", "b")])
    assert held.state == TaskState.READY  # the object a reader holds did not change
    b = snapshot.get_task("r1", "b")
    assert b is not None and b.state == TaskState.READY
    now = s.get_task("r1", "b")
    assert now is not None and now.state == TaskState.RUNNING


def test_primary_keys_name_existing_columns() -> None:
    for name, keys in PRIMARY_KEYS.items():
        assert set(keys) <= set(SCHEMAS[name].names)


def test_idempotency_rows_carry_scope() -> None:
    s = _busy_state()
    row = next(iter(s.rows("idempotency_keys")))
    assert row.pk[:2] == (TENANT, WORKSPACE)


def test_large_task_table_loads_column_wise() -> None:
    n = 100_000
    tasks = pa.table(
        {
            "run_id": pa.array([f"run{i // 100}" for i in range(n)]),
            "task_key": pa.array([f"t{i % 100}" for i in range(n)]),
            "state": pa.array(["SUCCEEDED"] * n),
            "attempt": pa.array([1] * n, pa.uint32()),
            "attempt_id": pa.array(["x"] * n),
            "started_at": pa.array([1] * n, pa.int64()),
            "completed_at": pa.array([2] * n, pa.int64()),
            "error_message": pa.nulls(n, pa.string()),
            "deps_total": pa.array([0] * n, pa.uint32()),
            "deps_satisfied_count": pa.array([0] * n, pa.uint32()),
            "max_attempts": pa.array([3] * n, pa.uint32()),
            "heartbeat_timeout_sec": pa.array([300] * n, pa.uint32()),
            "last_heartbeat_at": pa.nulls(n, pa.int64()),
            "ready_at": pa.array([0] * n, pa.int64()),
            "asset_key": pa.nulls(n, pa.string()),
            "partition_key": pa.nulls(n, pa.string()),
            "row_version": pa.array(["01K"] * n),
        }
    )
    rows = table_to_rows(TASKS, tasks)
    s = FoldState()
    s.load_rows(TASKS, rows)
    assert s.row_count(TASKS) == n
    assert len(s.list_tasks("run7")) == 100
    assert len(s.tasks_in_state("SUCCEEDED")) == n
