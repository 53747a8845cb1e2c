"""Stored schedules over real processes: compactors, the api (schedules are PUT and
enabled/disabled through it) and ``services.automation`` with a warped clock
(ARCO_AUTOMATION_CLOCK_START_MS/_RATE, dev only), so hours of schedule time pass at once.

Everything is read back from the published projection in storage: the tick records, the
runs they requested, and the ledger's ScheduleTicked events.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

from arco.orchestration.v1 import orchestration_service_pb2 as pb
from arco.orchestration.v1 import orchestration_service_pb2_grpc as pb_grpc
from google.protobuf import json_format

from arco_core.automation.schedules import Tick, run_key
from arco_core.automation.triggers import tick_run_id
from arco_core.clock import SystemClock
from arco_core.ledger import LedgerReader
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.state import ScheduleTickRow
from arco_core.paths import Scope
from arco_core.projections import OrchestrationAdapter
from arco_core.published import ProjectionReader
from arco_core.storage import Role as StorageRole
from arco_core.storage import ScopedStorage, open_object_store
from tests.support.mesh_parts import SCOPE_ENV, TENANT, WORKSPACE, api_with_compactors
from tests.support.processes import ServiceProcess, start_service
from tests.support.tls import mesh_channel

HOUR = 3_600_000
MINUTE = 60_000


def _storage(tmp_path: Path, role: StorageRole) -> ScopedStorage:
    store = open_object_store((tmp_path / "data").as_uri(), {})
    return ScopedStorage(store, Scope(TENANT, WORKSPACE), role)


async def _deploy(api: ServiceProcess) -> None:
    body = {
        "workspaceId": WORKSPACE,
        "manifestVersion": "1.0",
        "codeVersionId": "v1",
        "assets": [
            {"key": {"namespace": "raw", "name": "events"}, "id": "00000000-0000-7000-8000-1"}
        ],
    }
    async with mesh_channel(api.grpc_address) as channel:
        await pb_grpc.OrchestrationServiceStub(channel).DeployManifest(
            json_format.ParseDict(body, pb.DeployManifestRequest())
        )


async def _put(api: ServiceProcess, schedule_id: str, cron: str, **fields: object) -> pb.Schedule:
    request = pb.UpsertScheduleRequest(
        workspace_id=WORKSPACE,
        schedule_id=schedule_id,
        cron_expression=cron,
        timezone="UTC",
        asset_selection=["raw.events"],
        enabled=True,
        max_catchup_ticks=1,
    )
    for name, value in fields.items():
        setattr(request, name, value)
    async with mesh_channel(api.grpc_address) as channel:
        answer = await pb_grpc.OrchestrationServiceStub(channel).UpsertSchedule(request)
    return answer.schedule


async def _set_enabled(api: ServiceProcess, schedule_id: str, enabled: bool) -> pb.Schedule:
    async with mesh_channel(api.grpc_address) as channel:
        stub = pb_grpc.OrchestrationServiceStub(channel)
        if enabled:
            request = pb.EnableScheduleRequest(workspace_id=WORKSPACE, schedule_id=schedule_id)
            return (await stub.EnableSchedule(request)).schedule
        off = pb.DisableScheduleRequest(workspace_id=WORKSPACE, schedule_id=schedule_id)
        return (await stub.DisableSchedule(off)).schedule


def _automation(
    tmp_path: Path, procs: dict[str, ServiceProcess], name: str, start_ms: int, rate: float = 1.0
) -> ServiceProcess:
    proc = start_service(
        "services.automation",
        tmp_path,
        {
            **SCOPE_ENV,
            "ARCO_ORCH_COMPACTOR_ADDRESS": procs["orchestration"].grpc_address,
            "ARCO_AUTOMATION_CLOCK_START_MS": str(start_ms),
            "ARCO_AUTOMATION_CLOCK_RATE": str(rate),
        },
        name=name,
    )
    proc.wait_ready(15)
    return proc


async def _published(tmp_path: Path) -> FoldState:
    reader = ProjectionReader(
        _storage(tmp_path, StorageRole.READER), OrchestrationAdapter(), Scope(TENANT, WORKSPACE)
    )
    return (await reader.refresh()).state


def _ticks(state: FoldState, schedule_id: str) -> list[ScheduleTickRow]:
    return sorted(state.schedule_ticks(schedule_id), key=lambda t: t.scheduled_for)


def _schedule_runs(state: FoldState, schedule_id: str) -> Counter[str]:
    """Runs per run key of the schedule's runs."""
    prefix = f"sched:{schedule_id}:"
    return Counter(
        run.run_key
        for run in state.rows("runs")
        if run.run_key is not None and run.run_key.startswith(prefix)
    )


async def _tick_events(tmp_path: Path) -> int:
    ledger = LedgerReader(_storage(tmp_path, StorageRole.SWEEPER), "orchestration")
    events = await ledger.read(await ledger.scan_paths_after(None))
    return sum(1 for e in events if e.event_type == "ScheduleTicked")


def _passes(proc: ServiceProcess) -> float:
    url = f"http://{proc.ready['metrics_address']}/metrics"
    with urllib.request.urlopen(url, timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("arco_automation_passes_total "):
                return float(line.split()[1])
    return 0.0


async def _until(predicate: Callable[[], Awaitable[bool]], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def _passes_at_least(proc: ServiceProcess, count: int) -> None:
    async def done() -> bool:
        return await asyncio.to_thread(_passes, proc) >= count

    await _until(done, f"{count} passes of {proc.module}")


async def test_a_schedule_whose_window_starts_in_the_past_gets_its_missed_ticks_once(
    tmp_path: Path,
) -> None:
    with api_with_compactors(tmp_path) as procs:
        await _deploy(procs["api"])
        before = SystemClock().now_ms()
        await _put(
            procs["api"], "hourly", "0 * * * *", catchup_window_minutes=240, max_catchup_ticks=3
        )
        hour = before - before % HOUR
        # The service comes up 10.5 hours later: the ticks of the last 4 hours (07:00 to
        # 10:00 after the creation hour) are inside the window, the newest 3 run, the
        # oldest of them is skipped, and the 6 before the window are one expired record.
        start = hour + 10 * HOUR + 30 * MINUTE
        first = _automation(tmp_path, procs, "automation-1", start)
        try:
            await _passes_at_least(first, 2)
        finally:
            first.terminate()
        state = await _published(tmp_path)
        ticks = [(t.scheduled_for - hour, t.status, t.skip_reason) for t in _ticks(state, "hourly")]
        assert ticks == [
            (HOUR, "SKIPPED", "outside_catchup_window"),
            (7 * HOUR, "SKIPPED", "max_catchup_ticks"),
            (8 * HOUR, "TRIGGERED", None),
            (9 * HOUR, "TRIGGERED", None),
            (10 * HOUR, "TRIGGERED", None),
        ]
        expected = Counter(run_key("hourly", hour + n * HOUR) for n in (8, 9, 10))
        assert _schedule_runs(state, "hourly") == expected
        schedule = state.get_schedule("hourly")
        assert schedule is not None and schedule.last_run_key == run_key("hourly", hour + 10 * HOUR)
        written = await _tick_events(tmp_path)

        # Restarted at the same instant: the stored state says every tick is handled.
        again = _automation(tmp_path, procs, "automation-2", start)
        try:
            await _passes_at_least(again, 2)
        finally:
            again.terminate()
        assert await _tick_events(tmp_path) == written
        assert _schedule_runs(await _published(tmp_path), "hourly") == expected


async def test_two_racing_processes_one_killed_mid_tick_give_one_run_per_tick(
    tmp_path: Path,
) -> None:
    with api_with_compactors(tmp_path) as procs:
        await _deploy(procs["api"])
        created = SystemClock().now_ms()
        await _put(procs["api"], "minutely", "* * * * *", max_catchup_ticks=10)
        # A schedule minute every two real seconds, starting with three minutes to catch up.
        start = created - created % MINUTE + 3 * MINUTE + 30_000
        racers = [_automation(tmp_path, procs, f"racer-{n}", start, rate=30.0) for n in (1, 2)]
        try:

            async def runs_at_least(count: int) -> bool:
                return sum(_schedule_runs(await _published(tmp_path), "minutely").values()) >= count

            await _until(lambda: runs_at_least(3), "3 runs")
            racers[0].process.kill()  # SIGKILL, wherever it is in its tick
            racers[0].process.wait()
            await _until(lambda: runs_at_least(7), "7 runs")
        finally:
            for racer in racers:
                racer.terminate()
        state = await _published(tmp_path)
        runs = _schedule_runs(state, "minutely")
        assert set(runs.values()) == {1}, runs
        ticks = _ticks(state, "minutely")
        assert {t.status for t in ticks} == {"TRIGGERED"}
        assert Counter(t.run_key for t in ticks) == runs
        for tick in ticks:  # each run is the one its tick names, with its task
            assert tick.run_id == tick_run_id(
                TENANT, WORKSPACE, Tick("minutely", tick.scheduled_for)
            )
            assert [t.task_key for t in state.list_tasks(tick.run_id)] == ["raw.events"]
        # No tick lost or doubled across the kill: consecutive minutes.
        minutes = [t.scheduled_for for t in ticks]
        assert minutes == list(range(minutes[0], minutes[-1] + MINUTE, MINUTE))


async def test_disable_records_paused_ticks_and_enable_resumes_without_replaying(
    tmp_path: Path,
) -> None:
    with api_with_compactors(tmp_path) as procs:
        await _deploy(procs["api"])
        created = SystemClock().now_ms()
        first = await _put(procs["api"], "minutely", "* * * * *", max_catchup_ticks=10)
        start = created - created % MINUTE + 30_000
        automation = _automation(tmp_path, procs, "automation", start, rate=30.0)
        try:

            async def ticks_of(version: str, count: int) -> bool:
                ticks = _ticks(await _published(tmp_path), "minutely")
                return sum(1 for t in ticks if t.definition_version == version) >= count

            await _until(lambda: ticks_of(first.definition_version, 2), "2 enabled ticks")
            disabled = await _set_enabled(procs["api"], "minutely", False)
            assert not disabled.enabled
            # Disabling again is a no-op: the same definition, nothing written.
            again = await _set_enabled(procs["api"], "minutely", False)
            assert again.definition_version == disabled.definition_version
            await _until(lambda: ticks_of(disabled.definition_version, 3), "3 paused ticks")
            enabled = await _set_enabled(procs["api"], "minutely", True)
            await _until(lambda: ticks_of(enabled.definition_version, 2), "2 resumed ticks")
        finally:
            automation.terminate()
        state = await _published(tmp_path)
        ticks = _ticks(state, "minutely")
        runs = _schedule_runs(state, "minutely")
        for tick in ticks:
            if tick.definition_version == disabled.definition_version:
                assert (tick.status, tick.skip_reason, tick.run_key) == ("SKIPPED", "paused", None)
                paused_run = tick_run_id(TENANT, WORKSPACE, Tick("minutely", tick.scheduled_for))
                assert state.get_run(paused_run) is None
            else:
                assert tick.status == "TRIGGERED"
                assert runs[run_key("minutely", tick.scheduled_for)] == 1
        assert sum(runs.values()) == sum(1 for t in ticks if t.status == "TRIGGERED")
        # Every minute once, paused ones included: re-enabling replayed nothing.
        minutes = [t.scheduled_for for t in ticks]
        assert minutes == list(range(minutes[0], minutes[-1] + MINUTE, MINUTE))
