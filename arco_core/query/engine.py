"""``/query``: read-only SQL over the published catalog, lineage and orchestration state.

Only allowlisted tables (:mod:`arco_core.query.tables`) the text names are registered, from
the domain snapshots at the requested manifest versions (the heads by default). DataFusion
sessions are cached per set of versions: a repeated query on the same versions converts
and registers nothing again. Execution and its read-only layers are in
:mod:`arco_core.query.execute`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict

from datafusion.catalog import Catalog, Schema

from arco_core.errors import InvalidArgument, NotFound
from arco_core.query.execute import (
    QueryLimits,
    QueryResult,
    ResultFormat,
    Runner,
    checked_sql,
    execute,
    new_context,
    record_batches,
)
from arco_core.query.guard import dotted_names, tokenize
from arco_core.query.tables import ALLOWLIST, DomainTables, SnapshotProvider, TableSpec

__all__ = ["QueryEngine"]


class _VersionSession:
    """A DataFusion session over one set of domain versions; tables registered on demand."""

    def __init__(self, limits: QueryLimits) -> None:
        self.ctx = new_context(limits, normalize=True)
        system = Catalog.memory_catalog()
        self.ctx.register_catalog_provider("system", system)
        for schema in ("catalog", "lineage", "orchestration"):
            system.register_schema(schema, Schema.memory_schema())
        for schema in ("catalog", "lineage"):
            self.ctx.catalog("arco").register_schema(schema, Schema.memory_schema())
        self.registered: set[tuple[str, str, str]] = set()
        self.lock = threading.Lock()
        self.registrations = 0

    def ensure(self, spec: TableSpec, tables: DomainTables) -> None:
        key = (spec.catalog, spec.schema, spec.table)
        with self.lock:
            if key in self.registered:
                return
            data = tables.table(spec.source)
            if spec.columns is not None:
                data = data.select(list(spec.columns))
            self.ctx.register_record_batches(
                f"{spec.catalog}.{spec.schema}.{spec.table}", record_batches(data)
            )
            self.registered.add(key)
            self.registrations += 1

    def allows_scan(self, name: str) -> bool:
        parts = tuple(name.split("."))
        if len(parts) == 2:
            parts = ("arco", *parts)
        return len(parts) == 3 and parts in self.registered


class QueryEngine:
    """``/query``: catalog, lineage and ``system.*`` tables of one workspace."""

    def __init__(
        self,
        provider: SnapshotProvider,
        limits: QueryLimits | None = None,
        *,
        workers: int = 4,
    ) -> None:
        self._provider = provider
        self.limits = limits or QueryLimits()
        self._runner = Runner(self.limits, workers)
        self._domains: OrderedDict[tuple[str, int | None], DomainTables] = OrderedDict()
        self._sessions: OrderedDict[tuple[tuple[str, int | None], ...], _VersionSession] = (
            OrderedDict()
        )
        self._load_lock = asyncio.Lock()
        self.stats = {"domain_loads": 0, "sessions_created": 0, "queries": 0}

    def referenced(self, sql: str) -> list[TableSpec]:
        """The allowlisted tables the (already checked) text names."""
        names = dotted_names(tokenize(sql), normalize=True)
        found: dict[tuple[str, str, str], TableSpec] = {}
        for name in names:
            key = ("arco", *name) if len(name) == 2 else name
            spec = ALLOWLIST.get(key)  # type: ignore[arg-type]
            if spec is not None:
                found[key] = spec  # type: ignore[index]
        return [found[k] for k in sorted(found)]

    async def _domain(self, domain: str, seq: int | None) -> DomainTables:
        key = (domain, seq)
        cached = self._domains.get(key)
        if cached is not None:
            self._domains.move_to_end(key)
            return cached
        async with self._load_lock:
            cached = self._domains.get(key)
            if cached is not None:
                return cached
            tables = await self._provider.load(domain, seq)
            self.stats["domain_loads"] += 1
            self._domains[key] = tables
            while len(self._domains) > self.limits.cached_versions * 2:
                self._domains.popitem(last=False)
            return tables

    async def query(
        self, sql: str, fmt: ResultFormat = ResultFormat.ARROW, *, as_of: int | None = None
    ) -> QueryResult:
        started = time.perf_counter()
        text = checked_sql(sql, as_of)
        specs = self.referenced(text)
        domains = sorted({spec.domain for spec in specs})
        versions: dict[str, int | None] = {}
        for domain in domains:
            versions[domain] = as_of if as_of is not None else await self._provider.head(domain)
        try:
            tables = {d: await self._domain(d, versions[d]) for d in domains}
        except NotFound as exc:
            raise InvalidArgument(
                f"as_of {as_of}: no such published manifest ({exc.message})",
                reason="unknown_version",
            ) from None
        key = tuple(sorted(versions.items(), key=lambda kv: kv[0]))
        session = self._sessions.get(key)
        cached = session is not None
        if session is None:
            session = _VersionSession(self.limits)
            self._sessions[key] = session
            self.stats["sessions_created"] += 1
            while len(self._sessions) > self.limits.cached_versions:
                self._sessions.popitem(last=False)
        else:
            self._sessions.move_to_end(key)
        active = session
        self.stats["queries"] += 1

        def work(deadline: float, cancel: threading.Event) -> tuple[bytes, str, int, bool]:
            for spec in specs:
                active.ensure(spec, tables[spec.domain])
            return execute(
                active.ctx,
                text,
                allowed_scans=active.allows_scan,
                limits=self.limits,
                fmt=fmt,
                deadline=deadline,
                cancel=cancel,
            )

        return await self._runner.run(
            work,
            started=started,
            state_versions={d: s for d, s in versions.items() if s is not None},
            cached=cached,
            tables=tuple(spec.name for spec in specs),
        )

    def close(self) -> None:
        self._runner.close()
