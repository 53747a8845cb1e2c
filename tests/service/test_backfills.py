"""Backfills over real processes (compactor, api) with the automation service's backfill
loop in process: a 30-day range under maxConcurrentRuns 3 never has more than 3 runs
active, pauses, resumes, ends FAILED with its failed chunks, retry-failed reruns exactly
those, and a cancelled backfill plans nothing more. The test plays dispatcher and worker:
it writes each chunk run's task events to the ledger."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date, timedelta

import grpc
import pytest
from arco.orchestration.v1 import orchestration_service_pb2 as pb
from arco.orchestration.v1 import orchestration_service_pb2_grpc as orch_grpc
from google.protobuf import struct_pb2

from arco_core.canonical_json import canonical_dumps
from arco_core.clock import SystemClock
from arco_core.ledger import LedgerWriter
from arco_core.orchestration.backfills_fold import backfill_view
from arco_core.orchestration.events import ManifestDeployed
from arco_core.orchestration.fold import FoldState
from arco_core.paths import Scope
from arco_core.projections import OrchestrationAdapter
from arco_core.published import ProjectionReader
from arco_core.storage import Role
from arco_runtime.tls import Role as MeshRole
from services.automation.backfill_loop import BackfillLoop
from services.common.committer import EventCommitter
from services.common.compactor_client import CompactorClient
from services.common.head_follower import HeadFollower
from tests.service.test_api_callbacks import Mesh, mesh  # noqa: F401 - the fixture
from tests.support.tls import mesh_channel, tls_config
from tests.unit.orchestration.orch_support import TENANT, WORKSPACE

ASSET = "ns.daily"
DAYS = [date(2025, 1, 1) + timedelta(days=i) for i in range(30)]
FAILING = {f"date=d:{d.isoformat()}" for d in (DAYS[4], DAYS[11], DAYS[25])}
MAX_RUNS = 3


def _manifest(target: Mesh) -> ManifestDeployed:
    doc = {
        "assets": [
            {
                "key": {"namespace": "ns", "name": "daily"},
                "partitioning": {
                    "isPartitioned": True,
                    "dimensions": [{"name": "date", "kind": "time", "granularity": "day"}],
                },
            }
        ]
    }
    return ManifestDeployed(
        manifest_id=target.ev.next_id(),
        code_version_id="cv1",
        fingerprint="fp-daily",
        asset_count=1,
        deployed_by="user:1",
        manifest_json=canonical_dumps(doc),
    )


@asynccontextmanager
async def _backfill_loop(target: Mesh) -> AsyncIterator[BackfillLoop]:
    scope = Scope(TENANT, WORKSPACE)
    compactor = CompactorClient(target.compactor.grpc_address, tls_config(MeshRole.AUTOMATION))
    reader = ProjectionReader(target.storage(Role.READER), OrchestrationAdapter(), scope)
    writer = LedgerWriter(target.storage(Role.AUTOMATION), "orchestration", SystemClock())
    heads = HeadFollower(compactor, reader)
    loop = BackfillLoop(EventCommitter(writer, compactor, reader), heads, scope)
    tasks = [asyncio.create_task(heads.run()), asyncio.create_task(loop.run())]
    try:
        yield loop
    finally:
        await loop.shutdown()
        await heads.shutdown()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await compactor.close()


async def _until(predicate: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


class Driver:
    """Reads the published state, checks the concurrency bound at every read, and finishes
    the active chunk runs as a worker would (the FAILING partitions fail for good)."""

    def __init__(self, target: Mesh) -> None:
        self.mesh = target
        self.max_seen = 0
        self.finished: set[str] = set()

    async def state(self, backfill_id: str) -> FoldState:
        state: FoldState = await self.mesh.projection()  # type: ignore[assignment]
        view = backfill_view(state, backfill_id)
        self.max_seen = max(self.max_seen, view.active_runs)
        assert view.active_runs <= view.row.max_concurrent_runs
        return state

    async def finish_active(self, backfill_id: str) -> int:
        """Finish every active chunk run of the backfill; how many."""
        state = await self.state(backfill_id)
        e, events, done = self.mesh.ev, [], 0
        for chunk in state.backfill_chunk_table.rows.values():
            if chunk.backfill_id != backfill_id or chunk.run_id in self.finished:
                continue
            (task,) = state.list_tasks(chunk.run_id)
            events += [
                e.dispatch(chunk.run_id, task.task_key),
                e.started(chunk.run_id, task.task_key),
            ]
            if task.partition_key in FAILING:
                events.append(e.failed(chunk.run_id, task.task_key, retryable=False))
            else:
                events.append(e.finished(chunk.run_id, task.task_key))
            self.finished.add(chunk.run_id)
            done += 1
        if events:
            await self.mesh.seed(events)
        return done

    async def chunks(self, backfill_id: str) -> int:
        state = await self.state(backfill_id)
        return sum(
            1 for c in state.backfill_chunk_table.rows.values() if c.backfill_id == backfill_id
        )

    async def planned_up_to(self, backfill_id: str, count: int) -> None:
        async def enough() -> bool:
            return await self.chunks(backfill_id) >= count

        await _until(enough)


def _range(start: date, end: date) -> struct_pb2.Struct:
    selector = struct_pb2.Struct()
    selector.update({"type": "range", "start": start.isoformat(), "end": end.isoformat()})
    return selector


async def _create(
    stub: orch_grpc.OrchestrationServiceStub, key: str, start: date, end: date
) -> str:
    created = await stub.CreateBackfill(
        pb.CreateBackfillRequest(
            workspace_id=WORKSPACE,
            asset_selection=[ASSET],
            partition_selector=_range(start, end),
            chunk_size=1,
            max_concurrent_runs=MAX_RUNS,
            client_request_id=key,
        )
    )
    assert created.created
    return created.backfill_id


async def _get(stub: orch_grpc.OrchestrationServiceStub, backfill_id: str) -> pb.Backfill:
    answer = await stub.GetBackfill(
        pb.GetBackfillRequest(workspace_id=WORKSPACE, backfill_id=backfill_id)
    )
    return answer.backfill


async def test_a_30_day_backfill_runs_3_at_a_time_pauses_resumes_and_retries_failed(
    mesh: Mesh,  # noqa: F811
) -> None:
    await mesh.seed([mesh.ev.ev(_manifest(mesh))])
    driver = Driver(mesh)
    async with mesh_channel(mesh.api.grpc_address) as channel, _backfill_loop(mesh) as loop:
        stub = orch_grpc.OrchestrationServiceStub(channel)
        backfill_id = await _create(stub, "bf-30", DAYS[0], DAYS[-1])
        replay = await stub.CreateBackfill(
            pb.CreateBackfillRequest(
                workspace_id=WORKSPACE,
                asset_selection=[ASSET],
                partition_selector=_range(DAYS[0], DAYS[-1]),
                chunk_size=1,
                max_concurrent_runs=MAX_RUNS,
                client_request_id="bf-30",
            )
        )
        assert (replay.backfill_id, replay.created) == (backfill_id, False)
        assert (await _get(stub, backfill_id)).chunk_counts.total == 30

        # Three at a time: each round finishes the active runs, which frees the slots.
        await driver.planned_up_to(backfill_id, 3)
        assert await driver.chunks(backfill_id) == 3
        for planned in (6, 9):
            await driver.finish_active(backfill_id)
            await driver.planned_up_to(backfill_id, planned)

        paused = await stub.PauseBackfill(
            pb.PauseBackfillRequest(workspace_id=WORKSPACE, backfill_id=backfill_id)
        )
        assert paused.backfill.state == pb.BACKFILL_STATE_PAUSED
        # Stale version: the move conflicts.
        with pytest.raises(grpc.aio.AioRpcError) as stale:
            await stub.ResumeBackfill(
                pb.ResumeBackfillRequest(
                    workspace_id=WORKSPACE, backfill_id=backfill_id, expected_state_version=1
                )
            )
        assert stale.value.code() == grpc.StatusCode.ABORTED
        # Paused: the running ones finish, nothing new is planned (the loop saw the heads).
        await driver.finish_active(backfill_id)
        passes = loop.passes

        async def loop_saw_it() -> bool:
            return loop.passes > passes

        await _until(loop_saw_it)
        await mesh.seed([mesh.ev.ev(_manifest(mesh))])  # one more head, one more pass
        passes = loop.passes
        await _until(loop_saw_it)
        assert await driver.chunks(backfill_id) == 9

        resumed = await stub.ResumeBackfill(
            pb.ResumeBackfillRequest(
                workspace_id=WORKSPACE,
                backfill_id=backfill_id,
                expected_state_version=paused.backfill.state_version,
            )
        )
        assert resumed.backfill.state == pb.BACKFILL_STATE_RUNNING
        planned = 9
        while planned < 30:
            planned = min(30, planned + 3)
            await driver.planned_up_to(backfill_id, planned)
            await driver.finish_active(backfill_id)

        async def ended() -> bool:
            return (await _get(stub, backfill_id)).state == pb.BACKFILL_STATE_FAILED

        await _until(ended)
        counts = (await _get(stub, backfill_id)).chunk_counts
        assert (counts.total, counts.succeeded, counts.failed, counts.pending) == (30, 27, 3, 0)
        assert driver.max_seen == MAX_RUNS

        failed = await stub.ListBackfillChunks(
            pb.ListBackfillChunksRequest(
                workspace_id=WORKSPACE, backfill_id=backfill_id, state=pb.CHUNK_STATE_FAILED
            )
        )
        assert {k for c in failed.chunks for k in c.partition_keys} == FAILING

        retry = await stub.RetryFailedBackfill(
            pb.RetryFailedBackfillRequest(workspace_id=WORKSPACE, backfill_id=backfill_id)
        )
        assert retry.created
        child = await _get(stub, retry.backfill_id)
        assert child.parent_backfill_id == backfill_id
        assert child.chunk_counts.total == 3
        await driver.planned_up_to(retry.backfill_id, 3)
        state = await driver.state(retry.backfill_id)
        rerun = [
            c
            for c in state.backfill_chunk_table.rows.values()
            if c.backfill_id == retry.backfill_id
        ]
        keys = {k for c in rerun for t in state.list_tasks(c.run_id) for k in [t.partition_key]}
        assert keys == FAILING
        assert all(c.run_key.startswith(f"backfill:{retry.backfill_id}:") for c in rerun)
        driver.finished.clear()
        for chunk in rerun:  # the retry's runs succeed
            (task,) = state.list_tasks(chunk.run_id)
            e = mesh.ev
            await mesh.seed(
                [
                    e.dispatch(chunk.run_id, task.task_key),
                    e.started(chunk.run_id, task.task_key),
                    e.finished(chunk.run_id, task.task_key),
                ]
            )

        async def retried() -> bool:
            return (await _get(stub, retry.backfill_id)).state == pb.BACKFILL_STATE_SUCCEEDED

        await _until(retried)


async def test_a_cancelled_backfill_plans_nothing_more(mesh: Mesh) -> None:  # noqa: F811
    await mesh.seed([mesh.ev.ev(_manifest(mesh))])
    driver = Driver(mesh)
    async with mesh_channel(mesh.api.grpc_address) as channel, _backfill_loop(mesh) as loop:
        stub = orch_grpc.OrchestrationServiceStub(channel)
        backfill_id = await _create(stub, "bf-cancel", DAYS[0], DAYS[9])
        await driver.planned_up_to(backfill_id, 3)
        cancelled = await stub.CancelBackfill(
            pb.CancelBackfillRequest(workspace_id=WORKSPACE, backfill_id=backfill_id)
        )
        assert cancelled.backfill.state == pb.BACKFILL_STATE_CANCELLED
        await driver.finish_active(backfill_id)
        passes = loop.passes

        async def loop_saw_it() -> bool:
            return loop.passes > passes

        await _until(loop_saw_it)
        assert await driver.chunks(backfill_id) == 3
        backfill = await _get(stub, backfill_id)
        assert backfill.state == pb.BACKFILL_STATE_CANCELLED
        assert backfill.chunk_counts.pending == 7
        with pytest.raises(grpc.aio.AioRpcError) as again:
            await stub.ResumeBackfill(
                pb.ResumeBackfillRequest(workspace_id=WORKSPACE, backfill_id=backfill_id)
            )
        assert again.value.code() == grpc.StatusCode.ABORTED
