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
from google.protobuf import struct_pb2

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
