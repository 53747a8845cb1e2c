"""Issue 14: one mesh serves many workspaces. Every service is its own process (one api,
one compactor per domain, one dispatcher, sweeper and automation, a worker of both
workspaces) on LocalStore: a workspace created while the mesh runs gets its runs
dispatched with no service restarted, both workspaces deploy and run, and SQL in each
sees only its own runs and tasks.

The sweeper's READY and DISPATCHED timeouts are far beyond the test, so only the
dispatcher can send the new workspace's tasks: if it did not pick the workspace up from
the registry, the run would never leave READY.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from arco_sdk.client import ArcoClient
from services.mesh import Mesh
from tests.integration.e2e_assets.harness import (
    DAG_MODULE,
    client_for,
    deploy,
    make_mesh,
    service_log,
    tasks_of,
    wait_run,
)

RUN_TIMEOUT = 90.0
SECOND = "second"
NO_SWEEPER_DISPATCH_SEC = "3600"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    home = tmp_path_factory.mktemp("e2e-workspaces")
    running = make_mesh(
        home,
        modules=[DAG_MODULE],
        workers=1,
        worker_env={"ARCO_WORKER_WORKSPACE_ID": f"default,{SECOND}"},
        extra_env={
            "ARCO_SCOPE_REFRESH_SEC": "0.5",
            "ARCO_SWEEP_READY_TIMEOUT_SEC": NO_SWEEPER_DISPATCH_SEC,
            "ARCO_SWEEP_DISPATCH_TIMEOUT_SEC": NO_SWEEPER_DISPATCH_SEC,
        },
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _pids(mesh: Mesh) -> dict[str, int]:
    return {name: pid for name, pid, _, _ in mesh.describe()}


def _runs(client: ArcoClient) -> set[str]:
    return {row["run_id"] for row in client.query("SELECT run_id FROM system.orchestration.runs")}


def _tasks(client: ArcoClient) -> set[tuple[str, str]]:
    rows = client.query("SELECT run_id, task_key FROM system.orchestration.tasks")
    return {(row["run_id"], row["task_key"]) for row in rows}


def test_a_workspace_created_while_the_mesh_runs_is_served_and_kept_apart(mesh: Mesh) -> None:
    with client_for(mesh) as first:
        deploy(first, DAG_MODULE)
        first_run = first.trigger_run(["e2e.sink"], include_upstream=True).run_id
        done = wait_run(first, first_run, timeout=RUN_TIMEOUT, mesh=mesh)
        assert done["state"] == "SUCCEEDED"
        before = _pids(mesh)
        assert "dispatcher" in before and "api" in before

        created = first.create_workspace(SECOND)
        assert created.created
        with ArcoClient(
            f"http://{mesh.address('gateway')}", tenant_id=mesh.tenant_id, workspace_id=SECOND
        ) as second:
            deploy(second, DAG_MODULE)
            second_run = second.trigger_run(["e2e.left"], include_upstream=True).run_id
            done_second = wait_run(second, second_run, timeout=RUN_TIMEOUT, mesh=mesh)
            assert done_second["state"] == "SUCCEEDED", done_second
            assert set(tasks_of(done_second)) == {"e2e.source", "e2e.left"}

            # Nothing restarted: the same processes served the new workspace.
            assert _pids(mesh) == before
            assert all(m.process.poll() is None for m in mesh.services.values())
            assert f'"workspace_id": "{SECOND}"' in _scope_openings(mesh, "dispatcher")

            # SQL in each workspace sees its own runs and tasks only.
            assert _runs(first) == {first_run}
            assert _runs(second) == {second_run}
            assert _tasks(first) == {(first_run, key) for key in tasks_of(done)}
            assert _tasks(second) == {(second_run, "e2e.source"), (second_run, "e2e.left")}
            # Each workspace's run is unknown by id in the other.
            assert second_run not in {r.run_id for r in first.list_runs().runs}
            assert first_run not in {r.run_id for r in second.list_runs().runs}


def _scope_openings(mesh: Mesh, name: str) -> str:
    return "\n".join(
        line for line in service_log(mesh, name).splitlines() if '"scope_opened"' in line
    )
