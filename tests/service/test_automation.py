"""The automation loop against a real compactor process and real storage, with an
injected clock: missed ticks are caught up once, racing or restarted loops make one run
per tick, and the service process runs in the mesh."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from arco_core.automation.schedules import run_key
from arco_core.clock import FakeClock, SystemClock
from arco_core.ids import ulid_floor
from arco_core.ledger import LedgerReader, LedgerWriter
from arco_core.orchestration.deployments import plan_deploy
from arco_core.orchestration.events import make_event
from arco_core.orchestration.fold import FoldState
from arco_core.paths import Scope
from arco_core.projections import OrchestrationAdapter
from arco_core.published import ProjectionReader
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_runtime.tls import Role as MeshRole
from arco_sdk import AssetContext, asset
from arco_sdk.manifest import AssetGraph, Schedule, build_manifest
from services.automation.loop import ScheduleLoop
from services.common.committer import EventCommitter
from services.common.compactor_client import CompactorClient
from services.common.head_follower import HeadFollower
from tests.support.processes import ServiceProcess, start_service
from tests.support.tls import tls_config
from tests.unit.orchestration.orch_support import TENANT, WORKSPACE

SCOPE = Scope(TENANT, WORKSPACE)
ENV = {"ARCO_TENANT_ID": TENANT, "ARCO_WORKSPACE_ID": WORKSPACE}
MINUTE = 60_000


@asset(namespace="auto")
def hourly_report(context: AssetContext) -> None:
    return None


def _storage(tmp_path: Path, role: Role) -> ScopedStorage:
    return ScopedStorage(open_object_store((tmp_path / "data").as_uri(), {}), SCOPE, role)


async def _deploy(tmp_path: Path, proc: ServiceProcess, cron: str, deployed_at_ms: int) -> None:
    """A manifest with one schedule, deployed (as the api would) at ``deployed_at_ms``."""
    manifest = build_manifest(
        AssetGraph([hourly_report]),
        schedules=[Schedule("every-minute", cron, ("auto.hourly_report",))],
    )
    plan = plan_deploy(
        manifest,
        manifest_id="01JAAAAAAAAAAAAAAAAAAAAAAA",
        tenant_id=TENANT,
        workspace_id=WORKSPACE,
        deployed_by="user:ci",
        deployed_at="2026-01-01T00:00:00Z",
    )
    event = make_event(
        plan.event,
        tenant_id=TENANT,
        workspace_id=WORKSPACE,
        event_id=ulid_floor(deployed_at_ms),
        timestamp_ms=deployed_at_ms,
    )
    writer = LedgerWriter(_storage(tmp_path, Role.API), "orchestration", SystemClock())
    path = await writer.append(event)
    client = CompactorClient(proc.grpc_address, tls_config(MeshRole.AUTOMATION))
    try:
        await client.compact([path])
    finally:
        await client.close()


@asynccontextmanager
async def _loop(
    tmp_path: Path, proc: ServiceProcess, clock: FakeClock
) -> AsyncIterator[tuple[ScheduleLoop, asyncio.Task[None]]]:
    compactor = CompactorClient(proc.grpc_address, tls_config(MeshRole.AUTOMATION))
    reader = ProjectionReader(_storage(tmp_path, Role.READER), OrchestrationAdapter(), SCOPE)
    writer = LedgerWriter(_storage(tmp_path, Role.AUTOMATION), "orchestration", SystemClock())
    heads = HeadFollower(compactor, reader)
    loop = ScheduleLoop(EventCommitter(writer, compactor, reader), heads, SCOPE, clock)
    follower = asyncio.create_task(heads.run())
    task = asyncio.create_task(loop.run())
    try:
        yield loop, task
    finally:
        await loop.shutdown()
        await heads.shutdown()
        for t in (task, follower):
            t.cancel()
            await asyncio.gather(t, return_exceptions=True)
        await compactor.close()


async def _tick_runs(tmp_path: Path) -> dict[str, list[str]]:
    reader = ProjectionReader(_storage(tmp_path, Role.READER), OrchestrationAdapter(), SCOPE)
    state: FoldState = (await reader.refresh()).state
    runs: dict[str, list[str]] = {}
    for run_id in state.run_ids():
        run = state.get_run(run_id)
        assert run is not None
        if run.run_key:
            runs.setdefault(run.run_key, []).append(run_id)
    return runs


async def _until(predicate: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def _start_compactor(tmp_path: Path) -> ServiceProcess:
    proc = start_service(
        "services.compactor", tmp_path, {**ENV, "ARCO_COMPACTOR_DOMAIN": "orchestration"}
    )
    proc.wait_ready(10)
    return proc


async def test_missed_ticks_are_caught_up_once_and_a_restart_adds_nothing(
    tmp_path: Path,
) -> None:
    # On a ten-minute boundary, so the ticks of */10 fall at +10, +20, +30 minutes.
    deployed = SystemClock().now_ms() // (10 * MINUTE) * (10 * MINUTE) - 30 * MINUTE
    proc = _start_compactor(tmp_path)
    try:
        await _deploy(tmp_path, proc, "*/10 * * * *", deployed)
        # 35 minutes after the deploy: ticks at +10, +20 and +30 were missed; the default
        # catch-up runs the newest one (max catch-up ticks 1) and skips the others.
        clock = FakeClock(deployed + 35 * MINUTE)
        async with _loop(tmp_path, proc, clock) as (loop, _):
            await _until(lambda: _has(loop, 1))
        expected = run_key("every-minute", deployed + 30 * MINUTE)
        assert list(await _tick_runs(tmp_path)) == [expected]

        # A restart at the same time finds the tick's run and writes nothing.
        async with _loop(tmp_path, proc, clock) as (again, _):
            await _until(lambda: _passed(again))
        assert again.triggered == 0

        # Time moves on by two ticks while the service is down: the newest one runs.
        clock.advance(timedelta(minutes=25))
        async with _loop(tmp_path, proc, clock) as (later, _):
            await _until(lambda: _has(later, 1))
        runs = await _tick_runs(tmp_path)
        assert sorted(runs) == sorted([expected, run_key("every-minute", deployed + 60 * MINUTE)])
        assert all(len(ids) == 1 for ids in runs.values())
    finally:
        assert proc.terminate() == 0, proc.log()


async def test_two_racing_loops_and_one_cancelled_mid_tick_make_one_run_per_tick(
    tmp_path: Path,
) -> None:
    deployed = SystemClock().now_ms() // MINUTE * MINUTE - 60 * MINUTE
    proc = _start_compactor(tmp_path)
    try:
        await _deploy(tmp_path, proc, "* * * * *", deployed)
        clock = FakeClock(deployed + 10 * MINUTE + 1)
        async with (
            _loop(tmp_path, proc, clock) as (first, first_task),
            _loop(tmp_path, proc, clock) as (second, _),
        ):
            await _until(lambda: _both_passed(first, second))
            for step in range(5):
                before = (first.passes, second.passes)
                clock.advance(timedelta(minutes=1))
                first.poke()
                second.poke()
                if step == 2:
                    await asyncio.sleep(0.01)
                    first_task.cancel()  # killed in the middle of whatever it was doing

                async def moved(before: tuple[int, int] = before) -> bool:
                    done = first_task.done() or first.passes > before[0]
                    return done and second.passes > before[1]

                await _until(moved)
            await _until(lambda: _passed(second))
        runs = await _tick_runs(tmp_path)
        assert len(runs) >= 5
        assert all(len(ids) == 1 for ids in runs.values()), runs
        # Both loops wrote some ticks (the race happened), yet each run has its one task.
        ledger = LedgerReader(_storage(tmp_path, Role.SWEEPER), "orchestration")
        events = await ledger.read(await ledger.scan_paths_after(None))
        written = Counter(e.data.get("run_key") for e in events if e.event_type == "RunTriggered")
        assert max(written.values()) >= 2, written
        reader = ProjectionReader(_storage(tmp_path, Role.READER), OrchestrationAdapter(), SCOPE)
        state = (await reader.refresh()).state
        for (run_id,) in runs.values():
            run = state.get_run(run_id)
            assert run is not None and run.tasks_total == 1
            assert [t.task_key for t in state.list_tasks(run_id)] == ["auto.hourly_report"]
    finally:
        assert proc.terminate() == 0, proc.log()


async def _has(loop: ScheduleLoop, triggered: int) -> bool:
    return loop.triggered >= triggered


async def _passed(loop: ScheduleLoop) -> bool:
    return loop.passes >= 1


async def _both_passed(a: ScheduleLoop, b: ScheduleLoop) -> bool:
    return a.passes >= 1 and b.passes >= 1
