"""Issue 14 item 2, replicas behind Envoy: on SeaweedFS S3 (real conditional writes), in
staging posture, ONE cell of 2 gateways, 2 apis, 2 orchestration compactors (shards 0/2 and
1/2), 2 dispatchers, 1 sweeper and 3 workers with one Envoy in front (round-robin, active
health checks) serves three workspaces of one tenant, ``alpha``, ``beta`` and ``gamma``. An
admin creates them through ``POST /api/v1/workspaces`` at the edge while the cell runs (no
restart). Their DAGs run concurrently while one replica of each kind, the sweeper included,
is killed with SIGKILL and restarted on its ports (a compactor takes its shard back).

Every run converges to SUCCEEDED; every task has exactly one execution of its succeeded
attempt, no attempt completes twice and no success is applied twice; nothing is lost (a
whole re-compaction by the scope's shard applies nothing and the projection equals a fresh
replay of the ledger). No workspace sees another's data over REST, gRPC, SQL or signed URLs,
for every ordered pair.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import grpc
import httpx
import pytest
from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb
from arco.orchestration.v1 import orchestration_service_pb2_grpc as orch_grpc

from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.tables import IDEMPOTENCY_KEYS
from arco_core.paths import task_log_path
from arco_core.registry import shard_of
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_sdk.client import ArcoClient
from arco_sdk.errors import ArcoApiError
from tests.integration.e2e_assets.harness import (
    deploy,
    ledger_events,
    never_folded,
    projection,
    replay_differences,
    tasks_of,
    wait_run,
)
from tests.support.seaweed import SeaweedServer
from tests.support.topology import ADMINS, Topology, topology
from tests.topology.assets import EXECUTIONS, TASK_KEYS

MODULE = "tests.topology.assets"
WORKSPACES = ("alpha", "beta", "gamma")
# One replica of each kind, the worker first (its lost attempt waits out the 30 s
# heartbeat timeout, repaired by the sweeper killed last); a new run starts in every
# workspace before each kill. compactor-orchestration-1 is shard 0 (beta and gamma).
KILLS = (
    "worker-1",
    "gateway-1",
    "api-1",
    "compactor-orchestration-1",
    "dispatcher-1",
    "sweeper-1",
)
RUN_TIMEOUT_SEC = 150.0
FINISHED = ("TaskCompletionRecorded", "TaskFinished")
_T = TypeVar("_T")

pytestmark = [pytest.mark.slow, pytest.mark.s3, pytest.mark.timeout(420)]


def _retry(call: Callable[[], _T], timeout: float = 60.0) -> _T:
    """Deploys (by content) and triggers (by run key) are safe to repeat through a kill."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_replicas_converge_through_kills_and_workspaces_stay_apart(
    seaweed: SeaweedServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.mktemp("topology")
    with topology(home, seaweed, workspaces=WORKSPACES, worker_modules=[MODULE]) as topo:
        # Both shards serve a workspace, so the compactor killed below matters.
        shards = {shard_of(topo.scope(ws), 2) for ws in topo.workspaces}
        assert shards == {0, 1}, shards
        _create_workspaces(topo)
        with contextlib.ExitStack() as closing:
            clients = {ws: closing.enter_context(topo.client(ws)) for ws in topo.workspaces}
            runs = _run_through_kills(topo, clients)
        for ws in topo.workspaces:
            _nothing_lost(topo, ws, runs[ws])
        minted = {ws: _mint_one(topo, ws) for ws in topo.workspaces}
        for mine, theirs in itertools.permutations(topo.workspaces, 2):
            _isolated(topo, runs, minted, mine, theirs)


def _create_workspaces(topo: Topology) -> None:
    """An admin of each workspace creates it at the edge (201), a repeat answers the entry
    unchanged (200); then a catalog namespace, so it has catalog files to sign URLs for."""
    with topo.edge.http() as http:
        for ws in topo.workspaces:
            headers = {"authorization": f"Bearer {topo.token(ws, ADMINS)}"}
            made = http.post(
                f"{topo.edge.url}/api/v1/workspaces", json={"workspaceId": ws}, headers=headers
            )
            assert made.status_code == 201, made.text
            again = http.post(
                f"{topo.edge.url}/api/v1/workspaces", json={"workspaceId": ws}, headers=headers
            )
            assert again.status_code == 200, again.text
            assert again.json()["workspace"] == made.json()["workspace"]
            namespace = _retry(
                lambda headers=headers, ws=ws: http.post(
                    f"{topo.edge.url}/api/v1/namespaces", json={"name": f"ns_{ws}"}, headers=headers
                )
            )
            assert namespace.status_code in (200, 201), namespace.text


def _run_through_kills(topo: Topology, clients: dict[str, ArcoClient]) -> dict[str, list[str]]:
    for client in clients.values():
        _retry(lambda client=client: deploy(client, MODULE))
    runs: dict[str, list[str]] = {ws: [] for ws in topo.workspaces}
    for wave, victim in enumerate(KILLS):
        for ws, client in clients.items():
            key = f"{ws}-{wave}"
            runs[ws].append(
                _retry(lambda c=client, k=key: c.trigger_run(TASK_KEYS, run_key=k)).run_id
            )
        time.sleep(1.0)  # tasks of the new runs are on their way or running
        topo.restart(victim)
    for ws, client in clients.items():
        for run_id in runs[ws]:
            run = wait_run(client, run_id, timeout=RUN_TIMEOUT_SEC, mesh=topo.cell)
            assert run["state"] == "SUCCEEDED", (ws, run_id, run)
            states = {t["state"] for t in tasks_of(run).values()}
            assert set(tasks_of(run)) == set(TASK_KEYS) and states == {"SUCCEEDED"}
            _each_task_ran_once(topo.cell.home, run)
            assert _logs_missing(topo, ws, run) == []
    return runs


def _logs_missing(topo: Topology, ws: str, run: dict[str, Any]) -> list[str]:
    """The log objects of the run's succeeded attempts that were never stored (an upload
    may meet a restarting replica, or a replica that did not take the attempt's start)."""
    storage = ScopedStorage(
        open_object_store(topo.cell.storage_url, topo.cell.extra_env), topo.scope(ws), Role.READER
    )
    paths = [
        task_log_path(run["runId"], key, int(task["attempt"]))
        for key, task in tasks_of(run).items()
    ]

    async def missing() -> list[str]:
        found = await asyncio.gather(*(storage.get(path) for path in paths), return_exceptions=True)
        return [path for path, got in zip(paths, found, strict=True) if isinstance(got, Exception)]

    return asyncio.run(missing())


def _each_task_ran_once(home: Path, run: dict[str, Any]) -> None:
    """The succeeded attempt of every task executed to its end exactly once, and no attempt
    finished twice (a kill may cost an attempt; its retry is a new attempt)."""
    path = home / "markers" / f"{run['runId']}.{EXECUTIONS}"
    done = collections.Counter(
        (task, int(attempt))
        for kind, task, attempt, _worker in (line.split() for line in path.read_text().splitlines())
        if kind == "done"
    )
    assert all(count == 1 for count in done.values()), f"an attempt ran twice: {done}"
    for key, task in tasks_of(run).items():
        assert done[(key, int(task["attempt"]))] == 1, (key, task, done)


def _nothing_lost(topo: Topology, ws: str, runs: list[str]) -> None:
    cell, scope = topo.cell, topo.scope(ws)
    # Asked of the shard that serves the scope (the other refuses it).
    assert never_folded(cell, cell.compactor_of(ws), scope=scope) == 0
    events = ledger_events(cell, scope=scope)
    assert {e.workspace_id for e in events} == {ws}
    assert replay_differences(cell, events, runs, scope=scope) == 0  # a missing run counts
    assert _successes_applied_twice(projection(cell, scope=scope), events, runs) == 0


def _successes_applied_twice(state: FoldState, events: list[Any], runs: list[str]) -> int:
    applied_ids = {row.event_id for row in state.rows(IDEMPOTENCY_KEYS)}
    applied: collections.Counter[tuple[str, str]] = collections.Counter(
        (e.data["run_id"], e.data["task_key"])
        for e in events
        if e.event_type in FINISHED
        and e.data.get("run_id") in runs
        and e.data.get("outcome") == "succeeded"
        and e.event_id in applied_ids
    )
    assert len(applied) == len(runs) * len(TASK_KEYS)
    return sum(count - 1 for count in applied.values())


def _isolated(
    topo: Topology,
    runs: dict[str, list[str]],
    minted: dict[str, tuple[str, str]],
    mine: str,
    theirs: str,
) -> None:
    """A user of ``mine`` finds nothing of ``theirs``, whichever way they ask."""
    own_run, their_run = runs[mine][0], runs[theirs][0]
    # REST through the edge: the other workspace's run is 404 by id under the caller's
    # path and under the other's path; the caller's own run answers (the control).
    with topo.client(mine) as client:
        assert client.get_run(own_run).state == "SUCCEEDED"
        with pytest.raises(ArcoApiError) as refused:
            client.get_run(their_run)
        assert refused.value.status == 404
        with topo.edge.http() as http:
            answer = http.get(
                f"{topo.edge.url}/api/v1/workspaces/{theirs}/runs/{their_run}",
                headers={"authorization": f"Bearer {topo.token(mine)}"},
            )
        assert answer.status_code == 404, answer.text
        # SQL: the system tables hold exactly the caller's runs.
        rows = client.query("SELECT run_id FROM system.orchestration.runs")
        assert {row["run_id"] for row in rows} == set(runs[mine])
        task_rows = client.query("SELECT DISTINCT run_id FROM system.orchestration.tasks")
        assert {row["run_id"] for row in task_rows} == set(runs[mine])
    # gRPC through the edge, with the user's JWT.
    _grpc_isolated(topo, mine, theirs, own_run, their_run)
    _urls_isolated(topo, minted, mine, theirs)


def _get_run(topo: Topology, user_of: str, workspace: str, run_id: str) -> Any:
    with topo.edge.channel() as channel:
        return orch_grpc.OrchestrationServiceStub(channel).GetRun(
            orch_pb.GetRunRequest(workspace_id=workspace, run_id=run_id),
            metadata=(("authorization", f"Bearer {topo.token(user_of)}"),),
            timeout=15,
        )


def _grpc_isolated(topo: Topology, mine: str, theirs: str, own_run: str, their_run: str) -> None:
    # The controls: each user reads their own run.
    assert _get_run(topo, mine, mine, own_run).run_id == own_run
    assert _get_run(topo, theirs, theirs, their_run).run_id == their_run
    # Naming the caller's workspace or the other's, the other's run is not found.
    for workspace in (mine, theirs):
        with pytest.raises(grpc.RpcError) as refused:
            _get_run(topo, mine, workspace, their_run)
        assert refused.value.code() is grpc.StatusCode.NOT_FOUND, workspace


def _urls_isolated(
    topo: Topology, minted: dict[str, tuple[str, str]], mine: str, theirs: str
) -> None:
    """A URL minted for ``mine`` reads its object; ``mine`` cannot mint ``theirs``'s files,
    and the URL rewritten to name one of them is refused by the store."""
    (own_path, own_url), (their_path, _) = minted[mine], minted[theirs]
    with httpx.Client(timeout=10) as plain:
        fetched = plain.get(own_url)
        assert fetched.status_code == 200 and fetched.content[:4] == b"PAR1"
        own_key = quote(f"workspace={mine}/{own_path}", safe="/")
        their_key = quote(f"workspace={theirs}/{their_path}", safe="/")
        assert own_key in own_url
        forged = plain.get(own_url.replace(own_key, their_key))
        assert forged.status_code == 403, forged.text
    headers = {"authorization": f"Bearer {topo.token(mine, ADMINS)}"}
    with topo.edge.http() as http:
        refused = http.post(
            f"{topo.edge.url}/api/v1/browser/urls",
            json={"domain": "catalog", "paths": [their_path]},
            headers=headers,
        )
    assert refused.status_code == 403, refused.text
    assert refused.json()["details"]["reason"] == "not_in_allowlist"


def _mint_one(topo: Topology, ws: str) -> tuple[str, str]:
    """(path, signed URL) of one catalog file of ``ws``, minted by a user of ``ws``."""
    # Minting is the admins' (the matrix); listing is open to viewers.
    front, headers = topo.edge, {"authorization": f"Bearer {topo.token(ws, ADMINS)}"}
    with front.http() as http:
        listed = http.get(f"{front.url}/api/v1/browser/files?domain=catalog", headers=headers)
        assert listed.status_code == 200, listed.text
        files = [f["path"] for f in listed.json()["files"] if f["path"].endswith(".parquet")]
        assert files, listed.text
        minted = http.post(
            f"{front.url}/api/v1/browser/urls",
            json={"domain": "catalog", "paths": files[:1]},
            headers=headers,
        )
    assert minted.status_code == 200, minted.text
    url = minted.json()["urls"][0]["url"]
    return files[0], str(url)
