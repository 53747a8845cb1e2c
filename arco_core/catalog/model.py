"""Catalog rows and the folded state (the read model is :mod:`arco_core.catalog.read`).

Rows mirror the snapshot Parquet tables one to one (timestamps are Int64 epoch ms). The
state keeps private name indexes so that every fold step and every lookup costs O(1) or
O(result), never a scan of the whole catalog.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_CATALOG_NAME",
    "LEGACY_TABLE_FORMAT",
    "CatalogRow",
    "CatalogState",
    "ColumnRow",
    "CommitRow",
    "LineageEdgeRow",
    "NamespaceRow",
    "TableRow",
]

DEFAULT_CATALOG_NAME = "default"
# A stored table with no format predates the format column; such tables were Parquet.
LEGACY_TABLE_FORMAT = "parquet"


# Rows (one per Parquet row) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogRow:
    id: str
    name: str
    description: str | None
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class NamespaceRow:
    """A schema. ``catalog_id`` None marks a legacy row of the implicit default catalog."""

    id: str
    catalog_id: str | None
    name: str
    description: str | None
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class TableRow:
    id: str
    namespace_id: str
    name: str
    description: str | None
    location: str | None
    format: str | None
    created_at: int
    updated_at: int

    @property
    def effective_format(self) -> str:
        return self.format if self.format is not None else LEGACY_TABLE_FORMAT


@dataclass(frozen=True, slots=True)
class ColumnRow:
    id: str
    table_id: str
    name: str
    data_type: str
    is_nullable: bool
    ordinal: int
    description: str | None


@dataclass(frozen=True, slots=True)
class LineageEdgeRow:
    id: str
    source_id: str
    target_id: str
    edge_type: str
    run_id: str | None
    created_at: int


@dataclass(frozen=True, slots=True)
class CommitRow:
    """One published compaction. Written by the compactor, never by the fold."""

    commit_ulid: str
    snapshot_version: int
    published_at: int
    fencing_token: int
    watermark_event_id: str | None = None
    operation: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    object_name: str | None = None
    manifest_id: str | None = None
    event_witnesses_json: str | None = None


# State --------------------------------------------------------------------------------------


def _ns_bucket(catalog_id: str | None) -> str:
    # Legacy namespace rows (catalog_id None) live in the default catalog; "" can never be
    # a UUID, so it is a safe bucket key for them.
    return catalog_id or ""


@dataclass(eq=False)
class CatalogState:
    """The folded catalog and lineage state.

    Mutators are used by :mod:`arco_core.catalog.fold` only; everybody else reads. Two
    states are equal when their rows and watermark are equal (indexes and the commits log
    are bookkeeping and excluded from equality).
    """

    catalogs: dict[str, CatalogRow] = field(default_factory=dict)
    namespaces: dict[str, NamespaceRow] = field(default_factory=dict)
    tables: dict[str, TableRow] = field(default_factory=dict)
    # Columns are grouped by table: a drop removes them in O(columns of that table).
    table_columns: dict[str, tuple[ColumnRow, ...]] = field(default_factory=dict)
    lineage_edges: dict[str, LineageEdgeRow] = field(default_factory=dict)
    commits: list[CommitRow] = field(default_factory=list)
    watermark_event_id: str | None = None
    _catalog_by_name: dict[str, str] = field(default_factory=dict, repr=False)
    _ns_by_catalog: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _tables_by_ns: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _edges_by_source: dict[str, set[str]] = field(default_factory=dict, repr=False)
    _edges_by_target: dict[str, set[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_rows(
        cls,
        *,
        catalogs: Iterable[CatalogRow] = (),
        namespaces: Iterable[NamespaceRow] = (),
        tables: Iterable[TableRow] = (),
        columns: Iterable[ColumnRow] = (),
        lineage_edges: Iterable[LineageEdgeRow] = (),
        commits: Iterable[CommitRow] = (),
        watermark_event_id: str | None = None,
    ) -> CatalogState:
        """Rebuild a state (and its indexes) from snapshot rows."""
        state = cls(commits=list(commits), watermark_event_id=watermark_event_id)
        for catalog in catalogs:
            state.put_catalog(catalog)
        for namespace in namespaces:
            state.put_namespace(namespace)
        for table in tables:
            state.put_table(table)
        grouped: dict[str, list[ColumnRow]] = {}
        for column in columns:
            grouped.setdefault(column.table_id, []).append(column)
        for table_id, group in grouped.items():
            state.table_columns[table_id] = tuple(sorted(group, key=lambda c: (c.ordinal, c.id)))
        for edge in lineage_edges:
            state.put_edge(edge)
        return state

    def copy(self) -> CatalogState:
        """An independent copy; rows are immutable, so only containers are duplicated."""
        return CatalogState(
            catalogs=dict(self.catalogs),
            namespaces=dict(self.namespaces),
            tables=dict(self.tables),
            table_columns=dict(self.table_columns),
            lineage_edges=dict(self.lineage_edges),
            commits=list(self.commits),
            watermark_event_id=self.watermark_event_id,
            _catalog_by_name=dict(self._catalog_by_name),
            _ns_by_catalog={k: dict(v) for k, v in self._ns_by_catalog.items()},
            _tables_by_ns={k: dict(v) for k, v in self._tables_by_ns.items()},
            _edges_by_source={k: set(v) for k, v in self._edges_by_source.items()},
            _edges_by_target={k: set(v) for k, v in self._edges_by_target.items()},
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CatalogState):
            return NotImplemented
        return (
            self.catalogs == other.catalogs
            and self.namespaces == other.namespaces
            and self.tables == other.tables
            and self.table_columns == other.table_columns
            and self.lineage_edges == other.lineage_edges
            and self.watermark_event_id == other.watermark_event_id
        )

    __hash__ = None  # type: ignore[assignment]  # mutable container

    # -- row iteration ----------------------------------------------------------------------

    @property
    def columns(self) -> dict[str, ColumnRow]:
        """All columns keyed by id (a fresh dict)."""
        return {c.id: c for group in self.table_columns.values() for c in group}

    def iter_columns(self) -> Iterator[ColumnRow]:
        for group in self.table_columns.values():
            yield from group

    # -- lookups ----------------------------------------------------------------------------

    def catalog_by_name(self, name: str) -> CatalogRow | None:
        catalog_id = self._catalog_by_name.get(name)
        return None if catalog_id is None else self.catalogs[catalog_id]

    def _ns_buckets(self, catalog: CatalogRow) -> list[str]:
        buckets = [_ns_bucket(catalog.id)]
        if catalog.name == DEFAULT_CATALOG_NAME:
            buckets.append(_ns_bucket(None))
        return buckets

    def namespace_in(self, catalog: CatalogRow, name: str) -> NamespaceRow | None:
        for bucket in self._ns_buckets(catalog):
            namespace_id = self._ns_by_catalog.get(bucket, {}).get(name)
            if namespace_id is not None:
                return self.namespaces[namespace_id]
        return None

    def namespaces_in(self, catalog: CatalogRow) -> list[NamespaceRow]:
        return [
            self.namespaces[namespace_id]
            for bucket in self._ns_buckets(catalog)
            for namespace_id in self._ns_by_catalog.get(bucket, {}).values()
        ]

    def namespace_name_taken(self, catalog_id: str | None, name: str) -> bool:
        """True when ``name`` is used by a schema of this catalog (legacy rows included)."""
        catalog = self.catalogs.get(catalog_id) if catalog_id is not None else None
        if catalog is not None:
            return self.namespace_in(catalog, name) is not None
        return name in self._ns_by_catalog.get(_ns_bucket(catalog_id), {})

    def default_catalog(self) -> CatalogRow | None:
        return self.catalog_by_name(DEFAULT_CATALOG_NAME)

    def default_namespace(self, name: str) -> NamespaceRow | None:
        """A namespace of the legacy two-level API (a schema of catalog ``default``)."""
        catalog = self.default_catalog()
        if catalog is not None:
            return self.namespace_in(catalog, name)
        # Legacy rows can exist before any default catalog row does.
        namespace_id = self._ns_by_catalog.get(_ns_bucket(None), {}).get(name)
        return None if namespace_id is None else self.namespaces[namespace_id]

    def legacy_default_namespaces(self) -> list[NamespaceRow]:
        """Namespace rows with no catalog id (written before catalogs existed)."""
        return [self.namespaces[n] for n in self._ns_by_catalog.get(_ns_bucket(None), {}).values()]

    def table_in(self, namespace_id: str, name: str) -> TableRow | None:
        table_id = self._tables_by_ns.get(namespace_id, {}).get(name)
        return None if table_id is None else self.tables[table_id]

    def tables_in(self, namespace_id: str) -> list[TableRow]:
        return [self.tables[t] for t in self._tables_by_ns.get(namespace_id, {}).values()]

    def has_tables(self, namespace_id: str) -> bool:
        return bool(self._tables_by_ns.get(namespace_id))

    def columns_of(self, table_id: str) -> tuple[ColumnRow, ...]:
        return self.table_columns.get(table_id, ())

    def edges_with_source(self, node_id: str) -> list[LineageEdgeRow]:
        return [self.lineage_edges[e] for e in self._edges_by_source.get(node_id, ())]

    def edges_with_target(self, node_id: str) -> list[LineageEdgeRow]:
        return [self.lineage_edges[e] for e in self._edges_by_target.get(node_id, ())]

    # -- mutators (fold only) ---------------------------------------------------------------

    def put_catalog(self, row: CatalogRow) -> None:
        previous = self.catalogs.get(row.id)
        if previous is not None and previous.name != row.name:
            self._catalog_by_name.pop(previous.name, None)
        self.catalogs[row.id] = row
        self._catalog_by_name[row.name] = row.id

    def put_namespace(self, row: NamespaceRow) -> None:
        previous = self.namespaces.get(row.id)
        if previous is not None:
            self._ns_by_catalog.get(_ns_bucket(previous.catalog_id), {}).pop(previous.name, None)
        self.namespaces[row.id] = row
        self._ns_by_catalog.setdefault(_ns_bucket(row.catalog_id), {})[row.name] = row.id

    def remove_namespace(self, namespace_id: str) -> NamespaceRow | None:
        row = self.namespaces.pop(namespace_id, None)
        if row is not None:
            bucket = self._ns_by_catalog.get(_ns_bucket(row.catalog_id), {})
            bucket.pop(row.name, None)
            self._tables_by_ns.pop(namespace_id, None)
        return row

    def put_table(self, row: TableRow) -> None:
        previous = self.tables.get(row.id)
        if previous is not None:
            self._tables_by_ns.get(previous.namespace_id, {}).pop(previous.name, None)
        self.tables[row.id] = row
        self._tables_by_ns.setdefault(row.namespace_id, {})[row.name] = row.id

    def put_columns(self, table_id: str, columns: tuple[ColumnRow, ...]) -> None:
        self.table_columns[table_id] = columns

    def remove_table(self, table_id: str) -> tuple[TableRow | None, tuple[ColumnRow, ...]]:
        row = self.tables.pop(table_id, None)
        columns = self.table_columns.pop(table_id, ())
        if row is not None:
            by_name = self._tables_by_ns.get(row.namespace_id)
            if by_name is not None:
                by_name.pop(row.name, None)
                if not by_name:
                    del self._tables_by_ns[row.namespace_id]
        return row, columns

    def put_edge(self, row: LineageEdgeRow) -> None:
        self.lineage_edges[row.id] = row
        self._edges_by_source.setdefault(row.source_id, set()).add(row.id)
        self._edges_by_target.setdefault(row.target_id, set()).add(row.id)
