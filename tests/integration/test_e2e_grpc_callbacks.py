"""Workers that call back over gRPC (``ARCO_WORKER_CALLBACK_ADDRESS``): started,
heartbeat, completed and the log upload go straight to the api's TaskCallbackService over
mutual TLS, and the gateway serves none of them; the run converges as it does over REST."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

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

CALLBACK_OPERATIONS = {"task_started", "task_heartbeat", "task_completed", "upload_run_logs"}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    running = make_mesh(
        tmp_path_factory.mktemp("e2e-grpc-callbacks"), modules=[DAG_MODULE], callbacks="api"
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _gateway_operations(mesh: Mesh) -> set[str]:
    lines = (json.loads(line) for line in service_log(mesh, "gateway").splitlines() if line)
    return {entry["operation"] for entry in lines if entry.get("event") == "http_request"}


def test_a_dag_runs_with_every_callback_over_grpc(mesh: Mesh) -> None:
    for name in ("worker-1", "worker-2"):
        assert mesh.services[name].ready["callbacks"] == "grpc"
    with client_for(mesh) as client:
        deploy(client, DAG_MODULE)
        run_id = client.trigger_run(["e2e.sink"], include_upstream=True).run_id
        run = wait_run(client, run_id, timeout=90, mesh=mesh)
        assert run["state"] == "SUCCEEDED"
        tasks = tasks_of(run)
        assert len(tasks) == 5 and {t["state"] for t in tasks.values()} == {"SUCCEEDED"}
        # Every attempt's captured output was stored (UploadTaskLogs over gRPC).
        logs = client.get_logs(run_id)
    for key in tasks:
        assert key in logs.text, (key, logs.text[:500])
    events = run_events(mesh, run_id)
    assert len([e for e in events if e.event_type == "TaskStarted"]) == 5
    # The gateway answered the client's calls, and none of the workers'.
    served = _gateway_operations(mesh)
    assert "get_run" in served
    assert not served & CALLBACK_OPERATIONS, served
