"""``/query-data``: SQL over the user tables registered in the catalog (``QueryData``).

A query names its tables fully qualified as ``catalog.schema.table``; each one is looked up
in the published catalog at the query's version, must be a single Parquet file inside the
workspace (never internal state), and is read through the READER storage handle under
per-table and per-query byte limits. Files are cached by (path, size, e-tag). With a
:class:`~arco_core.query.pool.QueryPool` the query runs in a worker process
(:func:`run_data_query`), which receives each file's table once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import io
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datafusion import SessionContext
from datafusion.catalog import Catalog, Schema, Table

from arco_core.errors import InvalidArgument, NotFound
from arco_core.paths import Scope, validate_relative_path
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
from arco_core.query.tables import DATA_DOMAIN, DomainTables, SnapshotProvider
from arco_core.storage import ScopedStorage

__all__ = ["QueryData", "resolve_location", "run_data_query"]

_INTERNAL_PREFIXES = (
    "ledger/",
    "locks/",
    "manifests/",
    "state/",
    "snapshots/",
    "idempotency/",
    "run_keys/",
    "logs/",
)


@dataclasses.dataclass(frozen=True)
class _DataTable:
    name: tuple[str, str, str]
    path: str
    size: int
    e_tag: str | None


def _first_row(table: pa.Table, **match: Any) -> dict[str, Any] | None:
    rows: list[dict[str, Any]] = table.to_pylist()
    for row in rows:
        if all(row.get(k) == v for k, v in match.items()):
            return row
    return None


def resolve_location(scope: Scope, location: str | None, name: str) -> str:
    """A registered table's ``location`` as a scope-relative single-file path."""
    if not location:
        raise InvalidArgument(f"table {name} has no location", reason="invalid_location")
    if "://" in location or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", location):
        raise InvalidArgument(
            f"table {name}: only scoped paths are allowed, not URIs", reason="invalid_location"
        )
    path = location
    if path.startswith("tenant="):
        if not path.startswith(scope.prefix):
            raise InvalidArgument(
                f"table {name}: location is outside this workspace", reason="invalid_location"
            )
        path = path[len(scope.prefix) :]
    try:
        validate_relative_path(path)
    except InvalidArgument as exc:
        raise InvalidArgument(
            f"table {name}: invalid location: {exc.message}", reason="invalid_location"
        ) from None
    if path.startswith(_INTERNAL_PREFIXES):
        raise InvalidArgument(
            f"table {name}: location points at internal state", reason="invalid_location"
        )
    if not path.endswith(".parquet"):
        raise InvalidArgument(
            f"table {name}: location must be a single .parquet file", reason="invalid_location"
        )
    return path


_UNQUALIFIED_HINT = (
    "table references must be fully qualified as <catalog>.<schema>.<table> "
    "and registered in the catalog as parquet; got {name}"
)


def run_data_query(
    sql: str,
    tables: list[tuple[tuple[str, str, str], pa.Table]],
    *,
    limits: QueryLimits,
    fmt: ResultFormat,
    deadline: float,
    cancel: threading.Event,
) -> tuple[bytes, str, int, bool]:
    """``sql`` (already checked) over the resolved user ``tables`` in a fresh session."""
    ctx = new_context(limits, normalize=False)
    staging = SessionContext()
    internal: set[str] = set()
    catalogs: dict[str, Any] = {}
    for index, ((catalog_name, schema_name, table_name), data) in enumerate(tables):
        catalog = catalogs.get(catalog_name)
        if catalog is None:
            catalog = Catalog.memory_catalog()
            ctx.register_catalog_provider(catalog_name, catalog)
            catalogs[catalog_name] = catalog
        if schema_name not in catalog.names():
            catalog.register_schema(schema_name, Schema.memory_schema())
        staged = f"arco_data_{index}"
        staging.register_record_batches(staged, record_batches(data))
        catalog.schema(schema_name).register_table(table_name, Table(staging.table(staged)))
        internal.add(staged)
    return execute(
        ctx,
        sql,
        allowed_scans=internal.__contains__,
        limits=limits,
        fmt=fmt,
        deadline=deadline,
        cancel=cancel,
        unqualified_hint=_UNQUALIFIED_HINT,
    )


class QueryData:
    """``/query-data``: user tables registered in the catalog, by ``catalog.schema.table``.

    Without ``pool`` queries run on ``workers`` threads of this process (tools and tests).
    """

    def __init__(
        self,
        catalog: SnapshotProvider,
        storage: ScopedStorage,
        limits: QueryLimits | None = None,
        *,
        workers: int = 4,
        pool: QueryPool | None = None,
    ) -> None:
        self._catalog = catalog
        self._storage = storage
        self.limits = limits or QueryLimits()
        self._pool = pool
        self._runner = Runner(self.limits, workers) if pool is None else None
        self._files: OrderedDict[tuple[str, int, str | None], pa.Table] = OrderedDict()
        self.stats = {"file_reads": 0, "queries": 0}

    def _lookup(self, tables: DomainTables, name: tuple[str, str, str]) -> str | None:
        """The location of ``catalog.schema.table`` (None: no such table)."""
        catalog_name, schema_name, table_name = name
        catalogs = tables.table("catalogs")
        namespaces = tables.table("namespaces")
        registered = tables.table("tables")
        catalog_row = _first_row(catalogs, name=catalog_name)
        catalog_id = catalog_row["id"] if catalog_row else None
        if catalog_id is None and catalog_name != "default":
            return None
        schema_row = None
        for row in namespaces.to_pylist():
            if row["name"] != schema_name:
                continue
            owner = row.get("catalog_id")
            if owner == catalog_id or (owner is None and catalog_name == "default"):
                schema_row = row
                break
        if schema_row is None:
            return None
        table_row = _first_row(registered, namespace_id=schema_row["id"], name=table_name)
        if table_row is None:
            return None
        label = ".".join(name)
        if table_row.get("format") != "parquet":
            raise InvalidArgument(
                f"table {label} has format {table_row.get('format')!r}; only parquet tables "
                "can be queried",
                reason="unsupported_format",
            )
        return resolve_location(self._storage.scope, table_row.get("location"), label)

    async def _resolve(
        self, names: Iterable[tuple[str, ...]], tables: DomainTables
    ) -> list[_DataTable]:
        found: list[_DataTable] = []
        total = 0
        for name in sorted(n for n in names if len(n) == 3):
            key = (name[0], name[1], name[2])
            path = self._lookup(tables, key)
            if path is None:
                continue  # not a table (a column reference, say); the planner decides
            if len(found) >= self.limits.max_data_tables:
                raise InvalidArgument(
                    f"a query may read at most {self.limits.max_data_tables} tables",
                    reason="too_many_tables",
                )
            meta = await self._storage.head(path)
            label = ".".join(key)
            if meta is None:
                raise NotFound(f"data file of table {label} not found", reason="data_not_found")
            if meta.size > self.limits.max_table_bytes:
                raise InvalidArgument(
                    f"table {label} is {meta.size} bytes; the limit is "
                    f"{self.limits.max_table_bytes} bytes per table",
                    reason="table_too_large",
                )
            total += meta.size
            if total > self.limits.max_total_bytes:
                raise InvalidArgument(
                    f"the tables of this query exceed {self.limits.max_total_bytes} bytes",
                    reason="tables_too_large",
                )
            found.append(_DataTable(key, path, meta.size, meta.e_tag))
        return found

    async def _arrow(self, item: _DataTable) -> pa.Table:
        key = (item.path, item.size, item.e_tag)
        cached = self._files.get(key)
        if cached is not None:
            self._files.move_to_end(key)
            return cached
        blob = await self._storage.get(item.path)
        if len(blob) > self.limits.max_table_bytes:
            raise InvalidArgument("table file grew past the limit", reason="table_too_large")
        try:
            table = await asyncio.to_thread(pq.read_table, io.BytesIO(blob))
        except Exception as exc:
            raise InvalidArgument(
                f"table {'.'.join(item.name)} is not a readable parquet file: {exc}",
                reason="invalid_data_file",
            ) from None
        self.stats["file_reads"] += 1
        self._files[key] = table
        held = sum(t.nbytes for t in self._files.values())
        while len(self._files) > 1 and held > self.limits.max_total_bytes * 2:
            _, dropped = self._files.popitem(last=False)
            held -= dropped.nbytes
        return table

    async def query(
        self, sql: str, fmt: ResultFormat = ResultFormat.ARROW, *, as_of: int | None = None
    ) -> QueryResult:
        started = time.perf_counter()
        text = checked_sql(sql, as_of)
        names = dotted_names(tokenize(text), normalize=False)
        seq = as_of if as_of is not None else await self._catalog.head(DATA_DOMAIN)
        try:
            tables = await self._catalog.load(DATA_DOMAIN, seq)
        except NotFound as exc:
            raise InvalidArgument(
                f"as_of {as_of}: no such published catalog manifest ({exc.message})",
                reason="unknown_version",
            ) from None
        loads_before = self.stats["file_reads"]
        resolved = await self._resolve(names, tables)
        arrow = [await self._arrow(item) for item in resolved]
        cached = self.stats["file_reads"] == loads_before
        self.stats["queries"] += 1
        limits = self.limits
        named = [(item.name, data) for item, data in zip(resolved, arrow, strict=True)]
        state_versions = {DATA_DOMAIN: tables.seq} if tables.seq is not None else {}
        labels = tuple(".".join(item.name) for item in resolved)
        if self._pool is not None:
            job = PoolJob(
                kind="data",
                sql=text,
                fmt=fmt,
                limits=limits,
                tables=tuple(
                    PoolTable(
                        item.name,
                        f"file:{item.path}:{item.size}:{item.e_tag}",
                        functools.partial(_same, data),
                    )
                    for item, data in zip(resolved, arrow, strict=True)
                ),
            )
            return make_result(
                await self._pool.run_job(job),
                started=started,
                state_versions=state_versions,
                cached=cached,
                tables=labels,
            )
        assert self._runner is not None

        def work(deadline: float, cancel: threading.Event) -> tuple[bytes, str, int, bool]:
            return run_data_query(
                text, named, limits=limits, fmt=fmt, deadline=deadline, cancel=cancel
            )

        return await self._runner.run(
            work, started=started, state_versions=state_versions, cached=cached, tables=labels
        )

    def close(self) -> None:
        """Stop the threads (a pool is its owner's to shut down)."""
        if self._runner is not None:
            self._runner.close()


def _same(table: pa.Table) -> pa.Table:
    return table
