"""Issue 12 item 4: queries cannot hurt the control plane.

Four hostile queries run at once against a real api (mTLS, its own compactors): three
allocate outside DataFusion's memory pool (``repeat``, ``range``, ``unnest``) and one runs
past the time limit. Each gets its 4xx (``query_too_expensive`` / ``query_timeout``), while
reads and callbacks-class RPCs on the same api keep answering; the api's own memory stays
where it was, because the allocations happen in query worker processes that are killed
and replaced (their pids change); afterwards an ordinary query answers.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb
from arco.orchestration.v1 import orchestration_service_pb2_grpc as orch_grpc
from arco.orchestration.v1 import types_pb2
from arco.query.v1 import query_service_pb2 as query_pb
from arco.query.v1 import query_service_pb2_grpc as query_grpc

from arco_runtime.rpc_errors import parse_rpc_error
from tests.service.test_api_query import Stack, start_stack
from tests.support.tls import mesh_channel
from tests.unit.orchestration.orch_support import WORKSPACE

MIB = 1024 * 1024
WORKER_CAP = 1024 * MIB
TIMEOUT_SEC = 3.0
# The api's resident memory may grow this much over its idle level while the attack runs:
# far below one worker's cap, so an allocation inside the api would show.
API_RSS_MARGIN = 200 * MIB

MEMORY_BOMBS = {
    "repeat": "SELECT length(repeat('x', 1500000000)) AS n",
    "range": "SELECT cardinality(range(1, 400000000)) AS n",
    "unnest": "SELECT count(*) AS n FROM (SELECT unnest(range(1, 400000000)) AS v)",
}
SLOW = (
    "SELECT count(*) AS n FROM (SELECT unnest(range(1, 100000)) AS a) x "
    "CROSS JOIN (SELECT unnest(range(1, 100000)) AS b) y WHERE (a * b) % 7 = 3"
)
JSON = query_pb.RESULT_FORMAT_JSON

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    running = await start_stack(
        tmp_path,
        (tmp_path / "data").as_uri(),
        {},
        gateway=False,
        api_env={
            "ARCO_QUERY_WORKERS": "4",
            "ARCO_QUERY_WORKER_MEMORY_BYTES": str(WORKER_CAP),
            "ARCO_QUERY_TIMEOUT_SEC": str(TIMEOUT_SEC),
        },
    )
    try:
        yield running
    finally:
        running.stop()


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry))
    return found


async def _wait_children(pid: int, count: int, timeout: float = 60.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = _children(pid)
        if len(kids) >= count:
            return kids
        await asyncio.sleep(0.1)
    raise AssertionError(f"api {pid} has {len(_children(pid))} query workers, want {count}")


def _log_events(path: Path) -> list[dict[str, object]]:
    events = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


async def _reason(stub: query_grpc.QueryServiceStub, sql: str) -> tuple[grpc.StatusCode, str]:
    try:
        await stub.Query(query_pb.QueryRequest(sql=sql, format=JSON))
    except grpc.aio.AioRpcError as exc:
        return exc.code(), parse_rpc_error(exc).reason
    return grpc.StatusCode.OK, ""


async def test_hostile_queries_fail_alone_while_the_api_keeps_serving(stack: Stack) -> None:
    api_pid = stack.procs["api"].process.pid
    async with mesh_channel(stack.api) as channel:
        query = query_grpc.QueryServiceStub(channel)
        orchestration = orch_grpc.OrchestrationServiceStub(channel)
        # Warm: the pool is up and a cheap query answers.
        warm = await query.Query(query_pb.QueryRequest(sql="SELECT 1 AS one", format=JSON))
        assert json.loads(warm.data) == [{"one": 1}]
        workers_before = await _wait_children(api_pid, 4)
        idle_rss = _rss(api_pid)

        reads: list[str] = []
        rss_samples: list[int] = []
        attack_done = asyncio.Event()

        async def keep_reading() -> None:
            while not attack_done.is_set():
                run = await orchestration.GetRun(
                    orch_pb.GetRunRequest(workspace_id=WORKSPACE, run_id="r1")
                )
                reads.append(types_pb2.RunStatus.Name(run.state))
                rss_samples.append(_rss(api_pid))
                await asyncio.sleep(0.05)

        reader = asyncio.create_task(keep_reading())
        try:
            answers = await asyncio.gather(
                *(_reason(query, sql) for sql in MEMORY_BOMBS.values()), _reason(query, SLOW)
            )
        finally:
            attack_done.set()
            await reader

        for name, answer in zip([*MEMORY_BOMBS, "slow"], answers, strict=True):
            print(f"{name}: {answer[0].name} {answer[1]}")
        for answer in answers[:3]:
            assert answer == (grpc.StatusCode.RESOURCE_EXHAUSTED, "query_too_expensive")
        assert answers[3] == (grpc.StatusCode.INVALID_ARGUMENT, "query_timeout")

        # The api answered reads all along, and its memory did not carry the attack.
        assert len(reads) >= 10 and set(reads) == {"RUN_STATUS_SUCCEEDED"}, reads[:5]
        peak = max(rss_samples)
        print(f"api rss idle {idle_rss // MIB} MiB, peak {peak // MIB} MiB, {len(reads)} reads")
        assert peak < idle_rss + API_RSS_MARGIN

        # The timed-out worker was killed (its CPU is back) and replaced, as was any worker
        # that died on its cap; the pool is whole again.
        timed_out = {
            line["pid"]
            for line in _log_events(stack.procs["api"].log_path)
            if line.get("event") == "query_worker_timed_out"
        }
        assert len(timed_out) == 1 and timed_out <= workers_before, timed_out
        workers_after = await _wait_children(api_pid, 4)
        assert not timed_out & workers_after
        print(f"query workers replaced: {len(workers_before - workers_after)} of 4")
        again = await query.Query(
            query_pb.QueryRequest(
                sql="SELECT count(*) AS n FROM system.orchestration.tasks", format=JSON
            )
        )
        assert json.loads(again.data) == [{"n": 5}]
