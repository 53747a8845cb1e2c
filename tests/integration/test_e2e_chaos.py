"""Issue #4 acceptance, chaos: a 100-task run (ten fan-out/fan-in groups) while the test
SIGKILLs the api, the compactors, the dispatcher and the sweeper at random moments and
restarts each in place (``Mesh.restart``: same spec, same addresses).

Whatever was killed when, every run must converge to SUCCEEDED with each task's success
applied exactly once, and no ledger event may be left unfolded: compacting the whole
ledger again applies nothing, and replaying it from scratch reproduces the published
run and task states. The RNG seed is printed (set ``E2E_CHAOS_SEED`` to replay a order).
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.tables import IDEMPOTENCY_KEYS
from arco_runtime.tls import Role, TlsConfig
from arco_sdk.client import ArcoClient
from services.common.compactor_client import CompactorClient
from services.mesh import Mesh, grpc_serving
from tests.integration.e2e_assets.chaos import task_keys
from tests.integration.e2e_assets.harness import (
    CHAOS_MODULE,
    TERMINAL,
    client_for,
    deploy,
    ledger_events,
    ledger_paths,
    make_mesh,
    projection,
    tasks_of,
    wait_run,
)

# Each at least five times; the catalog compactor a couple of times too.
KILLS = {
    "api": 5,
    "compactor-orchestration": 5,
    "dispatcher": 5,
    "sweeper": 5,
    "compactor-catalog": 2,
}
FINISHED = ("TaskCompletionRecorded", "TaskFinished")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


@pytest.fixture
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    running = make_mesh(
        tmp_path_factory.mktemp("e2e-chaos"),
        modules=[CHAOS_MODULE],
        extra_env={
            # Repairs come quickly: a READY task without dispatch after 5 s, an unstarted
            # dispatch re-sent after 10 s.
            "ARCO_SWEEP_READY_TIMEOUT_SEC": "5",
            "ARCO_SWEEP_DISPATCH_TIMEOUT_SEC": "10",
        },
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _state_or_none(client: ArcoClient, run_id: str) -> str | None:
    try:
        return client.get_run(run_id).state
    except Exception:  # the api (or its compactor) may be down right now
        return None


def _trigger(client: ArcoClient, run_key: str) -> str:
    """Trigger with a run key, so retrying through an api restart cannot make two runs."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return client.trigger_run(task_keys(), run_key=run_key).run_id
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_chaos_kills_converge_with_exactly_once_success(mesh: Mesh) -> None:
    seed = int(os.environ.get("E2E_CHAOS_SEED", time.time_ns() % 1_000_000))
    print(f"chaos seed {seed}")
    rng = random.Random(seed)
    schedule = [name for name, count in KILLS.items() for _ in range(count)]
    rng.shuffle(schedule)
    # Production posture: every hop is mutual TLS, a plaintext peer is not even answered.
    for name in ("api", "compactor-orchestration", "dispatcher", "sweeper"):
        assert not grpc_serving(mesh.address(name), TlsConfig.plaintext()), name
        assert grpc_serving(mesh.address(name), mesh.tls_config(Role.API)), name

    with client_for(mesh) as client:
        deploy(client, CHAOS_MODULE)
        runs = [_trigger(client, "chaos-0")]
        kills: collections.Counter[str] = collections.Counter()
        overlapping = 0
        for name in schedule:
            time.sleep(rng.uniform(0.2, 1.5))
            # Keep every kill overlapping an active run: start another once one finished.
            if _state_or_none(client, runs[-1]) in TERMINAL:
                runs.append(_trigger(client, f"chaos-{len(runs)}"))
            else:
                overlapping += 1
            mesh.restart(name)
            kills[name] += 1
        assert all(kills[name] >= count for name, count in KILLS.items())
        print(f"kills {dict(kills)}; runs {len(runs)}; kills during a live run >= {overlapping}")

        finished = [wait_run(client, run_id, timeout=200, mesh=mesh) for run_id in runs]

    for run in finished:
        assert run["state"] == "SUCCEEDED", (run["runId"], run["state"])
        tasks = tasks_of(run)
        assert len(tasks) == 100
        assert {t["state"] for t in tasks.values()} == {"SUCCEEDED"}

    state = projection(mesh)
    events = ledger_events(mesh)
    applied_ids = {row.event_id for row in state.rows(IDEMPOTENCY_KEYS)}
    for run_id in runs:
        row = state.get_run(run_id)
        assert row is not None
        assert (row.tasks_total, row.tasks_completed, row.tasks_succeeded) == (100, 100, 100)
        assert (row.tasks_failed, row.tasks_skipped, row.tasks_cancelled) == (0, 0, 0)

        # Exactly one applied success per task (redelivered completions may sit in the
        # ledger, but the fold applied each task's success once).
        successes: collections.Counter[str] = collections.Counter()
        recorded: collections.Counter[str] = collections.Counter()
        for event in events:
            if event.event_type not in FINISHED or event.data.get("run_id") != run_id:
                continue
            if event.data.get("outcome") == "succeeded":
                recorded[event.data["task_key"]] += 1
                if event.event_id in applied_ids:
                    successes[event.data["task_key"]] += 1
        assert set(successes) == set(task_keys())
        assert set(successes.values()) == {1}, {k: v for k, v in successes.items() if v != 1}
        duplicates = sum(recorded.values()) - len(recorded)
        print(f"run {run_id}: {duplicates} redelivered success event(s) deduplicated")

    _assert_no_event_lost(mesh, state, runs)


def _assert_no_event_lost(mesh: Mesh, state: FoldState, runs: list[str]) -> None:
    paths = ledger_paths(mesh)

    async def compact_all() -> Any:
        # The api's certificate: CompactEvents is the api's (and the senders') to call.
        compactor = CompactorClient(
            mesh.address("compactor-orchestration"), mesh.tls_config(Role.API)
        )
        try:
            return await compactor.compact(paths)
        finally:
            await compactor.close()

    # Folding every ledger object again changes nothing: everything was already folded.
    answer = asyncio.run(compact_all())
    assert answer.events_applied == 0, f"{answer.events_applied} event(s) were never folded"

    # Replaying the whole ledger from scratch reproduces the published runs and tasks.
    replay = FoldState(tenant_id=mesh.tenant_id, workspace_id=mesh.workspace_id)
    replay.fold(ledger_events(mesh))
    published = projection(mesh)
    for run_id in runs:
        mine, theirs = replay.get_run(run_id), published.get_run(run_id)
        assert mine is not None and theirs is not None
        assert (mine.state, mine.tasks_completed, mine.tasks_succeeded) == (
            theirs.state,
            theirs.tasks_completed,
            theirs.tasks_succeeded,
        )
        for task in published.list_tasks(run_id):
            again = replay.get_task(run_id, task.task_key)
            assert again is not None
            assert (again.state, again.attempt, again.attempt_id) == (
                task.state,
                task.attempt,
                task.attempt_id,
            ), task.task_key
