"""The automation loop: sleep until the next schedule tick (or a new head), then write the
records of the stored schedules' due ticks, each with the run it requests, one batch per
schedule."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from prometheus_client import CollectorRegistry, Counter

from arco_core.automation.triggers import next_tick_ms as next_schedule_tick_ms
from arco_core.automation.triggers import tick_batches
from arco_core.clock import Clock
from arco_core.envelope import EventEnvelope
from arco_core.errors import ArcoError
from arco_core.orchestration.events import make_event
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.state import ScheduleRow
from arco_core.paths import Scope
from services.common.committer import EventCommitter
from services.common.head_follower import HeadFollower

log = structlog.get_logger(__name__)


class ScheduleMetrics:
    """The counters of every scope's schedule loop in one process (registered once)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.passes = Counter("arco_automation_passes", "Schedule evaluations.", registry=registry)
        self.triggered = Counter(
            "arco_automation_ticks_triggered",
            "Tick runs requested (a racing process may request the same).",
            registry=registry,
        )


class ScheduleLoop:
    """A background loop with ``run()``/``shutdown()``. Each pass reads the published
    state, writes the due ticks' records and runs and sleeps until the next tick, a new
    head (a deploy or an api call may change a schedule) or the safety tick, whichever
    comes first."""

    def __init__(
        self,
        committer: EventCommitter[FoldState],
        heads: HeadFollower[FoldState],
        scope: Scope,
        clock: Clock,
        *,
        safety_tick_sec: float = 60.0,
        clock_rate: float = 1.0,
        metrics: ScheduleMetrics | None = None,
    ) -> None:
        self._committer = committer
        self._heads = heads
        self._scope = scope
        self._clock = clock
        self._safety_tick = safety_tick_sec
        self._clock_rate = clock_rate  # clock ms per real ms (a warped test clock)
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self.passes = 0
        self.triggered = 0
        self.recorded = 0  # tick batches committed
        metrics = metrics or ScheduleMetrics(CollectorRegistry())  # tests need no exporter
        self._passes_metric = metrics.passes
        self._triggered_metric = metrics.triggered
        heads.add_listener(self._wake.set)

    async def run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                schedules = await self.run_pass()
            except (ArcoError, OSError) as exc:  # storage or compactor trouble: retry soon
                log.warning("automation_pass_failed", error=repr(exc))
                schedules = []
            await self._sleep(schedules)

    async def run_pass(self) -> list[ScheduleRow]:
        """One evaluation; the schedules it saw (for the next sleep)."""
        state = (await self._heads.snapshot()).state
        batches = tick_batches(
            state,
            self._clock.now_ms(),
            tenant_id=self._scope.tenant_id,
            workspace_id=self._scope.workspace_id,
        )
        for batch in batches:
            # Built in order, so event ids rise: a tick's record folds before its run.
            events: list[EventEnvelope] = [
                make_event(
                    p,
                    tenant_id=self._scope.tenant_id,
                    workspace_id=self._scope.workspace_id,
                    source="automation",
                )
                for p in batch.payloads
            ]
            await self._committer.commit(events, request_id=batch.request_id)
            self.triggered += batch.triggered
            self.recorded += 1
            self._triggered_metric.inc(batch.triggered)
            log.info(
                "schedule_ticks_recorded",
                schedule_id=batch.schedule_id,
                first_tick_id=batch.request_id,
                events=len(events),
                triggered=batch.triggered,
            )
        self.passes += 1  # counted once its writes are done
        self._passes_metric.inc()
        return state.schedules()

    async def _sleep(self, schedules: list[ScheduleRow]) -> None:
        timeout = self._safety_tick
        upcoming = next_schedule_tick_ms(schedules, self._clock.now_ms())
        if upcoming is not None:
            wait_ms = (upcoming - self._clock.now_ms()) / self._clock_rate
            timeout = min(timeout, max(0.0, wait_ms / 1000))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def poke(self) -> None:
        """Evaluate now (tests that move an injected clock)."""
        self._wake.set()

    async def shutdown(self) -> None:
        self._stopping.set()
        self._wake.set()
