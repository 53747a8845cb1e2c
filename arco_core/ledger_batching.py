"""Group append: concurrent callers of one process share ledger segment objects.

An api or dispatcher process appends for many requests at once; paying one crash-safe put
per request would make the ledger the bottleneck. :class:`BatchingLedgerWriter` queues the
checked events of everybody waiting and writes them together through
:meth:`LedgerWriter.append_checked <arco_core.ledger.LedgerWriter.append_checked>`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

import structlog

from arco_core.envelope import EventEnvelope
from arco_core.errors import Conflict, InvalidArgument
from arco_core.ledger import MAX_SEGMENT_EVENTS, LedgerWriter

__all__ = ["BatchingLedgerWriter"]

_log = structlog.get_logger(__name__)


@dataclass
class _Waiter:
    envelopes: list[EventEnvelope]
    future: asyncio.Future[list[str]]


class BatchingLedgerWriter:
    """Group append: concurrent callers share segment objects (pure asyncio).

    ``append`` validates the caller's events at once (a bad event fails only its caller),
    then queues them. Up to ``max_in_flight`` puts run at a time; everything queued while
    they are busy (up to ``max_events`` per put) goes out in the next one, so batches grow
    with load and an idle writer adds no delay. Each caller gets the paths holding its
    events, usually one segment shared with the other callers of its group (a lone event
    is written as a plain event object). If a group's segment conflicts with an existing
    object, its callers fall back to one object per event, so nobody fails because of a
    neighbour.
    """

    def __init__(
        self,
        writer: LedgerWriter,
        *,
        max_events: int = 1000,
        max_in_flight: int = 4,
        linger_s: float = 0.0,
    ) -> None:
        if not 1 <= max_events <= MAX_SEGMENT_EVENTS:
            raise InvalidArgument(f"max_events must be in 1..{MAX_SEGMENT_EVENTS}")
        if max_in_flight < 1 or linger_s < 0:
            raise InvalidArgument("max_in_flight must be >= 1 and linger_s >= 0")
        self._writer = writer
        self._max_events = max_events
        self._max_in_flight = max_in_flight
        self._linger_s = linger_s
        self._queue: list[_Waiter] = []
        self._in_flight = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.puts = 0  # objects written (for metrics and benchmarks)

    @property
    def domain(self) -> str:
        return self._writer.domain

    async def append(self, envelopes: Iterable[EventEnvelope]) -> list[str]:
        """Durably append the events; returns the paths (to compact) holding them."""
        checked = [self._writer.check(e) for e in envelopes]
        if not checked:
            return []
        waiter = _Waiter(checked, asyncio.get_running_loop().create_future())
        self._queue.append(waiter)
        self._schedule()
        return await waiter.future

    async def append_all(self, envelopes: Iterable[EventEnvelope]) -> list[str]:
        """Same as :meth:`append` (a drop-in for ``LedgerWriter.append_all`` callers)."""
        return await self.append(envelopes)

    async def aclose(self) -> None:
        """Wait until every queued append has been written."""
        while self._queue or self._tasks:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            else:
                await asyncio.sleep(0)

    def _schedule(self) -> None:
        if self._scheduled:
            return
        self._scheduled = True
        loop = asyncio.get_running_loop()
        if self._linger_s:
            loop.call_later(self._linger_s, self._dispatch)
        else:
            # Appends made in the same loop iteration join one group.
            loop.call_soon(self._dispatch)

    def _dispatch(self) -> None:
        self._scheduled = False
        while self._queue and self._in_flight < self._max_in_flight:
            group = [self._queue.pop(0)]
            total = len(group[0].envelopes)
            while self._queue and total + len(self._queue[0].envelopes) <= self._max_events:
                total += len(self._queue[0].envelopes)
                group.append(self._queue.pop(0))
            self._in_flight += 1
            task = asyncio.get_running_loop().create_task(self._flush(group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _flush(self, group: list[_Waiter]) -> None:
        try:
            await self._write_group(group)
        finally:
            self._in_flight -= 1
            if self._queue:
                self._schedule()

    async def _write_group(self, group: list[_Waiter]) -> None:
        try:
            # Every event was checked by ``append``; encode and write without re-checking.
            path_of = await self._writer.append_checked(e for w in group for e in w.envelopes)
            self.puts += len(set(path_of.values()))
        except (Conflict, InvalidArgument) as exc:
            if len(group) == 1:
                _settle(group[0], exc=exc)
                return
            # A neighbour's event clashes with the ledger: write each caller on its own.
            _log.info("ledger_group_append_split", size=len(group), error=repr(exc))
            for waiter in group:
                try:
                    result = await self._writer.append_all(waiter.envelopes)
                    self.puts += len(result)
                    _settle(waiter, paths=list(dict.fromkeys(result)))
                except Exception as single:
                    _settle(waiter, exc=single)
            return
        except BaseException as exc:
            for waiter in group:
                _settle(waiter, exc=exc)
            if not isinstance(exc, Exception):
                raise
            return
        for waiter in group:
            _settle(
                waiter, paths=list(dict.fromkeys(path_of[e.event_id] for e in waiter.envelopes))
            )


def _settle(
    waiter: _Waiter, *, paths: list[str] | None = None, exc: BaseException | None = None
) -> None:
    if waiter.future.done():  # the caller went away
        return
    if exc is not None:
        waiter.future.set_exception(exc)
    else:
        waiter.future.set_result(paths or [])
