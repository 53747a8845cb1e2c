"""Worker callbacks for real: the api and the orchestration compactor as processes.

A run is seeded through the ledger (API-role storage) and folded by the compactor's gRPC;
a worker's calls then go to the api's TaskCallbackService over real gRPC with tokens
minted by TaskTokenSigner, and the published projection is read back.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from arco.compactor.v1 import compactor_service_pb2 as compactor_pb
from arco.compactor.v1 import compactor_service_pb2_grpc as compactor_grpc
from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb
from arco.orchestration.v1 import orchestration_service_pb2_grpc as orch_grpc
from arco.orchestration.v1 import task_callback_service_pb2 as pb
from arco.orchestration.v1 import task_callback_service_pb2_grpc as pb_grpc
from arco.orchestration.v1 import types_pb2

from arco_core.clock import FakeClock, SystemClock
from arco_core.envelope import EventEnvelope
from arco_core.ids import callback_task_id
from arco_core.ledger import LedgerReader, LedgerWriter
from arco_core.orchestration.callbacks import AttemptClaim
from arco_core.paths import Scope
from arco_core.projections import OrchestrationAdapter
from arco_core.published import ProjectionReader
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_core.tokens import TaskTokenSigner
from arco_runtime.rpc_errors import parse_rpc_error
from arco_runtime.tls import Role as MeshRole
from arco_sdk.callbacks import CallbackClient, GrpcCallbacks, HttpCallbacks
from arco_sdk.errors import CallbackRejected
from tests.support.processes import ServiceProcess, start_service
from tests.support.reference import reference_path, reference_present
from tests.support.tls import mesh_channel
from tests.unit.orchestration.orch_support import TENANT, WORKSPACE, Events, att

SECRET = "service-test-task-token-secret-0123456789"
ISSUER = "arco"
AUDIENCE = "arco-worker-callbacks"
RUN = "run-callbacks"
ENV = {"ARCO_TENANT_ID": TENANT, "ARCO_WORKSPACE_ID": WORKSPACE}


@dataclass
class Mesh:
    tmp_path: Path
    compactor: ServiceProcess
    api: ServiceProcess
    ev: Events

    def storage(self, role: Role) -> ScopedStorage:
        store = open_object_store((self.tmp_path / "data").as_uri(), {})
        return ScopedStorage(store, Scope(TENANT, WORKSPACE), role)

    async def append(self, events: list[EventEnvelope]) -> list[str]:
        writer = LedgerWriter(self.storage(Role.API), "orchestration", SystemClock())
        return await writer.append_all(events)

    async def compact(self, paths: list[str]) -> compactor_pb.CompactEventsResponse:
        async with mesh_channel(self.compactor.grpc_address, MeshRole.API) as channel:
            stub = compactor_grpc.CompactorServiceStub(channel)
            answer: compactor_pb.CompactEventsResponse = await stub.CompactEvents(
                compactor_pb.CompactEventsRequest(event_paths=paths)
            )
            return answer

    async def seed(self, events: list[EventEnvelope]) -> None:
        """Append events as the api would and have the compactor fold exactly those."""
        answer = await self.compact(await self.append(events))
        assert answer.events_applied == len(events)

    async def task_in_state(self, key: str, state: str, timeout: float = 10.0) -> Any:
        """The task once the published projection shows it in ``state``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            task = (await self.projection()).get_task(RUN, key)  # type: ignore[attr-defined]
            if task is not None and task.state == state:
                return task
            assert loop.time() < deadline, f"{key} is {task.state if task else None}"
            await asyncio.sleep(0.02)

    async def projection(self) -> object:
        reader = ProjectionReader(
            self.storage(Role.READER), OrchestrationAdapter(), Scope(TENANT, WORKSPACE)
        )
        return (await reader.refresh()).state


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[Mesh]:
    compactor = start_service(
        "services.compactor",
        tmp_path,
        {**ENV, "ARCO_COMPACTOR_DOMAIN": "orchestration"},
        name="compactor",
    )
    api: ServiceProcess | None = None
    try:
        compactor.wait_ready(15)
        api = start_service(
            "services.api",
            tmp_path,
            {
                **ENV,
                "ARCO_ORCH_COMPACTOR_ADDRESS": compactor.grpc_address,
                "ARCO_TASK_TOKEN_SECRET": SECRET,
                "ARCO_TASK_TOKEN_ISSUER": ISSUER,
                "ARCO_TASK_TOKEN_AUDIENCE": AUDIENCE,
            },
            name="api",
        )
        api.wait_ready(15)
        # Seed events carry current ULIDs: the ledger refuses ids from the future only.
        yield Mesh(tmp_path, compactor, api, Events(start_ms=SystemClock().now_ms() - 60_000))
    finally:
        if api is not None:
            assert api.terminate() == 0, api.log()
        assert compactor.terminate() == 0, compactor.log()


@pytest.fixture
async def stub(mesh: Mesh) -> AsyncIterator[pb_grpc.TaskCallbackServiceStub]:
    async with mesh_channel(mesh.api.grpc_address, MeshRole.WORKER) as channel:
        yield pb_grpc.TaskCallbackServiceStub(channel)


def token(
    key: str,
    attempt: int = 1,
    *,
    secret: str = SECRET,
    clock: SystemClock | FakeClock | None = None,
    ttl: int = 3600,
    task_id: str | None = None,
) -> list[tuple[str, str]]:
    signer = TaskTokenSigner(secret, ISSUER, AUDIENCE, ttl, clock or SystemClock())
    jwt, _ = signer.mint(
        TENANT,
        WORKSPACE,
        task_id or callback_task_id(RUN, key),
        RUN,
        attempt,
        att(RUN, key, attempt),
    )
    return [("authorization", f"Bearer {jwt}")]


def body(key: str, attempt: int = 1, **kw: object) -> dict[str, object]:
    return {
        "task_id": callback_task_id(RUN, key),
        "attempt": attempt,
        "attempt_id": att(RUN, key, attempt),
        "worker_id": "worker-1",
        **kw,
    }


async def refused(call: object, code: grpc.StatusCode, reason: str) -> dict[str, str]:
    """Await a call that must fail; return the ErrorInfo metadata."""
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await call  # type: ignore[misc]
    assert exc.value.code() == code, exc.value
    info = parse_rpc_error(exc.value)
    assert info is not None and info.reason == reason, (info, exc.value.details())
    metadata = dict(info.metadata)
    metadata["message"] = exc.value.details() or ""
    return metadata


async def test_worker_lifecycle_over_real_grpc(
    mesh: Mesh, stub: pb_grpc.TaskCallbackServiceStub
) -> None:
    ev = mesh.ev
    await mesh.seed(
        [
            ev.trigger(RUN, code_version="cv-1"),
            ev.plan(RUN, {"a": [], "b": ["a"]}),
            ev.dispatch(RUN, "a"),
        ]
    )
    a = token("a")

    started = await stub.TaskStarted(pb.TaskStartedRequest(**body("a")), metadata=a)
    assert started.acknowledged
    assert abs(started.server_time.ToMilliseconds() - SystemClock().now_ms()) < 60_000

    beat = await stub.TaskHeartbeat(
        pb.TaskHeartbeatRequest(**body("a"), progress_pct=50), metadata=a
    )
    assert beat.acknowledged and not beat.should_cancel and not beat.HasField("cancel_reason")

    # The api answered after the fold: the published state shows the attempt running.
    state = await mesh.projection()
    task = state.get_task(RUN, "a")  # type: ignore[attr-defined]
    assert task.state == "RUNNING"
    assert task.last_heartbeat_at == beat.server_time.ToMilliseconds()

    # A current token with a stale body attempt: 409 attempt_mismatch.
    meta = await refused(
        stub.TaskHeartbeat(pb.TaskHeartbeatRequest(**body("a", 2)), metadata=a),
        grpc.StatusCode.ABORTED,
        "attempt_mismatch",
    )
    assert (meta["expected_attempt"], meta["received_attempt"]) == ("1", "2")
    # A stale attempt id in the body: 409 attempt_id_mismatch with the full body fields.
    meta = await refused(
        stub.TaskHeartbeat(
            pb.TaskHeartbeatRequest(**{**body("a"), "attempt_id": "att-old"}), metadata=a
        ),
        grpc.StatusCode.ABORTED,
        "attempt_id_mismatch",
    )
    assert meta["state"] == "RUNNING" and meta["received_attempt_id"] == "att-old"

    # Bad tokens: UNAUTHENTICATED invalid_token, the cause in the message.
    cases = [
        (token("b"), "task_id_mismatch"),
        (token("a", 2), "attempt_mismatch"),
        (
            token("a", clock=FakeClock(SystemClock().now_ms() - 7_200_000), ttl=60),
            "token expired",
        ),
        (token("a", secret="forged-secret-forged-secret-forged-secret"), "Signature verification failed"),
        ([("authorization", "Basic abc")], "missing bearer token"),
        ([], "missing bearer token"),
    ]  # fmt: skip
    for metadata, message in cases:
        meta = await refused(
            stub.TaskHeartbeat(pb.TaskHeartbeatRequest(**body("a")), metadata=metadata),
            grpc.StatusCode.UNAUTHENTICATED,
            "invalid_token",
        )
        assert meta["message"] == message

    # Request validation: 400.
    meta = await refused(
        stub.TaskHeartbeat(pb.TaskHeartbeatRequest(**body("a"), progress_pct=101), metadata=a),
        grpc.StatusCode.INVALID_ARGUMENT,
        "invalid_argument",
    )
    assert meta["message"] == "Invalid progressPct: must be between 0 and 100"

    completed = await stub.TaskCompleted(
        pb.TaskCompletedRequest(
            **body("a"), outcome="SUCCEEDED", output={"row_count": 3, "materialization_id": "m1"}
        ),
        metadata=a,
    )
    assert completed.acknowledged and completed.final_state == "SUCCEEDED"

    # After completion: started is 409 task_already_terminal, heartbeat is task_expired.
    meta = await refused(
        stub.TaskStarted(pb.TaskStartedRequest(**body("a")), metadata=a),
        grpc.StatusCode.ABORTED,
        "task_already_terminal",
    )
    assert meta["state"] == "SUCCEEDED"
    assert meta["message"] == "Task is already in terminal state: SUCCEEDED"
    meta = await refused(
        stub.TaskHeartbeat(pb.TaskHeartbeatRequest(**body("a")), metadata=a),
        grpc.StatusCode.FAILED_PRECONDITION,
        "task_expired",
    )
    assert meta["state"] == "SUCCEEDED"

    # Unknown task: 404.
    missing = callback_task_id(RUN, "zzz")
    await refused(
        stub.TaskStarted(
            pb.TaskStartedRequest(**{**body("a"), "task_id": missing}),
            metadata=token("zzz", task_id=missing),
        ),
        grpc.StatusCode.NOT_FOUND,
        "task_not_found",
    )

    # The downstream task ran after a's success; once it succeeds the run does too.
    state = await mesh.projection()
    assert state.get_task(RUN, "a").state == "SUCCEEDED"  # type: ignore[attr-defined]
    assert state.get_task(RUN, "a").materialization_id == "m1"  # type: ignore[attr-defined]
    assert state.get_task(RUN, "b").state == "READY"  # type: ignore[attr-defined]
    await mesh.seed([ev.dispatch(RUN, "b")])
    b = token("b")
    await stub.TaskStarted(pb.TaskStartedRequest(**body("b")), metadata=b)
    done = await stub.TaskCompleted(
        pb.TaskCompletedRequest(**body("b"), outcome="SUCCEEDED"), metadata=b
    )
    assert done.final_state == "SUCCEEDED"

    state = await mesh.projection()
    assert state.get_task(RUN, "b").state == "SUCCEEDED"  # type: ignore[attr-defined]
    run = state.get_run(RUN)  # type: ignore[attr-defined]
    assert (run.state, run.tasks_succeeded, run.code_version) == ("SUCCEEDED", 2, "cv-1")


async def test_retryable_failure_and_cancel_over_real_grpc(
    mesh: Mesh, stub: pb_grpc.TaskCallbackServiceStub
) -> None:
    ev = mesh.ev
    await mesh.seed(
        [ev.trigger(RUN), ev.plan(RUN, {"a": [], "b": []}), ev.dispatch(RUN, "a"), ev.dispatch(RUN, "b")]
    )  # fmt: skip
    a, b = token("a"), token("b")
    await stub.TaskStarted(pb.TaskStartedRequest(**body("a")), metadata=a)
    failed = await stub.TaskCompleted(
        pb.TaskCompletedRequest(
            **body("a"),
            outcome="FAILED",
            error={"category": "INFRASTRUCTURE", "message": "transient"},
        ),
        metadata=a,
    )
    # The response echoes the worker's outcome while the projection schedules a retry.
    assert failed.final_state == "FAILED"
    state = await mesh.projection()
    assert state.get_task(RUN, "a").state == "RETRY_WAIT"  # type: ignore[attr-defined]
    # A redelivered dispatch of the failed attempt must not start it again.
    meta = await refused(
        stub.TaskStarted(pb.TaskStartedRequest(**body("a")), metadata=a),
        grpc.StatusCode.ABORTED,
        "attempt_already_completed",
    )
    assert (meta["state"], meta["expected_attempt"], meta["received_attempt"]) == (
        "RETRY_WAIT",
        "1",
        "1",
    )

    # Cancel while b runs: its heartbeat says to stop, and it ends CANCELLED. (The start is
    # answered once durable and folded just after; b runs once the projection says so.)
    await stub.TaskStarted(pb.TaskStartedRequest(**body("b")), metadata=b)
    await mesh.task_in_state("b", "RUNNING")
    await mesh.seed([ev.cancel(RUN)])
    # The cancel was folded behind the api's back: it learns of it from the head stream.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        beat = await stub.TaskHeartbeat(pb.TaskHeartbeatRequest(**body("b")), metadata=b)
        if beat.should_cancel or loop.time() > deadline:
            break
        await asyncio.sleep(0.05)
    assert beat.should_cancel and beat.cancel_reason == "user_requested"
    meta = await refused(
        stub.TaskStarted(pb.TaskStartedRequest(**body("b")), metadata=b),
        grpc.StatusCode.ABORTED,
        "task_already_terminal",
    )
    assert meta["state"] == "CANCELLED"
    done = await stub.TaskCompleted(
        pb.TaskCompletedRequest(**body("b"), outcome="CANCELLED"), metadata=b
    )
    assert done.final_state == "CANCELLED"
    state = await mesh.projection()
    assert state.get_task(RUN, "b").state == "CANCELLED"  # type: ignore[attr-defined]
    assert state.get_run(RUN).state == "CANCELLED"  # type: ignore[attr-defined]


async def test_get_run_shows_every_attempt_of_a_retried_task(
    mesh: Mesh, stub: pb_grpc.TaskCallbackServiceStub
) -> None:
    """A task that failed once and then succeeded reads back, over the public GetRun, as two
    attempts (the failed one with its error) and the run started when the first did."""
    ev = mesh.ev
    await mesh.seed([ev.trigger(RUN), ev.plan(RUN, {"a": []}), ev.dispatch(RUN, "a")])
    first = token("a")
    await stub.TaskStarted(pb.TaskStartedRequest(**body("a")), metadata=first)
    await stub.TaskCompleted(
        pb.TaskCompletedRequest(
            **body("a"), outcome="FAILED", error={"category": "USER_CODE", "message": "boom"}
        ),
        metadata=first,
    )
    await mesh.task_in_state("a", "RETRY_WAIT")
    await mesh.seed([ev.dispatch(RUN, "a", 2)])
    second = token("a", 2)
    await stub.TaskStarted(pb.TaskStartedRequest(**body("a", 2)), metadata=second)
    await stub.TaskCompleted(
        pb.TaskCompletedRequest(**body("a", 2), outcome="SUCCEEDED"), metadata=second
    )
    await mesh.task_in_state("a", "SUCCEEDED")
    async with mesh_channel(mesh.api.grpc_address, MeshRole.OPERATOR) as operator:
        users = orch_grpc.OrchestrationServiceStub(operator)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:  # the api follows the head stream: it may be a fold behind
            run = await users.GetRun(orch_pb.GetRunRequest(workspace_id=WORKSPACE, run_id=RUN))
            if run.state == types_pb2.RUN_STATUS_SUCCEEDED or loop.time() > deadline:
                break
            await asyncio.sleep(0.05)
    assert run.state == types_pb2.RUN_STATUS_SUCCEEDED
    (task,) = run.tasks
    assert task.attempt == 2
    retried, current = task.attempts
    assert (retried.attempt, retried.attempt_id, retried.state, retried.error_message) == (
        1,
        att(RUN, "a", 1),
        types_pb2.TASK_STATUS_FAILED,
        "boom",
    )
    assert (current.attempt, current.attempt_id, current.state) == (
        2,
        att(RUN, "a", 2),
        types_pb2.TASK_STATUS_SUCCEEDED,
    )
    assert retried.completed_at.ToMilliseconds() <= current.started_at.ToMilliseconds()
    # The run started with the first attempt, before the task's current one.
    assert run.started_at == retried.started_at
    assert run.started_at.ToMilliseconds() < task.started_at.ToMilliseconds()
    assert task.started_at == current.started_at


async def test_callbacks_that_outrun_their_dispatch_fold(
    mesh: Mesh, stub: pb_grpc.TaskCallbackServiceStub
) -> None:
    """The dispatcher sends once DispatchRequested is durable, before it is folded: the
    attempt's callbacks are judged as that fold will leave the task, and the request
    folded last is consumed."""
    ev = mesh.ev
    await mesh.seed([ev.trigger(RUN), ev.plan(RUN, {"a": [], "b": ["a"]})])
    request = await mesh.append([ev.dispatch(RUN, "a")])  # durable, not folded
    state = await mesh.projection()
    assert state.get_task(RUN, "a").state == "READY"  # type: ignore[attr-defined]

    # Only the exact attempt the READY task waits for qualifies: any other is refused.
    for attempt, attempt_id in ((2, att(RUN, "a", 2)), (1, "att_forged_attempt_id")):
        signer = TaskTokenSigner(SECRET, ISSUER, AUDIENCE, 3600, SystemClock())
        jwt, _ = signer.mint(
            TENANT, WORKSPACE, callback_task_id(RUN, "a"), RUN, attempt, attempt_id
        )
        meta = await refused(
            stub.TaskStarted(
                pb.TaskStartedRequest(**{**body("a", attempt), "attempt_id": attempt_id}),
                metadata=[("authorization", f"Bearer {jwt}")],
            ),
            grpc.StatusCode.UNAUTHENTICATED,
            "invalid_token",
        )
        assert meta["message"] in ("attempt_mismatch", "attempt_id_mismatch")

    a = token("a")
    assert (await stub.TaskStarted(pb.TaskStartedRequest(**body("a")), metadata=a)).acknowledged
    # Judged as RUNNING: a wrong attempt id in the body names that state.
    meta = await refused(
        stub.TaskHeartbeat(
            pb.TaskHeartbeatRequest(**{**body("a"), "attempt_id": "att-old"}), metadata=a
        ),
        grpc.StatusCode.ABORTED,
        "attempt_id_mismatch",
    )
    assert meta["state"] == "RUNNING"
    done = await stub.TaskCompleted(
        pb.TaskCompletedRequest(**body("a"), outcome="SUCCEEDED"), metadata=a
    )
    assert done.final_state == "SUCCEEDED"
    task = await mesh.task_in_state("a", "SUCCEEDED")
    assert task.started_at is not None and task.attempt == 1
    assert task.attempt_id == att(RUN, "a", 1)

    # The request folded last finds its attempt consumed: no outbox row is left behind.
    answer = await mesh.compact(request)
    assert answer.events_applied == 0
    state = await mesh.projection()
    assert state.get_outbox(f"dispatch:{RUN}:a:1") is None  # type: ignore[attr-defined]
    assert state.get_task(RUN, "a").state == "SUCCEEDED"  # type: ignore[attr-defined]
    assert state.get_task(RUN, "b").state == "READY"  # type: ignore[attr-defined]


def _post(
    url: str, headers: dict[str, str], payload: dict[str, object]
) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"content-type": "application/json", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_gateway_renders_the_callback_bodies(mesh: Mesh) -> None:
    """REST through the gateway: camelCase answers and the exact callback error bodies."""
    gateway = start_service(
        "gateway", mesh.tmp_path, {"ARCO_API_ADDRESS": mesh.api.grpc_address}, name="gateway"
    )
    try:
        ready = gateway.wait_ready(15)
        ev = mesh.ev
        await mesh.seed([ev.trigger(RUN), ev.plan(RUN, {"a": []}), ev.dispatch(RUN, "a")])
        task_id = callback_task_id(RUN, "a")
        base = f"http://{ready['http_address']}/api/v1/tasks/{task_id}"
        auth = {"authorization": token("a")[0][1]}
        attempt_id = att(RUN, "a", 1)
        started = {"attempt": 1, "workerId": "w", "startedAt": "2026-01-01T00:00:01Z"}

        def post(path: str, payload: dict[str, object], headers: dict[str, str] = auth) -> Any:
            return asyncio.to_thread(_post, f"{base}/{path}", headers, payload)

        status, answer = await post("started", {**started, "attemptId": attempt_id})
        assert status == 200 and answer["acknowledged"] is True and "serverTime" in answer

        status, answer = await post(
            "heartbeat", {"attempt": 1, "attemptId": "att-456", "workerId": "w"}
        )
        assert status == 409
        reference = "contracts/fixtures/worker_protocol/callback_error_payload.json"
        if reference_present(reference):
            expected = json.loads(reference_path(reference).read_text())
            assert set(answer) == set(expected)
        assert answer == {
            "error": "attempt_id_mismatch",
            "message": f"Expected attempt_id {attempt_id}, received att-456",
            "state": "RUNNING",
            "expectedAttempt": 1,
            "receivedAttempt": 1,
            "expectedAttemptId": attempt_id,
            "receivedAttemptId": "att-456",
        }

        status, answer = await post(
            "heartbeat", {"attempt": 2, "attemptId": attempt_id, "workerId": "w"}
        )
        assert (status, answer) == (
            409,
            {
                "error": "attempt_mismatch",
                "message": "Expected attempt 1, received 2",
                "expectedAttempt": 1,
                "receivedAttempt": 2,
            },
        )

        status, answer = await post(
            "heartbeat",
            {"attempt": 1, "attemptId": attempt_id, "workerId": "w"},
            {"authorization": token("a", 2)[0][1]},
        )
        assert (status, answer) == (401, {"error": "invalid_token", "message": "attempt_mismatch"})

        status, answer = await post(
            "completed",
            {"attempt": 1, "attemptId": attempt_id, "workerId": "w", "outcome": "SUCCEEDED"},
        )
        assert (status, answer["acknowledged"], answer["finalState"]) == (200, True, "SUCCEEDED")

        status, answer = await post(
            "started", {"attempt": 1, "attemptId": attempt_id, "workerId": "w"}
        )
        assert (status, answer) == (
            409,
            {
                "error": "task_already_terminal",
                "message": "Task is already in terminal state: SUCCEEDED",
                "state": "SUCCEEDED",
            },
        )
        status, answer = await post(
            "heartbeat", {"attempt": 1, "attemptId": attempt_id, "workerId": "w"}
        )
        assert (status, answer) == (
            410,
            {"error": "task_expired", "message": "Task is no longer active", "state": "SUCCEEDED"},
        )
    finally:
        assert gateway.terminate() == 0, gateway.log()


async def test_log_uploads_take_the_attempts_task_token_once_it_started(
    mesh: Mesh, stub: pb_grpc.TaskCallbackServiceStub
) -> None:
    ev = mesh.ev
    await mesh.seed([ev.trigger(RUN), ev.plan(RUN, {"a": [], "b": ["a"]}), ev.dispatch(RUN, "a")])
    upload = orch_pb.UploadTaskLogsRequest(
        workspace_id=WORKSPACE, run_id=RUN, task_key="a", attempt=1, stdout="hi\n", stderr="w\n"
    )
    async with mesh_channel(mesh.api.grpc_address, MeshRole.WORKER) as worker:
        logs = orch_grpc.OrchestrationServiceStub(worker)
        # Dispatched, not started: nobody runs it, so nobody has logs to give.
        await refused(
            logs.UploadTaskLogs(upload, metadata=token("a")),
            grpc.StatusCode.ABORTED,
            "attempt_not_started",
        )
        await stub.TaskStarted(pb.TaskStartedRequest(**body("a")), metadata=token("a"))
        # Another attempt's token, another task's token, no token: refused, nothing stored.
        for metadata, why in (
            (token("a", 2), "attempt_mismatch"),
            (token("b"), "task_id_mismatch"),
            ([], "missing bearer token"),
        ):
            meta = await refused(
                logs.UploadTaskLogs(upload, metadata=metadata),
                grpc.StatusCode.UNAUTHENTICATED,
                "invalid_token",
            )
            assert why in meta["message"]
        stored = await logs.UploadTaskLogs(upload, metadata=token("a"))
        assert stored.path.startswith(f"logs/{RUN}/a/") and stored.size_bytes > 0
        await refused(
            logs.UploadTaskLogs(upload, metadata=token("a")),
            grpc.StatusCode.ALREADY_EXISTS,
            "logs_already_uploaded",
        )
    # Users do not upload logs: an operator tool (a user's credential) may not call it.
    async with mesh_channel(mesh.api.grpc_address, MeshRole.OPERATOR) as operator:
        users = orch_grpc.OrchestrationServiceStub(operator)
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await users.UploadTaskLogs(upload, metadata=token("a"))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        page = await users.GetRunLogs(orch_pb.GetRunLogsRequest(workspace_id=WORKSPACE, run_id=RUN))
    assert "hi" in page.text and "w" in page.text


async def test_logs_of_a_start_another_replica_took_are_stored_before_its_fold_lands(
    mesh: Mesh,
) -> None:
    """Found by the topology test: a worker's start reached one api replica and its log
    upload the other while the start's fold had not landed (its compactor shard was
    restarting); the upload was refused ``attempt_not_started`` and the logs were lost. The
    attempt's claim, taken only once the start is durable, tells any replica it started."""
    ev = mesh.ev
    await mesh.seed(
        [
            ev.trigger(RUN),
            ev.plan(RUN, {"a": [], "b": []}),
            ev.dispatch(RUN, "a"),
            ev.dispatch(RUN, "b"),
        ]
    )
    # What the other replica's TaskStarted of a leaves: the event in the ledger, the claim.
    await mesh.append([ev.started(RUN, "a")])
    claim = AttemptClaim(
        run_id=RUN, task_key="a", attempt=1, attempt_id=att(RUN, "a", 1), worker_id="w1"
    )
    await mesh.storage(Role.API).create(claim.path, claim.to_bytes())

    def upload(key: str) -> orch_pb.UploadTaskLogsRequest:
        return orch_pb.UploadTaskLogsRequest(
            workspace_id=WORKSPACE, run_id=RUN, task_key=key, attempt=1, stdout="hi\n"
        )

    async with mesh_channel(mesh.api.grpc_address, MeshRole.WORKER) as worker:
        logs = orch_grpc.OrchestrationServiceStub(worker)
        stored = await logs.UploadTaskLogs(upload("a"), metadata=token("a"))
        assert stored.path.startswith(f"logs/{RUN}/a/") and stored.size_bytes > 0
        # b started nowhere: still nobody has its logs to give.
        await refused(
            logs.UploadTaskLogs(upload("b"), metadata=token("b")),
            grpc.StatusCode.ABORTED,
            "attempt_not_started",
        )
    task = (await mesh.projection()).get_task(RUN, "a")  # type: ignore[attr-defined]
    assert task.state == "DISPATCHED"  # the start was never folded


async def test_heartbeat_renews_a_token_past_half_its_life(
    mesh: Mesh, stub: pb_grpc.TaskCallbackServiceStub
) -> None:
    ev = mesh.ev
    await mesh.seed([ev.trigger(RUN), ev.plan(RUN, {"a": []}), ev.dispatch(RUN, "a")])
    fresh = token("a")
    await stub.TaskStarted(pb.TaskStartedRequest(**body("a")), metadata=fresh)

    # A token in its first half-life is not renewed.
    beat = await stub.TaskHeartbeat(pb.TaskHeartbeatRequest(**body("a")), metadata=fresh)
    assert not beat.HasField("task_token") and not beat.HasField("token_expires_at")

    # Minted 40 of its 60 minutes ago: the answer carries a fresh token for the attempt.
    aged = token("a", clock=FakeClock(SystemClock().now_ms() - 2_400_000))
    beat = await stub.TaskHeartbeat(pb.TaskHeartbeatRequest(**body("a")), metadata=aged)
    assert beat.HasField("task_token") and beat.task_token
    assert beat.token_expires_at.ToMilliseconds() > SystemClock().now_ms() + 3_000_000
    renewed = [("authorization", f"Bearer {beat.task_token}")]

    # The renewed token authenticates the attempt's later callbacks, and only them.
    again = await stub.TaskHeartbeat(pb.TaskHeartbeatRequest(**body("a")), metadata=renewed)
    assert again.acknowledged and not again.HasField("task_token")
    await refused(
        stub.TaskHeartbeat(pb.TaskHeartbeatRequest(**body("a", 2)), metadata=renewed),
        grpc.StatusCode.ABORTED,
        "attempt_mismatch",
    )
    done = await stub.TaskCompleted(
        pb.TaskCompletedRequest(**body("a"), outcome="SUCCEEDED"), metadata=renewed
    )
    assert done.final_state == "SUCCEEDED"
    # A refused heartbeat renews nothing (the task is terminal: 410).
    await refused(
        stub.TaskHeartbeat(pb.TaskHeartbeatRequest(**body("a")), metadata=aged),
        grpc.StatusCode.FAILED_PRECONDITION,
        "task_expired",
    )


async def test_started_binds_the_attempt_to_one_worker(
    mesh: Mesh, stub: pb_grpc.TaskCallbackServiceStub
) -> None:
    ev = mesh.ev
    await mesh.seed([ev.trigger(RUN), ev.plan(RUN, {"a": [], "b": []}), ev.dispatch(RUN, "a")])
    await mesh.seed([ev.dispatch(RUN, "b")])
    a, b = token("a"), token("b")

    # Two deliveries of one attempt start at the same moment on two workers (neither
    # start is folded when the other is judged): exactly one may run it.
    outcomes = await asyncio.gather(
        stub.TaskStarted(pb.TaskStartedRequest(**body("a", worker_id="worker-1")), metadata=a),
        stub.TaskStarted(pb.TaskStartedRequest(**body("a", worker_id="worker-2")), metadata=a),
        return_exceptions=True,
    )
    won = [o for o in outcomes if isinstance(o, pb.TaskStartedResponse)]
    lost = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert lost[0].code() == grpc.StatusCode.ABORTED
    info = parse_rpc_error(lost[0])
    assert info is not None and info.reason == "attempt_claimed"
    holder = dict(info.metadata)["claimed_by"]
    other = "worker-2" if holder == "worker-1" else "worker-1"

    # The holder's own retry is idempotent; the other worker keeps getting 409.
    again = await stub.TaskStarted(pb.TaskStartedRequest(**body("a", worker_id=holder)), metadata=a)
    assert again.acknowledged
    await mesh.task_in_state("a", "RUNNING")
    await refused(
        stub.TaskStarted(pb.TaskStartedRequest(**body("a", worker_id=other)), metadata=a),
        grpc.StatusCode.ABORTED,
        "attempt_claimed",
    )

    # One after the other, the second start of b (not folded yet) is refused as well.
    await stub.TaskStarted(pb.TaskStartedRequest(**body("b", worker_id="worker-1")), metadata=b)
    await refused(
        stub.TaskStarted(pb.TaskStartedRequest(**body("b", worker_id="worker-2")), metadata=b),
        grpc.StatusCode.ABORTED,
        "attempt_claimed",
    )
    # A refused start reaches the ledger too (it is appended before the claim is taken),
    # as a duplicate of the holder's: one start per attempt is folded.
    await mesh.task_in_state("b", "RUNNING")
    started = {
        (e.data["task_key"], e.data["worker_id"])
        for e in await _ledger_events(mesh)
        if e.event_type == "TaskStarted"
    }
    assert {("a", holder), ("b", "worker-1")} <= started, started
    keys = {e.idempotency_key for e in await _ledger_events(mesh) if e.event_type == "TaskStarted"}
    assert len(keys) == 2  # one per attempt


async def test_a_start_that_failed_to_append_leaves_the_attempt_free_for_another_worker(
    mesh: Mesh, stub: pb_grpc.TaskCallbackServiceStub
) -> None:
    """Found by the chaos soak: the claim was taken before the TaskStarted append, so a
    start whose append failed (a storage fault) left a claim with no start behind it, and
    every later delivery of the attempt to another worker was refused: the task stayed
    DISPATCHED forever. The start is now durable before the claim is taken."""
    ev = mesh.ev
    await mesh.seed([ev.trigger(RUN), ev.plan(RUN, {"a": []}), ev.dispatch(RUN, "a")])
    ledger_days = next(mesh.tmp_path.glob("data/**/ledger/orchestration"))
    moved = ledger_days.with_name("orchestration.moved")
    ledger_days.rename(moved)
    ledger_days.write_text("not a directory: every ledger append fails")
    try:
        await refused(
            stub.TaskStarted(
                pb.TaskStartedRequest(**body("a", worker_id="worker-1")), metadata=token("a")
            ),
            grpc.StatusCode.UNAVAILABLE,
            "storage_unavailable",
        )
    finally:
        ledger_days.unlink()
        moved.rename(ledger_days)
    # worker-1 is gone; the redelivery reaches worker-2, which may start and run it.
    again = await stub.TaskStarted(
        pb.TaskStartedRequest(**body("a", worker_id="worker-2")), metadata=token("a")
    )
    assert again.acknowledged
    await mesh.task_in_state("a", "RUNNING")


async def _ledger_events(mesh: Mesh) -> list[EventEnvelope]:
    reader = LedgerReader(mesh.storage(Role.SWEEPER), "orchestration")
    return await reader.read(await reader.scan_paths_after(None))


def _verdict(exc: CallbackRejected) -> tuple[object, ...]:
    return (
        exc.status,
        exc.error,
        exc.message,
        exc.state,
        exc.expected_attempt,
        exc.received_attempt,
        exc.expected_attempt_id,
        exc.received_attempt_id,
        exc.is_terminal,
    )


async def test_grpc_callbacks_answer_as_the_rest_routes_do(mesh: Mesh) -> None:
    """A worker's callbacks straight to the api's TaskCallbackService (GrpcCallbacks) and
    through the gateway's REST routes (HttpCallbacks) get the same answers and the same
    refusals: status, reason, message and attempt fields."""
    gateway = start_service(
        "gateway", mesh.tmp_path, {"ARCO_API_ADDRESS": mesh.api.grpc_address}, name="gateway"
    )
    try:
        ready = gateway.wait_ready(15)
        ev = mesh.ev
        await mesh.seed([ev.trigger(RUN), ev.plan(RUN, {"a": []}), ev.dispatch(RUN, "a")])
        async with (
            httpx.AsyncClient() as http,
            mesh_channel(mesh.api.grpc_address, MeshRole.WORKER) as channel,
        ):
            transports = {
                "rest": HttpCallbacks(http, f"http://{ready['http_address']}"),
                "grpc": GrpcCallbacks(channel),
            }

            def client(kind: str, attempt: int = 1) -> CallbackClient:
                jwt = token("a", attempt)[0][1].removeprefix("Bearer ")
                return CallbackClient(transports[kind], callback_task_id(RUN, "a"), jwt)

            async def both(call: Any) -> tuple[object, ...]:
                verdicts = []
                for kind in transports:
                    with pytest.raises(CallbackRejected) as refused_call:
                        await call(client(kind))
                    verdicts.append(_verdict(refused_call.value))
                assert verdicts[0] == verdicts[1], verdicts
                return verdicts[0]

            attempt_id = att(RUN, "a", 1)
            started = await client("grpc").started(
                attempt=1,
                attempt_id=attempt_id,
                worker_id="worker-1",
                started_at="2026-01-01T00:00:01Z",
            )
            assert started.acknowledged and started.server_time
            await mesh.task_in_state("a", "RUNNING")
            # Another worker may not take the attempt over.
            claimed = await both(
                lambda c: c.started(
                    attempt=1,
                    attempt_id=attempt_id,
                    worker_id="worker-2",
                    started_at="2026-01-01T00:00:02Z",
                )
            )
            assert claimed[:2] == (409, "attempt_claimed") and claimed[-1] is True
            # A stale attempt id in the body names the state it was judged in.
            mismatch = await both(
                lambda c: c.heartbeat(
                    attempt=1,
                    attempt_id="att-old",
                    worker_id="worker-1",
                    heartbeat_at="2026-01-01T00:00:03Z",
                )
            )
            assert mismatch[:2] == (409, "attempt_id_mismatch") and mismatch[3] == "RUNNING"
            beat = await client("rest").heartbeat(
                attempt=1,
                attempt_id=attempt_id,
                worker_id="worker-1",
                heartbeat_at="2026-01-01T00:00:04Z",
            )
            assert beat.acknowledged and not beat.should_cancel
            done = await client("grpc").completed(
                {
                    "attempt": 1,
                    "attemptId": attempt_id,
                    "workerId": "worker-1",
                    "outcome": "SUCCEEDED",
                }
            )
            assert (done.acknowledged, done.final_state) == (True, "SUCCEEDED")
            await mesh.task_in_state("a", "SUCCEEDED")
            # Over, whichever way a redelivery asks.
            over = await both(
                lambda c: c.started(
                    attempt=1,
                    attempt_id=attempt_id,
                    worker_id="worker-1",
                    started_at="2026-01-01T00:00:05Z",
                )
            )
            assert over[0] == 409 and over[-1] is True
    finally:
        assert gateway.terminate() == 0, gateway.log()
