"""How the worker admits and answers deliveries, over HTTP and gRPC: duplicates and
redelivery, ``started``/``completed`` conflicts, scope, the dispatch secret, envelope
parsing and health."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from arco.orchestration.v1 import worker_protocol_pb2 as worker_pb
from arco.worker.v1 import worker_service_pb2 as wpb
from arco.worker.v1 import worker_service_pb2_grpc as wpb_grpc
from google.protobuf import json_format

from arco_runtime.tls import Role
from tests.sdk.support import SECRET
from tests.sdk.worker_harness import AUTH, Running
from tests.support.tls import mesh_channel

# -- duplicate delivery -------------------------------------------------------------------------------


async def test_concurrent_duplicates_execute_once(worker: Running) -> None:
    body = worker.envelope("t.side_effect")
    body["payload"] = {
        "sideEffectUrl": f"{worker.api}/side-effect",
        "taskId": body["taskId"],
        "seconds": 0.5,
    }
    responses = await asyncio.gather(*(worker.dispatch(body) for _ in range(5)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 503, 503, 503, 503], [r.text for r in responses]
    busy = [r for r in responses if r.status_code == 503]
    assert all(r.headers["retry-after"] == "1" for r in busy)
    assert all(r.json()["disposition"] == "IN_FLIGHT" for r in busy)
    await worker.completed(body)
    assert len(worker.recorder.of("started", body["taskId"])) == 1
    assert len(worker.recorder.of("side_effect", body["taskId"])) == 1


async def test_sequential_redelivery_is_a_duplicate(worker: Running) -> None:
    body = worker.envelope("t.side_effect")
    body["payload"] = {"sideEffectUrl": f"{worker.api}/side-effect", "taskId": body["taskId"]}
    assert (await worker.dispatch(body)).json()["disposition"] == "ACCEPTED"
    await worker.completed(body)
    again = await worker.dispatch(body)
    assert again.status_code == 200 and again.json()["disposition"] == "DUPLICATE"
    assert len(worker.recorder.of("started", body["taskId"])) == 1
    assert len(worker.recorder.of("side_effect", body["taskId"])) == 1
    assert len(worker.recorder.of("completed", body["taskId"])) == 1


@pytest.mark.parametrize(
    "error",
    [
        "task_already_terminal",
        "attempt_already_completed",
        "attempt_mismatch",
        "attempt_id_mismatch",
    ],
)
async def test_started_conflict_means_do_not_execute(worker: Running, error: str) -> None:
    worker.recorder.started = lambda n, body: (
        409,
        {"error": error, "message": f"refused: {error}", "state": "SUCCEEDED"},
    )
    body = worker.envelope("t.side_effect")
    body["payload"] = {"sideEffectUrl": f"{worker.api}/side-effect", "taskId": body["taskId"]}
    response = await worker.dispatch(body)
    assert response.status_code == 200
    assert response.json()["disposition"] == "DUPLICATE"
    assert error in response.json()["message"]
    await asyncio.sleep(0.2)
    assert worker.recorder.actions(body["taskId"]) == ["started"]
    # Recorded as done: a redelivery does not even call started again.
    assert (await worker.dispatch(body)).json()["disposition"] == "DUPLICATE"
    assert worker.recorder.actions(body["taskId"]) == ["started"]


async def test_started_server_error_leaves_the_dispatch_redeliverable(worker: Running) -> None:
    worker.recorder.started = lambda n, body: (
        (503, {"code": "UNAVAILABLE", "message": "compactor busy"})
        if n == 1
        else (200, {"acknowledged": True})
    )
    body = worker.envelope("t.sleepy", payload={"seconds": 0})
    first = await worker.dispatch(body)
    assert first.status_code == 503 and "compactor busy" in first.json()["message"]
    second = await worker.dispatch(body)
    assert second.json()["disposition"] == "ACCEPTED"
    assert (await worker.completed(body))["outcome"] == "SUCCEEDED"


async def test_completed_conflict_counts_as_done(worker: Running) -> None:
    worker.recorder.completed = lambda n, body: (
        409,
        {"error": "task_already_terminal", "message": "terminal", "state": "CANCELLED"},
    )
    body = worker.envelope("t.sleepy", payload={"seconds": 0})
    await worker.dispatch(body)
    await worker.completed(body)
    await asyncio.sleep(0.1)
    assert (await worker.dispatch(body)).json()["disposition"] == "DUPLICATE"


# -- admission -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"tenantId": "other"}, "tenant_id"),
        ({"workspaceId": "other"}, "workspace_id"),
        ({"callbackBaseUrl": "http://evil.example"}, "callback_base_url"),
    ],
)
async def test_scope_mismatch_is_refused(
    worker: Running, override: dict[str, str], field: str
) -> None:
    body = {**worker.envelope("t.sleepy"), **override}
    response = await worker.dispatch(body)
    assert response.status_code == 400
    assert field in response.text and "scope mismatch" in response.text
    assert worker.recorder.actions(body["taskId"]) == []


async def test_callback_url_matches_after_normalization(worker: Running) -> None:
    body = worker.envelope("t.sleepy", payload={"seconds": 0})
    body["callbackBaseUrl"] = worker.api.upper().replace("HTTP://", "http://") + "/"
    response = await worker.dispatch(body)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Arco-Dispatch-Secret": "wrong"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": SECRET},
    ],
)
async def test_dispatch_secret_is_required(worker: Running, headers: dict[str, str]) -> None:
    response = await worker.dispatch(worker.envelope("t.sleepy"), headers=headers)
    assert response.status_code == 401
    assert response.text == "missing or invalid dispatch authorization"


async def test_bearer_secret_is_accepted(worker: Running) -> None:
    body = worker.envelope("t.sleepy", payload={"seconds": 0})
    response = await worker.dispatch(body, headers={"Authorization": f"Bearer {SECRET}"})
    assert response.status_code == 200


async def test_secret_is_checked_before_parsing(worker: Running) -> None:
    response = await worker.http.post("/dispatch", content=b"not json")
    assert response.status_code == 401
    response = await worker.http.post("/dispatch", content=b"not json", headers=AUTH)
    assert response.status_code == 400


async def test_not_an_envelope_is_rejected(worker: Running) -> None:
    response = await worker.dispatch({"hello": "world"})
    assert response.status_code == 400
    assert "WorkerDispatchEnvelope" in response.text


async def test_snake_case_envelope_is_accepted(worker: Running) -> None:
    camel = worker.envelope("t.sleepy", payload={"seconds": 0})
    snake = {
        "tenant_id": camel["tenantId"],
        "workspace_id": camel["workspaceId"],
        "run_id": camel["runId"],
        "task_key": camel["taskKey"],
        "attempt": 1,
        "attempt_id": camel["attemptId"],
        "dispatch_id": "dispatch:snake",
        "worker_queue": "default-queue",
        "callback_base_url": camel["callbackBaseUrl"],
        "task_token": "task-token",
        "token_expires_at": "2030-01-01T00:00:00Z",
        "payload": {"seconds": 0},
    }
    response = await worker.dispatch(snake)
    assert response.status_code == 200, response.text
    # Without taskId the callbacks use the task key.
    await asyncio.to_thread(worker.recorder.wait_for, "completed", "t.sleepy")


async def test_health(worker: Running) -> None:
    response = await worker.http.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


# -- gRPC ----------------------------------------------------------------------------------------------


def _grpc_request(body: dict[str, Any]) -> wpb.DispatchRequest:
    env = worker_pb.WorkerDispatchEnvelope()
    json_format.ParseDict(body, env)
    return wpb.DispatchRequest(envelope=env)


async def test_grpc_dispatch_accepts_and_dedupes(worker: Running) -> None:
    body = worker.envelope("t.sleepy", payload={"seconds": 0}, dispatch_id="dispatch:grpc:1")
    metadata = (("x-arco-dispatch-secret", SECRET),)
    async with mesh_channel(str(worker.server.grpc_address), Role.DISPATCHER) as channel:
        stub = wpb_grpc.WorkerServiceStub(channel)
        answer = await stub.Dispatch(_grpc_request(body), metadata=metadata, timeout=10)
        assert answer.disposition == wpb.DISPATCH_DISPOSITION_ACCEPTED
        assert answer.worker_id == "worker-test"
        await worker.completed(body)
        await asyncio.sleep(0.05)
        again = await stub.Dispatch(_grpc_request(body), metadata=metadata, timeout=10)
        assert again.disposition == wpb.DISPATCH_DISPOSITION_DUPLICATE


async def test_grpc_in_flight_disposition(worker: Running) -> None:
    body = worker.envelope("t.sleepy", payload={"seconds": 0.5}, dispatch_id="dispatch:grpc:2")
    metadata = (("authorization", f"Bearer {SECRET}"),)
    async with mesh_channel(str(worker.server.grpc_address), Role.DISPATCHER) as channel:
        stub = wpb_grpc.WorkerServiceStub(channel)
        first = await stub.Dispatch(_grpc_request(body), metadata=metadata, timeout=10)
        second = await stub.Dispatch(_grpc_request(body), metadata=metadata, timeout=10)
    assert first.disposition == wpb.DISPATCH_DISPOSITION_ACCEPTED
    assert second.disposition == wpb.DISPATCH_DISPOSITION_IN_FLIGHT
    await worker.completed(body)


@pytest.mark.parametrize(
    ("override", "metadata", "code"),
    [
        ({}, (), grpc.StatusCode.UNAUTHENTICATED),
        (
            {"tenantId": "other"},
            (("x-arco-dispatch-secret", SECRET),),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            {"callbackBaseUrl": "http://elsewhere"},
            (("x-arco-dispatch-secret", SECRET),),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            {"taskToken": ""},
            (("x-arco-dispatch-secret", SECRET),),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ],
)
async def test_grpc_refusals(
    worker: Running,
    override: dict[str, str],
    metadata: tuple[tuple[str, str], ...],
    code: grpc.StatusCode,
) -> None:
    body = {**worker.envelope("t.sleepy"), **override}
    async with mesh_channel(str(worker.server.grpc_address), Role.DISPATCHER) as channel:
        stub = wpb_grpc.WorkerServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Dispatch(_grpc_request(body), metadata=metadata, timeout=10)
    assert info.value.code() == code
    if "tenantId" in override:
        assert "tenant_id" in (info.value.details() or "")


async def test_dispatch_cancelled_while_waiting_for_a_slot_stays_redeliverable(
    worker: Running,
) -> None:
    """A sender that gives up (gRPC deadline) while the delivery waits for a free slot
    must not leave the dispatch id claimed: the redelivery is executed, not IN_FLIGHT
    forever."""
    busy = [
        worker.envelope("t.sleepy", payload={"seconds": 1.5}, dispatch_id=f"dispatch:slot:{n}")
        for n in range(4)  # the worker's concurrency
    ]
    for body in busy:
        assert (await worker.dispatch(body)).json()["disposition"] == "ACCEPTED"
    waiting = worker.envelope("t.sleepy", payload={"seconds": 0}, dispatch_id="dispatch:slot:5")
    metadata = (("authorization", f"Bearer {SECRET}"),)
    async with mesh_channel(str(worker.server.grpc_address), Role.DISPATCHER) as channel:
        stub = wpb_grpc.WorkerServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as gave_up:
            await stub.Dispatch(_grpc_request(waiting), metadata=metadata, timeout=0.3)
        assert gave_up.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        for body in busy:
            await worker.completed(body)
        again = await stub.Dispatch(_grpc_request(waiting), metadata=metadata, timeout=10)
    assert again.disposition == wpb.DISPATCH_DISPOSITION_ACCEPTED
    assert (await worker.completed(waiting))["outcome"] == "SUCCEEDED"
