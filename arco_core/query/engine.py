"""Read-only SQL over published state (``QueryEngine``) and registered user tables
(``QueryData``), on DataFusion.

Read-only by construction, in layers:

1. :func:`~arco_core.query.guard.check_select_only`: byte limit, exactly one statement,
   first keyword SELECT or WITH, no ``INTO``; comments and quoting are understood.
2. Only tables named in the text *and* on the allowlist are registered, in a session with
   no information_schema, no URL tables and no object stores; nothing else exists.
3. ``sql_with_options`` with DDL, DML and statements disallowed (COPY, CREATE, INSERT,
   SET, PREPARE ... fail in the planner).
4. The logical plan is inspected: its root must be a query, and every ``TableScan`` must be
   a table this engine registered (table functions such as ``generate_series()`` and any
   external reference are refused).

Queries run in a worker thread with a deadline checked between record batches; the caller
stops waiting at the deadline. Rows are capped (truncation is flagged) and the encoded
result is size-checked. DataFusion sessions for published state are cached per manifest
version: a repeated query on the same version converts and registers nothing again.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import dataclasses
import enum
import io
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import structlog
from datafusion import RuntimeEnvBuilder, SessionConfig, SessionContext, SQLOptions
from datafusion.catalog import Catalog, Schema, Table

from arco_core.errors import ArcoError, InvalidArgument, NotFound, ResourceExhausted
from arco_core.paths import Scope, validate_relative_path
from arco_core.query.guard import Token, check_select_only, tokenize
from arco_core.query.tables import (
    ALLOWLIST,
    DATA_DOMAIN,
    DomainTables,
    SnapshotProvider,
    TableSpec,
    allowed_names,
)
from arco_core.storage import ScopedStorage

__all__ = [
    "QueryData",
    "QueryEngine",
    "QueryLimits",
    "QueryResult",
    "ResultFormat",
]

log = structlog.get_logger(__name__)

ARROW_STREAM = "application/vnd.apache.arrow.stream"
JSON_ROWS = "application/json"

# Top-level plan nodes that are not a plain query.
_FORBIDDEN_ROOTS = frozenset(
    {
        "Explain",
        "Analyze",
        "DescribeTable",
        "Dml",
        "Copy",
        "Ddl",
        "Statement",
        "CreateMemoryTable",
        "CreateExternalTable",
        "CreateView",
        "CreateCatalog",
        "CreateCatalogSchema",
        "DropTable",
        "DropView",
        "DropCatalogSchema",
        "Prepare",
        "Execute",
        "SetVariable",
        "Extension",
    }
)
_SCAN = re.compile(r"^\s*TableScan: (.+?)(?: projection=.*| partial_filters=.*| fetch=.*)?$")
_NOT_FOUND = re.compile(r"table '([^']*)' not found")
_FUNC_NOT_FOUND = re.compile(r"table function '([^']*)' not found")
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
_BATCH_ROWS = 65_536
_READ_ONLY = SQLOptions().with_allow_ddl(False).with_allow_dml(False).with_allow_statements(False)


class ResultFormat(enum.Enum):
    ARROW = "arrow"
    JSON = "json"


@dataclasses.dataclass(frozen=True)
class QueryLimits:
    max_rows: int = 10_000
    max_result_bytes: int = 10 * 1024 * 1024
    timeout_s: float = 10.0
    memory_bytes: int = 512 * 1024 * 1024
    max_data_tables: int = 25
    max_table_bytes: int = 64 * 1024 * 1024
    max_total_bytes: int = 256 * 1024 * 1024
    cached_versions: int = 8


@dataclasses.dataclass(frozen=True)
class QueryResult:
    data: bytes
    content_type: str
    row_count: int
    truncated: bool
    state_versions: dict[str, int]
    elapsed_ms: float
    # True when the session for these versions already existed (nothing was loaded).
    cached: bool
    tables: tuple[str, ...] = ()


class _Cancelled(Exception):
    pass


# -- name extraction ----------------------------------------------------------------------


def _ident(token: Token, *, normalize: bool) -> str | None:
    if token.kind == "word":
        return token.text.lower() if normalize else token.text
    if token.kind == "ident":
        quote = token.text[0]
        return token.text[1:-1].replace(quote * 2, quote)
    return None


def dotted_names(tokens: list[Token], *, normalize: bool) -> set[tuple[str, ...]]:
    """Every contiguous 2- and 3-part slice of each ``a.b.c...`` chain in the text."""
    out: set[tuple[str, ...]] = set()
    i = 0
    while i < len(tokens):
        first = _ident(tokens[i], normalize=normalize)
        if first is None:
            i += 1
            continue
        chain = [first]
        j = i + 1
        while (
            j + 1 < len(tokens)
            and tokens[j] == Token("punct", ".")
            and (part := _ident(tokens[j + 1], normalize=normalize)) is not None
        ):
            chain.append(part)
            j += 2
        for size in (2, 3):
            for start in range(len(chain) - size + 1):
                out.add(tuple(chain[start : start + size]))
        i = j if j > i + 1 else i + 1
    return out


# -- execution ----------------------------------------------------------------------------


def _scan_names(plan_text: str) -> list[str]:
    names: list[str] = []
    for line in plan_text.splitlines():
        match = _SCAN.match(line)
        if match:
            names.append(match.group(1).strip())
    return names


def _translate(exc: Exception, unqualified_hint: str | None = None) -> ArcoError:
    """DataFusion's planning/execution errors as clear InvalidArgument messages."""
    if isinstance(exc, ArcoError):
        return exc
    text = str(exc)
    match = _FUNC_NOT_FOUND.search(text)
    if match:
        return InvalidArgument(
            f"table functions are not allowed: {match.group(1)}", reason="table_function"
        )
    match = _NOT_FOUND.search(text)
    if match:
        name = match.group(1)
        for prefix in ("arco.public.", "arco."):
            if name.startswith(prefix):
                name = name[len(prefix) :]
                break
        if unqualified_hint is not None:
            return InvalidArgument(unqualified_hint.format(name=name), reason="unknown_table")
        return InvalidArgument(
            f"table {name!r} is not available to query; queryable tables: "
            + ", ".join(allowed_names()),
            reason="unknown_table",
        )
    if "Resources exhausted" in text or "Memory Exhausted" in text:
        return ResourceExhausted("query exceeded the memory limit", reason="query_memory_exceeded")
    lowered = text.split("\n", 1)[0]
    for marker in ("Error during planning: ", "SQL error: ", "Schema error: "):
        if marker in lowered:
            lowered = lowered.split(marker, 1)[1]
            break
    return InvalidArgument(f"query failed: {lowered}", reason="invalid_query")


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def _plain_types(table: pa.Table) -> pa.Table:
    """View types (DataFusion's Utf8View/BinaryView) as plain ones for every client."""
    fields = []
    changed = False
    for field in table.schema:
        if pa.types.is_string_view(field.type):
            fields.append(field.with_type(pa.string()))
            changed = True
        elif pa.types.is_binary_view(field.type):
            fields.append(field.with_type(pa.binary()))
            changed = True
        else:
            fields.append(field)
    return table.cast(pa.schema(fields, metadata=table.schema.metadata)) if changed else table


def _encode(table: pa.Table, fmt: ResultFormat, limits: QueryLimits) -> tuple[bytes, str]:
    if fmt is ResultFormat.JSON:
        data = json.dumps(
            table.to_pylist(), default=_json_default, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
        content_type = JSON_ROWS
    else:
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        data = sink.getvalue()
        content_type = ARROW_STREAM
    if len(data) > limits.max_result_bytes:
        raise InvalidArgument(
            f"query result exceeds max size ({limits.max_result_bytes} bytes)",
            reason="result_too_large",
        )
    return data, content_type


def _execute(
    ctx: SessionContext,
    sql: str,
    *,
    allowed_scans: Callable[[str], bool],
    limits: QueryLimits,
    fmt: ResultFormat,
    deadline: float,
    cancel: threading.Event,
    unqualified_hint: str | None = None,
) -> tuple[bytes, str, int, bool]:
    try:
        df = ctx.sql_with_options(sql, _READ_ONLY)
        plan = df.logical_plan()
        root = type(plan.to_variant()).__name__
        if root in _FORBIDDEN_ROOTS:
            raise InvalidArgument(
                f"Only SELECT/CTE queries are supported (got {root})", reason="not_a_query"
            )
        for name in _scan_names(plan.display_indent()):
            if not allowed_scans(name):
                raise InvalidArgument(
                    f"only registered tables may be read; refused {name!r} "
                    "(table functions and external files are not allowed)",
                    reason="table_function",
                )
        stream = df.limit(limits.max_rows + 1).execute_stream()
        batches: list[pa.RecordBatch] = []
        rows = 0
        raw_bytes = 0
        for batch in stream:
            if cancel.is_set() or time.monotonic() > deadline:
                raise _Cancelled
            record = batch.to_pyarrow()
            batches.append(record)
            rows += record.num_rows
            raw_bytes += record.nbytes
            if raw_bytes > 4 * limits.max_result_bytes:
                raise InvalidArgument(
                    f"query result exceeds max size ({limits.max_result_bytes} bytes)",
                    reason="result_too_large",
                )
            if rows > limits.max_rows:
                break
        schema = batches[0].schema if batches else df.schema()
        table = pa.Table.from_batches(batches, schema=schema)
    except (_Cancelled, ArcoError):
        raise
    except Exception as exc:
        raise _translate(exc, unqualified_hint) from None
    truncated = table.num_rows > limits.max_rows
    if truncated:
        table = table.slice(0, limits.max_rows)
    table = _plain_types(table)
    data, content_type = _encode(table, fmt, limits)
    return data, content_type, table.num_rows, truncated


class _Runner:
    """Runs blocking query work on a small thread pool with a deadline."""

    def __init__(self, limits: QueryLimits, workers: int) -> None:
        self._limits = limits
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="arco-query"
        )

    async def run(
        self, fn: Callable[[float, threading.Event], tuple[bytes, str, int, bool]]
    ) -> tuple[bytes, str, int, bool]:
        cancel = threading.Event()
        deadline = time.monotonic() + self._limits.timeout_s
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, fn, deadline, cancel)
        try:
            return await asyncio.wait_for(future, timeout=self._limits.timeout_s)
        except (TimeoutError, _Cancelled):
            cancel.set()
            raise InvalidArgument(
                f"query timed out after {self._limits.timeout_s:g} s", reason="query_timeout"
            ) from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _new_context(limits: QueryLimits, *, normalize: bool) -> SessionContext:
    config = (
        SessionConfig()
        .with_target_partitions(2)
        .with_information_schema(False)
        .with_default_catalog_and_schema("arco", "public")
        .set("datafusion.sql_parser.enable_ident_normalization", "true" if normalize else "false")
    )
    runtime = (
        RuntimeEnvBuilder()
        .with_greedy_memory_pool(limits.memory_bytes)
        .with_disk_manager_disabled()
    )
    return SessionContext(config, runtime)


def _batches(table: pa.Table) -> list[list[pa.RecordBatch]]:
    # Moderate batches: one huge batch makes DataFusion's repartitioning want to spill.
    batches = table.to_batches(max_chunksize=_BATCH_ROWS) if table.num_rows else []
    if not batches:
        batches = [pa.RecordBatch.from_pylist([], schema=table.schema)]
    return [batches]


def _check_as_of(as_of: int | None) -> None:
    if as_of is not None and (isinstance(as_of, bool) or as_of < 0):
        raise InvalidArgument("as_of must be a manifest sequence >= 0", reason="invalid_as_of")


# -- published state ----------------------------------------------------------------------


class _VersionSession:
    """A DataFusion session over one set of domain versions; tables registered on demand."""

    def __init__(self, limits: QueryLimits) -> None:
        self.ctx = _new_context(limits, normalize=True)
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
                f"{spec.catalog}.{spec.schema}.{spec.table}", _batches(data)
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
        self._runner = _Runner(self.limits, workers)
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
        _check_as_of(as_of)
        text = check_select_only(sql)
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
            return _execute(
                active.ctx,
                text,
                allowed_scans=active.allows_scan,
                limits=self.limits,
                fmt=fmt,
                deadline=deadline,
                cancel=cancel,
            )

        data, content_type, rows, truncated = await self._runner.run(work)
        return QueryResult(
            data=data,
            content_type=content_type,
            row_count=rows,
            truncated=truncated,
            state_versions={d: s for d, s in versions.items() if s is not None},
            elapsed_ms=(time.perf_counter() - started) * 1000,
            cached=cached,
            tables=tuple(spec.name for spec in specs),
        )

    def close(self) -> None:
        self._runner.close()


# -- user tables --------------------------------------------------------------------------


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


class QueryData:
    """``/query-data``: user tables registered in the catalog, by ``catalog.schema.table``."""

    def __init__(
        self,
        catalog: SnapshotProvider,
        storage: ScopedStorage,
        limits: QueryLimits | None = None,
        *,
        workers: int = 4,
    ) -> None:
        self._catalog = catalog
        self._storage = storage
        self.limits = limits or QueryLimits()
        self._runner = _Runner(self.limits, workers)
        self._catalog_tables: OrderedDict[int | None, DomainTables] = OrderedDict()
        self._files: OrderedDict[tuple[str, int, str | None], pa.Table] = OrderedDict()
        self.stats = {"catalog_loads": 0, "file_reads": 0, "queries": 0}

    async def _catalog_at(self, seq: int | None) -> DomainTables:
        cached = self._catalog_tables.get(seq)
        if cached is None:
            cached = await self._catalog.load(DATA_DOMAIN, seq)
            self.stats["catalog_loads"] += 1
            self._catalog_tables[seq] = cached
            while len(self._catalog_tables) > self.limits.cached_versions:
                self._catalog_tables.popitem(last=False)
        return cached

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
        _check_as_of(as_of)
        text = check_select_only(sql)
        names = dotted_names(tokenize(text), normalize=False)
        seq = as_of if as_of is not None else await self._catalog.head(DATA_DOMAIN)
        try:
            tables = await self._catalog_at(seq)
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

        def work(deadline: float, cancel: threading.Event) -> tuple[bytes, str, int, bool]:
            ctx = _new_context(limits, normalize=False)
            staging = SessionContext()
            internal: set[str] = set()
            catalogs: dict[str, Any] = {}
            for index, (item, data) in enumerate(zip(resolved, arrow, strict=True)):
                catalog_name, schema_name, table_name = item.name
                catalog = catalogs.get(catalog_name)
                if catalog is None:
                    catalog = Catalog.memory_catalog()
                    ctx.register_catalog_provider(catalog_name, catalog)
                    catalogs[catalog_name] = catalog
                if schema_name not in catalog.names():
                    catalog.register_schema(schema_name, Schema.memory_schema())
                staged = f"arco_data_{index}"
                staging.register_record_batches(staged, _batches(data))
                catalog.schema(schema_name).register_table(table_name, Table(staging.table(staged)))
                internal.add(staged)
            return _execute(
                ctx,
                text,
                allowed_scans=internal.__contains__,
                limits=limits,
                fmt=fmt,
                deadline=deadline,
                cancel=cancel,
                unqualified_hint=(
                    "table references must be fully qualified as <catalog>.<schema>.<table> "
                    "and registered in the catalog as parquet; got {name}"
                ),
            )

        data, content_type, rows, truncated = await self._runner.run(work)
        return QueryResult(
            data=data,
            content_type=content_type,
            row_count=rows,
            truncated=truncated,
            state_versions={DATA_DOMAIN: tables.seq} if tables.seq is not None else {},
            elapsed_ms=(time.perf_counter() - started) * 1000,
            cached=cached,
            tables=tuple(".".join(item.name) for item in resolved),
        )

    def close(self) -> None:
        self._runner.close()
