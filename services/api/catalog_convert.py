"""Pure conversions between catalog protobuf messages and the domain's requests and views.

Requests are decoded into the plain values ``arco_core.catalog.validation`` expects (proto3
``optional`` fields become None when unset) and validated there, so the gRPC and any other
front end share one set of rules. Views become messages with ``google.protobuf.Timestamp``
times (from epoch milliseconds), 0-based column positions and the effective format string.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Final

from arco.catalog.v1 import catalog_service_pb2 as pb

from arco_core.canonical_json import canonical_bytes
from arco_core.catalog import (
    AddEdgesRequest,
    CatalogInventory,
    CatalogView,
    ColumnView,
    CreateCatalogRequest,
    CreateNamespaceRequest,
    CreateSchemaRequest,
    LineageEdgeView,
    LineageView,
    RegisterTableRequest,
    SchemaTableView,
    SchemaView,
    TableView,
    UpdateTableRequest,
    validate_add_edges,
    validate_create_catalog,
    validate_create_namespace,
    validate_create_schema,
    validate_register_table,
    validate_update_table,
)
from services.common.rpc_context import timestamp_from_ms

INVENTORY_MANIFEST_TYPE: Final = "catalog_inventory_snapshot"
INVENTORY_VERSION: Final = 1

__all__ = [
    "add_edges_request",
    "catalog_to_proto",
    "column_to_proto",
    "create_catalog_request",
    "create_namespace_request",
    "create_schema_request",
    "edge_to_proto",
    "lineage_to_proto",
    "namespace_to_proto",
    "page_args",
    "register_schema_table_request",
    "register_table_request",
    "request_digest",
    "schema_table_to_proto",
    "schema_to_proto",
    "table_to_proto",
    "update_table_request",
]


# Scalars ----------------------------------------------------------------------------------


def _optional(message: Any, field: str) -> Any:
    """The value of a proto3 ``optional`` field, None when the caller did not set it."""
    return getattr(message, field) if message.HasField(field) else None


def page_args(limit: int, cursor: str) -> tuple[int | None, str | None]:
    """proto3 cannot tell an unset ``limit`` from 0: both mean the default page size."""
    return (limit or None, cursor or None)


# Requests ---------------------------------------------------------------------------------


def _columns(columns: Iterable[pb.ColumnDefinition]) -> list[Mapping[str, Any]]:
    return [
        {
            "name": column.name,
            "data_type": column.data_type,
            "nullable": _optional(column, "nullable"),
            "description": _optional(column, "description"),
        }
        for column in columns
    ]


def create_namespace_request(request: pb.CreateNamespaceRequest) -> CreateNamespaceRequest:
    return validate_create_namespace(request.name, _optional(request, "description"))


def create_catalog_request(request: pb.CreateCatalogRequest) -> CreateCatalogRequest:
    return validate_create_catalog(request.name, _optional(request, "description"))


def create_schema_request(request: pb.CreateSchemaRequest) -> CreateSchemaRequest:
    return validate_create_schema(request.name, _optional(request, "description"))


def register_table_request(request: pb.RegisterTableRequest) -> RegisterTableRequest:
    """The namespace route: its message has no ``location`` field at all."""
    return validate_register_table(
        request.name,
        _columns(request.columns),
        format=_optional(request, "format"),
        description=_optional(request, "description"),
    )


def register_schema_table_request(
    request: pb.RegisterSchemaTableRequest,
) -> RegisterTableRequest:
    return validate_register_table(
        request.name,
        _columns(request.columns),
        format=_optional(request, "format"),
        description=_optional(request, "description"),
        location=_optional(request, "location"),
        allow_location=True,
    )


def update_table_request(request: pb.UpdateTableRequest) -> UpdateTableRequest:
    return validate_update_table(_optional(request, "description"))


def add_edges_request(request: pb.AddLineageEdgesRequest) -> AddEdgesRequest:
    return validate_add_edges(
        [
            {
                "source_id": edge.source_id,
                "target_id": edge.target_id,
                "edge_type": _optional(edge, "edge_type"),
                "run_id": _optional(edge, "run_id"),
            }
            for edge in request.edges
        ]
    )


def request_digest(op: str, path: Mapping[str, str], body: object) -> str:
    """SHA-256 (hex) of the canonical JSON of a validated request and its route parameters.

    Hashing the normalised request (not the raw bytes) makes equivalent bodies, such as
    ``"DELTA"`` and ``"delta"`` or an omitted default, count as the same request.
    """
    if not dataclasses.is_dataclass(body) or isinstance(body, type):
        raise TypeError("body must be a validated request dataclass")
    document = {"op": op, "path": dict(path), "body": dataclasses.asdict(body)}
    return hashlib.sha256(canonical_bytes(document)).hexdigest()


# Views ------------------------------------------------------------------------------------


def namespace_to_proto(view: SchemaView) -> pb.Namespace:
    return pb.Namespace(
        id=view.id,
        name=view.name,
        description=view.description,
        created_at=timestamp_from_ms(view.created_at),
        updated_at=timestamp_from_ms(view.updated_at),
    )


def catalog_to_proto(view: CatalogView) -> pb.Catalog:
    return pb.Catalog(
        id=view.id,
        name=view.name,
        description=view.description,
        created_at=timestamp_from_ms(view.created_at),
        updated_at=timestamp_from_ms(view.updated_at),
    )


def schema_to_proto(view: SchemaView) -> pb.Schema:
    return pb.Schema(
        id=view.id,
        catalog=view.catalog,
        name=view.name,
        description=view.description,
        created_at=timestamp_from_ms(view.created_at),
        updated_at=timestamp_from_ms(view.updated_at),
    )


def column_to_proto(view: ColumnView) -> pb.Column:
    return pb.Column(
        id=view.id,
        name=view.name,
        data_type=view.data_type,
        nullable=view.nullable,
        position=view.position,
        description=view.description,
    )


def table_to_proto(view: TableView) -> pb.Table:
    return pb.Table(
        id=view.id,
        namespace=view.namespace,
        name=view.name,
        description=view.description,
        format=view.format,
        columns=[column_to_proto(c) for c in view.columns],
        created_at=timestamp_from_ms(view.created_at),
        updated_at=timestamp_from_ms(view.updated_at),
    )


def schema_table_to_proto(view: SchemaTableView) -> pb.SchemaTable:
    return pb.SchemaTable(
        id=view.id,
        catalog=view.catalog,
        schema=view.schema,
        name=view.name,
        description=view.description,
        format=view.format,
        location=view.location,
        columns=[column_to_proto(c) for c in view.columns],
        created_at=timestamp_from_ms(view.created_at),
        updated_at=timestamp_from_ms(view.updated_at),
    )


def edge_to_proto(view: LineageEdgeView) -> pb.LineageEdge:
    return pb.LineageEdge(
        id=view.id,
        source_id=view.source_id,
        target_id=view.target_id,
        edge_type=view.edge_type,
        run_id=view.run_id,
        created_at=timestamp_from_ms(view.created_at),
    )


def lineage_to_proto(view: LineageView) -> pb.GetLineageResponse:
    return pb.GetLineageResponse(
        table_id=view.table_id,
        upstream=[edge_to_proto(e) for e in view.upstream],
        downstream=[edge_to_proto(e) for e in view.downstream],
    )


def inventory_to_proto(inventory: CatalogInventory) -> pb.GetCatalogInventoryResponse:
    return pb.GetCatalogInventoryResponse(
        manifest_type=INVENTORY_MANIFEST_TYPE,
        version=INVENTORY_VERSION,
        catalog_snapshot_version=inventory.snapshot_version,
        catalog_manifest_id=inventory.manifest_id,
        published_at=inventory.published_at,
        counts=pb.CatalogInventoryCounts(
            catalogs=inventory.catalogs,
            schemas=inventory.schemas,
            tables=inventory.tables,
            columns=inventory.columns,
        ),
        object_families=[
            pb.CatalogInventoryObjectFamily(
                name=f.name,
                available=f.available,
                row_count=f.row_count,
                query_handle=f.query_handle,
            )
            for f in inventory.families
        ],
    )
