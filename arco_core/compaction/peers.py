"""Announce heads that another compactor of the same scope published.

Two compactors may serve one scope (racing: the loser of a manifest sequence catches up
and retries). Readers follow one compactor's head stream and trust it, so a compactor
that is idle while its peer publishes must still learn of, and announce, the peer's
heads; else its followers keep serving the state of its own last commit.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from arco_core.compaction.engine import Compactor
from arco_core.errors import StorageError

log = structlog.get_logger(__name__)


class PeerHeads:
    """A background loop (``run()``/``shutdown()``): every ``interval_s`` it adopts the
    published head if a peer moved it (one head probe of the store)."""

    def __init__(self, engine: Compactor[object], interval_s: float = 1.0) -> None:
        self._engine = engine
        self._interval_s = interval_s
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval_s)
            if self._stop.is_set():
                return
            try:
                await self._engine.adopt_published_head()
            except StorageError as exc:  # a flaky store: the next probe tries again
                log.warning(
                    "compactor_peer_head_failed", domain=self._engine.domain, error=str(exc)
                )

    async def shutdown(self) -> None:
        self._stop.set()
