"""The catalog read model: the views the list/get routes answer from, and the lookups.

Views are built from :class:`~arco_core.catalog.model.CatalogState` on demand; timestamps
stay epoch ms (the services render them). ``require_*`` raise the NotFound a route or a
plan reports; ``list_*`` page by name with :func:`~arco_core.catalog.pagination.paginate`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from arco_core.catalog.model import (
    DEFAULT_CATALOG_NAME,
    CatalogRow,
    CatalogState,
    LineageEdgeRow,
    NamespaceRow,
    TableRow,
)
from arco_core.catalog.pagination import Page, paginate
from arco_core.errors import NotFound

__all__ = [
    "INVENTORY_FAMILIES",
    "CatalogInventory",
    "CatalogView",
    "ColumnView",
    "InventoryFamily",
    "LineageEdgeView",
    "LineageView",
    "SchemaTableView",
    "SchemaView",
    "TableView",
    "catalog_inventory",
    "get_catalog",
    "get_lineage",
    "get_namespace",
    "get_schema",
    "get_schema_table",
    "get_table",
    "list_catalogs",
    "list_namespaces",
    "list_schema_tables",
    "list_schemas",
    "list_tables",
    "require_catalog",
    "require_namespace",
    "require_schema",
    "require_table",
]


# Views (what the list/get routes return; timestamps are epoch ms) ---------------------------


@dataclass(frozen=True, slots=True)
class CatalogView:
    id: str
    name: str
    description: str | None
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class SchemaView:
    """A schema of a catalog; the namespace routes show the same object without ``catalog``."""

    id: str
    catalog: str
    name: str
    description: str | None
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class ColumnView:
    id: str
    name: str
    data_type: str
    nullable: bool
    position: int
    description: str | None


@dataclass(frozen=True, slots=True)
class TableView:
    """A table of the namespace routes (``TableResponse``), with its columns."""

    id: str
    namespace: str
    name: str
    description: str | None
    format: str
    location: str | None
    columns: tuple[ColumnView, ...]
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class SchemaTableView:
    """A table of the catalog/schema routes (``SchemaTableResponse``)."""

    id: str
    catalog: str
    schema: str
    name: str
    description: str | None
    format: str
    location: str | None
    columns: tuple[ColumnView, ...]
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class LineageEdgeView:
    id: str
    source_id: str
    target_id: str
    edge_type: str
    run_id: str | None
    created_at: int


@dataclass(frozen=True, slots=True)
class LineageView:
    table_id: str
    upstream: tuple[LineageEdgeView, ...]
    downstream: tuple[LineageEdgeView, ...]


def _catalog_view(row: CatalogRow) -> CatalogView:
    return CatalogView(row.id, row.name, row.description, row.created_at, row.updated_at)


def _schema_view(row: NamespaceRow, catalog_name: str) -> SchemaView:
    return SchemaView(
        row.id, catalog_name, row.name, row.description, row.created_at, row.updated_at
    )


def _column_views(state: CatalogState, table_id: str) -> tuple[ColumnView, ...]:
    ordered = sorted(state.columns_of(table_id), key=lambda c: (c.ordinal, c.id))
    return tuple(
        ColumnView(c.id, c.name, c.data_type, c.is_nullable, c.ordinal, c.description)
        for c in ordered
    )


def _table_view(state: CatalogState, row: TableRow, namespace_name: str) -> TableView:
    return TableView(
        id=row.id,
        namespace=namespace_name,
        name=row.name,
        description=row.description,
        format=row.effective_format,
        location=row.location,
        columns=_column_views(state, row.id),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _schema_table_view(
    state: CatalogState, row: TableRow, catalog_name: str, schema_name: str
) -> SchemaTableView:
    return SchemaTableView(
        id=row.id,
        catalog=catalog_name,
        schema=schema_name,
        name=row.name,
        description=row.description,
        format=row.effective_format,
        location=row.location,
        columns=_column_views(state, row.id),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _edge_view(row: LineageEdgeRow) -> LineageEdgeView:
    return LineageEdgeView(
        row.id, row.source_id, row.target_id, row.edge_type, row.run_id, row.created_at
    )


# Lookups that raise NotFound ------------------------------------------------------------------


def require_catalog(state: CatalogState, name: str) -> CatalogRow:
    row = state.catalog_by_name(name)
    if row is None:
        raise NotFound(f"catalog not found: {name}", reason="catalog_not_found")
    return row


def require_schema(
    state: CatalogState, catalog: str, schema: str
) -> tuple[CatalogRow, NamespaceRow]:
    catalog_row = require_catalog(state, catalog)
    row = state.namespace_in(catalog_row, schema)
    if row is None:
        raise NotFound(f"schema not found: {catalog}.{schema}", reason="schema_not_found")
    return catalog_row, row


def require_namespace(state: CatalogState, name: str) -> NamespaceRow:
    row = state.default_namespace(name)
    if row is None:
        raise NotFound(f"namespace not found: {name}", reason="namespace_not_found")
    return row


def require_table(state: CatalogState, namespace_id: str, qualified: str, name: str) -> TableRow:
    row = state.table_in(namespace_id, name)
    if row is None:
        raise NotFound(f"table not found: {qualified}.{name}", reason="table_not_found")
    return row


# Public read helpers --------------------------------------------------------------------------


def list_catalogs(
    state: CatalogState, *, limit: int | None = None, cursor: str | None = None
) -> Page[CatalogView]:
    views = [_catalog_view(row) for row in state.catalogs.values()]
    return paginate(views, key=lambda v: v.name, limit=limit, cursor=cursor)


def get_catalog(state: CatalogState, name: str) -> CatalogView:
    return _catalog_view(require_catalog(state, name))


def list_schemas(
    state: CatalogState, catalog: str, *, limit: int | None = None, cursor: str | None = None
) -> Page[SchemaView]:
    catalog_row = require_catalog(state, catalog)
    views = [_schema_view(row, catalog_row.name) for row in state.namespaces_in(catalog_row)]
    return paginate(views, key=lambda v: v.name, limit=limit, cursor=cursor)


def get_schema(state: CatalogState, catalog: str, schema: str) -> SchemaView:
    catalog_row, row = require_schema(state, catalog, schema)
    return _schema_view(row, catalog_row.name)


def list_namespaces(
    state: CatalogState, *, limit: int | None = None, cursor: str | None = None
) -> Page[SchemaView]:
    """Schemas of the implicit ``default`` catalog. Before its first use the list is empty."""
    catalog = state.default_catalog()
    if catalog is not None:
        rows = state.namespaces_in(catalog)
    else:
        rows = state.legacy_default_namespaces()
    views = [_schema_view(row, DEFAULT_CATALOG_NAME) for row in rows]
    return paginate(views, key=lambda v: v.name, limit=limit, cursor=cursor)


def get_namespace(state: CatalogState, name: str) -> SchemaView:
    return _schema_view(require_namespace(state, name), DEFAULT_CATALOG_NAME)


def list_tables(
    state: CatalogState, namespace: str, *, limit: int | None = None, cursor: str | None = None
) -> Page[TableView]:
    namespace_row = require_namespace(state, namespace)
    # Validate paging before building views so a bad cursor never costs column sorting.
    page = paginate(
        state.tables_in(namespace_row.id), key=lambda t: t.name, limit=limit, cursor=cursor
    )
    return Page(
        items=tuple(_table_view(state, row, namespace_row.name) for row in page.items),
        next_cursor=page.next_cursor,
    )


def get_table(state: CatalogState, namespace: str, name: str) -> TableView:
    namespace_row = require_namespace(state, namespace)
    row = require_table(state, namespace_row.id, namespace, name)
    return _table_view(state, row, namespace_row.name)


def list_schema_tables(
    state: CatalogState,
    catalog: str,
    schema: str,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[SchemaTableView]:
    catalog_row, schema_row = require_schema(state, catalog, schema)
    page = paginate(
        state.tables_in(schema_row.id), key=lambda t: t.name, limit=limit, cursor=cursor
    )
    return Page(
        items=tuple(
            _schema_table_view(state, row, catalog_row.name, schema_row.name) for row in page.items
        ),
        next_cursor=page.next_cursor,
    )


def get_schema_table(state: CatalogState, catalog: str, schema: str, name: str) -> SchemaTableView:
    catalog_row, schema_row = require_schema(state, catalog, schema)
    row = require_table(state, schema_row.id, f"{catalog}.{schema}", name)
    return _schema_table_view(state, row, catalog_row.name, schema_row.name)


def get_lineage(state: CatalogState, table_id: str) -> LineageView:
    """Upstream edges point *into* ``table_id``; downstream edges leave it.

    Lineage ids are free-form (they need not name a registered table), so an unknown id
    yields empty lists rather than NotFound.
    """
    upstream = sorted(state.edges_with_target(table_id), key=lambda e: (e.source_id, e.id))
    downstream = sorted(state.edges_with_source(table_id), key=lambda e: (e.target_id, e.id))
    return LineageView(
        table_id=table_id,
        upstream=tuple(_edge_view(e) for e in upstream),
        downstream=tuple(_edge_view(e) for e in downstream),
    )


# Inventory ------------------------------------------------------------------------------------

# The catalog's object families, each a snapshot table answered by system.catalog.{name}.
INVENTORY_FAMILIES = ("catalogs", "namespaces", "tables", "columns")


@dataclass(frozen=True, slots=True)
class InventoryFamily:
    name: str
    available: bool
    row_count: int
    query_handle: str


@dataclass(frozen=True, slots=True)
class CatalogInventory:
    """What one published catalog snapshot holds, without exposing any path."""

    snapshot_version: int
    published_at: str
    catalogs: int
    schemas: int
    tables: int
    columns: int
    families: tuple[InventoryFamily, ...]

    @property
    def manifest_id(self) -> str:
        return f"{self.snapshot_version:020d}"


def catalog_inventory(
    state: CatalogState, *, seq: int, published_at: str, published_tables: Iterable[str]
) -> CatalogInventory:
    """The inventory of the snapshot published as manifest ``seq`` with ``state``."""
    published = set(published_tables)
    rows = {
        "catalogs": len(state.catalogs),
        "namespaces": len(state.namespaces),
        "tables": len(state.tables),
        "columns": sum(len(columns) for columns in state.table_columns.values()),
    }
    return CatalogInventory(
        snapshot_version=seq,
        published_at=published_at,
        catalogs=rows["catalogs"],
        schemas=rows["namespaces"],
        tables=rows["tables"],
        columns=rows["columns"],
        families=tuple(
            InventoryFamily(name, name in published, rows[name], f"system.catalog.{name}")
            for name in INVENTORY_FAMILIES
        ),
    )
