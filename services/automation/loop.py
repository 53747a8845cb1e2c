"""The automation loop: sleep until the next schedule tick (or a new head), then write
the runs of the ticks that are due and have none yet."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from arco_core.automation.triggers import DeployedSchedule, deployed_schedules, due_tick_runs
from arco_core.automation.triggers import next_tick_ms as next_schedule_tick_ms
from arco_core.clock import Clock
from arco_core.envelope import EventEnvelope
from arco_core.errors import ArcoError
from arco_core.orchestration.events import make_event
from arco_core.orchestration.fold import FoldState
from arco_core.paths import Scope
from services.common.committer import EventCommitter
from services.common.head_follower import HeadFollower

log = structlog.get_logger(__name__)


class ScheduleLoop:
    """A background loop with ``run()``/``shutdown()``. Each pass reads the published
    state, writes the due ticks' runs and sleeps until the next tick, a new head (a
    deploy may add a schedule) or the safety tick, whichever comes first."""

    def __init__(
        self,
        committer: EventCommitter[FoldState],
        heads: HeadFollower[FoldState],
        scope: Scope,
        clock: Clock,
        *,
        safety_tick_sec: float = 60.0,
    ) -> None:
        self._committer = committer
        self._heads = heads
        self._scope = scope
        self._clock = clock
        self._safety_tick = safety_tick_sec
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._manifests: dict[str, list[Any]] = {}
        self.passes = 0
        self.triggered = 0
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

    async def run_pass(self) -> list[DeployedSchedule]:
        """One evaluation; the schedules it saw (for the next sleep)."""
        state = (await self._heads.snapshot()).state
        schedules = deployed_schedules(state, self._manifests)
        now = self._clock.now_ms()
        due = due_tick_runs(
            state,
            schedules,
            now,
            tenant_id=self._scope.tenant_id,
            workspace_id=self._scope.workspace_id,
        )
        self.passes += 1
        for tick, plan in due:
            events: list[EventEnvelope] = [
                make_event(
                    p,
                    tenant_id=self._scope.tenant_id,
                    workspace_id=self._scope.workspace_id,
                    source="automation",
                )
                for p in (plan.run_triggered, plan.plan_created)
            ]
            await self._committer.commit(events, request_id=tick.tick_id)
            self.triggered += 1
            log.info(
                "schedule_tick_triggered",
                schedule_id=tick.schedule_id,
                tick_id=tick.tick_id,
                run_id=plan.run_triggered.run_id,
            )
        return schedules

    async def _sleep(self, schedules: list[DeployedSchedule]) -> None:
        timeout = self._safety_tick
        upcoming = next_schedule_tick_ms(schedules, self._clock.now_ms())
        if upcoming is not None:
            timeout = min(timeout, max(0.0, (upcoming - self._clock.now_ms()) / 1000))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def poke(self) -> None:
        """Evaluate now (tests that move an injected clock)."""
        self._wake.set()

    async def shutdown(self) -> None:
        self._stopping.set()
        self._wake.set()
