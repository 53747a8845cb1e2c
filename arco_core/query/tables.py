"""Which tables SQL may name, and where their Arrow data comes from.

``ALLOWLIST`` maps every queryable name to (domain, source table, projection). Nothing
else is ever registered: ``system.orchestration.idempotency_keys``, raw ledgers and
manifests have no entry, and ``system.catalog.commits`` drops its private columns.

A :class:`SnapshotProvider` answers "what is the head manifest sequence of a domain" and
"the Arrow tables of that domain at sequence N". :class:`ReaderSnapshotProvider` serves
both from the api's :class:`~arco_core.published.ProjectionReader`s; a sequence is loaded
with ``ProjectionReader.at`` so the state it converts is private to the query engine (the
reader's own head state is advanced in place and must not be read from another thread).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from arco_core.catalog import projection as catalog_projection
from arco_core.orchestration import projection as orch_projection
from arco_core.published import ProjectionReader

__all__ = [
    "ALLOWLIST",
    "DATA_DOMAIN",
    "REDACTED_COMMIT_COLUMNS",
    "DomainTables",
    "ReaderSnapshotProvider",
    "SnapshotProvider",
    "TableSpec",
    "allowed_names",
]

# User tables are resolved through the catalog snapshot.
DATA_DOMAIN = "catalog"

REDACTED_COMMIT_COLUMNS = (
    "commit_ulid",
    "snapshot_version",
    "published_at",
    "fencing_token",
    "watermark_event_id",
    "operation",
    "object_type",
    "object_id",
    "object_name",
)


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One queryable name: (catalog, schema, table) -> a domain's published table."""

    catalog: str
    schema: str
    table: str
    domain: str
    source: str
    columns: tuple[str, ...] | None = None  # a projection (None: every column)

    @property
    def name(self) -> str:
        if self.catalog == "arco":
            return f"{self.schema}.{self.table}"
        return f"{self.catalog}.{self.schema}.{self.table}"


def _specs() -> dict[tuple[str, str, str], TableSpec]:
    out: list[TableSpec] = []
    for name in ("catalogs", "namespaces", "tables", "columns"):
        out.append(TableSpec("arco", "catalog", name, "catalog", name))
        out.append(TableSpec("system", "catalog", name, "catalog", name))
    out.append(TableSpec("arco", "lineage", "lineage_edges", "catalog", "lineage_edges"))
    out.append(TableSpec("system", "lineage", "edges", "catalog", "lineage_edges"))
    out.append(
        TableSpec("system", "catalog", "commits", "catalog", "commits", REDACTED_COMMIT_COLUMNS)
    )
    for name in ("runs", "tasks", "dep_satisfaction", "dispatch_outbox", "timers"):
        out.append(TableSpec("system", "orchestration", name, "orchestration", name))
    return {(s.catalog, s.schema, s.table): s for s in out}


ALLOWLIST: Mapping[tuple[str, str, str], TableSpec] = _specs()


def allowed_names() -> list[str]:
    return sorted(spec.name for spec in ALLOWLIST.values())


class DomainTables:
    """One domain's published tables at one manifest sequence; converted on first use.

    Thread-safe: each table is built once from a state object nobody else mutates.
    """

    def __init__(self, domain: str, seq: int | None, build: Callable[[str], pa.Table]) -> None:
        self.domain = domain
        self.seq = seq
        self._build = build
        self._tables: dict[str, pa.Table] = {}
        self._lock = threading.Lock()
        self.conversions = 0

    @classmethod
    def from_tables(cls, domain: str, seq: int | None, tables: Mapping[str, pa.Table]) -> Any:
        data = dict(tables)
        return cls(domain, seq, lambda name: data[name])

    def table(self, name: str) -> pa.Table:
        with self._lock:
            cached = self._tables.get(name)
            if cached is None:
                cached = self._build(name)
                self._tables[name] = cached
                self.conversions += 1
            return cached


class SnapshotProvider(Protocol):
    async def head(self, domain: str) -> int | None:
        """The head manifest sequence of ``domain`` (None before the first publish)."""

    async def load(self, domain: str, seq: int | None) -> DomainTables:
        """The domain's tables at ``seq`` (ObjectNotFound if it was never published)."""


def _builder(domain: str, state: Any) -> Callable[[str], pa.Table]:
    if domain == "orchestration":

        def build_orch(name: str) -> pa.Table:
            return orch_projection.rows_to_table(name, state.rows(name), sort=True)

        return build_orch
    all_tables: dict[str, pa.Table] = {}
    lock = threading.Lock()

    def build_catalog(name: str) -> pa.Table:
        with lock:
            if not all_tables:
                all_tables.update(catalog_projection.state_to_tables(state))
        return all_tables[name]

    return build_catalog


class ReaderSnapshotProvider:
    """Published state through the api's projection readers (one per domain)."""

    def __init__(self, readers: Mapping[str, ProjectionReader[Any]]) -> None:
        self._readers = dict(readers)
        self.loads = 0

    async def head(self, domain: str) -> int | None:
        return (await self._readers[domain].refresh()).seq

    async def load(self, domain: str, seq: int | None) -> DomainTables:
        reader = self._readers[domain]
        self.loads += 1
        if seq is None:
            snapshot = await reader.refresh()
            if snapshot.seq is not None:
                snapshot = await reader.at(snapshot.seq)
        else:
            snapshot = await reader.at(seq)
        # Converting happens later, off the event loop, on a state only we hold.
        await asyncio.sleep(0)
        return DomainTables(domain, snapshot.seq, _builder(domain, snapshot.state))
