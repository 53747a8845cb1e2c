"""Query worker processes: where SQL runs under a hard memory cap and a hard time limit.

DataFusion's memory pool only sees the operators that reserve from it: scalar and array
functions (``repeat``, ``range``, ``unnest``, string concatenation) allocate around it, and
a thread cannot be stopped mid-query. So the api runs no query itself. A
:class:`QueryPool` keeps ``size`` worker processes (:mod:`arco_core.query.worker`), each
started by ``command`` with its address space capped (``RLIMIT_AS``) before DataFusion is
imported, at a lower CPU priority, with no credentials in its environment and no storage
handle: it gets the tables of a query as Arrow IPC over its stdin and answers the encoded
result over its stdout.

One worker runs one query at a time. A query waits for a free worker at most its time
limit (then ``query_pool_busy``, HTTP 429 with ``Retry-After``). A worker that has not
answered half a second after the limit is killed (``query_timeout``); one that dies on the
cap (the allocator aborts: SIGABRT/SIGSEGV/SIGBUS, or SIGKILL) answers
``query_too_expensive``; any other death is ``query_worker_failed``. Either way the worker
is replaced in the background, and so is one whose query was cancelled by its caller. Its
CPU and memory go back with its process.

Each worker keeps the tables it received (by a key naming their data and version) up to a
quarter of its cap and reports which it holds after every query, so a table crosses the
pipe once per worker and version. ``run`` / ``shutdown`` make the pool a background loop
of the api; ``run_job`` also starts it on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import structlog

from arco_core.errors import ArcoError, ErrorCode, ResourceExhausted, Unavailable, error_class
from arco_core.query.execute import QueryLimits, ResultFormat, timed_out, too_expensive
from arco_core.query.ipc import encode_table, read_frame_async, write_frame_async

__all__ = ["PoolJob", "PoolTable", "QueryPool", "worker_env"]

log = structlog.get_logger(__name__)

# A worker answers its own deadline; this much later it is killed.
KILL_GRACE_S = 0.5
# Signals a worker dies of when an allocation fails under its cap (Rust aborts, a stack or
# mapping cannot grow) or when the kernel kills it for memory.
_MEMORY_DEATHS = frozenset({signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGKILL})
# The only variables a worker inherits: no credentials, no ARCO_* secrets.
_ENV_KEPT = ("PATH", "PYTHONPATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "VIRTUAL_ENV")

_Encoded = tuple[bytes, str, int, bool]


@dataclasses.dataclass(frozen=True, slots=True)
class PoolTable:
    """One table of a query: the name SQL uses, the key of its data, and how to get it."""

    name: tuple[str, str, str]
    # Names the data and its version; a worker holding this key is not sent it again.
    key: str
    # Blocking (a state conversion); called on a thread only when the worker lacks the key.
    load: Callable[[], pa.Table]


@dataclasses.dataclass(frozen=True, slots=True)
class PoolJob:
    """One checked query: ``kind`` "system" (allowlisted names) or "data" (user tables)."""

    kind: str
    sql: str
    fmt: ResultFormat
    limits: QueryLimits
    tables: tuple[PoolTable, ...]


def worker_env(
    base: Mapping[str, str] | None = None, *, python_path: Sequence[str] = ()
) -> dict[str, str]:
    """The environment of a worker: only ``_ENV_KEPT`` from ``base`` (``os.environ``), with
    ``python_path`` entries in front of PYTHONPATH and glibc's arenas kept few (the cap is
    on address space, and every arena reserves 64 MiB of it)."""
    source = os.environ if base is None else base
    env = {key: source[key] for key in _ENV_KEPT if key in source}
    paths = [*python_path, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env["MALLOC_ARENA_MAX"] = "2"
    env["PYTHONUNBUFFERED"] = "1"
    return env


class _WorkerDied(Exception):
    pass


@dataclasses.dataclass(eq=False)
class _Worker:
    proc: asyncio.subprocess.Process
    info: dict[str, Any]
    held: frozenset[str] = frozenset()
    queries: int = 0

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stdin(self) -> asyncio.StreamWriter:
        assert self.proc.stdin is not None
        return self.proc.stdin

    @property
    def stdout(self) -> asyncio.StreamReader:
        assert self.proc.stdout is not None
        return self.proc.stdout


def _signal_name(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return signal.Signals(-returncode).name
        return f"signal {-returncode}"
    return f"exit code {returncode}"


class QueryPool:
    """``size`` query worker processes started by ``command`` (argv; the pool appends the
    cap in bytes); see the module docstring."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        size: int,
        memory_bytes: int,
        timeout_s: float,
        env: Mapping[str, str] | None = None,
        start_timeout_s: float = 60.0,
        max_waiting: int | None = None,
        drain_s: float = 5.0,
    ) -> None:
        if size < 1:
            raise ValueError("a query pool needs at least one worker")
        self.command = tuple(command)
        self.size = size
        self.memory_bytes = memory_bytes
        self.timeout_s = timeout_s
        self._env = dict(env) if env is not None else worker_env()
        self._start_timeout_s = start_timeout_s
        self._max_waiting = max_waiting if max_waiting is not None else 8 * size
        self._drain_s = drain_s
        self._busy = 0
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._workers: set[_Worker] = set()
        self._replacing: set[asyncio.Task[None]] = set()
        self._start_lock = asyncio.Lock()
        self._started = False
        self._closed = False
        self._stopped = asyncio.Event()
        self._waiting = 0
        self.stats = {
            "spawned": 0,
            "queries": 0,
            "timeouts": 0,
            "memory_deaths": 0,
            "crashes": 0,
            "retired": 0,
            "cancelled": 0,
            "busy": 0,
            "tables_sent": 0,
        }

    # -- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Start every worker and wait until they are ready (raises if one cannot start:
        a cap below what DataFusion needs to load fails the api's start, loudly)."""
        async with self._start_lock:
            if self._started:
                return
            if self._closed:
                raise Unavailable("the query pool is shut down", reason="query_pool_closed")
            spawned = await asyncio.gather(
                *(self._spawn() for _ in range(self.size)), return_exceptions=True
            )
            failures = [s for s in spawned if isinstance(s, BaseException)]
            for item in spawned:
                if isinstance(item, _Worker):
                    self._idle.put_nowait(item)
            if failures:
                await self._stop_workers()
                raise failures[0]
            self._started = True
            log.info(
                "query_pool_started",
                workers=self.size,
                memory_bytes=self.memory_bytes,
                timeout_s=self.timeout_s,
                worker_rss_kib=[w.info.get("rss_kib") for w in self._workers],
            )

    async def run(self) -> None:
        """The api's background loop: start the workers, then hold until ``shutdown``."""
        await self.start()
        await self._stopped.wait()

    async def shutdown(self) -> None:
        """Stop accepting queries, give running ones ``drain_s`` to finish, stop replacing
        workers and end every worker (idempotent)."""
        self._closed = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._drain_s):
                while self._busy:
                    await asyncio.sleep(0.05)
        for task in list(self._replacing):
            task.cancel()
        for task in list(self._replacing):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._stop_workers()
        self._stopped.set()

    async def _stop_workers(self) -> None:
        workers = list(self._workers)
        for worker in workers:
            with contextlib.suppress(Exception):
                worker.stdin.close()  # end-of-file: an idle worker exits at once
        for worker in workers:
            try:
                await asyncio.wait_for(worker.proc.wait(), timeout=2.0)
            except TimeoutError:
                await self._kill(worker)
            self._workers.discard(worker)

    def pids(self) -> list[int]:
        """The process ids of the live workers."""
        return sorted(w.pid for w in self._workers if w.proc.returncode is None)

    async def wait_idle(self, count: int | None = None, timeout: float = 30.0) -> None:
        """Until ``count`` (all) workers are started and idle (tests and benchmarks)."""
        want = self.size if count is None else count
        async with asyncio.timeout(timeout):
            while self._idle.qsize() < want:
                await asyncio.sleep(0.02)

    # -- workers -----------------------------------------------------------------------

    async def _spawn(self) -> _Worker:
        proc = await asyncio.create_subprocess_exec(
            *self.command,
            str(self.memory_bytes),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=self._env,
        )
        self.stats["spawned"] += 1
        worker = _Worker(proc, {})
        self._workers.add(worker)
        try:
            async with asyncio.timeout(self._start_timeout_s):
                header, _ = await read_frame_async(worker.stdout)
        except (TimeoutError, asyncio.IncompleteReadError, ValueError):
            await self._kill(worker)
            self._workers.discard(worker)
            raise Unavailable(
                f"a query worker did not start ({_signal_name(proc.returncode or 0)}; a "
                f"memory cap of {self.memory_bytes} bytes may be too small to load DataFusion)",
                reason="query_worker_failed",
            ) from None
        worker.info = header
        return worker

    async def _kill(self, worker: _Worker) -> None:
        if worker.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                worker.proc.kill()
        await worker.proc.wait()

    def _discard(self, worker: _Worker) -> None:
        """Kill ``worker`` (if it lives) and start its replacement in the background."""
        if worker.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                worker.proc.kill()
        self._workers.discard(worker)
        if self._closed:
            return
        task = asyncio.create_task(self._replace(worker), name="query-worker-replace")
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def _replace(self, old: _Worker) -> None:
        await old.proc.wait()
        backoff = 0.5
        while not self._closed:
            try:
                worker = await self._spawn()
            except Unavailable as exc:
                log.error("query_worker_start_failed", error=exc.message, retry_in_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if self._closed:
                self._workers.add(worker)
                return
            self._idle.put_nowait(worker)
            return

    async def _acquire(self, wait_s: float) -> _Worker:
        if self._waiting >= self._max_waiting:
            self.stats["busy"] += 1
            raise _busy(self._max_waiting)
        self._waiting += 1
        try:
            async with asyncio.timeout(wait_s):
                while True:
                    worker = await self._idle.get()
                    if worker.proc.returncode is None and worker in self._workers:
                        return worker
                    self._discard(worker)  # died while idle
        except TimeoutError:
            self.stats["busy"] += 1
            raise _busy(self._max_waiting) from None
        finally:
            self._waiting -= 1

    # -- queries -----------------------------------------------------------------------

    async def run_job(self, job: PoolJob) -> _Encoded:
        """Run ``job`` in a free worker: (data, content type, rows, truncated)."""
        if not self._started:
            await self.start()
        if self._closed:
            raise Unavailable("the query pool is shut down", reason="query_pool_closed")
        timeout_s = job.limits.timeout_s
        worker = await self._acquire(timeout_s)
        self.stats["queries"] += 1
        self._busy += 1
        try:
            header, blobs = await self._exchange(worker, job)
        except TimeoutError:
            self.stats["timeouts"] += 1
            log.warning("query_worker_timed_out", pid=worker.pid, timeout_s=timeout_s)
            self._discard(worker)
            raise timed_out(timeout_s) from None
        except _WorkerDied:
            returncode = await worker.proc.wait()
            self._discard(worker)
            if self._closed:
                raise Unavailable("the api is shutting down", reason="query_pool_closed") from None
            raise self._death(worker, returncode) from None
        except BaseException:
            # Cancelled by the caller (or a bug on this side): the worker may still be
            # running the query; only killing it gives its CPU back.
            self.stats["cancelled"] += 1
            self._discard(worker)
            raise
        finally:
            self._busy -= 1
        worker.held = frozenset(header.get("held", ()))
        worker.queries += 1
        if header.get("retire"):
            self.stats["retired"] += 1
            self._discard(worker)
        else:
            self._idle.put_nowait(worker)
        if not header.get("ok"):
            raise _rebuild(header)
        return (
            blobs[0],
            str(header["content_type"]),
            int(header["rows"]),
            bool(header["truncated"]),
        )

    async def _exchange(self, worker: _Worker, job: PoolJob) -> tuple[dict[str, Any], list[bytes]]:
        held = worker.held
        encoded: dict[str, bytes] = {}
        for table in job.tables:
            if table.key not in held and table.key not in encoded:
                encoded[table.key] = await asyncio.to_thread(_encode, table.load)
        async with asyncio.timeout(job.limits.timeout_s + KILL_GRACE_S):
            header, blobs = await self._send(worker, job, encoded)
            missing = header.get("missing")
            if missing:
                # The worker lacks a table this side thought it held: send them all.
                for table in job.tables:
                    if table.key not in encoded:
                        encoded[table.key] = await asyncio.to_thread(_encode, table.load)
                header, blobs = await self._send(worker, job, encoded)
        return header, blobs

    async def _send(
        self, worker: _Worker, job: PoolJob, encoded: Mapping[str, bytes]
    ) -> tuple[dict[str, Any], list[bytes]]:
        blobs: list[bytes] = []
        entries = []
        for table in job.tables:
            blob = encoded.get(table.key)
            index = None
            if blob is not None:
                index = len(blobs)
                blobs.append(blob)
            entries.append({"name": list(table.name), "key": table.key, "blob": index})
        request = {
            "op": "query",
            "kind": job.kind,
            "sql": job.sql,
            "fmt": job.fmt.value,
            "limits": dataclasses.asdict(job.limits),
            "tables": entries,
        }
        try:
            await write_frame_async(worker.stdin, request, blobs)
            self.stats["tables_sent"] += len(blobs)
            return await read_frame_async(worker.stdout)
        except (asyncio.IncompleteReadError, ConnectionError, BrokenPipeError):
            raise _WorkerDied from None

    def _death(self, worker: _Worker, returncode: int) -> ArcoError:
        how = _signal_name(returncode)
        if returncode < 0 and -returncode in _MEMORY_DEATHS:
            self.stats["memory_deaths"] += 1
            log.warning("query_worker_died_on_memory_cap", pid=worker.pid, how=how)
            return too_expensive(
                f"it exceeded the memory cap of its worker ({self.memory_bytes} bytes; the "
                f"worker was stopped by {how} and replaced)"
            )
        self.stats["crashes"] += 1
        log.error("query_worker_crashed", pid=worker.pid, how=how)
        return Unavailable(
            f"the query worker exited unexpectedly ({how}); it was replaced",
            reason="query_worker_failed",
        )


def _encode(load: Callable[[], pa.Table]) -> bytes:
    return encode_table(load())


def _busy(max_waiting: int) -> ResourceExhausted:
    return ResourceExhausted(
        f"every query worker is busy (at most {max_waiting} queries wait); retry shortly",
        reason="query_pool_busy",
        metadata={"retry_after_sec": "1"},
    )


def _rebuild(header: Mapping[str, Any]) -> ArcoError:
    try:
        code = ErrorCode(str(header.get("code")))
    except ValueError:
        code = ErrorCode.INTERNAL
    reason = str(header.get("reason") or "")
    cls = error_class(code, reason)
    return cls(str(header.get("message") or "query failed"), reason=reason or None)
