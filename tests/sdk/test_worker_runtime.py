"""The worker runtime against a real callback recorder on loopback, over HTTP and gRPC."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pyarrow.parquet as pq
import pytest
from arco.orchestration.v1 import worker_protocol_pb2 as worker_pb
from arco.worker.v1 import worker_service_pb2 as wpb
from arco.worker.v1 import worker_service_pb2_grpc as wpb_grpc
from google.protobuf import json_format

from arco_sdk.manifest import AssetGraph, discover
from arco_sdk.worker.config import WorkerConfig
from arco_sdk.worker.heartbeat import heartbeat_interval
from arco_sdk.worker.runtime import normalize_url
from arco_sdk.worker.server import WorkerServer
from tests.sdk.support import SECRET, TENANT, WORKSPACE, Recorder, ThreadedServer, envelope

AUTH = {"X-Arco-Dispatch-Secret": SECRET}


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    with ThreadedServer(rec.app()) as server:
        rec.url = server.url  # type: ignore[attr-defined]
        yield rec


@pytest.fixture(scope="module")
def graph() -> AssetGraph:
    definitions, _ = discover("tests.sdk.sample_assets")
    return AssetGraph(definitions)


class Running:
    def __init__(self, server: WorkerServer, recorder: Recorder, output: Path) -> None:
        self.server = server
        self.recorder = recorder
        self.output = output
        self.http = httpx.AsyncClient(base_url=f"http://{server.http_address}", timeout=30)

    @property
    def api(self) -> str:
        return str(self.recorder.url)  # type: ignore[attr-defined]

    def envelope(self, task_key: str, **kwargs: Any) -> dict[str, Any]:
        return envelope(self.api, task_key, **kwargs)

    async def dispatch(
        self, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.http.post(
            "/dispatch", json=body, headers=AUTH if headers is None else headers
        )

    async def completed(self, body: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
        calls = await asyncio.to_thread(
            self.recorder.wait_for, "completed", body["taskId"], 1, timeout
        )
        await self.settled()
        return calls[-1].body

    async def settled(self, timeout: float = 10.0) -> None:
        """Wait until the worker has no running task (completion fully processed)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while (await self.http.get("/health")).json()["running"]:
            assert asyncio.get_running_loop().time() < deadline, "worker never settled"
            await asyncio.sleep(0.01)


@pytest.fixture
async def worker(recorder: Recorder, graph: AssetGraph, tmp_path: Path) -> AsyncIterator[Running]:
    recorder.reset()
    config = WorkerConfig(
        api_url=recorder.url,  # type: ignore[attr-defined]
        tenant_id=TENANT,
        workspace_id=WORKSPACE,
        dispatch_secret=SECRET,
        modules=(),
        worker_id="worker-test",
        output_dir=str(tmp_path / "out"),
        concurrency=4,
        heartbeat_floor_sec=0.05,
        cancel_grace_sec=1.0,
        shutdown_grace_sec=5.0,
        completion_deadline_sec=5.0,
    )
    server = WorkerServer(config, graph)
    started = asyncio.Event()
    runner = asyncio.create_task(server.run(started=started))
    await asyncio.wait_for(started.wait(), 10)
    running = Running(server, recorder, tmp_path / "out")
    try:
        yield running
    finally:
        await running.http.aclose()
        server.shutdown()
        await asyncio.wait_for(runner, 30)


# -- pure helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        (None, 60.0),
        (0, 60.0),
        (30, 6.0),
        (100, 20.0),
        (300, 60.0),
        (3600, 60.0),
        (1, 1.0),
        (2, 1.0),
    ],
)
def test_heartbeat_interval_clamps(timeout: int | None, expected: float) -> None:
    assert heartbeat_interval(timeout) == expected


def test_heartbeat_floor_is_configurable() -> None:
    assert heartbeat_interval(1, floor=0.05) == pytest.approx(0.2)


def test_normalize_url() -> None:
    assert normalize_url("HTTP://API.Example:8080/?x=1#f") == "http://api.example:8080"
    assert normalize_url("http://h/base/") == "http://h/base"


# -- the happy path ------------------------------------------------------------------------------


async def test_started_precedes_side_effects_and_completion(worker: Running) -> None:
    body = worker.envelope("t.side_effect")
    body["payload"] = {"sideEffectUrl": f"{worker.api}/side-effect", "taskId": body["taskId"]}
    response = await worker.dispatch(body)
    assert response.status_code == 200, response.text
    assert response.json()["disposition"] == "ACCEPTED"
    completed = await worker.completed(body)
    assert completed["outcome"] == "SUCCEEDED"
    assert completed["output"] == {"rowCount": 1}
    actions = [a for a in worker.recorder.actions(body["taskId"]) if a != "heartbeat"]
    assert actions == ["started", "side_effect", "completed"]
    started = worker.recorder.of("started", body["taskId"])[0].body
    assert started["attempt"] == 1 and started["attemptId"] == body["attemptId"]
    assert started["workerId"] == "worker-test" and started["startedAt"].endswith("Z")
    assert set(completed["metrics"]) >= {"peakMemoryBytes", "cpuTimeMs"}
    headers = worker.recorder.of("started", body["taskId"])[0].headers
    assert headers["authorization"] == "Bearer task-token"


async def test_table_output_is_written_and_read_downstream(worker: Running) -> None:
    upstream = worker.envelope("t.source_table")
    assert (await worker.dispatch(upstream)).status_code == 200
    first = await worker.completed(upstream)
    assert first["outcome"] == "SUCCEEDED" and first["output"]["rowCount"] == 10
    path = Path(first["output"]["outputPath"])
    assert path.is_file() and path.is_relative_to(worker.output)
    assert first["output"]["byteSize"] == path.stat().st_size
    assert len(first["output"]["materializationId"]) == 26

    downstream = worker.envelope("t.doubled")
    assert (await worker.dispatch(downstream)).status_code == 200
    second = await worker.completed(downstream)
    assert second["outcome"] == "SUCCEEDED", second
    table = pq.read_table(second["output"]["outputPath"])
    assert table["n2"].to_pylist() == [n * 2 for n in range(10)]


async def test_partition_key_reaches_the_asset(worker: Running) -> None:
    body = worker.envelope("t.daily", partition_key="date=d:2026-01-02")
    assert (await worker.dispatch(body)).status_code == 200
    done = await worker.completed(body)
    assert done["outcome"] == "SUCCEEDED"
    assert pq.read_table(done["output"]["outputPath"])["day"].to_pylist() == ["2026-01-02"]
    assert "date=d%3A2026-01-02" in done["output"]["outputPath"]


async def test_partitioned_asset_without_key_fails_as_configuration(worker: Running) -> None:
    body = worker.envelope("t.daily")
    assert (await worker.dispatch(body)).status_code == 200
    done = await worker.completed(body)
    assert done["outcome"] == "FAILED"
    assert done["error"]["category"] == "CONFIGURATION" and done["error"]["retryable"] is False
    assert "partition" in done["error"]["message"]


async def test_unknown_asset_fails_as_configuration(worker: Running) -> None:
    body = worker.envelope("t.nope")
    assert (await worker.dispatch(body)).status_code == 200
    done = await worker.completed(body)
    assert done["error"]["category"] == "CONFIGURATION"
    assert "t.nope" in done["error"]["message"]


# -- outcome and error mapping ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task_key", "category", "retryable", "text"),
    [
        ("t.fails_plain", "USER_CODE", True, "ValueError: boom"),
        ("t.fails_retryable", "USER_CODE", True, "flaky source"),
        ("t.fails_nonretryable", "USER_CODE", False, "bad input file"),
        ("t.fails_quality", "DATA_QUALITY", False, "negative totals"),
        ("t.too_few_rows", "DATA_QUALITY", False, "expected at least 5"),
        ("t.too_slow", "TIMEOUT", True, "exceeded its timeout of 1s"),
    ],
)
async def test_failures_map_to_category_and_retryability(
    worker: Running, task_key: str, category: str, retryable: bool, text: str
) -> None:
    body = worker.envelope(task_key)
    assert (await worker.dispatch(body)).status_code == 200
    done = await worker.completed(body)
    assert done["outcome"] == "FAILED"
    assert done["error"]["category"] == category
    assert done["error"]["retryable"] is retryable
    assert text in done["error"]["message"]


async def test_user_code_failure_carries_stack_trace(worker: Running) -> None:
    body = worker.envelope("t.fails_plain")
    await worker.dispatch(body)
    done = await worker.completed(body)
    assert "Traceback" in done["error"]["stackTrace"]
    assert "sample_assets.py" in done["error"]["stackTrace"]


async def test_raise_if_cancelled_reports_cancelled(worker: Running) -> None:
    body = worker.envelope("t.cancels_itself")
    await worker.dispatch(body)
    done = await worker.completed(body)
    assert done["outcome"] == "CANCELLED"
    assert "error" not in done


# -- heartbeats and cancellation ----------------------------------------------------------------------


async def test_heartbeats_follow_the_interval(worker: Running) -> None:
    # heartbeatTimeoutSec=1 -> interval 0.2 s (floor 0.05 s in this worker).
    body = worker.envelope("t.sleepy", heartbeat_timeout_sec=1, payload={"seconds": 1.1})
    await worker.dispatch(body)
    await worker.completed(body)
    beats = worker.recorder.of("heartbeat", body["taskId"])
    assert 3 <= len(beats) <= 7, len(beats)
    gaps = [b.at - a.at for a, b in itertools.pairwise(beats)]
    assert all(0.12 < gap < 0.6 for gap in gaps), gaps
    assert beats[0].body["attemptId"] == body["attemptId"]


async def test_should_cancel_cancels_the_asset(worker: Running) -> None:
    worker.recorder.heartbeat = lambda n, body: (
        200,
        {"acknowledged": True, "shouldCancel": n >= 2, "cancelReason": "user_requested"},
    )
    body = worker.envelope("t.sleepy", heartbeat_timeout_sec=1, payload={"seconds": 20})
    await worker.dispatch(body)
    done = await worker.completed(body, timeout=10)
    assert done["outcome"] == "CANCELLED"
    assert done["cancelledDuringPhase"] == "execute"
    assert len(worker.recorder.of("heartbeat", body["taskId"])) == 2


async def test_gone_heartbeat_cancels_the_asset(worker: Running) -> None:
    worker.recorder.heartbeat = lambda n, body: (
        410,
        {"error": "task_expired", "message": "Task is no longer active", "state": "CANCELLED"},
    )
    body = worker.envelope("t.sleepy", heartbeat_timeout_sec=1, payload={"seconds": 20})
    await worker.dispatch(body)
    done = await worker.completed(body, timeout=10)
    assert done["outcome"] == "CANCELLED"
    assert len(worker.recorder.of("heartbeat", body["taskId"])) == 1


async def test_asset_ignoring_cancel_is_still_reported_after_grace(worker: Running) -> None:
    worker.recorder.heartbeat = lambda n, body: (200, {"acknowledged": True, "shouldCancel": True})
    body = worker.envelope("t.stubborn", heartbeat_timeout_sec=1, payload={"seconds": 3})
    await worker.dispatch(body)
    done = await worker.completed(body, timeout=3)  # grace is 1 s; the asset sleeps 3 s
    assert done["outcome"] == "CANCELLED"


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


# -- traceparent and logs ------------------------------------------------------------------------------


async def test_traceparent_is_propagated_to_callbacks(worker: Running) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    body = worker.envelope("t.sleepy", payload={"seconds": 0}, traceparent=traceparent)
    await worker.dispatch(body)
    await worker.completed(body)
    for action in ("started", "completed"):
        call = worker.recorder.of(action, body["taskId"])[0]
        assert call.body["traceparent"] == traceparent
        assert call.headers["traceparent"] == traceparent


async def test_logs_are_captured_per_task_under_concurrency(worker: Running) -> None:
    bodies = [
        worker.envelope("t.printer", run_id=f"RUN{i}", payload={"marker": f"MARK{i}"})
        for i in range(3)
    ] + [worker.envelope("t.async_printer", run_id="RUNA", payload={"marker": "MARKA"})]
    responses = await asyncio.gather(*(worker.dispatch(b) for b in bodies))
    assert all(r.status_code == 200 for r in responses)
    for body in bodies:
        await worker.completed(body)
    uploads = {c.task_id: c.body for c in worker.recorder.of("logs")}
    assert len(uploads) == 4
    for i in range(3):
        upload = uploads[f"RUN{i}/t.printer"]
        assert upload["attempt"] == 1
        stdout, stderr = upload["stdout"], upload["stderr"]
        assert stdout.count(f"MARK{i} line") == 20
        assert stderr.count(f"marker='MARK{i}'") == 20
        others = [m for m in ("MARK0", "MARK1", "MARK2", "MARKA") if m != f"MARK{i}"]
        assert not any(m in stdout or m in stderr for m in others)
    async_upload = uploads["RUNA/t.async_printer"]
    assert async_upload["stdout"].count("MARKA async line") == 10
    assert "MARK0" not in async_upload["stdout"]


# -- gRPC ----------------------------------------------------------------------------------------------


def _grpc_request(body: dict[str, Any]) -> wpb.DispatchRequest:
    env = worker_pb.WorkerDispatchEnvelope()
    json_format.ParseDict(body, env)
    return wpb.DispatchRequest(envelope=env)


async def test_grpc_dispatch_accepts_and_dedupes(worker: Running) -> None:
    body = worker.envelope("t.sleepy", payload={"seconds": 0}, dispatch_id="dispatch:grpc:1")
    metadata = (("x-arco-dispatch-secret", SECRET),)
    async with grpc.aio.insecure_channel(str(worker.server.grpc_address)) as channel:
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
    async with grpc.aio.insecure_channel(str(worker.server.grpc_address)) as channel:
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
    async with grpc.aio.insecure_channel(str(worker.server.grpc_address)) as channel:
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
    async with grpc.aio.insecure_channel(str(worker.server.grpc_address)) as channel:
        stub = wpb_grpc.WorkerServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as gave_up:
            await stub.Dispatch(_grpc_request(waiting), metadata=metadata, timeout=0.3)
        assert gave_up.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        for body in busy:
            await worker.completed(body)
        again = await stub.Dispatch(_grpc_request(waiting), metadata=metadata, timeout=10)
    assert again.disposition == wpb.DISPATCH_DISPOSITION_ACCEPTED
    assert (await worker.completed(waiting))["outcome"] == "SUCCEEDED"
