"""Arrow schemas and row conversion for the catalog snapshot tables.

The schemas are a superset of the golden v1 baselines: every golden column keeps its name,
type and nullability, and the few extra columns are nullable. Timestamps are Int64 epoch
milliseconds. This module only builds in-memory Arrow tables; writing Parquet is the
compactor's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, fields
from types import MappingProxyType
from typing import Any

import pyarrow as pa

from arco_core.catalog.model import (
    CatalogRow,
    CatalogState,
    ColumnRow,
    CommitRow,
    LineageEdgeRow,
    NamespaceRow,
    TableRow,
)
from arco_core.errors import InvalidArgument

__all__ = [
    "CATALOG_SCHEMAS",
    "ROW_TYPES",
    "SNAPSHOT_TABLES",
    "rows_to_table",
    "schema_for",
    "state_from_tables",
    "state_to_tables",
    "table_to_rows",
]


def _f(name: str, dtype: pa.DataType, nullable: bool) -> pa.Field:
    return pa.field(name, dtype, nullable=nullable)


_UTF8 = pa.string()
_I64 = pa.int64()

CATALOG_SCHEMAS: Mapping[str, pa.Schema] = MappingProxyType(
    {
        "catalogs": pa.schema(
            [
                _f("id", _UTF8, False),
                _f("name", _UTF8, False),
                _f("description", _UTF8, True),
                _f("created_at", _I64, False),
                _f("updated_at", _I64, False),
            ]
        ),
        "namespaces": pa.schema(
            [
                _f("id", _UTF8, False),
                _f("name", _UTF8, False),
                _f("description", _UTF8, True),
                _f("created_at", _I64, False),
                _f("updated_at", _I64, False),
                # Not in the v1 baseline; null marks a legacy row of catalog "default".
                _f("catalog_id", _UTF8, True),
            ]
        ),
        "tables": pa.schema(
            [
                _f("id", _UTF8, False),
                _f("namespace_id", _UTF8, False),
                _f("name", _UTF8, False),
                _f("description", _UTF8, True),
                _f("location", _UTF8, True),
                _f("format", _UTF8, True),
                _f("created_at", _I64, False),
                _f("updated_at", _I64, False),
            ]
        ),
        "columns": pa.schema(
            [
                _f("id", _UTF8, False),
                _f("table_id", _UTF8, False),
                _f("name", _UTF8, False),
                _f("data_type", _UTF8, False),
                _f("is_nullable", pa.bool_(), False),
                _f("ordinal", pa.int32(), False),
                _f("description", _UTF8, True),
            ]
        ),
        "lineage_edges": pa.schema(
            [
                _f("id", _UTF8, False),
                _f("source_id", _UTF8, False),
                _f("target_id", _UTF8, False),
                _f("edge_type", _UTF8, False),
                _f("run_id", _UTF8, True),
                _f("created_at", _I64, False),
            ]
        ),
        "commits": pa.schema(
            [
                _f("commit_ulid", _UTF8, False),
                _f("snapshot_version", _I64, False),
                _f("published_at", _I64, False),
                _f("fencing_token", _I64, False),
                _f("watermark_event_id", _UTF8, True),
                _f("operation", _UTF8, True),
                _f("object_type", _UTF8, True),
                _f("object_id", _UTF8, True),
                _f("object_name", _UTF8, True),
                # Private bookkeeping, never exposed to query or browser reads.
                _f("manifest_id", _UTF8, True),
                _f("event_witnesses_json", _UTF8, True),
            ]
        ),
    }
)

ROW_TYPES: Mapping[str, type[Any]] = MappingProxyType(
    {
        "catalogs": CatalogRow,
        "namespaces": NamespaceRow,
        "tables": TableRow,
        "columns": ColumnRow,
        "lineage_edges": LineageEdgeRow,
        "commits": CommitRow,
    }
)

SNAPSHOT_TABLES: tuple[str, ...] = tuple(CATALOG_SCHEMAS)


def schema_for(name: str) -> pa.Schema:
    try:
        return CATALOG_SCHEMAS[name]
    except KeyError:
        raise InvalidArgument(f"unknown catalog table: {name}", reason="unknown_table") from None


def _row_dict(row: Any, name: str) -> dict[str, Any]:
    if isinstance(row, Mapping):
        return dict(row)
    if isinstance(row, ROW_TYPES[name]):
        return asdict(row)
    raise InvalidArgument(
        f"{type(row).__name__} is not a row of table {name}", reason="invalid_row"
    )


def rows_to_table(name: str, rows: Iterable[Any]) -> pa.Table:
    """An Arrow table of ``rows`` (row dataclasses or mappings) with the table's schema.

    A missing non-nullable value fails here instead of producing a file that breaks readers.
    """
    schema = schema_for(name)
    dicts = [_row_dict(row, name) for row in rows]
    columns: dict[str, list[Any]] = {f.name: [] for f in schema}
    for index, row in enumerate(dicts):
        for schema_field in schema:
            value = row.get(schema_field.name)
            if value is None and not schema_field.nullable:
                raise InvalidArgument(
                    f"{name}[{index}].{schema_field.name} must not be null", reason="invalid_row"
                )
            columns[schema_field.name].append(value)
    arrays = [pa.array(columns[f.name], type=f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def table_to_rows(name: str, table: pa.Table) -> list[Any]:
    """Row dataclasses from an Arrow table; extra columns (newer writers) are ignored and
    missing nullable ones read as null, so older and newer snapshots both load."""
    row_type = ROW_TYPES.get(name)
    if row_type is None:
        raise InvalidArgument(f"unknown catalog table: {name}", reason="unknown_table")
    wanted = [f.name for f in fields(row_type)]
    present = set(table.column_names)
    for schema_field in schema_for(name):
        if not schema_field.nullable and schema_field.name not in present:
            raise InvalidArgument(
                f"{name} snapshot is missing column {schema_field.name}", reason="invalid_snapshot"
            )
    data = {col: table.column(col).to_pylist() for col in wanted if col in present}
    return [
        row_type(**{col: data[col][i] if col in data else None for col in wanted})
        for i in range(table.num_rows)
    ]


def _sorted(rows: Iterable[Any]) -> list[Any]:
    # Sorting by primary id makes snapshots of equal states byte-identical.
    return sorted(rows, key=lambda r: r.id)


def state_to_tables(state: CatalogState) -> dict[str, pa.Table]:
    """Every snapshot table of ``state`` (commits in log order, other tables by id)."""
    return {
        "catalogs": rows_to_table("catalogs", _sorted(state.catalogs.values())),
        "namespaces": rows_to_table("namespaces", _sorted(state.namespaces.values())),
        "tables": rows_to_table("tables", _sorted(state.tables.values())),
        "columns": rows_to_table("columns", _sorted(state.iter_columns())),
        "lineage_edges": rows_to_table("lineage_edges", _sorted(state.lineage_edges.values())),
        "commits": rows_to_table("commits", state.commits),
    }


def state_from_tables(
    tables: Mapping[str, pa.Table], *, watermark_event_id: str | None = None
) -> CatalogState:
    """Rebuild a state from snapshot tables; absent tables are empty.

    The watermark lives in the manifest, not in a table, unless the caller omits it: then
    the last commits row carries it.
    """

    def rows(name: str) -> list[Any]:
        table = tables.get(name)
        return [] if table is None else table_to_rows(name, table)

    commits: list[CommitRow] = rows("commits")
    if watermark_event_id is None and commits:
        watermark_event_id = commits[-1].watermark_event_id
    return CatalogState.from_rows(
        catalogs=rows("catalogs"),
        namespaces=rows("namespaces"),
        tables=rows("tables"),
        columns=rows("columns"),
        lineage_edges=rows("lineage_edges"),
        commits=commits,
        watermark_event_id=watermark_event_id,
    )
