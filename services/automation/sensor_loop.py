"""The sensor loop: sleep until a poll sensor is due (or a new head), then request its
evaluation. The request is a ledger event; the dispatcher sends it to a worker, which
runs the user's function and answers through the api. Nothing here runs user code.

Each pass also writes the runs of applied evaluations that have none yet (the api
writes them right after the evaluation; this covers an api that crashed in between)."""

from __future__ import annotations

import asyncio
import contextlib
import json

import structlog

from arco_core.automation.sensor_polls import due_poll_requests, next_poll_due_ms
from arco_core.automation.sensor_runs import missing_sensor_runs
from arco_core.clock import Clock
from arco_core.errors import ArcoError
from arco_core.orchestration.events import make_event
from arco_core.orchestration.fold import FoldState
from arco_core.paths import Scope
from services.common.committer import EventCommitter
from services.common.head_follower import HeadFollower

log = structlog.get_logger(__name__)


class SensorLoop:
    """A background loop with ``run()``/``shutdown()``: each pass requests the due poll
    evaluations and sleeps until the next one is due, a new head (a deploy, an answer)
    or the safety tick, whichever comes first."""

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
        self.requested = 0
        heads.add_listener(self._wake.set)

    async def run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            due: int | None = None
            try:
                due = await self.run_pass()
            except (ArcoError, OSError) as exc:  # storage or compactor trouble: retry soon
                log.warning("sensor_pass_failed", error=repr(exc))
            await self._sleep(due)

    async def run_pass(self) -> int | None:
        """Request what is due; when the next poll is due (None: no poll sensor)."""
        state = (await self._heads.snapshot()).state
        latest = state.latest_code_manifest()
        manifest = json.loads(latest.manifest_json) if latest is not None else None
        for request in due_poll_requests(state, manifest, self._clock.now_ms()):
            event = make_event(
                request,
                tenant_id=self._scope.tenant_id,
                workspace_id=self._scope.workspace_id,
                source="automation",
            )
            state = (await self._committer.commit([event], request_id=request.eval_id)).state
            self.requested += 1
            log.info(
                "sensor_evaluation_requested", sensor_id=request.sensor_id, eval_id=request.eval_id
            )
        code_version = latest.code_version_id if latest is not None else None
        plans = missing_sensor_runs(state, manifest, code_version)
        if plans:
            events = [
                make_event(
                    p,
                    tenant_id=self._scope.tenant_id,
                    workspace_id=self._scope.workspace_id,
                    source="automation",
                )
                for plan in plans
                for p in (plan.run_triggered, plan.plan_created)
            ]
            state = (await self._committer.commit(events)).state
            log.info("sensor_runs_completed", runs=len(plans))
        return next_poll_due_ms(state, manifest)

    async def _sleep(self, due: int | None) -> None:
        timeout = self._safety_tick
        if due is not None:
            timeout = min(timeout, max(0.0, (due - self._clock.now_ms()) / 1000))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def shutdown(self) -> None:
        self._stopping.set()
        self._wake.set()
