from __future__ import annotations

import pytest
from catalog_support import TENANT, WORKSPACE, Harness, ulid_like

from arco_core.catalog import (
    CatalogState,
    ColumnRow,
    LineageView,
    NamespaceDeleted,
    TableRegistered,
    fold,
    get_lineage,
    get_namespace,
    get_schema,
    get_schema_table,
    get_table,
    list_catalogs,
    list_namespaces,
    list_schema_tables,
    list_schemas,
    list_tables,
    make_commit_row,
    make_event,
    plan_add_edges,
    plan_create_catalog,
    plan_create_namespace,
    plan_create_schema,
    plan_delete_namespace,
    plan_drop_table,
    plan_register_schema_table,
    plan_register_table,
    plan_update_table,
    validate_add_edges,
    validate_create_catalog,
    validate_create_namespace,
    validate_create_schema,
    validate_register_table,
    validate_update_table,
)
from arco_core.errors import AlreadyExists, InvalidArgument, NotFound, ScopeViolation

COLS = [
    {"name": "id", "data_type": "bigint", "nullable": False},
    {"name": "amount", "data_type": "decimal(10,2)"},
    {"name": "note", "data_type": "string", "description": "free text"},
]


def create_ns(h: Harness, name: str, description: str | None = None) -> None:
    h.commit(
        plan_create_namespace(
            h.state, validate_create_namespace(name, description), now_ms=h.now_ms
        )
    )


def register(h: Harness, ns: str, name: str, fmt: str | None = None) -> None:
    request = validate_register_table(name, COLS, format=fmt)
    h.commit(plan_register_table(h.state, ns, request, now_ms=h.now_ms))


def test_first_namespace_creates_default_catalog(harness: Harness) -> None:
    create_ns(harness, "sales", "Sales data")
    kinds = [e.data["type"] for e in harness.events]
    assert kinds == ["catalog_created", "schema_created"]
    assert [e.event_type for e in harness.events] == ["CatalogCreated", "SchemaCreated"]
    assert [c.name for c in list_catalogs(harness.state).items] == ["default"]

    ns = get_namespace(harness.state, "sales")
    assert ns.description == "Sales data"
    assert ns.created_at == ns.updated_at
    # A namespace is a schema of the implicit default catalog.
    assert (ns.catalog, ns.name) == ("default", "sales")

    create_ns(harness, "marketing")
    # The default catalog is created only once.
    assert [e.data["type"] for e in harness.events].count("catalog_created") == 1
    assert [n.name for n in list_namespaces(harness.state).items] == ["marketing", "sales"]
    # Namespaces are schemas of "default" on the three-level routes too.
    assert get_schema(harness.state, "default", "sales").id == ns.id


def test_duplicate_namespace_is_refused_before_append(harness: Harness) -> None:
    create_ns(harness, "sales")
    with pytest.raises(AlreadyExists) as exc:
        plan_create_namespace(harness.state, validate_create_namespace("sales"), now_ms=1)
    assert exc.value.message == "namespace already exists: sales"


def test_duplicate_events_fold_once(harness: Harness) -> None:
    create_ns(harness, "sales")
    before = harness.state.copy()
    # Replaying the same envelopes (a retried compaction) changes nothing.
    again = fold(harness.events, CatalogState())
    assert again.state == before
    replay = fold(harness.events, before)
    assert replay.state == before
    assert {o.outcome for o in replay.outcomes} == {"stale"}
    assert not replay.changed
    # Same batch containing the same envelope twice.
    doubled = fold(harness.events + harness.events)
    assert doubled.state == before
    assert len(doubled.outcomes) == 2


def test_same_payload_appended_twice_with_new_event_id_is_a_noop(harness: Harness) -> None:
    payloads = plan_create_namespace(harness.state, validate_create_namespace("x"), now_ms=5)
    harness.commit(payloads)
    state = harness.state.copy()
    result = fold(harness.wrap(payloads), harness.state)
    assert result.state.catalogs == state.catalogs
    assert result.state.namespaces == state.namespaces
    assert [o.outcome for o in result.outcomes] == ["duplicate", "duplicate"]
    assert not result.changed


def test_delete_namespace(harness: Harness) -> None:
    create_ns(harness, "sales")
    register(harness, "sales", "orders")
    with pytest.raises(InvalidArgument) as exc:
        plan_delete_namespace(harness.state, "sales", now_ms=harness.now_ms)
    assert exc.value.message == "namespace 'sales' contains tables, cannot delete"

    harness.commit(plan_drop_table(harness.state, "sales", "orders", now_ms=harness.now_ms))
    events = harness.commit(plan_delete_namespace(harness.state, "sales", now_ms=harness.now_ms))
    assert events[0].data["type"] == "namespace_deleted"
    assert list_namespaces(harness.state).items == ()
    with pytest.raises(NotFound, match="namespace not found: sales"):
        get_namespace(harness.state, "sales")
    with pytest.raises(NotFound):
        plan_delete_namespace(harness.state, "sales", now_ms=harness.now_ms)
    # The name can be reused afterwards.
    create_ns(harness, "sales")
    assert get_namespace(harness.state, "sales")


def test_fold_refuses_delete_of_non_empty_namespace_even_without_precheck(
    harness: Harness,
) -> None:
    create_ns(harness, "sales")
    register(harness, "sales", "orders")
    ns = get_namespace(harness.state, "sales")
    result = fold(harness.wrap([NamespaceDeleted(ns.id, "sales", harness.now_ms)]), harness.state)
    assert [o.outcome for o in result.outcomes] == ["rejected"]
    assert get_namespace(result.state, "sales").id == ns.id


def test_register_update_drop_table(harness: Harness) -> None:
    create_ns(harness, "sales")
    register(harness, "sales", "orders")
    table = get_table(harness.state, "sales", "orders")
    assert table.format == "delta"
    assert table.location is None
    assert [(c.name, c.position, c.nullable) for c in table.columns] == [
        ("id", 0, False),
        ("amount", 1, True),
        ("note", 2, True),
    ]
    assert table.columns[2].description == "free text"
    assert (table.namespace, table.name) == ("sales", "orders")

    with pytest.raises(AlreadyExists, match="table already exists: orders"):
        plan_register_table(
            harness.state, "sales", validate_register_table("orders", COLS), now_ms=1
        )
    with pytest.raises(NotFound, match="namespace not found: nope"):
        plan_register_table(harness.state, "nope", validate_register_table("t", COLS), now_ms=1)

    events = harness.commit(
        plan_update_table(
            harness.state,
            "sales",
            "orders",
            validate_update_table("Orders!"),
            now_ms=harness.now_ms,
        )
    )
    assert [e.data["type"] for e in events] == ["table_updated"]
    updated = get_table(harness.state, "sales", "orders")
    assert updated.description == "Orders!"
    assert updated.updated_at > updated.created_at
    assert updated.columns == table.columns
    # No description, or the same one: nothing to append.
    assert (
        plan_update_table(harness.state, "sales", "orders", validate_update_table(), now_ms=1) == []
    )
    assert (
        plan_update_table(
            harness.state, "sales", "orders", validate_update_table("Orders!"), now_ms=1
        )
        == []
    )

    result_events = plan_drop_table(harness.state, "sales", "orders", now_ms=harness.now_ms)
    drop = fold(harness.wrap(result_events), harness.state)
    assert drop.deltas["tables"].deletes == (table.id,)
    assert set(drop.deltas["columns"].deletes) == {c.id for c in table.columns}
    assert not drop.state.table_columns
    with pytest.raises(NotFound, match=r"table not found: sales\.orders"):
        get_table(drop.state, "sales", "orders")
    with pytest.raises(NotFound):
        plan_drop_table(drop.state, "sales", "orders", now_ms=1)


def test_list_tables_sorted_and_paginated(harness: Harness) -> None:
    create_ns(harness, "sales")
    for name in ["c", "a", "b"]:
        register(harness, "sales", name, fmt="PARQUET")
    page = list_tables(harness.state, "sales", limit=2)
    assert [t.name for t in page.items] == ["a", "b"]
    assert page.next_cursor is not None
    rest = list_tables(harness.state, "sales", limit=2, cursor=page.next_cursor)
    assert [t.name for t in rest.items] == ["c"]
    assert rest.next_cursor is None
    assert {t.format for t in page.items} == {"parquet"}
    with pytest.raises(NotFound):
        list_tables(harness.state, "missing")
    with pytest.raises(InvalidArgument, match="invalid cursor"):
        list_tables(harness.state, "sales", cursor="@@")
    with pytest.raises(InvalidArgument):
        list_namespaces(harness.state, limit=501)


def test_catalog_schema_route_with_location(harness: Harness) -> None:
    harness.commit(
        plan_create_catalog(
            harness.state, validate_create_catalog("lake", "Lake"), now_ms=harness.now_ms
        )
    )
    with pytest.raises(AlreadyExists, match="catalog already exists: lake"):
        plan_create_catalog(harness.state, validate_create_catalog("lake"), now_ms=1)
    with pytest.raises(NotFound, match="catalog not found: other"):
        plan_create_schema(harness.state, "other", validate_create_schema("s"), now_ms=1)
    harness.commit(
        plan_create_schema(
            harness.state, "lake", validate_create_schema("bronze"), now_ms=harness.now_ms
        )
    )
    with pytest.raises(AlreadyExists, match="schema already exists: bronze"):
        plan_create_schema(harness.state, "lake", validate_create_schema("bronze"), now_ms=1)

    request = validate_register_table(
        "events", COLS, format="parquet", location="s3://bucket/events.parquet", allow_location=True
    )
    harness.commit(
        plan_register_schema_table(harness.state, "lake", "bronze", request, now_ms=harness.now_ms)
    )
    table = get_schema_table(harness.state, "lake", "bronze", "events")
    assert (table.catalog, table.schema, table.format) == ("lake", "bronze", "parquet")
    assert table.location == "s3://bucket/events.parquet"
    assert [t.name for t in list_schema_tables(harness.state, "lake", "bronze").items] == ["events"]
    assert [s.name for s in list_schemas(harness.state, "lake").items] == ["bronze"]
    # The schema of a non-default catalog is not a namespace.
    assert list_namespaces(harness.state).items == ()
    with pytest.raises(NotFound, match=r"schema not found: lake\.silver"):
        list_schema_tables(harness.state, "lake", "silver")
    with pytest.raises(NotFound):
        list_schemas(harness.state, "nope")
    # Same schema name in two catalogs is fine.
    create_ns(harness, "bronze")
    assert (
        get_namespace(harness.state, "bronze").id != get_schema(harness.state, "lake", "bronze").id
    )


def test_namespace_route_refuses_location(harness: Harness) -> None:
    create_ns(harness, "sales")
    request = validate_register_table("t", COLS, location="s3://x", allow_location=True)
    with pytest.raises(InvalidArgument, match="location"):
        plan_register_table(harness.state, "sales", request, now_ms=1)


def test_lineage_dedupe_by_content_id(harness: Harness) -> None:
    request = validate_add_edges(
        [
            {"source_id": "raw.orders", "target_id": "clean.orders"},
            {"source_id": "raw.orders", "target_id": "clean.orders"},  # same content
            {"source_id": "raw.orders", "target_id": "clean.orders", "run_id": "run-1"},
            {"source_id": "clean.orders", "target_id": "mart.revenue", "edge_type": "aggregates"},
        ]
    )
    payload = plan_add_edges(request, now_ms=harness.now_ms)
    assert len(payload.edges) == 3  # the "added" count
    harness.commit([payload])
    # A retry with a later timestamp keeps the first write.
    retry = plan_add_edges(request, now_ms=harness.now_ms + 99)
    result = fold(harness.wrap([retry]), harness.state)
    assert [o.outcome for o in result.outcomes] == ["duplicate"]
    assert result.deltas["lineage_edges"].upserts == ()
    assert len(result.state.lineage_edges) == 3

    lineage = get_lineage(result.state, "clean.orders")
    assert [e.source_id for e in lineage.upstream] == ["raw.orders", "raw.orders"]
    assert [e.target_id for e in lineage.downstream] == ["mart.revenue"]
    assert lineage.downstream[0].edge_type == "aggregates"
    assert {e.created_at for e in lineage.upstream} == {harness.now_ms - 1000}
    # Lineage ids are free-form: an unknown one has empty lists, not NotFound.
    assert get_lineage(result.state, "unknown") == LineageView("unknown", (), ())


def test_deltas_are_net_changes(harness: Harness) -> None:
    create_ns(harness, "sales")
    request = validate_register_table("orders", COLS)
    reg = plan_register_table(harness.state, "sales", request, now_ms=harness.now_ms)
    assert isinstance(reg[0], TableRegistered)
    drop_ts = harness.now_ms + 1
    from arco_core.catalog import TableDropped

    drop = TableDropped(reg[0].table_id, reg[0].namespace_id, "orders", drop_ts)
    result = fold(harness.wrap([*reg, drop]), harness.state)
    # Created and dropped inside one batch: nothing to write, nothing to delete.
    assert result.deltas["tables"].is_empty
    assert result.deltas["columns"].is_empty
    assert [o.outcome for o in result.outcomes] == ["applied", "applied"]

    only_reg = fold(harness.wrap(reg), harness.state)
    assert [t.name for t in only_reg.deltas["tables"].upserts] == ["orders"]
    cols = only_reg.deltas["columns"].upserts
    assert all(isinstance(c, ColumnRow) for c in cols)
    assert sorted(c.ordinal for c in cols) == [0, 1, 2]


def test_unknown_and_malformed_events_are_noops(harness: Harness) -> None:
    create_ns(harness, "sales")
    base = harness.state.copy()
    unknown = make_event_raw({"type": "catalog_renamed", "catalog_id": "x"}, 900)
    malformed = make_event_raw({"type": "schema_created", "name": 3}, 901)
    result = fold([unknown, malformed], harness.state)
    assert [o.outcome for o in result.outcomes] == ["unknown", "invalid"]
    assert result.state.catalogs == base.catalogs
    assert result.state.namespaces == base.namespaces
    assert result.state.watermark_event_id == ulid_like(901)


def make_event_raw(data: dict[str, object], n: int):  # type: ignore[no-untyped-def]
    from arco_core.envelope import EventEnvelope

    return EventEnvelope(
        event_id=ulid_like(n),
        event_type="Whatever",
        event_version=1,
        timestamp="2026-01-01T00:00:00.000Z",
        source="test",
        tenant_id=TENANT,
        workspace_id=WORKSPACE,
        idempotency_key=f"k{n}",
        data=data,
    )


def test_scope_violation_rejects_whole_batch(harness: Harness) -> None:
    payloads = plan_create_namespace(CatalogState(), validate_create_namespace("x"), now_ms=1)
    foreign = make_event(
        payloads[0],
        tenant_id="other",
        workspace_id=WORKSPACE,
        timestamp_ms=1,
        event_id=ulid_like(1),
    )
    with pytest.raises(ScopeViolation):
        fold([foreign], harness.state, tenant_id=TENANT, workspace_id=WORKSPACE)
    assert harness.state == CatalogState()


def test_fold_does_not_mutate_input_unless_in_place(harness: Harness) -> None:
    create_ns(harness, "sales")
    base = harness.state
    snapshot = base.copy()
    events = harness.wrap(plan_create_namespace(base, validate_create_namespace("b"), now_ms=1))
    fold(events, base)
    assert base == snapshot
    fold(events, base, in_place=True)
    assert base != snapshot
    assert get_namespace(base, "b")


def test_commit_row_describes_last_applied_event(harness: Harness) -> None:
    create_ns(harness, "sales")
    request = validate_register_table("orders", COLS)
    events = harness.wrap(plan_register_table(harness.state, "sales", request, now_ms=1))
    result = fold(events, harness.state)
    row = make_commit_row(
        result,
        commit_ulid=ulid_like(77),
        snapshot_version=3,
        published_at=5,
        fencing_token=2,
        manifest_id="0" * 20,
    )
    assert (row.operation, row.object_type, row.object_name) == ("RegisterTable", "table", "orders")
    assert row.watermark_event_id == events[-1].event_id
    assert row.event_witnesses_json == f'["{events[-1].event_id}"]'


def test_idempotency_keys_are_deterministic(harness: Harness) -> None:
    payloads = plan_create_namespace(CatalogState(), validate_create_namespace("x"), now_ms=1)
    first = harness.wrap(payloads)
    second = harness.wrap(payloads)
    assert [e.idempotency_key for e in first] == [e.idempotency_key for e in second]
    assert first[0].idempotency_key != first[1].idempotency_key
    assert first[1].idempotency_key.startswith("catalog:schema_created:")
    lineage = plan_add_edges(validate_add_edges([{"source_id": "a", "target_id": "b"}]), now_ms=1)
    assert harness.wrap([lineage])[0].idempotency_key.startswith("lineage:lineage_edges_added:")
