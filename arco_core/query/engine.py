"""``/query``: read-only SQL over the published catalog, lineage and orchestration state.

Only allowlisted tables (:mod:`arco_core.query.tables`) the text names are registered, from
the domain snapshots at the requested manifest versions (the heads by default). DataFusion
sessions are cached per set of versions: a repeated query on the same versions converts
and registers nothing again. The converted domain tables are the provider's (one LRU the
api's engines share). Execution and its read-only layers are in
:mod:`arco_core.query.execute`.

With a :class:`~arco_core.query.pool.QueryPool` the query runs in a worker process instead:
the engine still loads and converts the domain tables (once per version), the pool ships
each one to a worker once, and the worker plans and runs the text in a fresh session
(:func:`run_system_query`) under its hard memory cap and time limit.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict

import pyarrow as pa
from datafusion.catalog import Catalog, Schema

from arco_core.errors import InvalidArgument, NotFound
from arco_core.query.execute import (
    QueryLimits,
    QueryResult,
    ResultFormat,
    Runner,
    checked_sql,
    execute,
    make_result,
    new_context,
    record_batches,
)
from arco_core.query.guard import dotted_names, tokenize
from arco_core.query.pool import PoolJob, PoolTable, QueryPool
from arco_core.query.tables import ALLOWLIST, DomainTables, SnapshotProvider, TableSpec

__all__ = ["QueryEngine", "run_system_query", "spec_table"]


def spec_table(spec: TableSpec, tables: DomainTables) -> pa.Table:
    """The Arrow data of one allowlisted name (its projection applied)."""
    data = tables.table(spec.source)
    if spec.columns is not None:
        data = data.select(list(spec.columns))
    return data


def _pool_key(spec: TableSpec, tables: DomainTables) -> str:
    """What identifies the data of ``spec`` at its version (one shipment per worker)."""
    columns = f"[{','.join(spec.columns)}]" if spec.columns is not None else ""
    return f"{spec.domain}@{tables.seq}/{spec.source}{columns}"


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
            if key not in self.registered:
                self.register(spec, spec_table(spec, tables))

    def register(self, spec: TableSpec, data: pa.Table) -> None:
        """Register ``data`` as ``spec``'s name (callers hold the lock or own the session)."""
        self.ctx.register_record_batches(
            f"{spec.catalog}.{spec.schema}.{spec.table}", record_batches(data)
        )
        self.registered.add((spec.catalog, spec.schema, spec.table))
        self.registrations += 1

    def allows_scan(self, name: str) -> bool:
        parts = tuple(name.split("."))
        if len(parts) == 2:
            parts = ("arco", *parts)
        return len(parts) == 3 and parts in self.registered


def run_system_query(
    sql: str,
    tables: list[tuple[tuple[str, str, str], pa.Table]],
    *,
    limits: QueryLimits,
    fmt: ResultFormat,
    deadline: float,
    cancel: threading.Event,
) -> tuple[bytes, str, int, bool]:
    """A query worker's half of :meth:`QueryEngine.query`: ``sql`` (already checked) over
    ``tables`` (allowlisted names and their data) in a fresh session."""
    session = _VersionSession(limits)
    for name, data in tables:
        session.register(ALLOWLIST[name], data)
    return execute(
        session.ctx,
        sql,
        allowed_scans=session.allows_scan,
        limits=limits,
        fmt=fmt,
        deadline=deadline,
        cancel=cancel,
    )


class QueryEngine:
    """``/query``: catalog, lineage and ``system.*`` tables of one workspace.

    Without ``pool`` queries run on ``workers`` threads of this process (tools and tests);
    the api passes its :class:`~arco_core.query.pool.QueryPool`.
    """

    def __init__(
        self,
        provider: SnapshotProvider,
        limits: QueryLimits | None = None,
        *,
        workers: int = 4,
        pool: QueryPool | None = None,
    ) -> None:
        self._provider = provider
        self.limits = limits or QueryLimits()
        self._pool = pool
        self._runner = Runner(self.limits, workers) if pool is None else None
        self._sessions: OrderedDict[tuple[tuple[str, int | None], ...], _VersionSession] = (
            OrderedDict()
        )
        # With a pool: the version sets queried before (their tables are converted).
        self._seen: OrderedDict[tuple[tuple[str, int | None], ...], None] = OrderedDict()
        self.stats = {"sessions_created": 0, "queries": 0}

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
            tables = {d: await self._provider.load(d, versions[d]) for d in domains}
        except NotFound as exc:
            raise InvalidArgument(
                f"as_of {as_of}: no such published manifest ({exc.message})",
                reason="unknown_version",
            ) from None
        key = tuple(sorted(versions.items(), key=lambda kv: kv[0]))
        state_versions = {d: s for d, s in versions.items() if s is not None}
        names = tuple(spec.name for spec in specs)
        if self._pool is not None:
            cached = key in self._seen
            self._seen[key] = None
            self._seen.move_to_end(key)
            if not cached:
                self.stats["sessions_created"] += 1
                while len(self._seen) > self.limits.cached_versions:
                    self._seen.popitem(last=False)
            self.stats["queries"] += 1
            job = PoolJob(
                kind="system",
                sql=text,
                fmt=fmt,
                limits=self.limits,
                tables=tuple(
                    PoolTable(
                        (spec.catalog, spec.schema, spec.table),
                        _pool_key(spec, tables[spec.domain]),
                        functools.partial(spec_table, spec, tables[spec.domain]),
                    )
                    for spec in specs
                ),
            )
            return make_result(
                await self._pool.run_job(job),
                started=started,
                state_versions=state_versions,
                cached=cached,
                tables=names,
            )
        assert self._runner is not None
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
            work, started=started, state_versions=state_versions, cached=cached, tables=names
        )

    def close(self) -> None:
        """Stop the threads (a pool is its owner's to shut down)."""
        if self._runner is not None:
            self._runner.close()
