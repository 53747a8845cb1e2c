"""Push sensors and the sensor reads over real processes: api (gRPC) with real compactors,
then the gateway (REST) in front of it."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
from arco.orchestration.v1 import orchestration_service_pb2 as pb
from arco.orchestration.v1 import orchestration_service_pb2_grpc as pb_grpc
from arco.orchestration.v1 import task_callback_service_pb2 as cb_pb
from arco.orchestration.v1 import task_callback_service_pb2_grpc as cb_grpc
from google.protobuf import struct_pb2

from arco_core.automation.sensor_polls import SensorDispatch, sensor_run_scope
from arco_core.tokens import TaskTokenSigner
from arco_runtime.tls import Role
from tests.service.test_api_callbacks import AUDIENCE, ISSUER, SECRET
from tests.service.test_api_orchestration import manifest
from tests.support.mesh_parts import TENANT, WORKSPACE, api_with_compactors
from tests.support.processes import start_service
from tests.support.tls import mesh_channel


def sensor_manifest() -> pb.DeployManifestRequest:
    request = manifest()
    request.sensors.add(id="new-files", kind="push", assets=["raw.events"])
    request.sensors.add(id="poller", kind="poll", minimum_interval_seconds=60)
    return request


def push(message_id: str | None, sensor_id: str = "new-files") -> pb.ManualEvaluateSensorRequest:
    request = pb.ManualEvaluateSensorRequest(
        workspace_id=WORKSPACE,
        sensor_id=sensor_id,
        payload=struct_pb2.Value(string_value="s3://bucket/file-1"),
        attributes={"bucket": "landing"},
    )
    if message_id is not None:
        request.message_id = message_id
    return request


def _http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={
            "x-tenant-id": TENANT,
            "x-workspace-id": WORKSPACE,
            "content-type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_a_replayed_message_id_requests_one_run(tmp_path: Path) -> None:
    with api_with_compactors(tmp_path) as procs:
        async with mesh_channel(procs["api"].grpc_address) as channel:
            stub = pb_grpc.OrchestrationServiceStub(channel)
            await stub.DeployManifest(sensor_manifest())
            first = await stub.ManualEvaluateSensor(push("msg-1"))
            replay = await stub.ManualEvaluateSensor(push("msg-1"))
            assert first.status == replay.status == "triggered"
            assert first.events_written == 3  # the evaluation, its run and its plan
            assert replay.events_written == 0 and replay.eval_id != first.eval_id
            (request,) = first.run_requests
            assert request.run_key == "sensor:new-files:msg-1"
            assert list(request.asset_selection) == ["raw.events"]
            runs = await stub.ListRuns(pb.ListRunsRequest(workspace_id=WORKSPACE, limit=50))
            assert len(runs.runs) == 1
            run = await stub.GetRun(
                pb.GetRunRequest(workspace_id=WORKSPACE, run_id=runs.runs[0].run_id)
            )
            assert dict(run.labels)["arco.sensor_id"] == "new-files"
            # Another message is another run; the cursor is the last message id.
            await stub.ManualEvaluateSensor(push("msg-2"))
            runs = await stub.ListRuns(pb.ListRunsRequest(workspace_id=WORKSPACE, limit=50))
            assert len(runs.runs) == 2
            sensor = (
                await stub.GetSensor(
                    pb.GetSensorRequest(workspace_id=WORKSPACE, sensor_id="new-files")
                )
            ).sensor
            assert (sensor.cursor, sensor.state_version) == ("msg-2", 2)
            assert sensor.status == pb.SENSOR_STATUS_ACTIVE
            evals = await stub.ListSensorEvals(
                pb.ListSensorEvalsRequest(workspace_id=WORKSPACE, sensor_id="new-files")
            )
            assert [e.cursor_after for e in evals.evals] == ["msg-2", "msg-1"]
            assert [e.run_requests_count for e in evals.evals] == [1, 1]
            # An undeclared sensor is created by its first message and requests nothing.
            other = await stub.ManualEvaluateSensor(push(None, sensor_id="adhoc"))
            assert other.status == "no_new_data" and other.message_id.startswith("manual_")
            listed = await stub.ListSensors(pb.ListSensorsRequest(workspace_id=WORKSPACE))
            assert [s.sensor_id for s in listed.sensors] == ["adhoc", "new-files"]
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.GetSensor(
                    pb.GetSensorRequest(workspace_id=WORKSPACE, sensor_id="poller")
                )
            assert info.value.code() == grpc.StatusCode.NOT_FOUND
            # A poll sensor's cursor belongs to its function: it takes no messages.
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.ManualEvaluateSensor(push("m", sensor_id="poller"))
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.ListSensorEvals(
                    pb.ListSensorEvalsRequest(workspace_id=WORKSPACE, sensor_id="x", status="nope")
                )
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT

        gateway = start_service(
            "gateway",
            tmp_path,
            {"ARCO_API_ADDRESS": procs["api"].grpc_address, "ARCO_GATEWAY_DEV_AUTH": "true"},
            name="gateway",
        )
        try:
            base = f"http://{gateway.wait_ready(15)['http_address']}/api/v1/workspaces/{WORKSPACE}"
            body = {"payload": {"key": "file-3"}, "messageId": "msg-3", "attributes": {"a": "b"}}
            status, reply = await asyncio.to_thread(
                _http, "POST", f"{base}/sensors/new-files/evaluate", body
            )
            assert status == 200, reply
            assert reply["status"] == "triggered" and reply["messageId"] == "msg-3"
            assert reply["eventsWritten"] == 3 and "evalId" in reply
            assert reply["runRequests"][0]["assetSelection"] == ["raw.events"]
            assert set(reply["runRequests"][0]) >= {"runKey", "requestFingerprint"}
            status, again = await asyncio.to_thread(
                _http, "POST", f"{base}/sensors/new-files/evaluate", body
            )
            assert status == 200 and again["eventsWritten"] == 0
            status, missing = await asyncio.to_thread(
                _http, "POST", f"{base}/sensors/new-files/evaluate", {"messageId": "m"}
            )
            assert status == 400, missing
            status, listed = await asyncio.to_thread(_http, "GET", f"{base}/sensors?limit=1")
            assert status == 200 and listed["sensors"][0]["sensorId"] == "adhoc"
            assert "nextCursor" in listed
            status, page = await asyncio.to_thread(
                _http, "GET", f"{base}/sensors?limit=1&cursor={listed['nextCursor']}"
            )
            assert [s["sensorId"] for s in page["sensors"]] == ["new-files"]
            assert page["sensors"][0] == {
                "sensorId": "new-files",
                "cursor": "msg-3",
                "lastEvaluationAt": page["sensors"][0]["lastEvaluationAt"],
                "status": "ACTIVE",
                "stateVersion": 3,
            }
            status, one = await asyncio.to_thread(_http, "GET", f"{base}/sensors/new-files")
            assert status == 200 and one["stateVersion"] == 3
            status, _ = await asyncio.to_thread(_http, "GET", f"{base}/sensors/never")
            assert status == 404
            status, evals = await asyncio.to_thread(
                _http, "GET", f"{base}/sensors/new-files/evals?status=TRIGGERED&limit=2"
            )
            assert status == 200 and len(evals["evals"]) == 2 and "nextCursor" in evals
            newest = evals["evals"][0]
            assert newest["status"] == {"status": "triggered"} and newest["runRequestsCount"] == 1
            assert newest["cursorAfter"] == "msg-3" and newest["sensorId"] == "new-files"
            since = newest["evaluatedAt"]
            status, recent = await asyncio.to_thread(
                _http, "GET", f"{base}/sensors/new-files/evals?since={since}"
            )
            assert status == 200 and [e["evalId"] for e in recent["evals"]] == [newest["evalId"]]
            status, _ = await asyncio.to_thread(
                _http, "GET", f"{base}/sensors/new-files/evals?status=bad"
            )
            assert status == 400
            status, empty = await asyncio.to_thread(_http, "GET", f"{base}/sensors/unknown/evals")
            assert status == 200 and empty == {"evals": []}
        finally:
            assert gateway.terminate() == 0, gateway.log()


def _answer(
    signer: TaskTokenSigner, eval_id: str, version: int, cursor: str, run_key: str
) -> tuple[cb_pb.SensorEvaluatedRequest, tuple[tuple[str, str], ...]]:
    item = SensorDispatch("poller", eval_id, None, version, "default-queue")
    token, _ = signer.mint(
        TENANT, WORKSPACE, item.task_id, sensor_run_scope("poller"), version + 1, eval_id
    )
    request = cb_pb.SensorEvaluatedRequest(
        task_id=item.task_id,
        eval_id=eval_id,
        expected_state_version=version,
        worker_id="w1",
        cursor=cursor,
        run_requests=[cb_pb.SensorRunRequestEntry(run_key=run_key, assets=["raw.events"])],
    )
    return request, (("authorization", f"Bearer {token}"),)


async def test_two_concurrent_answers_from_one_version_advance_the_cursor_once(
    tmp_path: Path,
) -> None:
    signer = TaskTokenSigner(SECRET, ISSUER, AUDIENCE)
    env = {
        "ARCO_TASK_TOKEN_SECRET": SECRET,
        "ARCO_TASK_TOKEN_ISSUER": ISSUER,
        "ARCO_TASK_TOKEN_AUDIENCE": AUDIENCE,
    }
    with api_with_compactors(tmp_path, env) as procs:
        address = procs["api"].grpc_address
        async with mesh_channel(address) as channel, mesh_channel(address, Role.WORKER) as worker:
            stub = pb_grpc.OrchestrationServiceStub(channel)
            callbacks = cb_grpc.TaskCallbackServiceStub(worker)
            await stub.DeployManifest(sensor_manifest())
            first, first_md = _answer(signer, "poll:poller:v0:a1", 0, "c-first", "k1")
            second, second_md = _answer(signer, "poll:poller:v0:a2", 0, "c-second", "k2")
            answers = await asyncio.gather(
                callbacks.SensorEvaluated(first, metadata=first_md),
                callbacks.SensorEvaluated(second, metadata=second_md),
            )
            statuses = sorted(a.status for a in answers)
            assert statuses == ["SKIPPED_STALE_CURSOR", "TRIGGERED"]
            assert sorted(a.runs_requested for a in answers) == [0, 1]
            winner = "c-first" if answers[0].status == "TRIGGERED" else "c-second"
            got = await stub.GetSensor(
                pb.GetSensorRequest(workspace_id=WORKSPACE, sensor_id="poller")
            )
            assert (got.sensor.cursor, got.sensor.state_version) == (winner, 1)
            runs = await stub.ListRuns(pb.ListRunsRequest(workspace_id=WORKSPACE, limit=50))
            assert len(runs.runs) == 1
            evals = await stub.ListSensorEvals(
                pb.ListSensorEvalsRequest(
                    workspace_id=WORKSPACE, sensor_id="poller", status="SKIPPED_STALE_CURSOR"
                )
            )
            (skipped,) = evals.evals
            assert skipped.status.status == "skipped_stale_cursor"
            assert skipped.run_requests_count == 0 and skipped.cursor_after == winner
            # A token for one evaluation cannot answer another, nor from another version.
            forged, _ = _answer(signer, "poll:poller:v1:a1", 1, "c", "k3")
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await callbacks.SensorEvaluated(forged, metadata=first_md)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
