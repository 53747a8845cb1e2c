"""The catalog's pre-checks and planners: what the API runs under the domain lock.

The ``check_*`` functions turn a violated invariant (unique names, no orphan tables, no
deleting a non-empty namespace) into the right client error *before* anything is
written; the ``plan_*`` functions check, then build the payloads to append. The fold
(:mod:`arco_core.catalog.fold`) re-checks the same invariants on replay.
"""

from __future__ import annotations

from collections.abc import Callable

from arco_core.catalog.events import (
    CatalogCreated,
    CatalogEventPayload,
    ColumnRecord,
    EdgeRecord,
    LineageEdgesAdded,
    NamespaceDeleted,
    SchemaCreated,
    TableDropped,
    TableRegistered,
    TableUpdated,
    new_uuid7,
)
from arco_core.catalog.model import (
    DEFAULT_CATALOG_NAME,
    CatalogRow,
    CatalogState,
    NamespaceRow,
    TableRow,
)
from arco_core.catalog.read import require_catalog, require_namespace, require_schema, require_table
from arco_core.catalog.validation import (
    AddEdgesRequest,
    CreateCatalogRequest,
    CreateNamespaceRequest,
    CreateSchemaRequest,
    RegisterTableRequest,
    UpdateTableRequest,
)
from arco_core.errors import AlreadyExists, InvalidArgument

__all__ = [
    "check_create_catalog",
    "check_create_namespace",
    "check_create_schema",
    "check_delete_namespace",
    "check_register_schema_table",
    "check_register_table",
    "check_table_exists",
    "plan_add_edges",
    "plan_create_catalog",
    "plan_create_namespace",
    "plan_create_schema",
    "plan_delete_namespace",
    "plan_drop_table",
    "plan_register_schema_table",
    "plan_register_table",
    "plan_update_table",
]


# Pre-checks (API, under the lock) -------------------------------------------------------------


def check_create_catalog(state: CatalogState, name: str) -> None:
    if state.catalog_by_name(name) is not None:
        raise AlreadyExists(f"catalog already exists: {name}", reason="catalog_exists")


def check_create_schema(state: CatalogState, catalog: str, name: str) -> CatalogRow:
    catalog_row = require_catalog(state, catalog)
    if state.namespace_in(catalog_row, name) is not None:
        raise AlreadyExists(f"schema already exists: {name}", reason="schema_exists")
    return catalog_row


def check_create_namespace(state: CatalogState, name: str) -> None:
    if state.default_namespace(name) is not None:
        raise AlreadyExists(f"namespace already exists: {name}", reason="namespace_exists")


def check_delete_namespace(state: CatalogState, name: str) -> NamespaceRow:
    row = require_namespace(state, name)
    if state.has_tables(row.id):
        # A client error (400), not a conflict: the request can never succeed as sent.
        raise InvalidArgument(
            f"namespace '{name}' contains tables, cannot delete", reason="namespace_not_empty"
        )
    return row


def check_register_table(state: CatalogState, namespace: str, name: str) -> NamespaceRow:
    row = require_namespace(state, namespace)
    if state.table_in(row.id, name) is not None:
        raise AlreadyExists(f"table already exists: {name}", reason="table_exists")
    return row


def check_register_schema_table(
    state: CatalogState, catalog: str, schema: str, name: str
) -> NamespaceRow:
    _, row = require_schema(state, catalog, schema)
    if state.table_in(row.id, name) is not None:
        raise AlreadyExists(f"table already exists: {name}", reason="table_exists")
    return row


def check_table_exists(state: CatalogState, namespace: str, name: str) -> TableRow:
    namespace_row = require_namespace(state, namespace)
    return require_table(state, namespace_row.id, namespace, name)


# Planners: pre-check, then build the payloads to append ---------------------------------------

IdFactory = Callable[[], str]


def _id_factory(now_ms: int, new_id: IdFactory | None) -> IdFactory:
    return new_id if new_id is not None else (lambda: new_uuid7(now_ms))


def plan_create_catalog(
    state: CatalogState,
    request: CreateCatalogRequest,
    *,
    now_ms: int,
    new_id: IdFactory | None = None,
) -> list[CatalogEventPayload]:
    check_create_catalog(state, request.name)
    ids = _id_factory(now_ms, new_id)
    return [CatalogCreated(ids(), request.name, now_ms, request.description)]


def plan_create_schema(
    state: CatalogState,
    catalog: str,
    request: CreateSchemaRequest,
    *,
    now_ms: int,
    new_id: IdFactory | None = None,
) -> list[CatalogEventPayload]:
    catalog_row = check_create_schema(state, catalog, request.name)
    ids = _id_factory(now_ms, new_id)
    return [SchemaCreated(ids(), catalog_row.id, request.name, now_ms, request.description)]


def plan_create_namespace(
    state: CatalogState,
    request: CreateNamespaceRequest,
    *,
    now_ms: int,
    new_id: IdFactory | None = None,
) -> list[CatalogEventPayload]:
    """One ``schema_created`` in catalog ``default``, preceded by that catalog's creation
    when this is its first use. Append the payloads in order, in one commit."""
    check_create_namespace(state, request.name)
    ids = _id_factory(now_ms, new_id)
    payloads: list[CatalogEventPayload] = []
    default = state.default_catalog()
    if default is None:
        created = CatalogCreated(ids(), DEFAULT_CATALOG_NAME, now_ms)
        payloads.append(created)
        catalog_id = created.catalog_id
    else:
        catalog_id = default.id
    payloads.append(SchemaCreated(ids(), catalog_id, request.name, now_ms, request.description))
    return payloads


def plan_delete_namespace(
    state: CatalogState, name: str, *, now_ms: int
) -> list[CatalogEventPayload]:
    row = check_delete_namespace(state, name)
    return [NamespaceDeleted(row.id, row.name, now_ms)]


def _table_payload(
    namespace_id: str, request: RegisterTableRequest, now_ms: int, ids: IdFactory
) -> TableRegistered:
    return TableRegistered(
        table_id=ids(),
        namespace_id=namespace_id,
        name=request.name,
        format=request.format,
        created_at=now_ms,
        columns=tuple(
            ColumnRecord(ids(), c.name, c.data_type, c.nullable, i, c.description)
            for i, c in enumerate(request.columns)
        ),
        description=request.description,
        location=request.location,
    )


def plan_register_table(
    state: CatalogState,
    namespace: str,
    request: RegisterTableRequest,
    *,
    now_ms: int,
    new_id: IdFactory | None = None,
) -> list[CatalogEventPayload]:
    """The namespace route: no ``location`` (validation already refuses one)."""
    if request.location is not None:
        raise InvalidArgument("location is not accepted on this route")
    row = check_register_table(state, namespace, request.name)
    return [_table_payload(row.id, request, now_ms, _id_factory(now_ms, new_id))]


def plan_register_schema_table(
    state: CatalogState,
    catalog: str,
    schema: str,
    request: RegisterTableRequest,
    *,
    now_ms: int,
    new_id: IdFactory | None = None,
) -> list[CatalogEventPayload]:
    row = check_register_schema_table(state, catalog, schema, request.name)
    return [_table_payload(row.id, request, now_ms, _id_factory(now_ms, new_id))]


def plan_update_table(
    state: CatalogState, namespace: str, name: str, request: UpdateTableRequest, *, now_ms: int
) -> list[CatalogEventPayload]:
    """An omitted description changes nothing, so there is nothing to append."""
    row = check_table_exists(state, namespace, name)
    if request.description is None or request.description == row.description:
        return []
    # updated_at never moves backwards, even if the API clock does.
    return [TableUpdated(row.id, request.description, max(now_ms, row.updated_at))]


def plan_drop_table(
    state: CatalogState, namespace: str, name: str, *, now_ms: int
) -> list[CatalogEventPayload]:
    row = check_table_exists(state, namespace, name)
    return [TableDropped(row.id, row.namespace_id, row.name, now_ms)]


def plan_add_edges(request: AddEdgesRequest, *, now_ms: int) -> LineageEdgesAdded:
    """Edges deduplicated by content id, first occurrence kept; ``added`` is their count."""
    unique: dict[str, EdgeRecord] = {}
    for spec in request.edges:
        edge = EdgeRecord.build(spec.source_id, spec.target_id, spec.edge_type, spec.run_id)
        unique.setdefault(edge.edge_id, edge)
    return LineageEdgesAdded(edges=tuple(unique.values()), created_at=now_ms)
