"""Which tables SQL may name, and where their Arrow data comes from.

``ALLOWLIST`` maps every queryable name to (domain, source table, projection). Nothing
else is ever registered: ``system.orchestration.idempotency_keys``, raw ledgers and
manifests have no entry, and ``system.catalog.commits`` drops its private columns.

A :class:`SnapshotProvider` answers "what is the head manifest sequence of a domain" and
"the Arrow tables of that domain at sequence N". :class:`ReaderSnapshotProvider` serves
both from the api's :class:`~arco_core.published.ProjectionReader`s, through one bounded
LRU of converted states that every engine of the api shares.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from arco_core.catalog import projection as catalog_projection
from arco_core.catalog.model import CatalogState
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


@dataclass(frozen=True, slots=True)
class DomainTables:
    """One domain's published tables at one manifest sequence, as immutable Arrow tables."""

    domain: str
    seq: int | None
    tables: Mapping[str, pa.Table]

    @property
    def rows(self) -> int:
        return sum(table.num_rows for table in self.tables.values())

    def table(self, name: str) -> pa.Table:
        return self.tables[name]


class SnapshotProvider(Protocol):
    async def head(self, domain: str) -> int | None:
        """The head manifest sequence of ``domain`` (None before the first publish)."""

    async def load(self, domain: str, seq: int | None) -> DomainTables:
        """The domain's tables at ``seq``, a sequence ``head`` answered or an earlier one
        (ObjectNotFound if it was never published; None: the empty state before the first
        publish)."""


_ORCH_SOURCES = sorted({s.source for s in ALLOWLIST.values() if s.domain == "orchestration"})


@dataclass(frozen=True, slots=True)
class _DomainConversion:
    """How a domain's state becomes Arrow tables, in two steps.

    ``capture`` runs under the reader's lock and must be cheap: it takes what ``convert``
    needs without aliasing anything a later refresh mutates. ``convert`` runs in a thread.
    """

    capture: Callable[[Any], Any]
    convert: Callable[[Any], dict[str, pa.Table]]
    empty: Callable[[], Any]  # what ``capture`` gives before the first publish


def _orch_convert(rows: Mapping[str, list[Any]]) -> dict[str, pa.Table]:
    return {name: orch_projection.rows_to_table(name, rows[name], sort=True) for name in rows}


_CONVERSIONS: Mapping[str, _DomainConversion] = {
    # A reader advances its orchestration state in place, but row objects are never
    # mutated (a delta puts new ones): lists of the current rows are a private copy,
    # O(rows) pointer copies.
    "orchestration": _DomainConversion(
        capture=lambda state: {name: list(state.rows(name)) for name in _ORCH_SOURCES},
        convert=_orch_convert,
        empty=lambda: {name: [] for name in _ORCH_SOURCES},
    ),
    # Catalog manifests are full snapshots: a reader replaces its catalog state on every
    # move and never mutates it (advance_snapshot), so the state itself can be kept.
    "catalog": _DomainConversion(
        capture=lambda state: state,
        convert=catalog_projection.state_to_tables,
        empty=CatalogState,
    ),
}

_Key = tuple[str, int | None]


class ReaderSnapshotProvider:
    """Published state through the api's projection readers (one per domain), in one LRU.

    The only cache of loaded states: ``QueryEngine`` and ``QueryData`` share one provider.
    An entry is a domain's tables at one sequence, converted to Arrow once; entries are
    keyed by (domain, seq) and bounded by ``max_entries`` and ``max_rows`` (the newest
    entry stays even when it alone is over). Concurrent loads of one key share one.

    The head is served from the reader's own state, never loaded a second time. That state
    is advanced in place by the next refresh, so an entry must not alias it: under the
    reader's lock (no refresh half-way through a move) its rows are captured, a cheap copy
    of references (about 1 ms for 40,000 rows), and converted to Arrow in a thread after
    the lock is released (about 200 ms), so the api's own reads never wait on a conversion.
    Only a sequence the reader is not at is loaded from storage, privately, with
    ``ProjectionReader.at``. ``stats["loads"]`` counts states read from storage,
    ``stats["conversions"]`` entries built.
    """

    def __init__(
        self,
        readers: Mapping[str, ProjectionReader[Any]],
        *,
        max_entries: int = 16,
        max_rows: int = 1_000_000,
    ) -> None:
        self._readers = dict(readers)
        self._max_entries = max_entries
        self._max_rows = max_rows
        self._entries: OrderedDict[_Key, DomainTables] = OrderedDict()
        self._rows = 0
        self._loading: dict[_Key, asyncio.Task[DomainTables]] = {}
        self.stats = {"loads": 0, "conversions": 0, "hits": 0, "evictions": 0}

    def cached(self) -> list[_Key]:
        """The (domain, seq) of every entry, least recently used first."""
        return list(self._entries)

    async def head(self, domain: str) -> int | None:
        return (await self._readers[domain].refresh()).seq

    async def load(self, domain: str, seq: int | None) -> DomainTables:
        key = (domain, seq)
        cached = self._entries.get(key)
        if cached is not None:
            self._entries.move_to_end(key)
            self.stats["hits"] += 1
            return cached
        task = self._loading.get(key)
        if task is None:
            task = asyncio.create_task(self._load_into_cache(key), name=f"query-load-{key}")
            # Every waiter may be cancelled; the outcome is still retrieved (no warning).
            task.add_done_callback(lambda done: done.cancelled() or done.exception())
            self._loading[key] = task
        # A cancelled caller does not cancel the load the others wait for.
        return await asyncio.shield(task)

    async def _load_into_cache(self, key: _Key) -> DomainTables:
        domain, seq = key
        try:
            tables = await self._build(domain, seq)
            self._entries[key] = tables
            self._rows += tables.rows
            while len(self._entries) > 1 and (
                len(self._entries) > self._max_entries or self._rows > self._max_rows
            ):
                _, dropped = self._entries.popitem(last=False)
                self._rows -= dropped.rows
                self.stats["evictions"] += 1
            return tables
        finally:
            del self._loading[key]

    async def _build(self, domain: str, seq: int | None) -> DomainTables:
        conversion = _CONVERSIONS[domain]
        if seq is None:
            captured = conversion.empty()
        else:
            reader = self._readers[domain]
            captured = await reader.capture(seq, conversion.capture)
            if captured is None:  # not the reader's current state: a private copy
                snapshot = await reader.at(seq)
                self.stats["loads"] += 1
                captured = conversion.capture(snapshot.state)
        tables = await asyncio.to_thread(conversion.convert, captured)
        self.stats["conversions"] += 1
        return DomainTables(domain, seq, tables)
