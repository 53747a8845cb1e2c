"""Request validation for the catalog, namespace, table and lineage routes.

Every function here is pure: it takes plain values (already decoded from JSON or proto),
returns a normalised, frozen request object, or raises :class:`InvalidArgument` with a
message a client can act on. Nothing touches state; existence checks live in ``fold``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from arco_core.errors import InvalidArgument

__all__ = [
    "DEFAULT_EDGE_TYPE",
    "DEFAULT_TABLE_FORMAT",
    "MAX_COLUMNS",
    "MAX_DESCRIPTION_BYTES",
    "MAX_EDGES",
    "MAX_EDGE_TYPE_BYTES",
    "MAX_LINEAGE_ID_BYTES",
    "MAX_LOCATION_BYTES",
    "MAX_NAME_BYTES",
    "TABLE_FORMATS",
    "AddEdgesRequest",
    "ColumnSpec",
    "CreateCatalogRequest",
    "CreateNamespaceRequest",
    "CreateSchemaRequest",
    "EdgeSpec",
    "RegisterTableRequest",
    "UpdateTableRequest",
    "validate_add_edges",
    "validate_column",
    "validate_create_catalog",
    "validate_create_namespace",
    "validate_create_schema",
    "validate_description",
    "validate_format",
    "validate_idempotency_key",
    "validate_name",
    "validate_register_table",
    "validate_update_table",
]

MAX_NAME_BYTES = 255
MAX_DESCRIPTION_BYTES = 4096
MAX_LOCATION_BYTES = 2048
MAX_DATA_TYPE_BYTES = 1024
MAX_COLUMNS = 10_000
MAX_LINEAGE_ID_BYTES = 256
MAX_EDGE_TYPE_BYTES = 64
MAX_EDGES = 1000
DEFAULT_EDGE_TYPE = "derives_from"
DEFAULT_TABLE_FORMAT = "delta"
TABLE_FORMATS = ("delta", "iceberg", "parquet")

# Object names exclude "." so that three-part ``catalog.schema.table`` names used by the
# query routes stay unambiguous, and exclude "/" so names can never shape storage paths.
_OBJECT_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# Descriptions are prose: tabs and newlines are fine, other control characters are not.
_DESCRIPTION_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# Request objects ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateCatalogRequest:
    name: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class CreateSchemaRequest:
    name: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class CreateNamespaceRequest:
    name: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One requested column; its position is its index in the request."""

    name: str
    data_type: str
    nullable: bool = True
    description: str | None = None


@dataclass(frozen=True, slots=True)
class RegisterTableRequest:
    name: str
    columns: tuple[ColumnSpec, ...]
    format: str = DEFAULT_TABLE_FORMAT
    description: str | None = None
    location: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateTableRequest:
    description: str | None = None


@dataclass(frozen=True, slots=True)
class EdgeSpec:
    source_id: str
    target_id: str
    edge_type: str = DEFAULT_EDGE_TYPE
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class AddEdgesRequest:
    edges: tuple[EdgeSpec, ...]


# Field validators ---------------------------------------------------------------------------


def _invalid(message: str, reason: str = "invalid_argument") -> InvalidArgument:
    return InvalidArgument(message, reason=reason)


def _utf8_len(value: str) -> int:
    return len(value.encode("utf-8"))


def _require_str(value: object, field: str) -> str:
    if value is None:
        raise _invalid(f"{field} is required", "missing_field")
    if not isinstance(value, str):
        raise _invalid(f"{field} must be a string")
    return value


def _optional_str(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(f"{field} must be a string")
    return value


def validate_name(value: object, field: str = "name") -> str:
    """A catalog, schema, namespace or table name: 1..255 bytes of ``[A-Za-z0-9_-]``."""
    name = _require_str(value, field)
    if not name:
        raise _invalid(f"{field} must not be empty", "invalid_name")
    if _utf8_len(name) > MAX_NAME_BYTES:
        raise _invalid(f"{field} must be at most {MAX_NAME_BYTES} bytes", "invalid_name")
    if not _OBJECT_NAME_RE.fullmatch(name):
        raise _invalid(
            f"{field} {name!r} may contain only letters, digits, '_' and '-', "
            "and must not start with '-'",
            "invalid_name",
        )
    return name


def validate_description(value: object, field: str = "description") -> str | None:
    description = _optional_str(value, field)
    if description is None:
        return None
    if _utf8_len(description) > MAX_DESCRIPTION_BYTES:
        raise _invalid(f"{field} must be at most {MAX_DESCRIPTION_BYTES} bytes")
    if _DESCRIPTION_CONTROL_RE.search(description):
        raise _invalid(f"{field} must not contain control characters")
    return description


def _validate_free_text(value: object, field: str, max_bytes: int) -> str:
    """A required single-line string: non-empty, bounded, no control characters."""
    text = _require_str(value, field)
    if not text:
        raise _invalid(f"{field} must not be empty")
    if _utf8_len(text) > max_bytes:
        raise _invalid(f"{field} must be at most {max_bytes} bytes")
    if _CONTROL_RE.search(text):
        raise _invalid(f"{field} must not contain control characters")
    return text


def validate_format(value: object, *, default: str = DEFAULT_TABLE_FORMAT) -> str:
    """``delta``, ``iceberg`` or ``parquet`` in any case; None (or omitted) means ``default``."""
    raw = _optional_str(value, "format")
    if raw is None:
        return default
    normalised = raw.strip().lower()
    if normalised not in TABLE_FORMATS:
        raise _invalid(
            f"invalid table format {raw!r}: must be one of {', '.join(TABLE_FORMATS)}",
            "invalid_format",
        )
    return normalised


def validate_column(value: ColumnSpec | Mapping[str, Any], index: int) -> ColumnSpec:
    """One column definition; ``index`` only makes the error message point at the culprit."""
    where = f"columns[{index}]"
    if isinstance(value, ColumnSpec):
        raw_name: object = value.name
        raw_type: object = value.data_type
        raw_nullable: object = value.nullable
        raw_description: object = value.description
    elif isinstance(value, Mapping):
        raw_name = value.get("name")
        raw_type = value.get("data_type")
        raw_nullable = value.get("nullable", True)
        raw_description = value.get("description")
    else:
        raise _invalid(f"{where} must be an object")
    if raw_nullable is None:
        raw_nullable = True
    if not isinstance(raw_nullable, bool):
        raise _invalid(f"{where}.nullable must be a boolean")
    return ColumnSpec(
        name=_validate_free_text(raw_name, f"{where}.name", MAX_NAME_BYTES),
        data_type=_validate_free_text(raw_type, f"{where}.data_type", MAX_DATA_TYPE_BYTES),
        nullable=raw_nullable,
        description=validate_description(raw_description, f"{where}.description"),
    )


def _validate_columns(columns: object) -> tuple[ColumnSpec, ...]:
    if columns is None:
        raise _invalid("columns is required", "missing_field")
    if isinstance(columns, (str, bytes, Mapping)) or not isinstance(columns, Sequence):
        raise _invalid("columns must be an array")
    if not columns:
        raise _invalid("columns must not be empty")
    if len(columns) > MAX_COLUMNS:
        raise _invalid(f"at most {MAX_COLUMNS} columns are allowed")
    specs = tuple(validate_column(column, i) for i, column in enumerate(columns))
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise _invalid(f"duplicate column name: {spec.name}", "duplicate_column")
        seen.add(spec.name)
    return specs


def _validate_location(value: object) -> str | None:
    location = _optional_str(value, "location")
    if location is None:
        return None
    return _validate_free_text(location, "location", MAX_LOCATION_BYTES)


# Whole requests -----------------------------------------------------------------------------


def validate_create_catalog(name: object, description: object = None) -> CreateCatalogRequest:
    return CreateCatalogRequest(
        name=validate_name(name), description=validate_description(description)
    )


def validate_create_schema(name: object, description: object = None) -> CreateSchemaRequest:
    return CreateSchemaRequest(
        name=validate_name(name), description=validate_description(description)
    )


def validate_create_namespace(name: object, description: object = None) -> CreateNamespaceRequest:
    return CreateNamespaceRequest(
        name=validate_name(name), description=validate_description(description)
    )


def validate_register_table(
    name: object,
    columns: object,
    *,
    format: object = None,
    description: object = None,
    location: object = None,
    allow_location: bool = False,
) -> RegisterTableRequest:
    """Both table routes. Only the catalog/schema route accepts ``location``.

    The namespace route has no ``location`` field at all, so a caller that passes one there
    is told so instead of having it silently dropped.
    """
    if location is not None and not allow_location:
        raise _invalid("location is not accepted on this route")
    return RegisterTableRequest(
        name=validate_name(name),
        columns=_validate_columns(columns),
        format=validate_format(format),
        description=validate_description(description),
        location=_validate_location(location),
    )


def validate_update_table(description: object = None) -> UpdateTableRequest:
    return UpdateTableRequest(description=validate_description(description))


def _lineage_field(value: object, field: str, max_bytes: int) -> str:
    return _validate_free_text(value, field, max_bytes)


def _validate_edge(value: EdgeSpec | Mapping[str, Any], index: int) -> EdgeSpec:
    where = f"edges[{index}]"
    if isinstance(value, EdgeSpec):
        raw: Mapping[str, object] = {
            "source_id": value.source_id,
            "target_id": value.target_id,
            "edge_type": value.edge_type,
            "run_id": value.run_id,
        }
    elif isinstance(value, Mapping):
        raw = value
    else:
        raise _invalid(f"{where} must be an object")
    edge_type_raw = raw.get("edge_type")
    run_id_raw = raw.get("run_id")
    return EdgeSpec(
        source_id=_lineage_field(raw.get("source_id"), f"{where}.source_id", MAX_LINEAGE_ID_BYTES),
        target_id=_lineage_field(raw.get("target_id"), f"{where}.target_id", MAX_LINEAGE_ID_BYTES),
        edge_type=(
            DEFAULT_EDGE_TYPE
            if edge_type_raw is None
            else _lineage_field(edge_type_raw, f"{where}.edge_type", MAX_EDGE_TYPE_BYTES)
        ),
        run_id=(
            None
            if run_id_raw is None
            else _lineage_field(run_id_raw, f"{where}.run_id", MAX_LINEAGE_ID_BYTES)
        ),
    )


def validate_add_edges(edges: object) -> AddEdgesRequest:
    """1..1000 edges, every id field non-empty, bounded and free of control characters."""
    if edges is None:
        raise _invalid("edges is required", "missing_field")
    if isinstance(edges, (str, bytes, Mapping)) or not isinstance(edges, Sequence):
        raise _invalid("edges must be an array")
    if not edges:
        raise _invalid("edges must contain at least one edge")
    if len(edges) > MAX_EDGES:
        raise _invalid(f"at most {MAX_EDGES} edges are allowed per request")
    return AddEdgesRequest(edges=tuple(_validate_edge(edge, i) for i, edge in enumerate(edges)))


def validate_idempotency_key(value: object) -> str | None:
    """The optional ``Idempotency-Key`` header of the create routes: a UUIDv7 when present."""
    key = _optional_str(value, "Idempotency-Key")
    if key is None:
        return None
    message = "Idempotency-Key must be a UUIDv7"
    try:
        parsed = uuid.UUID(key)
    except ValueError as exc:
        raise _invalid(message, "invalid_idempotency_key") from exc
    # uuid.UUID also accepts braces, "urn:uuid:" and missing hyphens; the header must be
    # the canonical 36-character form so the same key always hashes the same way.
    if str(parsed) != key.lower() or parsed.version != 7 or parsed.variant != uuid.RFC_4122:
        raise _invalid(message, "invalid_idempotency_key")
    return key.lower()
