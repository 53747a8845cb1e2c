"""Follow a compactor's head stream: know the newest published manifest, load it early."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Generic

import grpc
import structlog

from arco_core.projections import S
from arco_core.published import ProjectionReader, Snapshot
from services.common.compactor_client import CompactorClient

log = structlog.get_logger(__name__)

RECONNECT_MIN_SEC = 0.1
RECONNECT_MAX_SEC = 2.0


class HeadFollower(Generic[S]):
    """A background loop (``run()``/``shutdown()``) on one compactor's WatchHead stream.

    It records the newest published sequence, calls the listeners, and has the reader
    load each new head as it is published, so :meth:`snapshot` usually finds the state
    already loaded. A lost stream is reconnected with backoff; listeners are woken on
    every reconnect, since heads may have been missed meanwhile.
    """

    def __init__(self, compactor: CompactorClient, reader: ProjectionReader[S]) -> None:
        self._compactor = compactor
        self._reader = reader
        self._listeners: list[Callable[[], None]] = []
        self._stopping = asyncio.Event()
        self._wanted = -1
        self._loader: asyncio.Task[None] | None = None
        self.latest_seq: int | None = None
        self._floor_seq = 0
        # True while the stream is up and has announced the head (the compactor sends
        # the current head first on every connection).
        self.live = False

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (no arguments, must not block) on every new head."""
        self._listeners.append(listener)

    def note(self, seq: int) -> None:
        """A manifest this process had the compactor publish: :meth:`snapshot` returns at
        least that state, though the stream may not have announced it yet."""
        self._floor_seq = max(self._floor_seq, seq)

    async def snapshot(self, *, min_seq: int | None = None) -> Snapshot[S]:
        """The newest published state, at least ``min_seq`` and every noted commit: the
        head the live stream announced (no probing of storage for it), or the storage
        head while the stream is down."""
        if self.live and self.latest_seq is not None:
            seq = max(self.latest_seq, self._floor_seq, min_seq or 0)
            return await self._reader.advance_to(seq)
        return await self._reader.refresh()  # the storage head is at least any commit

    def _wake(self) -> None:
        for listener in self._listeners:
            listener()

    def _load(self, seq: int) -> None:
        self._wanted = max(self._wanted, seq)
        if self._loader is None or self._loader.done():
            self._loader = asyncio.create_task(self._load_wanted(), name="head-follower-load")

    async def _load_wanted(self) -> None:
        # The stream named the head: read that manifest, no probing of storage for it.
        current = self._reader.current
        while current is None or current.seq is None or current.seq < self._wanted:
            try:
                current = await self._reader.advance_to(self._wanted)
            except Exception as exc:  # callers load on demand; this is only a head start
                log.info("head_preload_failed", error=repr(exc))
                return

    async def run(self) -> None:
        follower = asyncio.create_task(self._follow(), name="head-follower-stream")
        try:
            await self._stopping.wait()
        finally:
            for task in (follower, self._loader):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _follow(self) -> None:
        delay = RECONNECT_MIN_SEC
        while True:
            try:
                # From just below the newest head known: the compactor answers with its
                # current head at once, which tells the stream is live.
                after = max((self.latest_seq or 0) - 1, 0)
                async for head in self._compactor.watch(after):
                    delay = RECONNECT_MIN_SEC
                    self.live = True
                    if self.latest_seq is None or head.manifest_seq > self.latest_seq:
                        self.latest_seq = head.manifest_seq
                        self._wake()
                        self._load(head.manifest_seq)
            except grpc.aio.AioRpcError as exc:
                log.info("head_stream_lost", code=exc.code().name)
            finally:
                self.live = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SEC)
            self._wake()  # catch up on anything missed while disconnected

    async def shutdown(self) -> None:
        self._stopping.set()
        self._wake()
