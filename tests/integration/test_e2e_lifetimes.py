"""Issue #12 items 2 and 3 through the real mesh: an attempt outlives its task token, and
an attempt pushed twice runs once."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from services.mesh import Mesh
from tests.integration.e2e_assets.harness import (
    client_for,
    deploy,
    make_mesh,
    read_marker,
    service_log,
    tasks_of,
    wait_for,
    wait_run,
)
from tests.integration.e2e_assets.lifetimes import OUTLIVE_ENV

LIFETIMES_MODULE = "tests.integration.e2e_assets.lifetimes"
TOKEN_TTL_SEC = 4
OUTLIVE_SEC = 4 * TOKEN_TTL_SEC


def _events(mesh: Mesh, service: str, event: str) -> list[dict[str, object]]:
    return [
        json.loads(line) for line in service_log(mesh, service).splitlines() if f'"{event}"' in line
    ]


@pytest.fixture(scope="module")
def short_token_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    with make_mesh(
        tmp_path_factory.mktemp("e2e-token-ttl"),
        modules=[LIFETIMES_MODULE],
        workers=1,
        # No leeway: a token is refused the second its TTL is over.
        extra_env={
            "ARCO_TASK_TOKEN_TTL_SEC": str(TOKEN_TTL_SEC),
            "ARCO_TASK_TOKEN_LEEWAY_SEC": "0",
        },
        worker_env={OUTLIVE_ENV: str(OUTLIVE_SEC)},
    ) as running:
        yield running


def test_a_task_longer_than_its_token_ttl_succeeds(short_token_mesh: Mesh) -> None:
    mesh = short_token_mesh
    with client_for(mesh) as client:
        deploy(client, LIFETIMES_MODULE)
        run_id = client.trigger_run(["life.outlives_token"]).run_id
        run = wait_run(client, run_id, timeout=OUTLIVE_SEC + 45, mesh=mesh)

    assert run["state"] == "SUCCEEDED", run
    task = tasks_of(run)["life.outlives_token"]
    assert (task["state"], task["attempt"]) == ("SUCCEEDED", 1)
    # One execution that ran to its end: the first attempt, not a retry after a reap.
    assert read_marker(mesh, run_id, "outlives_token.done1") is not None
    assert read_marker(mesh, run_id, "outlives_token.attempt2") is None
    # The api renewed the token in heartbeat answers, more than once over four TTLs, and
    # the worker never saw a callback refused for its token.
    renewed = [e for e in _events(mesh, "api", "task_token_renewed") if e.get("attempt") == 1]
    assert len(renewed) >= 2, renewed
    worker_log = service_log(mesh, "worker-1")
    assert "heartbeat_unauthenticated" not in worker_log
    assert "completion_not_delivered" not in worker_log


@pytest.fixture(scope="module")
def busy_http_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    with make_mesh(
        tmp_path_factory.mktemp("e2e-attempt-claim"),
        modules=[LIFETIMES_MODULE],
        workers=2,
        worker_env={"ARCO_WORKER_GRPC_ADDRESS": "", "ARCO_WORKER_CONCURRENCY": "1"},
        worker_transport="http",
    ) as running:
        yield running


def _release(mesh: Mesh, run_id: str) -> None:
    (mesh.home / "markers" / f"{run_id}.release").touch()


def _executions(mesh: Mesh, run_id: str) -> list[str]:
    path = mesh.home / "markers" / f"{run_id}.exclusive.executions"
    return path.read_text().splitlines() if path.exists() else []


def test_an_attempt_pushed_twice_runs_once(busy_http_mesh: Mesh) -> None:
    """The push of ``exclusive`` reaches the busy worker, which waits for its only slot
    longer than the dispatcher waits for an answer; the dispatcher then pushes the same
    attempt to the other worker, which runs it. When the busy worker's slot frees up,
    its ``started`` is refused with attempt_claimed and it does not run the asset."""
    mesh = busy_http_mesh
    with client_for(mesh) as client:
        deploy(client, LIFETIMES_MODULE)
        blocker_run = client.trigger_run(["life.blocker"]).run_id
        busy = wait_for(
            "the blocker to hold its worker",
            lambda: read_marker(mesh, blocker_run, "blocker"),
            timeout=30,
        )["worker"]
        # Moves the dispatcher's round robin on: the next push goes to the busy worker.
        quick_run = client.trigger_run(["life.quick"]).run_id
        assert wait_run(client, quick_run, timeout=60, mesh=mesh)["state"] == "SUCCEEDED"

        exclusive_run = client.trigger_run(["life.exclusive"]).run_id
        first = wait_for("exclusive to run", lambda: _executions(mesh, exclusive_run), timeout=60)
        _release(mesh, blocker_run)
        assert wait_run(client, blocker_run, timeout=60, mesh=mesh)["state"] == "SUCCEEDED"
        # The busy worker got its slot and answered the stale delivery of the attempt.
        dispatch = f"dispatch:{exclusive_run}:life.exclusive:1"
        handled = wait_for(
            "the busy worker to handle its delivery of exclusive",
            lambda: [
                e
                for e in _events(mesh, busy, "started_refused_not_executing")
                + _events(mesh, busy, "task_started")
                if e.get("dispatch_id") == dispatch
            ],
            timeout=60,
        )
        _release(mesh, exclusive_run)
        run = wait_run(client, exclusive_run, timeout=60, mesh=mesh)

    assert run["state"] == "SUCCEEDED", run
    assert tasks_of(run)["life.exclusive"]["attempt"] == 1
    # Executed exactly once for its attempt, by the worker that was not busy.
    assert _executions(mesh, exclusive_run) == first and len(first) == 1, first
    assert not first[0].endswith(f" {busy}"), first
    assert [(e["event"], e.get("error")) for e in handled] == [
        ("started_refused_not_executing", "attempt_claimed")
    ]
