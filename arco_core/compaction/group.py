"""Group commit: concurrent compaction requests share one fold and one publish.

Requests queue up while a commit is in flight; the next commit takes everything queued
(up to a bound) as one batch, so publish cost is paid once per group instead of once per
request. If a group fails, its requests are retried one by one so a bad request fails
alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import structlog

from arco_core.compaction.engine import CommitResult, Compactor
from arco_core.compaction.retention import Retention
from arco_core.errors import Unavailable

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class GroupResult:
    commit: CommitResult
    group_size: int
    # This request's own events: applied now, or skipped (already folded, rejected).
    applied: int
    skipped: int


@dataclass
class _Request:
    paths: list[str]
    future: asyncio.Future[GroupResult]


class GroupCommitter:
    """A background loop with ``run()``/``shutdown()`` that owns the compactor's writes."""

    def __init__(
        self,
        engine: Compactor[Any],
        *,
        max_batch_paths: int = 5000,
        merge_when_idle: bool = True,
        retention: Retention[Any] | None = None,
        retention_interval_s: float = 3600.0,
    ) -> None:
        self._engine = engine
        self._retention = retention
        self._retention_interval_s = retention_interval_s
        # One interval after start: a compactor in a restart loop does not rescan storage.
        self._retention_due = time.monotonic() + retention_interval_s
        self._retaining: asyncio.Task[None] | None = None
        self._max_batch_paths = max_batch_paths
        self._merge_when_idle = merge_when_idle
        self._queue: asyncio.Queue[_Request] = asyncio.Queue()
        self._stopping = False
        self._stopped = asyncio.Event()
        self._merging: asyncio.Task[None] | None = None

    async def submit(self, paths: list[str]) -> GroupResult:
        if self._stopping:
            raise Unavailable("the compactor is shutting down", reason="shutting_down")
        request = _Request(list(paths), asyncio.get_running_loop().create_future())
        await self._queue.put(request)
        return await request.future

    async def run(self) -> None:
        try:
            while not (self._stopping and self._queue.empty()):
                try:
                    first = await asyncio.wait_for(self._queue.get(), timeout=0.5)
                except TimeoutError:
                    await self._maybe_merge()
                    self._maybe_retain()
                    continue
                group = [first]
                total = len(first.paths)
                while not self._queue.empty() and total < self._max_batch_paths:
                    item = self._queue.get_nowait()
                    group.append(item)
                    total += len(item.paths)
                await self._commit(group)
                if self._queue.empty():
                    await self._maybe_merge()
        finally:
            if self._retaining is not None:
                # Safe to stop anywhere: removals are idempotent and rows expire in one commit.
                self._retaining.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._retaining
            if self._merging is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._merging
            await self._engine.flush_fold_records()
            self._stopped.set()

    async def _commit(self, group: list[_Request]) -> None:
        live = [r for r in group if not r.future.done()]
        if not live:
            return
        paths = [p for r in live for p in r.paths]
        try:
            result = await self._engine.compact(paths)
        except Exception as exc:
            if len(live) == 1:
                _settle(live[0], exc=exc)
                return
            log.info("group_commit_split", size=len(live), error=repr(exc))
            for request in live:
                await self._commit([request])
            return
        for request in live:
            # A shared segment counts for every request that named it.
            ids = {i for path in request.paths for i in result.event_ids.get(path, ())}
            applied = len(ids & result.applied_ids)
            _settle(request, result=GroupResult(result, len(live), applied, len(ids) - applied))

    async def _maybe_merge(self) -> None:
        # In the background: a merge holds the commit lock only to take the tables and to
        # publish, and requests that arrive meanwhile are committed as usual.
        if self._merging is None and self._merge_when_idle and self._engine.merge_due():
            self._merging = asyncio.create_task(self._merge(), name="compactor-merge")

    def _maybe_retain(self) -> None:
        now = time.monotonic()
        if self._retention is None or self._retaining is not None or now < self._retention_due:
            return
        self._retention_due = now + self._retention_interval_s
        self._retaining = asyncio.create_task(self._retain(self._retention), name="retention")

    async def _retain(self, retention: Retention[Any]) -> None:
        try:
            await retention.apply()
        except Exception as exc:  # whatever was not removed is removed by the next pass
            log.warning("retention_failed", error=repr(exc))
        finally:
            self._retaining = None

    async def _merge(self) -> None:
        try:
            await self._engine.merge()
        except Exception as exc:  # a failed merge leaves the deltas in place; retry later
            log.warning("merge_failed", error=repr(exc))
        finally:
            self._merging = None

    async def shutdown(self) -> None:
        """Stop accepting requests; those already queued are committed first."""
        self._stopping = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), timeout=30)


def _settle(
    request: _Request, *, result: GroupResult | None = None, exc: BaseException | None = None
) -> None:
    if request.future.done():
        return
    if exc is not None:
        request.future.set_exception(exc)
    else:
        assert result is not None
        request.future.set_result(result)
