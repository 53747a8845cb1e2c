"""The sensor routes' HTTP mapping in front of a scripted api: query parameters to request
fields, the Idempotency-Key as a pushed message's default id, and the two shapes of an
evaluation's status (nested in the history, flattened in a push's answer)."""

from __future__ import annotations

from arco.orchestration.v1 import orchestration_service_pb2 as pb
from google.protobuf import timestamp_pb2

from tests.gateway.conftest import WORKSPACE, GatewayClient

SENSORS = f"/api/v1/workspaces/{WORKSPACE}/sensors"


def _at(ms: int) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromMilliseconds(ms)
    return stamp


async def test_eval_history_filters_map_to_the_request_and_status_stays_nested(
    gw: GatewayClient,
) -> None:
    gw.upstream.script["ListSensorEvals"] = pb.ListSensorEvalsResponse(
        evals=[
            pb.SensorEval(
                eval_id="e1",
                sensor_id="s1",
                cursor_after="c1",
                evaluated_at=_at(1_767_225_600_000),
                status=pb.SensorEvalStatus(status="error", message="boom"),
            )
        ],
        next_cursor="n1",
    )
    response = await gw.request(
        "GET",
        f"{SENSORS}/s1/evals?limit=5&status=ERROR&since=2026-01-01T00:00:00Z"
        "&until=2026-01-02T00:00:00.500Z",
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "evals": [
            {
                "evalId": "e1",
                "sensorId": "s1",
                "cursorAfter": "c1",
                "evaluatedAt": "2026-01-01T00:00:00Z",
                "status": {"status": "error", "message": "boom"},
                "runRequestsCount": 0,
            }
        ],
        "nextCursor": "n1",
    }
    request = gw.upstream.last("ListSensorEvals").request
    assert (request.sensor_id, request.limit, request.status) == ("s1", 5, "ERROR")
    assert request.since.ToMilliseconds() == 1_767_225_600_000
    assert request.until.ToMilliseconds() == 1_767_312_000_500
    for bad in ("status=triggered", "since=yesterday", "limit=-1"):
        assert (await gw.request("GET", f"{SENSORS}/s1/evals?{bad}")).status_code == 400, bad


async def test_a_push_forwards_its_idempotency_key_and_answers_flat(gw: GatewayClient) -> None:
    gw.upstream.script["ManualEvaluateSensor"] = pb.ManualEvaluateSensorResponse(
        eval_id="e1",
        message_id="from-header",
        events_written=3,
        status="triggered",
        run_requests=[
            pb.RunRequest(
                run_key="sensor:s1:from-header",
                request_fingerprint="fp",
                asset_selection=["raw.events"],
            )
        ],
    )
    response = await gw.request(
        "POST",
        f"{SENSORS}/s1/evaluate",
        json={"payload": {"file": "a.csv"}, "attributes": {"bucket": "b"}},
        headers={"Idempotency-Key": "from-header"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "triggered" and "message" not in body
    assert body["runRequests"][0]["assetSelection"] == ["raw.events"]
    call = gw.upstream.last("ManualEvaluateSensor")
    assert call.metadata["idempotency-key"] == "from-header"
    assert call.request.payload.struct_value["file"] == "a.csv"
    assert dict(call.request.attributes) == {"bucket": "b"}


async def test_get_sensor_unwraps_the_sensor(gw: GatewayClient) -> None:
    gw.upstream.script["GetSensor"] = pb.GetSensorResponse(
        sensor=pb.Sensor(sensor_id="s1", status=pb.SENSOR_STATUS_ACTIVE, state_version=2)
    )
    response = await gw.request("GET", f"{SENSORS}/s1")
    assert response.json() == {"sensorId": "s1", "status": "ACTIVE", "stateVersion": 2}
