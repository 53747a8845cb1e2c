"""One query worker process of a :class:`~arco_core.query.pool.QueryPool`.

:func:`serve` is called by the worker's entry point once it has capped its address space
(``services/api/query_worker.py``: the cap must be in place before DataFusion and its
allocator load). It reads requests from stdin and answers on a private copy of stdout;
fd 1 is then pointed at stderr, so nothing a library prints can corrupt the protocol.

A request names a query's tables by key and carries the Arrow IPC of those the worker
does not hold yet; the worker keeps what it received (least recently used first out,
a quarter of its cap at most) and reports the keys it holds in every answer. Each query
runs in a fresh session (:func:`~arco_core.query.engine.run_system_query`,
:func:`~arco_core.query.user_tables.run_data_query`) under the request's limits.

A thread reads stdin all the time: when it closes (the api ended, however) the worker
exits at once, even mid-query. After a MemoryError the worker answers
``query_too_expensive`` and exits, so its replacement starts with a clean heap.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
import traceback
from collections import OrderedDict
from typing import Any, BinaryIO

import pyarrow as pa

from arco_core.errors import ArcoError
from arco_core.query.engine import run_system_query
from arco_core.query.execute import (
    QueryLimits,
    ResultFormat,
    is_cancelled,
    timed_out,
    too_expensive,
)
from arco_core.query.ipc import Frame, decode_table, read_frame, write_frame
from arco_core.query.user_tables import run_data_query

__all__ = ["serve"]

_RUNNERS = {"system": run_system_query, "data": run_data_query}


def _status_kib() -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{os.getpid()}/status") as status:
            for line in status:
                if line.startswith(("VmSize:", "VmRSS:")):
                    out[line.split(":")[0].lower().replace("vm", "") + "_kib"] = int(
                        line.split()[1]
                    )
    except OSError:
        pass
    return out


class _Tables:
    """The tables this worker holds, by key, least recently used first."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._tables: OrderedDict[str, pa.Table] = OrderedDict()

    def put(self, key: str, table: pa.Table) -> None:
        self._tables[key] = table
        self._tables.move_to_end(key)

    def get(self, key: str) -> pa.Table | None:
        table = self._tables.get(key)
        if table is not None:
            self._tables.move_to_end(key)
        return table

    def trim(self) -> None:
        held = sum(t.nbytes for t in self._tables.values())
        while self._tables and held > self.budget_bytes:
            _, dropped = self._tables.popitem(last=False)
            held -= dropped.nbytes

    def clear(self) -> None:
        self._tables.clear()

    def keys(self) -> list[str]:
        return list(self._tables)


def _error(exc: ArcoError) -> dict[str, Any]:
    return {"ok": False, "code": exc.code.value, "reason": exc.reason, "message": exc.message}


def _run(
    request: dict[str, Any], blobs: list[bytes], tables: _Tables
) -> tuple[dict[str, Any], list[bytes]]:
    """One request: (answer header, answer blobs)."""
    limits = QueryLimits(**request["limits"])
    deadline = time.monotonic() + limits.timeout_s
    for entry in request["tables"]:
        if entry["blob"] is not None:
            tables.put(entry["key"], decode_table(blobs[entry["blob"]]))
    named: list[tuple[tuple[str, str, str], pa.Table]] = []
    missing: list[str] = []
    for entry in request["tables"]:
        data = tables.get(entry["key"])
        if data is None:
            missing.append(entry["key"])
        else:
            catalog, schema, table = entry["name"]
            named.append(((catalog, schema, table), data))
    if missing:
        return {"ok": False, "missing": missing}, []
    runner = _RUNNERS[request["kind"]]
    try:
        data, content_type, rows, truncated = runner(
            request["sql"],
            named,
            limits=limits,
            fmt=ResultFormat(request["fmt"]),
            deadline=deadline,
            cancel=threading.Event(),
        )
    except ArcoError as exc:
        return _error(exc), []
    except Exception as exc:
        if is_cancelled(exc):
            return _error(timed_out(limits.timeout_s)), []
        raise
    header = {"ok": True, "content_type": content_type, "rows": rows, "truncated": truncated}
    return header, [data]


def _read_requests(stream: BinaryIO, requests: queue.Queue[Frame]) -> None:
    """Feed ``requests``; exit the process when the api's end of the pipe closes."""
    try:
        while True:
            requests.put(read_frame(stream))
    except BaseException:  # end-of-file, or a broken frame: the pool is gone or confused
        os._exit(0)


def _warm_up() -> None:
    """Start DataFusion's runtime before reporting ready (the first query is not slower)."""
    run_system_query(
        "SELECT 1 AS one",
        [],
        limits=QueryLimits(),
        fmt=ResultFormat.ARROW,
        deadline=time.monotonic() + 60,
        cancel=threading.Event(),
    )


def serve(memory_bytes: int) -> int:
    """The worker's loop (returns its exit code)."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests: queue.Queue[Frame] = queue.Queue()
    tables = _Tables(memory_bytes // 4)
    _warm_up()
    threading.Thread(
        target=_read_requests,
        args=(sys.stdin.buffer, requests),
        name="arco-query-requests",
        daemon=True,
    ).start()
    write_frame(answers, {"op": "ready", "pid": os.getpid(), **_status_kib()})
    while True:
        request, blobs = requests.get()
        retire = False
        try:
            header, out = _run(request, blobs, tables)
        except MemoryError:
            tables.clear()
            header = _error(too_expensive("it needs more memory than its worker may use"))
            out, retire = [], True
        except Exception as exc:  # a bug: answered as INTERNAL, the worker replaced
            traceback.print_exc()
            header = {
                "ok": False,
                "code": "INTERNAL",
                "reason": "internal",
                "message": f"query worker failed: {type(exc).__name__}",
            }
            out, retire = [], True
        del blobs
        tables.trim()
        header["held"] = [] if retire else tables.keys()
        header["retire"] = retire
        write_frame(answers, header, out)
        if retire:
            return 0
