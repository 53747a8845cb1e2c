"""Issue 14 item 2, replicas behind Envoy: on SeaweedFS S3 (real conditional writes), in
staging posture, workspace ``alpha`` runs 2 gateways, 2 apis, 2 orchestration compactors
(racing on one scope), 2 dispatchers, 1 sweeper and 3 workers with Envoy in front
(round-robin, active health checks); ``beta`` runs one of each with its own Envoy. Both
workspaces' DAGs run concurrently while one replica of each kind of ``alpha`` is killed
with SIGKILL and restarted (the sweeper repairs).

Every run converges to SUCCEEDED; every task has exactly one execution of its succeeded
attempt, no attempt completes twice and no success is applied twice; nothing is lost (a
whole re-compaction applies nothing and the projection equals a fresh replay of the
ledger). Neither workspace sees the other's data over REST, gRPC, SQL or signed URLs.

Today each service serves one scope, so each workspace is its own cell of replicas
(:mod:`tests.support.topology`); when the replicas serve many workspaces, ``WORKSPACES``
becomes one cell holding them all and the test body stays.
"""

from __future__ import annotations

import collections
import contextlib
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
from tests.support.topology import ADMINS, Replicas, Topology, topology
from tests.topology.assets import EXECUTIONS, TASK_KEYS

MODULE = "tests.topology.assets"
REPLICATED = "alpha"
WORKSPACES = {REPLICATED: Replicas(), "beta": Replicas.single()}
# One replica of each kind, the worker first (its lost attempt waits out the 30 s
# heartbeat timeout); a new run starts in every workspace before each kill.
KILLS = ("worker-1", "gateway-1", "api-1", "compactor-orchestration-1", "dispatcher-1")
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
    with (
        topology(home, seaweed, workspaces=WORKSPACES, worker_modules=[MODULE]) as topo,
        contextlib.ExitStack() as closing,
    ):
        clients = {ws: closing.enter_context(topo.client(ws)) for ws in topo.workspaces}
        for ws, client in clients.items():
            _retry(lambda client=client: deploy(client, MODULE))
            _create_namespace(topo, ws)
        runs: dict[str, list[str]] = {ws: [] for ws in topo.workspaces}
        for wave, victim in enumerate(KILLS):
            for ws, client in clients.items():
                key = f"{ws}-{wave}"
                runs[ws].append(
                    _retry(lambda c=client, k=key: c.trigger_run(TASK_KEYS, run_key=k)).run_id
                )
            time.sleep(1.0)  # tasks of the new runs are on their way or running
            topo.restart(REPLICATED, victim)
        for ws, client in clients.items():
            cell = topo.cell(ws)
            for run_id in runs[ws]:
                run = wait_run(client, run_id, timeout=RUN_TIMEOUT_SEC, mesh=cell)
                assert run["state"] == "SUCCEEDED", (ws, run_id, run)
                states = {t["state"] for t in tasks_of(run).values()}
                assert set(tasks_of(run)) == set(TASK_KEYS) and states == {"SUCCEEDED"}
                _each_task_ran_once(cell.home, run)
        for ws in topo.workspaces:
            _nothing_lost(topo, ws, runs[ws])
        _isolated(topo, runs, "alpha", "beta")
        _isolated(topo, runs, "beta", "alpha")


def _create_namespace(topo: Topology, ws: str) -> None:
    """A catalog namespace, so each workspace has catalog files to sign URLs for."""
    headers = {"authorization": f"Bearer {topo.token(ws, ADMINS)}"}
    with topo.edge(ws).http() as http:
        made = _retry(
            lambda: http.post(
                f"{topo.edge(ws).url}/api/v1/namespaces", json={"name": f"ns_{ws}"}, headers=headers
            )
        )
    assert made.status_code in (200, 201), made.text


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
    cell = topo.cell(ws)
    # Any replica's view will do: the racing compactors publish one head.
    assert never_folded(cell, cell.names("compactor-orchestration")[0]) == 0
    events = ledger_events(cell)
    assert replay_differences(cell, events, runs) == 0  # a missing run is a difference
    assert _successes_applied_twice(projection(cell), events, runs) == 0


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


def _isolated(topo: Topology, runs: dict[str, list[str]], mine: str, theirs: str) -> None:
    """A user of ``mine`` finds nothing of ``theirs``, whichever way they ask."""
    own_run, their_run = runs[mine][0], runs[theirs][0]
    # REST through the edge: the run of the other workspace is 404 under either path, and
    # from the other workspace's edge; the caller's own run answers (the control).
    with topo.client(mine) as client, topo.client(mine, through=theirs) as elsewhere:
        assert client.get_run(own_run).state == "SUCCEEDED"
        for reader in (client, elsewhere):
            with pytest.raises(ArcoApiError) as refused:
                reader.get_run(their_run)
            assert refused.value.status == 404
        with topo.edge(mine).http() as http:
            answer = http.get(
                f"{topo.edge(mine).url}/api/v1/workspaces/{theirs}/runs/{their_run}",
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
    _urls_isolated(topo, mine, theirs)


def _get_run(topo: Topology, edge_of: str, user_of: str, workspace: str, run_id: str) -> Any:
    with topo.edge(edge_of).channel() as channel:
        return orch_grpc.OrchestrationServiceStub(channel).GetRun(
            orch_pb.GetRunRequest(workspace_id=workspace, run_id=run_id),
            metadata=(("authorization", f"Bearer {topo.token(user_of)}"),),
            timeout=15,
        )


def _grpc_isolated(topo: Topology, mine: str, theirs: str, own_run: str, their_run: str) -> None:
    assert _get_run(topo, mine, mine, mine, own_run).run_id == own_run
    assert _get_run(topo, theirs, theirs, theirs, their_run).run_id == their_run
    for edge_of, workspace in ((mine, mine), (mine, theirs), (theirs, theirs)):
        with pytest.raises(grpc.RpcError) as refused:
            _get_run(topo, edge_of, mine, workspace, their_run)
        assert refused.value.code() is grpc.StatusCode.NOT_FOUND, (edge_of, workspace)


def _urls_isolated(topo: Topology, mine: str, theirs: str) -> None:
    """A URL minted for ``mine`` reads its object; ``mine`` cannot mint ``theirs``'s files,
    and the URL rewritten to name one of them is refused by the store."""
    own_path, own_url = _mint_one(topo, mine)
    their_path, _ = _mint_one(topo, theirs)
    with httpx.Client(timeout=10) as plain:
        fetched = plain.get(own_url)
        assert fetched.status_code == 200 and fetched.content[:4] == b"PAR1"
        own_key = quote(f"workspace={mine}/{own_path}", safe="/")
        their_key = quote(f"workspace={theirs}/{their_path}", safe="/")
        assert own_key in own_url
        forged = plain.get(own_url.replace(own_key, their_key))
        assert forged.status_code == 403, forged.text
    headers = {"authorization": f"Bearer {topo.token(mine, ADMINS)}"}
    with topo.edge(mine).http() as http:
        refused = http.post(
            f"{topo.edge(mine).url}/api/v1/browser/urls",
            json={"domain": "catalog", "paths": [their_path]},
            headers=headers,
        )
    assert refused.status_code == 403, refused.text
    assert refused.json()["details"]["reason"] == "not_in_allowlist"


def _mint_one(topo: Topology, ws: str) -> tuple[str, str]:
    """(path, signed URL) of one catalog file of ``ws``, minted by a user of ``ws``."""
    # Minting is the admins' (the matrix); listing is open to viewers.
    front, headers = topo.edge(ws), {"authorization": f"Bearer {topo.token(ws, ADMINS)}"}
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
