"""Issue #11 acceptance: a worker that turns on the mesh changes nothing.

A real mesh (every service its own process, mutual TLS) runs some runs to the end; then a
caller holding a genuine WORKER certificate goes straight for the control plane: the
orchestration compactor's GetHead, Rebuild (with a real ledger path), CompactEvents and
SyncCompact, the dispatcher's RunDispatch and the sweeper's RunSweep. Every call is
PERMISSION_DENIED naming the worker role; the published state (every file under the
``state/`` and ``manifests/`` prefixes of the storage root) is byte-identical before and
after, and ListRuns through the gateway answers the same runs in the same states.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from arco.compactor.v1 import compactor_service_pb2 as cpb
from arco.compactor.v1 import compactor_service_pb2_grpc as cpb_grpc
from arco.dispatch.v1 import dispatcher_service_pb2 as dpb
from arco.dispatch.v1 import dispatcher_service_pb2_grpc as dpb_grpc
from arco.sweeper.v1 import sweeper_service_pb2 as spb
from arco.sweeper.v1 import sweeper_service_pb2_grpc as spb_grpc

from arco_runtime.authz import refusal
from arco_runtime.tls import Role, sync_channel
from arco_sdk.client import ArcoClient
from services.mesh import Mesh
from tests.integration.e2e_assets.harness import (
    DAG_MODULE,
    client_for,
    deploy,
    ledger_paths,
    make_mesh,
    wait_run,
)

RUN_TIMEOUT = 90.0
PUBLISHED_PREFIXES = ("state", "manifests")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    running = make_mesh(tmp_path_factory.mktemp("attack-mesh"), modules=[DAG_MODULE], workers=1)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def client(mesh: Mesh) -> Iterator[ArcoClient]:
    with client_for(mesh) as api:
        deploy(api, DAG_MODULE)
        yield api


def published_state(mesh: Mesh) -> dict[str, str]:
    """sha256 of every published file (state and manifests of every domain), by path."""
    root = Path(mesh.storage_url.removeprefix("file://"))
    digests: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and any(part in PUBLISHED_PREFIXES for part in relative.parts):
            digests[relative.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def listed_runs(client: ArcoClient) -> list[tuple[str, str]]:
    return [(run.run_id, run.state) for run in client.list_runs(limit=100).runs]


def test_a_worker_certificate_cannot_touch_the_control_plane(
    mesh: Mesh, client: ArcoClient
) -> None:
    run_ids = [client.trigger_run(["e2e.sink"], include_upstream=True).run_id for _ in range(2)]
    for run_id in run_ids:
        assert wait_run(client, run_id, timeout=RUN_TIMEOUT, mesh=mesh)["state"] == "SUCCEEDED"
    paths = ledger_paths(mesh)
    assert paths, "the runs wrote orchestration events"
    before = published_state(mesh)
    assert {part for p in before for part in Path(p).parts} >= set(PUBLISHED_PREFIXES)
    runs_before = listed_runs(client)
    assert {run_id for run_id, _ in runs_before} >= set(run_ids)

    worker = mesh.tls_config(Role.WORKER)
    attempts: list[tuple[str, Any]] = []
    with (
        sync_channel(mesh.address("compactor-orchestration"), worker) as compactor_channel,
        sync_channel(mesh.address("dispatcher"), worker) as dispatcher_channel,
        sync_channel(mesh.address("sweeper"), worker) as sweeper_channel,
    ):
        compactor = cpb_grpc.CompactorServiceStub(compactor_channel)
        dispatcher = dpb_grpc.DispatcherServiceStub(dispatcher_channel)
        sweeper = spb_grpc.SweeperServiceStub(sweeper_channel)
        calls: list[tuple[str, Any]] = [
            ("/arco.compactor.v1.CompactorService/GetHead", lambda: compactor.GetHead(
                cpb.GetHeadRequest(), timeout=10)),
            ("/arco.compactor.v1.CompactorService/Rebuild", lambda: compactor.Rebuild(
                cpb.RebuildRequest(event_paths=paths[:1], request_id="attack"), timeout=10)),
            ("/arco.compactor.v1.CompactorService/CompactEvents", lambda: compactor.CompactEvents(
                cpb.CompactEventsRequest(event_paths=paths, request_id="attack"), timeout=10)),
            ("/arco.compactor.v1.CompactorService/SyncCompact", lambda: compactor.SyncCompact(
                cpb.SyncCompactRequest(
                    event_paths=paths, fencing_token=1, lock_name="orchestration",
                    request_id="attack",
                ),
                timeout=10,
            )),
            ("/arco.dispatch.v1.DispatcherService/RunDispatch", lambda: dispatcher.RunDispatch(
                dpb.RunDispatchRequest(), timeout=10)),
            ("/arco.sweeper.v1.SweeperService/RunSweep", lambda: sweeper.RunSweep(
                spb.RunSweepRequest(), timeout=10)),
        ]  # fmt: skip
        for method, call in calls:
            with pytest.raises(grpc.RpcError) as refused:
                call()
            attempts.append((method, refused.value))
    for method, error in attempts:
        assert error.code() is grpc.StatusCode.PERMISSION_DENIED, (method, error.details())
        assert error.details() == refusal(Role.WORKER, method)

    assert published_state(mesh) == before
    assert listed_runs(client) == runs_before
