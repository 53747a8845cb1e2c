"""Issue #4 acceptance: the HTTP dispatch adapter interoperates with workers that speak only
the JSON contract (their gRPC listener is disabled), through the real mesh."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from arco_sdk.client import ArcoClient
from services.mesh import Mesh
from tests.integration.e2e_assets.harness import (
    DAG_MODULE,
    client_for,
    deploy,
    make_mesh,
    run_events,
    service_log,
    tasks_of,
    wait_run,
)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    running = make_mesh(
        tmp_path_factory.mktemp("e2e-http"),
        modules=[DAG_MODULE],
        worker_env={"ARCO_WORKER_GRPC_ADDRESS": ""},  # JSON over HTTP only
        worker_transport="http",
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_http_adapter_runs_a_dag_on_json_only_workers(mesh: Mesh) -> None:
    for name in ("worker-1", "worker-2"):
        assert mesh.services[name].ready.get("grpc_address") in (None, "")
        assert mesh.services[name].ready["http_address"]
    http_targets = {
        f"http://{mesh.services[n].ready['http_address']}" for n in ("worker-1", "worker-2")
    }

    client: ArcoClient
    with client_for(mesh) as client:
        deploy(client, DAG_MODULE)
        run_id = client.trigger_run(["e2e.sink"], include_upstream=True).run_id
        run = wait_run(client, run_id, timeout=90, mesh=mesh)

    assert run["state"] == "SUCCEEDED"
    tasks = tasks_of(run)
    assert len(tasks) == 5
    assert {t["state"] for t in tasks.values()} == {"SUCCEEDED"}
    events = run_events(mesh, run_id)
    workers = {e.data["worker_id"] for e in events if e.event_type == "TaskStarted"}
    assert workers <= {"worker-1", "worker-2"} and workers
    enqueued = [e for e in events if e.event_type == "DispatchEnqueued"]
    assert len(enqueued) == 5

    # Every envelope went out through the HTTP adapter to a worker's /dispatch.
    sent = [
        json.loads(line)
        for line in service_log(mesh, "dispatcher").splitlines()
        if '"dispatch_sent"' in line
    ]
    assert len(sent) >= 5
    assert {entry["target"] for entry in sent} <= http_targets
    assert "dispatch_failed" not in service_log(mesh, "dispatcher")
