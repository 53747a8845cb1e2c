"""The sweeper: anti-entropy over the published projection.

Each sweep first folds any ledger objects the compactor never saw (an api that crashed
between append and compaction), so repairs act on fresh state: every object after the
watermark and, within the look-back, every object no fold record names, below the
watermark too (see :mod:`arco_core.fold_records`); then it re-requests
READY tasks without dispatch, re-creates missing outbox rows, re-sends stale dispatches
under a repair-scoped id, starts due retries, and fails RUNNING tasks whose heartbeats
stopped. It sleeps until the next repair falls due, at most the configured interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import structlog

from arco_core.clock import Clock
from arco_core.fold_records import FoldRecordIndex, find_unfolded
from arco_core.ledger import LedgerReader
from arco_core.orchestration.decisions import SweepThresholds, plan_sweep
from arco_core.orchestration.fold import FoldState
from services.common.committer import EventCommitter
from services.common.sender import Sender, SendSummary

log = structlog.get_logger(__name__)

# Ledger objects asked for in one compaction request; the rest wait for the next sweep.
MAX_UNFOLDED_PER_SWEEP = 10_000


@dataclass
class SweepSummary:
    unfolded_events_compacted: int = 0
    repairs_created: int = 0
    tasks_force_failed: int = 0
    redispatch: SendSummary = field(default_factory=SendSummary)
    skipped_due_to_lag: int = 0
    manifest_seq: int = 0
    next_due_ms: int | None = None


class SweepLoop:
    def __init__(
        self,
        committer: EventCommitter[FoldState],
        ledger: LedgerReader,
        sender: Sender,
        clock: Clock,
        thresholds: SweepThresholds,
        *,
        fold_records: FoldRecordIndex,
        interval_sec: float,
        lookback_ms: int,
    ) -> None:
        self._committer = committer
        self._ledger = ledger
        self._fold_records = fold_records
        self._lookback_ms = lookback_ms
        self._sender = sender
        self._clock = clock
        self._thresholds = thresholds
        self._interval = interval_sec
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()

    async def run(self) -> None:
        while not self._stopping.is_set():
            delay = self._interval
            try:
                summary = await self.sweep()
                if summary.next_due_ms is not None:
                    until_due = (summary.next_due_ms - self._clock.now_ms()) / 1000
                    delay = min(delay, max(until_due, 0.05))
            except Exception as exc:  # the next sweep retries; a sweep must never kill the loop
                log.warning("sweep_failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def sweep(self, *, dry_run: bool = False) -> SweepSummary:
        async with self._lock:
            summary = SweepSummary()
            snapshot = await self._committer.reader.refresh()
            watermark = snapshot.manifest.last_event_id if snapshot.manifest else None
            unfolded = await find_unfolded(
                self._ledger,
                self._fold_records,
                watermark=watermark,
                since_ms=self._clock.now_ms() - self._lookback_ms,
                limit=MAX_UNFOLDED_PER_SWEEP,
            )
            if unfolded and not dry_run:
                answer = await self._committer.compactor.compact(unfolded)
                snapshot = await self._committer.reader.refresh(min_seq=answer.manifest_seq)
                summary.unfolded_events_compacted = answer.events_applied
                if answer.events_applied:
                    log.info("sweep_folded_lost_events", events=answer.events_applied)
            elif unfolded:
                summary.skipped_due_to_lag = len(unfolded)
            plan = plan_sweep(snapshot.state, self._clock.now_ms(), self._thresholds)
            summary.repairs_created = len(plan.events) + len(plan.redispatch)
            summary.tasks_force_failed = len(plan.force_failed)
            summary.next_due_ms = plan.next_due_ms
            summary.manifest_seq = snapshot.seq or 0
            if dry_run:
                return summary
            if plan.events:
                snapshot = await self._committer.commit(
                    [self._sender.event(e) for e in plan.events]
                )
                summary.manifest_seq = snapshot.seq or 0
                log.info(
                    "sweep_repaired",
                    events=len(plan.events),
                    force_failed=plan.force_failed,
                    reasons=sorted(set(plan.reasons.values())),
                )
            if plan.redispatch:
                acks = await self._sender.send_all(plan.redispatch, summary.redispatch)
                if acks:
                    await self._committer.commit(acks)
            return summary

    async def shutdown(self) -> None:
        self._stopping.set()
