"""The dispatcher's loop: react to each published head, dispatch what became ready."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import grpc
import structlog

from arco_core.orchestration.controllers import pending_dispatches, ready_dispatches
from services.common.committer import EventCommitter
from services.common.compactor_client import CompactorClient
from services.common.dispatch_loop import Sender, SendSummary

log = structlog.get_logger(__name__)


@dataclass
class PassSummary:
    ready_dispatch_emitted: int = 0
    send: SendSummary = field(default_factory=SendSummary)
    manifest_seq: int = 0


class DispatchLoop:
    """Subscribes to the orchestration compactor's head stream (a timer only as a safety
    net) and runs one pass per new head: ready → DispatchRequested, PENDING outbox rows →
    envelopes → DispatchEnqueued."""

    def __init__(
        self,
        committer: EventCommitter,
        compactor: CompactorClient,
        sender: Sender,
        *,
        safety_tick_sec: float = 5.0,
    ) -> None:
        self._committer = committer
        self._compactor = compactor
        self._sender = sender
        self._safety_tick = safety_tick_sec
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._pass_lock = asyncio.Lock()
        self._inflight: set[str] = set()
        self.passes = 0
        self.sent = 0
        self.last_seq = 0

    async def run(self) -> None:
        watcher = asyncio.create_task(self._watch())
        try:
            while not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._safety_tick)
                self._wake.clear()
                if self._stopping.is_set():
                    break
                try:
                    await self.run_pass()
                except Exception as exc:  # one failed pass must not stop dispatching
                    log.warning("dispatch_pass_failed", error=repr(exc))
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _watch(self) -> None:
        delay = 0.1
        while not self._stopping.is_set():
            try:
                async for head in self._compactor.watch(self.last_seq):
                    delay = 0.1
                    if head.manifest_seq > self.last_seq:
                        self._wake.set()
            except grpc.aio.AioRpcError as exc:
                log.info("head_stream_lost", code=exc.code().name)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            self._wake.set()  # catch up on anything missed while disconnected

    async def run_pass(self) -> PassSummary:
        async with self._pass_lock:
            summary = PassSummary()
            snapshot = await self._committer.reader.refresh()
            intents = ready_dispatches(snapshot.state)
            if intents:
                snapshot = await self._committer.commit([self._sender.event(p) for p in intents])
                summary.ready_dispatch_emitted = len(intents)
            actions = pending_dispatches(snapshot.state, exclude=self._inflight)
            self._inflight.update(a.dispatch_id for a in actions)
            try:
                await self._sender.send_all(actions, summary.send)
            finally:
                self._inflight.difference_update(a.dispatch_id for a in actions)
            self.passes += 1
            self.sent += summary.send.enqueued + summary.send.deduplicated
            self.last_seq = max(self.last_seq, snapshot.seq or 0)
            summary.manifest_seq = self.last_seq
            return summary

    async def shutdown(self) -> None:
        self._stopping.set()
        self._wake.set()
