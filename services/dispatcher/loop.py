"""The dispatcher's loop: react to each published head, dispatch what became ready."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import structlog

from arco_core.automation.sensor_polls import pending_sensor_dispatches
from arco_core.envelope import EventEnvelope
from arco_core.orchestration.decisions import (
    pending_dispatches,
    ready_dispatches,
    requested_dispatches,
)
from arco_core.orchestration.fold import FoldState
from services.common.committer import EventCommitter
from services.common.head_follower import HeadFollower
from services.common.sender import Sender, SendSummary

log = structlog.get_logger(__name__)


@dataclass
class PassSummary:
    ready_dispatch_emitted: int = 0
    send: SendSummary = field(default_factory=SendSummary)
    manifest_seq: int = 0


@dataclass
class _UnfoldedAcks:
    """DispatchEnqueued acknowledgements durable in the ledger, not folded yet."""

    paths: list[str] = field(default_factory=list)
    dispatch_ids: set[str] = field(default_factory=set)
    due: float | None = None  # loop time by which they are folded


class DispatchLoop:
    """Runs one pass per new head of the orchestration compactor (a timer only as a safety
    net): ready → DispatchRequested, sent as soon as it is durable; PENDING outbox rows →
    envelopes; accepted sends → DispatchEnqueued.

    Nothing waits for an acknowledgement's fold: acknowledgements are appended at once
    and folded with the next pass's requests, or after ``ack_fold_delay_sec`` when no
    request comes, and their attempts are not resent meanwhile. So a task's hop costs
    one publish (and one refresh of every reader) less.
    """

    def __init__(
        self,
        committer: EventCommitter[FoldState],
        heads: HeadFollower[FoldState],
        sender: Sender,
        *,
        safety_tick_sec: float = 5.0,
        ack_fold_delay_sec: float = 0.5,
    ) -> None:
        self._committer = committer
        self._heads = heads
        self._sender = sender
        self._safety_tick = safety_tick_sec
        self._ack_fold_delay = ack_fold_delay_sec
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._pass_lock = asyncio.Lock()
        self._inflight: set[str] = set()
        self._acks = _UnfoldedAcks()
        self.passes = 0
        self.sent = 0
        self.last_seq = 0
        heads.add_listener(self._wake.set)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not self._stopping.is_set():
                timeout = self._safety_tick
                if self._acks.due is not None:
                    timeout = max(0.0, min(timeout, self._acks.due - loop.time()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                self._wake.clear()
                if self._stopping.is_set():
                    break
                try:
                    await self.run_pass()
                except Exception as exc:  # one failed pass must not stop dispatching
                    log.warning("dispatch_pass_failed", error=repr(exc))
        finally:
            with contextlib.suppress(Exception):
                async with self._pass_lock:
                    await self._fold([])

    async def run_pass(self) -> PassSummary:
        async with self._pass_lock:
            summary = PassSummary()
            # At least this loop's own last fold: the stream may not have announced it yet,
            # and a state without it would resend what that fold acknowledged.
            snapshot = await self._heads.snapshot(min_seq=self.last_seq)
            self.last_seq = max(self.last_seq, snapshot.seq or 0)
            actions = pending_dispatches(
                snapshot.state, exclude=self._inflight | self._acks.dispatch_ids
            )
            intents = ready_dispatches(snapshot.state)
            folding: asyncio.Task[None] | None = None
            if intents:
                paths = await self._committer.append([self._sender.event(p) for p in intents])
                # Durable now: send at once while the compactor folds the requests. The
                # api judges a callback that outruns that fold as the fold will leave
                # the task, so the fold is off the dispatch path.
                folding = asyncio.create_task(self._fold(paths))
                actions += requested_dispatches(snapshot.state, intents)
                summary.ready_dispatch_emitted = len(intents)
            elif self._acks.due is not None and asyncio.get_running_loop().time() >= self._acks.due:
                folding = asyncio.create_task(self._fold([]))
            sensor_evals = pending_sensor_dispatches(
                snapshot.state, exclude=self._inflight | self._acks.dispatch_ids
            )
            self._inflight.update(a.dispatch_id for a in actions)
            self._inflight.update(e.eval_id for e in sensor_evals)
            try:
                acks = await self._sender.send_all(actions, summary.send)
                acks += await self._sender.send_sensor_evaluations(sensor_evals, summary.send)
                if acks:
                    self._note_acks(await self._committer.append(acks), acks)
            finally:
                self._inflight.difference_update(a.dispatch_id for a in actions)
                self._inflight.difference_update(e.eval_id for e in sensor_evals)
                if folding is not None:
                    await folding
            self.passes += 1
            self.sent += summary.send.enqueued + summary.send.deduplicated
            summary.manifest_seq = self.last_seq
            return summary

    def _note_acks(self, paths: list[str], acks: list[EventEnvelope]) -> None:
        self._acks.paths.extend(paths)
        self._acks.dispatch_ids.update(
            str(a.data.get("dispatch_id") or a.data["eval_id"]) for a in acks
        )
        if self._acks.due is None:
            self._acks.due = asyncio.get_running_loop().time() + self._ack_fold_delay

    async def _fold(self, paths: list[str]) -> None:
        """Fold ``paths`` together with the acknowledgements not folded yet."""
        acks, self._acks = self._acks, _UnfoldedAcks()
        if not paths and not acks.paths:
            return
        try:
            seq = await self._committer.compact([*paths, *acks.paths])
        except BaseException:
            # Still durable in the ledger: fold them with the next pass.
            self._acks.paths[:0] = acks.paths
            self._acks.dispatch_ids |= acks.dispatch_ids
            if acks.due is not None:
                self._acks.due = min(acks.due, self._acks.due or acks.due)
            raise
        self.last_seq = max(self.last_seq, seq)

    async def shutdown(self) -> None:
        self._stopping.set()
        self._wake.set()
