"""Read-only SQL over published state and registered user tables (the only DataFusion user).

:class:`QueryEngine` (:mod:`~arco_core.query.engine`) answers over published state,
:class:`QueryData` (:mod:`~arco_core.query.user_tables`) over registered user tables; both
run through :mod:`arco_core.query.execute`, which lists the layers that keep every query
read-only.
"""

from __future__ import annotations

from arco_core.query.engine import QueryEngine
from arco_core.query.execute import ARROW_STREAM, JSON_ROWS, QueryLimits, QueryResult, ResultFormat
from arco_core.query.guard import MAX_SQL_BYTES, check_select_only
from arco_core.query.tables import (
    ALLOWLIST,
    DomainTables,
    ReaderSnapshotProvider,
    SnapshotProvider,
    TableSpec,
    allowed_names,
)
from arco_core.query.user_tables import QueryData, resolve_location

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
