from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from catalog_support import Harness

from arco_core.catalog import (
    CatalogRow,
    CommitRow,
    fold,
    make_commit_row,
    plan_add_edges,
    plan_create_namespace,
    plan_register_table,
    validate_add_edges,
    validate_create_namespace,
    validate_register_table,
)
from arco_core.catalog.projection import (
    CATALOG_SCHEMAS,
    rows_to_table,
    state_from_tables,
    state_to_tables,
    table_to_rows,
)
from arco_core.errors import InvalidArgument
from tests.support.reference import reference_path

REPO_ROOT = Path(__file__).resolve().parents[3]
GOLDEN = "contracts/golden_schemas/catalog"
GOLDEN_TYPES = {
    "Utf8": pa.string(),
    "Int64": pa.int64(),
    "Int32": pa.int32(),
    "Boolean": pa.bool_(),
}


def _golden_files() -> list[Path]:
    return sorted(reference_path(GOLDEN).glob("*.schema.json"))


def test_every_golden_table_has_a_schema() -> None:
    names = {json.loads(p.read_text())["name"] for p in _golden_files()}
    assert names == {"catalogs", "namespaces", "tables", "columns", "lineage_edges", "commits"}
    assert names <= set(CATALOG_SCHEMAS)


@pytest.mark.parametrize(
    "name", ["catalogs", "namespaces", "tables", "columns", "lineage_edges", "commits"]
)
def test_schema_is_superset_of_golden(name: str) -> None:
    golden = json.loads((reference_path(GOLDEN) / f"{name}.schema.json").read_text())
    schema = CATALOG_SCHEMAS[name]
    golden_names = set()
    for field in golden["fields"]:
        golden_names.add(field["name"])
        ours = schema.field(field["name"])  # KeyError if missing
        assert ours.type == GOLDEN_TYPES[field["data_type"]], field["name"]
        # A golden nullable column may never become non-nullable (and vice versa here).
        assert ours.nullable == field["nullable"], field["name"]
    extras = [f for f in schema if f.name not in golden_names]
    assert all(f.nullable for f in extras), [f.name for f in extras]
    for f in schema:
        if f.name.endswith("_at"):
            assert f.type == pa.int64()


def _populated() -> Harness:
    h = Harness()
    h.commit(
        plan_create_namespace(h.state, validate_create_namespace("sales", "S"), now_ms=h.now_ms)
    )
    request = validate_register_table(
        "orders",
        [
            {"name": "id", "data_type": "bigint", "nullable": False},
            {"name": "note", "data_type": "string", "description": "d"},
        ],
    )
    h.commit(plan_register_table(h.state, "sales", request, now_ms=h.now_ms))
    edges = validate_add_edges(
        [{"source_id": "a", "target_id": "b", "run_id": "r"}, {"source_id": "b", "target_id": "c"}]
    )
    h.commit([plan_add_edges(edges, now_ms=h.now_ms)])
    return h


def test_state_round_trips_through_arrow() -> None:
    h = _populated()
    result = fold([], h.state)
    state = result.state
    state.commits.append(
        make_commit_row(
            result,
            commit_ulid="01K" + "0" * 23,
            snapshot_version=1,
            published_at=5,
            fencing_token=1,
        )
    )
    tables = state_to_tables(state)
    for name, table in tables.items():
        assert table.schema == CATALOG_SCHEMAS[name]
    assert tables["columns"].num_rows == 2
    assert tables["lineage_edges"].num_rows == 2
    rebuilt = state_from_tables(tables)
    assert rebuilt == state
    assert rebuilt.watermark_event_id == state.watermark_event_id
    assert rebuilt.commits == state.commits
    # Deterministic: equal states give equal tables.
    assert state_to_tables(rebuilt)["tables"].equals(tables["tables"])


@pytest.mark.parametrize("name", list(CATALOG_SCHEMAS))
def test_rows_round_trip_per_table(name: str) -> None:
    h = _populated()
    tables = state_to_tables(h.state)
    rows = table_to_rows(name, tables[name])
    assert rows_to_table(name, rows).equals(tables[name])


def test_rows_accept_mappings_and_reject_missing_required() -> None:
    table = rows_to_table("catalogs", [{"id": "c", "name": "n", "created_at": 1, "updated_at": 2}])
    assert table_to_rows("catalogs", table) == [CatalogRow("c", "n", None, 1, 2)]
    with pytest.raises(InvalidArgument, match=r"catalogs\[0\].name must not be null"):
        rows_to_table("catalogs", [{"id": "c", "created_at": 1, "updated_at": 2}])
    with pytest.raises(InvalidArgument, match="not a row of table"):
        rows_to_table("catalogs", [CommitRow("x", 1, 1, 1)])
    with pytest.raises(InvalidArgument, match="unknown catalog table"):
        rows_to_table("nope", [])


def test_reads_golden_v1_tables_without_new_columns() -> None:
    # A namespaces file from a v1 writer has no catalog_id column: rows read as legacy.
    v1 = pa.table(
        {
            "id": ["n1"],
            "name": ["legacy"],
            "description": [None],
            "created_at": [1],
            "updated_at": [1],
        },
        schema=pa.schema([f for f in CATALOG_SCHEMAS["namespaces"] if f.name != "catalog_id"]),
    )
    v1_tables = pa.table(
        {
            "id": ["t1"],
            "namespace_id": ["n1"],
            "name": ["old"],
            "description": [None],
            "location": [None],
            "format": [None],
            "created_at": [1],
            "updated_at": [1],
        },
        schema=CATALOG_SCHEMAS["tables"],
    )
    state = state_from_tables({"namespaces": v1, "tables": v1_tables})
    from arco_core.catalog import get_table, list_namespaces

    assert [n.name for n in list_namespaces(state).items] == ["legacy"]
    # A legacy row with no stored format reads as parquet.
    assert get_table(state, "legacy", "old").format == "parquet"
    with pytest.raises(InvalidArgument, match="missing column"):
        table_to_rows("namespaces", v1.drop_columns(["name"]))
