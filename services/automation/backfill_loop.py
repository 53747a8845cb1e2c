"""The backfill loop: on every new head, plan the next chunks of each running backfill
(never more active runs than its maxConcurrentRuns) and end the backfills whose chunks all
finished. Chunk runs finish on their own; their state is read from the runs."""

from __future__ import annotations

import asyncio
import contextlib
import json

import structlog

from arco_core.automation.backfill_runs import due_backfill_work
from arco_core.errors import ArcoError
from arco_core.orchestration.events import make_event
from arco_core.orchestration.fold import FoldState
from arco_core.paths import Scope
from services.common.committer import EventCommitter
from services.common.head_follower import HeadFollower

log = structlog.get_logger(__name__)


class BackfillLoop:
    """A background loop with ``run()``/``shutdown()``: one pass per new head (a chunk
    run that ended frees a slot), and at the latest every ``safety_tick_sec``."""

    def __init__(
        self,
        committer: EventCommitter[FoldState],
        heads: HeadFollower[FoldState],
        scope: Scope,
        *,
        safety_tick_sec: float = 60.0,
    ) -> None:
        self._committer = committer
        self._heads = heads
        self._scope = scope
        self._safety_tick = safety_tick_sec
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self.planned = 0
        self.passes = 0
        heads.add_listener(self._wake.set)

    async def run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                await self.run_pass()
            except (ArcoError, OSError) as exc:  # storage or compactor trouble: retry soon
                log.warning("backfill_pass_failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._safety_tick)

    async def run_pass(self) -> None:
        state = (await self._heads.snapshot()).state
        self.passes += 1
        latest = state.latest_code_manifest()
        manifest = None if latest is None else json.loads(latest.manifest_json)
        runs, ends = due_backfill_work(
            state,
            manifest,
            tenant_id=self._scope.tenant_id,
            workspace_id=self._scope.workspace_id,
        )
        tenant, workspace = self._scope.tenant_id, self._scope.workspace_id
        for chunk in runs:
            payloads = (chunk.planned, chunk.run.run_triggered, chunk.run.plan_created)
            events = [
                make_event(p, tenant_id=tenant, workspace_id=workspace, source="automation")
                for p in payloads
            ]
            await self._committer.commit(events, request_id=chunk.planned.run_key)
            self.planned += 1
            log.info(
                "backfill_chunk_planned",
                backfill_id=chunk.planned.backfill_id,
                chunk_index=chunk.planned.chunk_index,
                run_id=chunk.planned.run_id,
            )
        for end in ends:
            event = make_event(end, tenant_id=tenant, workspace_id=workspace, source="automation")
            await self._committer.commit([event])
            log.info("backfill_finished", backfill_id=end.backfill_id, state=end.to_state)

    async def shutdown(self) -> None:
        self._stopping.set()
        self._wake.set()
