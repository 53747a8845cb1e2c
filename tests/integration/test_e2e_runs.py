"""Issue #4 acceptance: whole runs through the real mesh (every service its own process,
real gRPC and HTTP on loopback, LocalStore under the mesh home).

One mesh serves the module (two workers, 0.5 s sweeps, 1 s running grace). Tests run in
file order; the worker-kill test comes late because it restarts a worker, and the audit
test last because it inspects everything the module wrote.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pyarrow.parquet as pq
import pytest
from arco.worker.v1 import worker_service_pb2 as wpb
from arco.worker.v1 import worker_service_pb2_grpc as wpb_grpc

from arco_core.ids import callback_task_id, cloud_task_id, dispatch_id, ulid_timestamp_ms
from arco_core.orchestration.decisions import ANTI_ENTROPY_WORKER, DispatchAction
from arco_core.paths import Scope
from arco_core.registry import entry_path
from arco_core.storage import REGISTRY_ROOT
from arco_core.tokens import TaskTokenSigner
from arco_runtime.tls import Role, TlsConfig, aio_channel
from arco_sdk.client import ArcoClient
from services.common.dispatch import DISPATCH_SECRET_HEADER, EnvelopeBuilder
from services.mesh import Mesh
from tests.integration.e2e_assets.harness import (
    DAG_MODULE,
    client_for,
    deploy,
    ledger_events,
    ledger_paths,
    make_mesh,
    projection,
    read_marker,
    run_events,
    service_log,
    tasks_of,
    wait_for,
    wait_run,
)

RUN_TIMEOUT = 90.0
RETRY_BACKOFF_MS = 30_000  # the fold's backoff for attempt 1 (orchestration.md §2.4)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    home = tmp_path_factory.mktemp("e2e-mesh")
    running = make_mesh(home, modules=[DAG_MODULE])
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


def trigger(client: ArcoClient, *keys: str) -> str:
    return client.trigger_run(list(keys), include_upstream=True).run_id


def signer(mesh: Mesh) -> TaskTokenSigner:
    return TaskTokenSigner(
        mesh.secrets["ARCO_TASK_TOKEN_SECRET"], "arco", "arco-worker-callbacks", 3600
    )


def action_for_task(mesh: Mesh, run_id: str, task_key: str) -> DispatchAction:
    """The current attempt of a task as the dispatcher would send it."""
    task = projection(mesh).get_task(run_id, task_key)
    assert task is not None and task.attempt_id
    did = dispatch_id(run_id, task_key, task.attempt)
    return DispatchAction(
        run_id=run_id,
        task_key=task_key,
        attempt=task.attempt,
        attempt_id=task.attempt_id,
        dispatch_id=did,
        worker_queue=task.worker_queue,
        partition_key=task.partition_key,
        heartbeat_timeout_sec=task.heartbeat_timeout_sec,
        cloud_task_id=cloud_task_id("d", did),
    )


def callback(
    mesh: Mesh, action: DispatchAction, kind: str, *, body_attempt: int | None = None
) -> httpx.Response:
    """POST a worker callback for ``action``'s attempt (token minted for that attempt)."""
    token, _ = signer(mesh).mint(
        mesh.tenant_id,
        mesh.workspace_id,
        callback_task_id(action.run_id, action.task_key),
        action.run_id,
        action.attempt,
        action.attempt_id,
    )
    body: dict[str, Any] = {
        "attempt": body_attempt or action.attempt,
        "attemptId": action.attempt_id,
        "workerId": "e2e-test",
    }
    if kind == "completed":
        body["outcome"] = "SUCCEEDED"
    task_id = callback_task_id(action.run_id, action.task_key)
    return httpx.post(
        f"http://{mesh.address('gateway')}/api/v1/tasks/{task_id}/{kind}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def completions(events: list[Any], task_key: str) -> list[Any]:
    return [
        e
        for e in events
        if e.event_type in ("TaskCompletionRecorded", "TaskFinished")
        and e.data.get("task_key") == task_key
    ]


# -- 1. fan-out / fan-in ------------------------------------------------------------------


def test_fan_out_fan_in_dag_succeeds(mesh: Mesh, client: ArcoClient) -> None:
    run_id = trigger(client, "e2e.sink")
    run = wait_run(client, run_id, timeout=RUN_TIMEOUT, mesh=mesh)

    assert run["state"] == "SUCCEEDED"
    tasks = tasks_of(run)
    assert set(tasks) == {"e2e.source", "e2e.left", "e2e.middle", "e2e.right", "e2e.sink"}
    assert {key: t["state"] for key, t in tasks.items()} == dict.fromkeys(tasks, "SUCCEEDED")
    assert all(t["attempt"] == 1 for t in tasks.values())
    assert tasks["e2e.sink"]["dependsOn"] == ["e2e.left", "e2e.middle", "e2e.right"]
    # Fan-in waited for every branch: the sink started after each branch completed.
    for branch in ("e2e.left", "e2e.middle", "e2e.right"):
        assert tasks[branch]["completedAt"] <= tasks["e2e.sink"]["startedAt"]
        assert tasks["e2e.source"]["completedAt"] <= tasks[branch]["startedAt"]
    # Outputs exist and carry the data through the graph: (1+10) + (1+20) + (1+30).
    out = mesh.home / "output" / "e2e"
    for name in ("source", "left", "middle", "right", "sink"):
        assert (out / name / "_unpartitioned" / "data.parquet").is_file(), name
    sink = pq.read_table(out / "sink" / "_unpartitioned" / "data.parquet")
    assert sink["value"].to_pylist() == [63]
    counts = run["taskCounts"]
    assert counts.get("succeeded") == 5 and counts.get("total") == 5


# -- 2. retry with the published backoff ------------------------------------------------------


def test_retryable_failure_is_retried_after_the_published_deadline(
    mesh: Mesh, client: ArcoClient
) -> None:
    run_id = trigger(client, "e2e.flaky")

    def retry_wait() -> Any:
        task = projection(mesh).get_task(run_id, "e2e.flaky")
        return task if task is not None and task.state == "RETRY_WAIT" else None

    waiting = wait_for("flaky in RETRY_WAIT", retry_wait, timeout=RUN_TIMEOUT, interval=0.2)
    deadline = waiting.retry_not_before
    assert waiting.attempt == 1 and deadline is not None

    # The deadline is the failure event's ULID time + 30 s (worker clocks play no part).
    failure = completions(run_events(mesh, run_id), "e2e.flaky")
    assert len(failure) == 1 and failure[0].data["outcome"] == "failed"
    assert failure[0].data["error"]["retryable"] is True
    assert deadline == ulid_timestamp_ms(failure[0].event_id) + RETRY_BACKOFF_MS

    # A redelivery of the failed attempt is refused: its `started` gets 409.
    stale = action_for_task(mesh, run_id, "e2e.flaky")
    answer = callback(mesh, stale, "started")
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "attempt_already_completed"

    run = wait_run(client, run_id, timeout=RUN_TIMEOUT, mesh=mesh)
    assert run["state"] == "SUCCEEDED"
    task = tasks_of(run)["e2e.flaky"]
    assert task["state"] == "SUCCEEDED" and task["attempt"] == 2
    assert task["retryAttribution"]["retries"] == 1

    events = run_events(mesh, run_id)
    started = {e.data["attempt"]: e for e in events if e.event_type == "TaskStarted"}
    assert set(started) == {1, 2}
    # The second attempt started (server receipt time) no earlier than the deadline, and
    # the asset itself ran after it.
    assert started[2].timestamp_ms >= deadline
    second = read_marker(mesh, run_id, "flaky.attempt2")
    assert second is not None and second["at_ms"] >= deadline
    # The retry was requested by the sweeper, for attempt 2, not before the deadline.
    retry_requests = [
        e for e in events if e.event_type == "DispatchRequested" and e.data["attempt"] == 2
    ]
    assert retry_requests and all(ulid_timestamp_ms(e.event_id) >= deadline for e in retry_requests)
    assert all(e.source.startswith("arco-sweeper/") for e in retry_requests)

    # A late callback of the stale attempt changes nothing (its token no longer matches).
    late = callback(mesh, stale, "completed")
    assert late.status_code in (401, 409), late.text
    assert client.get_run(run_id).task("e2e.flaky").attempt == 2


# -- 3. non-retryable failure ------------------------------------------------------------


def test_non_retryable_failure_fails_the_run_and_skips_downstream(
    mesh: Mesh, client: ArcoClient
) -> None:
    run_id = trigger(client, "e2e.after_after")
    run = wait_run(client, run_id, timeout=RUN_TIMEOUT, mesh=mesh)

    assert run["state"] == "FAILED"
    tasks = tasks_of(run)
    broken = tasks["e2e.broken"]
    assert broken["state"] == "FAILED"
    assert broken["attempt"] == 1, "a non-retryable failure must not be retried"
    assert broken["maxAttempts"] == 4
    assert "can never work" in broken["errorMessage"]
    assert tasks["e2e.after_broken"]["state"] == "SKIPPED"
    assert tasks["e2e.after_broken"]["skipAttribution"] == {
        "upstreamTaskKey": "e2e.broken",
        "upstreamResolution": "FAILED",
    }
    assert tasks["e2e.after_after"]["state"] == "SKIPPED"
    assert tasks["e2e.after_after"]["skipAttribution"] == {
        "upstreamTaskKey": "e2e.after_broken",
        "upstreamResolution": "SKIPPED",
    }
    # Skipped tasks never ran anywhere.
    assert read_marker(mesh, run_id, "after_broken.attempt1") is None
    assert read_marker(mesh, run_id, "after_after.attempt1") is None
    events = run_events(mesh, run_id)
    assert {e.data["task_key"] for e in events if e.event_type == "TaskStarted"} == {"e2e.broken"}
    (finished,) = completions(events, "e2e.broken")
    assert finished.data["error"]["retryable"] is False
    # No retry was ever requested.
    assert not [e for e in events if e.event_type == "DispatchRequested" and e.data["attempt"] > 1]


# -- 4. cancel mid-run ---------------------------------------------------------------------


def test_cancel_mid_run_stops_running_workers(mesh: Mesh, client: ArcoClient) -> None:
    run_id = trigger(client, "e2e.after_slow")
    started = wait_for(
        "slow to start on a worker",
        lambda: read_marker(mesh, run_id, "slow.attempt1"),
        timeout=RUN_TIMEOUT,
    )
    assert client.get_run(run_id).task("e2e.slow").state == "RUNNING"

    client.cancel_run(run_id, reason="e2e")
    # The blocked downstream is cancelled at once; the running task keeps running until
    # its worker hears shouldCancel on a heartbeat.
    run = wait_run(client, run_id, timeout=RUN_TIMEOUT, mesh=mesh)

    assert run["state"] == "CANCELLED"
    tasks = tasks_of(run)
    assert tasks["e2e.slow"]["state"] == "CANCELLED"
    assert tasks["e2e.after_slow"]["state"] == "CANCELLED"
    observed = read_marker(mesh, run_id, "slow.cancel_observed")
    assert observed is not None, "the asset never saw should_cancel()"
    assert observed["worker"] == started["worker"]
    events = run_events(mesh, run_id)
    assert [e.event_type for e in events].count("RunCancelRequested") == 1
    (finished,) = completions(events, "e2e.slow")
    # The worker itself reported the cancellation (it was told to stop), not a reaper.
    assert finished.data["outcome"] == "cancelled"
    assert finished.data["worker_id"] == started["worker"]
    assert read_marker(mesh, run_id, "after_slow.attempt1") is None


# -- 5. duplicate delivery -----------------------------------------------------------------


async def _dispatch(
    address: str, envelope: Any, secret: str, tls: TlsConfig
) -> tuple[str, grpc.StatusCode | None]:
    async with aio_channel(address, tls) as channel:
        try:
            answer = await wpb_grpc.WorkerServiceStub(channel).Dispatch(
                wpb.DispatchRequest(envelope=envelope),
                timeout=15,
                metadata=((DISPATCH_SECRET_HEADER.lower(), secret),),
            )
        except grpc.aio.AioRpcError as exc:
            return "", exc.code()
    return wpb.DispatchDisposition.Name(answer.disposition), None


def test_duplicate_envelope_delivery_executes_once(mesh: Mesh, client: ArcoClient) -> None:
    run_id = trigger(client, "e2e.counted")
    first = wait_for(
        "counted to start",
        lambda: read_marker(mesh, run_id, "counted.attempt1"),
        timeout=RUN_TIMEOUT,
    )
    runner = str(first["worker"])
    other = "worker-2" if runner == "worker-1" else "worker-1"
    action = action_for_task(mesh, run_id, "e2e.counted")
    builder = EnvelopeBuilder(
        Scope(mesh.tenant_id, mesh.workspace_id), signer(mesh), f"http://{mesh.address('gateway')}"
    )
    envelope = builder.build(action)
    secret = mesh.secrets["ARCO_WORKER_DISPATCH_SECRET"]
    runner_grpc = str(mesh.services[runner].ready["grpc_address"])
    other_grpc = str(mesh.services[other].ready["grpc_address"])

    async def twice(address: str) -> list[tuple[str, grpc.StatusCode | None]]:
        return list(
            await asyncio.gather(
                *(
                    _dispatch(address, envelope, secret, mesh.tls_config(Role.DISPATCHER))
                    for _ in range(2)
                )
            )
        )

    # While it runs: the same envelope twice to the worker running it.
    during = asyncio.run(twice(runner_grpc))
    assert all(code is None for _, code in during), during
    assert {d for d, _ in during} <= {
        "DISPATCH_DISPOSITION_IN_FLIGHT",
        "DISPATCH_DISPOSITION_DUPLICATE",
    }

    run = wait_run(client, run_id, timeout=RUN_TIMEOUT, mesh=mesh)
    assert run["state"] == "SUCCEEDED"
    # After it finished, one after the other: twice more to that worker (it remembers the
    # dispatch) and twice to the other one (whose `started` is refused with 409 because
    # the task is terminal, so it does not execute either).
    after = [
        asyncio.run(_dispatch(address, envelope, secret, mesh.tls_config(Role.DISPATCHER)))
        for address in (runner_grpc, runner_grpc, other_grpc, other_grpc)
    ]
    assert after == [("DISPATCH_DISPOSITION_DUPLICATE", None)] * 4, after

    executions = (mesh.home / "markers" / f"{run_id}.counted.executions").read_text().splitlines()
    assert executions == [f"1 {action.attempt_id}"], "the asset ran more than once"
    events = run_events(mesh, run_id)
    assert [e.event_type for e in events].count("TaskStarted") == 1
    (finished,) = completions(events, "e2e.counted")
    assert finished.data["outcome"] == "succeeded" and finished.data["worker_id"] == runner
    task = client.get_run(run_id).task("e2e.counted").to_json()
    assert task["state"] == "SUCCEEDED" and task["attempt"] == 1

    # End to end through the gateway: callbacks of the finished attempt get 409.
    for kind in ("started", "completed"):
        answer = callback(mesh, action, kind)
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"] == "task_already_terminal"


# -- 6. a worker killed mid-task ---------------------------------------------------------


def test_killed_worker_task_is_failed_by_the_sweeper_and_retried_elsewhere(
    mesh: Mesh, client: ArcoClient
) -> None:
    run_id = trigger(client, "e2e.victim")
    first = wait_for(
        "victim attempt 1 to start",
        lambda: read_marker(mesh, run_id, "victim.attempt1"),
        timeout=RUN_TIMEOUT,
    )
    victim_worker = str(first["worker"])
    process = mesh.services[victim_worker].process
    assert process.pid == first["pid"], "the marker must come from the worker process"
    os.kill(process.pid, 9)
    process.wait()
    try:
        # heartbeat timeout (30 s) + 1 s grace, then the 30 s retry backoff, then attempt 2.
        run = wait_run(client, run_id, timeout=150, mesh=mesh)
    finally:
        mesh.restart(victim_worker)  # same addresses: later tests see two workers again

    assert run["state"] == "SUCCEEDED"
    task = tasks_of(run)["e2e.victim"]
    assert task["state"] == "SUCCEEDED" and task["attempt"] == 2
    second = read_marker(mesh, run_id, "victim.attempt2")
    assert second is not None
    assert second["worker"] != victim_worker, "the retry must run on the surviving worker"

    events = run_events(mesh, run_id)
    finishes = completions(events, "e2e.victim")
    by_attempt = {e.data["attempt"]: e for e in finishes}
    assert set(by_attempt) == {1, 2}
    reaped = by_attempt[1]
    assert reaped.event_type == "TaskFinished"
    assert reaped.data["worker_id"] == ANTI_ENTROPY_WORKER
    assert reaped.data["outcome"] == "failed"
    last_beat = max(
        (
            e.timestamp_ms
            for e in events
            if e.event_type in ("TaskStarted", "TaskHeartbeat") and e.data.get("attempt") == 1
        ),
    )
    # Not reaped before heartbeat timeout + grace after the last sign of life.
    assert ulid_timestamp_ms(reaped.event_id) >= last_beat + 30_000 + 1_000
    assert by_attempt[2].data["worker_id"] == second["worker"]
    assert by_attempt[2].data["outcome"] == "succeeded"


# -- 8. audit: every object written by its owner ----------------------------------------------


def test_storage_audit_every_object_owned_by_its_prefix_role(
    mesh: Mesh, client: ArcoClient
) -> None:
    run_id = trigger(client, "e2e.sink")
    assert wait_run(client, run_id, timeout=RUN_TIMEOUT, mesh=mesh)["state"] == "SUCCEEDED"

    root = Path(mesh.storage_url.removeprefix("file://"))
    scope_root = root / f"tenant={mesh.tenant_id}" / f"workspace={mesh.workspace_id}"
    assert scope_root.is_dir()
    files = [p for p in root.rglob("*") if p.is_file()]
    outside = [p for p in files if not p.is_relative_to(scope_root)]
    # Outside every scope only the workspace registry, holding this mesh's one workspace.
    registry_entry = root / REGISTRY_ROOT / entry_path(Scope(mesh.tenant_id, mesh.workspace_id))
    assert outside == [registry_entry], f"objects outside the scope: {outside[:5]}"
    by_prefix: dict[str, list[Path]] = {}
    for path in set(files) - set(outside):
        by_prefix.setdefault(path.relative_to(scope_root).parts[0], []).append(path)
    # Only known prefixes; each is writable by exactly the roles that own it.
    assert set(by_prefix) <= {
        "ledger",
        "state",
        "snapshots",
        "manifests",
        "logs",
        "locks",
        "idempotency",
        "run_keys",
    }, sorted(by_prefix)
    for prefix in ("ledger", "state", "manifests", "logs"):
        assert by_prefix.get(prefix), f"nothing under {prefix}/"

    # ledger/: events only, each one a canonical event or segment object in scope.
    ledger_files = {str(p.relative_to(scope_root)) for p in by_prefix["ledger"]}
    events = ledger_events(mesh)  # raises on any non-canonical or foreign object
    assert events and all(
        e.tenant_id == mesh.tenant_id and e.workspace_id == mesh.workspace_id for e in events
    )
    assert ledger_files == set(ledger_paths(mesh))

    # state/, snapshots/, manifests/: compactor artifacts only (Parquet or manifest JSON).
    for prefix in ("state", "snapshots", "manifests"):
        for path in by_prefix.get(prefix, []):
            head = path.read_bytes()[:4]
            assert head == b"PAR1" or head.startswith(b"{"), f"unexpected object {path}"
            assert path.relative_to(scope_root).parts[1] in ("orchestration", "catalog"), path

    # Nobody was refused a write (the storage layer logs storage_write_denied), and the
    # api never tried to write a compactor prefix.
    for name in mesh.services:
        text = service_log(mesh, name)
        assert "storage_write_denied" not in text, f"{name} was denied a write"
        assert "overwrite_denied" not in text or name != "api"

    # Every ledger event is attributable to the service role that may write it.
    writers: dict[str, set[str]] = {}
    for event in events:
        writers.setdefault(event.source.split("/")[0], set()).add(event.event_type)
    # (the api's orchestration service stamps the reference's default "arco-flow" source,
    # its callbacks "arco-api/callbacks")
    assert set(writers) <= {"arco-flow", "arco-api", "arco-dispatcher", "arco-sweeper"}, sorted(
        writers
    )
    assert writers.get("arco-flow", set()) <= {
        "ManifestDeployed",
        "RunTriggered",
        "PlanCreated",
        "RunCancelRequested",
    }
    assert writers.get("arco-dispatcher", set()) <= {"DispatchRequested", "DispatchEnqueued"}
    assert writers.get("arco-sweeper", set()) <= {
        "DispatchRequested",
        "DispatchEnqueued",
        "TaskFinished",
    }
