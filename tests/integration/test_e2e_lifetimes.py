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
    running = make_mesh(
        tmp_path_factory.mktemp("e2e-token-ttl"),
        modules=[LIFETIMES_MODULE],
        workers=1,
        # No leeway: a token is refused the second its TTL is over.
        extra_env={
            "ARCO_TASK_TOKEN_TTL_SEC": str(TOKEN_TTL_SEC),
            "ARCO_TASK_TOKEN_LEEWAY_SEC": "0",
        },
        worker_env={OUTLIVE_ENV: str(OUTLIVE_SEC)},
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


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
