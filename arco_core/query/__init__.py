"""Read-only SQL over published state and registered user tables (the only DataFusion user).

See :mod:`arco_core.query.engine` for the layers that keep every query read-only.
"""

from __future__ import annotations

from arco_core.query.engine import (
    ARROW_STREAM,
    JSON_ROWS,
    QueryData,
    QueryEngine,
    QueryLimits,
    QueryResult,
    ResultFormat,
    resolve_location,
)
from arco_core.query.guard import MAX_SQL_BYTES, check_select_only
from arco_core.query.tables import (
    ALLOWLIST,
    DomainTables,
    ReaderSnapshotProvider,
    SnapshotProvider,
    TableSpec,
    allowed_names,
)

__all__ = [
    "ALLOWLIST",
    "ARROW_STREAM",
    "JSON_ROWS",
    "MAX_SQL_BYTES",
    "DomainTables",
    "QueryData",
    "QueryEngine",
    "QueryLimits",
    "QueryResult",
    "ReaderSnapshotProvider",
    "ResultFormat",
    "SnapshotProvider",
    "TableSpec",
    "allowed_names",
    "check_select_only",
    "resolve_location",
]
