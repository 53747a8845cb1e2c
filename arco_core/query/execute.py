"""The executor both query engines share: limits, the read-only run, result encoding.

A query is read-only by construction, in layers:

1. :func:`~arco_core.query.guard.check_select_only`: byte limit, exactly one statement,
   first keyword SELECT or WITH, no ``INTO``; comments and quoting are understood.
2. Only tables named in the text *and* known to the engine are registered, in a session
   with no information_schema, no URL tables and no object stores; nothing else exists.
3. ``sql_with_options`` with DDL, DML and statements disallowed (COPY, CREATE, INSERT,
   SET, PREPARE ... fail in the planner).
4. The logical plan is inspected: its root must be a query, and every ``TableScan`` must be
   a table the engine registered (table functions such as ``generate_series()`` and any
   external reference are refused).

The deadline is checked between record batches. Rows are capped (truncation is flagged)
and the encoded result is size-checked. In the api, :func:`execute` runs in a query worker
process (:mod:`arco_core.query.pool`), where the memory cap and the time limit are hard;
:class:`Runner` runs it on threads of the calling process (tools, tests), where a query
that ignores the deadline keeps its thread and allocates from the caller's memory.
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
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pyarrow as pa
from datafusion import RuntimeEnvBuilder, SessionConfig, SessionContext, SQLOptions

from arco_core.errors import ArcoError, InvalidArgument, ResourceExhausted
from arco_core.query.guard import check_select_only
from arco_core.query.tables import allowed_names

__all__ = [
    "ARROW_STREAM",
    "JSON_ROWS",
    "QueryLimits",
    "QueryResult",
    "ResultFormat",
    "Runner",
    "Work",
    "checked_sql",
    "execute",
    "is_cancelled",
    "make_result",
    "new_context",
    "record_batches",
    "timed_out",
    "too_expensive",
]

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
_BATCH_ROWS = 65_536
# DataFusion's words for an allocation the allocator refused (outside its memory pool).
_ALLOCATION_FAILED = ("memory allocation failed", "failed to allocate", "capacity overflow")
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


# What a worker thread returns: (encoded data, content type, row count, truncated).
_Encoded = tuple[bytes, str, int, bool]
# The blocking part of one query, called with its deadline and a cancel flag.
Work = Callable[[float, threading.Event], _Encoded]


class _Cancelled(Exception):
    pass


def too_expensive(detail: str) -> ResourceExhausted:
    """A query over the memory cap of its worker (RESOURCE_EXHAUSTED: HTTP 429, which the
    SDK does not retry; the same class as ``query_memory_exceeded``)."""
    return ResourceExhausted(f"query too expensive: {detail}", reason="query_too_expensive")


def timed_out(timeout_s: float) -> InvalidArgument:
    """A query over the time limit. INVALID_ARGUMENT (HTTP 400), not DEADLINE_EXCEEDED: that
    is 504, which clients retry, and the same query would only burn the limit again."""
    return InvalidArgument(f"query timed out after {timeout_s:g} s", reason="query_timeout")


def make_result(
    encoded: _Encoded,
    *,
    started: float,
    state_versions: dict[str, int],
    cached: bool,
    tables: tuple[str, ...],
) -> QueryResult:
    """The answer of one query; ``started`` is its ``perf_counter``."""
    data, content_type, rows, truncated = encoded
    return QueryResult(
        data=data,
        content_type=content_type,
        row_count=rows,
        truncated=truncated,
        state_versions=state_versions,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        cached=cached,
        tables=tables,
    )


def is_cancelled(exc: BaseException) -> bool:
    """True for the stop :func:`execute` raises at its deadline or when cancelled."""
    return isinstance(exc, _Cancelled)


def checked_sql(sql: str, as_of: int | None) -> str:
    """The request checks both engines make before any I/O; returns the checked text."""
    if as_of is not None and (isinstance(as_of, bool) or as_of < 0):
        raise InvalidArgument("as_of must be a manifest sequence >= 0", reason="invalid_as_of")
    return check_select_only(sql)


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
    if any(marker in text for marker in _ALLOCATION_FAILED):
        # Scalar and array functions (repeat, range, ...) allocate outside the pool; under
        # the worker's address-space cap their allocation fails instead of the host's.
        return too_expensive("the query needs more memory than a query may use")
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


def execute(
    ctx: SessionContext,
    sql: str,
    *,
    allowed_scans: Callable[[str], bool],
    limits: QueryLimits,
    fmt: ResultFormat,
    deadline: float,
    cancel: threading.Event,
    unqualified_hint: str | None = None,
) -> _Encoded:
    """Plan ``sql`` read-only in ``ctx``, refuse scans ``allowed_scans`` rejects, run it
    under the row, size and time limits and encode the rows (layers 3 and 4 above)."""
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


class Runner:
    """Runs blocking query work on a small thread pool with a deadline."""

    def __init__(self, limits: QueryLimits, workers: int) -> None:
        self._limits = limits
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="arco-query"
        )

    async def run(
        self,
        work: Work,
        *,
        started: float,
        state_versions: dict[str, int],
        cached: bool,
        tables: tuple[str, ...],
    ) -> QueryResult:
        """Run ``work`` under the deadline; ``started`` is the query's ``perf_counter``."""
        cancel = threading.Event()
        deadline = time.monotonic() + self._limits.timeout_s
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, work, deadline, cancel)
        try:
            encoded = await asyncio.wait_for(future, timeout=self._limits.timeout_s)
        except (TimeoutError, _Cancelled):
            cancel.set()
            raise timed_out(self._limits.timeout_s) from None
        return make_result(
            encoded, started=started, state_versions=state_versions, cached=cached, tables=tables
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def new_context(limits: QueryLimits, *, normalize: bool) -> SessionContext:
    """An empty session: no information_schema, no disk, memory capped (layer 2)."""
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


def record_batches(table: pa.Table) -> list[list[pa.RecordBatch]]:
    """``table`` as the partitions ``register_record_batches`` takes."""
    # Moderate batches: one huge batch makes DataFusion's repartitioning want to spill.
    batches = table.to_batches(max_chunksize=_BATCH_ROWS) if table.num_rows else []
    if not batches:
        batches = [pa.RecordBatch.from_pylist([], schema=table.schema)]
    return [batches]
