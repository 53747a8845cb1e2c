"""Errors: the status table, envelopes, callback bodies, redaction, request ids."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import grpc
import pytest
from arco.catalog.v1 import catalog_service_pb2 as catalog_pb

from arco_core import errors
from arco_runtime.rpc_errors import HTTP_BY_GRPC
from gateway.routes import route_table
from tests.gateway.conftest import (
    WORKSPACE,
    Fail,
    GatewayClient,
    Upstream,
    make_config,
    open_client,
)
from tests.support.fixtures import PROTOCOL_SOURCES, protocol_dir, protocol_fixture

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")

EXPECTED = [
    (grpc.StatusCode.INVALID_ARGUMENT, 400, "BAD_REQUEST"),
    (grpc.StatusCode.OUT_OF_RANGE, 400, "BAD_REQUEST"),
    (grpc.StatusCode.UNAUTHENTICATED, 401, "UNAUTHORIZED"),
    (grpc.StatusCode.PERMISSION_DENIED, 403, "FORBIDDEN"),
    (grpc.StatusCode.NOT_FOUND, 404, "NOT_FOUND"),
    (grpc.StatusCode.ALREADY_EXISTS, 409, "CONFLICT"),
    (grpc.StatusCode.ABORTED, 409, "CONFLICT"),
    (grpc.StatusCode.FAILED_PRECONDITION, 412, "PRECONDITION_FAILED"),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, 429, "TOO_MANY_REQUESTS"),
    (grpc.StatusCode.CANCELLED, 499, "UPSTREAM_ERROR"),
    (grpc.StatusCode.UNKNOWN, 500, "INTERNAL"),
    (grpc.StatusCode.INTERNAL, 500, "INTERNAL"),
    (grpc.StatusCode.DATA_LOSS, 500, "INTERNAL"),
    (grpc.StatusCode.UNIMPLEMENTED, 501, "NOT_IMPLEMENTED"),
    (grpc.StatusCode.UNAVAILABLE, 503, "UPSTREAM_ERROR"),
    (grpc.StatusCode.DEADLINE_EXCEEDED, 504, "UPSTREAM_ERROR"),
]


def test_the_table_covers_every_grpc_code() -> None:
    assert set(HTTP_BY_GRPC) == set(grpc.StatusCode)
    assert {code for code, _, _ in EXPECTED} | {grpc.StatusCode.OK} == set(grpc.StatusCode)


@pytest.mark.parametrize(("code", "status", "name"), EXPECTED, ids=str)
async def test_every_grpc_code_maps_to_the_envelope(
    gw: GatewayClient, code: grpc.StatusCode, status: int, name: str
) -> None:
    gw.upstream.script["GetNamespace"] = Fail(
        code, "secret detail: disk /var/x broke", reason="r", metadata={"error_id": "e-1"}
    )
    response = await gw.request(
        "GET", "/api/v1/namespaces/sales", headers={"X-Request-Id": "req-1"}
    )
    assert response.status_code == status
    body = response.json()
    assert body["code"] == name
    assert body["requestId"] == "req-1"
    assert response.headers["x-request-id"] == "req-1"
    if status == 500:  # redacted, correlated by the api's error id
        assert body == {
            "code": "INTERNAL",
            "message": "Internal server error",
            "requestId": "req-1",
            "details": {"errorId": "e-1"},
        }
    else:
        assert body["message"] == "secret detail: disk /var/x broke"
        assert body["details"] == {"reason": "r", "metadata": {"error_id": "e-1"}}


async def test_unimplemented_without_details(gw: GatewayClient) -> None:
    gw.upstream.script["ListCatalogs"] = Fail(
        grpc.StatusCode.UNIMPLEMENTED, "ListCatalogs is not implemented yet"
    )
    response = await gw.request("GET", "/api/v1/catalogs")
    assert (response.status_code, response.json()["code"]) == (501, "NOT_IMPLEMENTED")
    assert "details" not in response.json()


async def test_internal_error_without_error_id_gets_one(gw: GatewayClient) -> None:
    gw.upstream.script["GetCatalog"] = Fail(grpc.StatusCode.INTERNAL, "stack trace here")
    body = (await gw.request("GET", "/api/v1/catalogs/x")).json()
    assert body["message"] == "Internal server error"
    assert "stack" not in json.dumps(body)
    assert len(body["details"]["errorId"]) == 32


async def test_api_unreachable_is_503(upstream: Upstream) -> None:
    async with open_client(make_config("127.0.0.1:9", upstream_timeout_sec=2.0), upstream) as gw:
        response = await gw.request("GET", "/api/v1/namespaces")
    assert response.status_code == 503
    assert response.json()["code"] == "UPSTREAM_ERROR"


# -- request parsing -------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
async def test_malformed_json_is_a_400_envelope(gw: GatewayClient, raw: bytes) -> None:
    response = await gw.request(
        "POST", "/api/v1/namespaces", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["code"] == "BAD_REQUEST"
    assert response.json()["requestId"] == response.headers["x-request-id"]
    assert gw.upstream.calls == []


async def test_wrong_field_type_and_media_type(gw: GatewayClient) -> None:
    response = await gw.request(
        "POST",
        f"/api/v1/workspaces/{WORKSPACE}/runs",
        json={"selection": "not-a-list", "includeUpstream": "maybe"},
    )
    assert response.status_code == 400
    response = await gw.request(
        "POST",
        "/api/v1/namespaces",
        content=b"name=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (response.status_code, response.json()["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")


async def test_unknown_route_and_method_are_envelopes(gw: GatewayClient) -> None:
    response = await gw.request("GET", "/api/v1/nope", headers={"X-Request-Id": "abc"})
    assert response.status_code == 404
    assert response.json() == {
        "code": "NOT_FOUND",
        "message": "no route for GET /api/v1/nope",
        "requestId": "abc",
    }
    response = await gw.request("PATCH", "/api/v1/namespaces")
    assert response.status_code == 405
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in response.headers["allow"]


# -- request ids -----------------------------------------------------------------------


async def test_request_id_is_generated_and_echoed_everywhere(gw: GatewayClient) -> None:
    gw.upstream.script["ListNamespaces"] = Fail(grpc.StatusCode.NOT_FOUND, "x")
    for method, url, kwargs in [
        ("GET", "/healthz", {}),
        ("GET", "/api/v1/openapi.json", {}),
        ("GET", "/api/v1/namespaces", {}),
        ("GET", "/api/v1/namespaces", {"auth": False}),
        ("GET", "/api/v1/unknown", {}),
    ]:
        response = await gw.request(method, url, **kwargs)
        assert ULID.fullmatch(response.headers["x-request-id"]), (url, response.headers)
    first = (await gw.request("GET", "/healthz")).headers["x-request-id"]
    second = (await gw.request("GET", "/healthz")).headers["x-request-id"]
    assert first != second


async def test_unsafe_request_id_is_replaced(gw: GatewayClient) -> None:
    response = await gw.request("GET", "/healthz", headers={"X-Request-Id": "x" * 500})
    assert ULID.fullmatch(response.headers["x-request-id"])


# -- callback error bodies ---------------------------------------------------------------


def _fixture(name: str) -> Any:
    return protocol_fixture(name)


# The error classes the api raises on callbacks, and the status each documents.
CALLBACK_CASES = [
    ("started", errors.InvalidArgument, {}, 400),
    ("started", errors.TaskIdAmbiguous, {}, 400),
    ("heartbeat", errors.InvalidToken, {}, 401),
    ("completed", errors.TaskNotFound, {}, 404),
    ("started", errors.TaskAlreadyTerminal, {"state": "CANCELLED"}, 409),
    ("completed", errors.AttemptMismatch, {"state": "RUNNING", "expected_attempt": "2", "received_attempt": "1"}, 409),
    ("completed", errors.AttemptAlreadyCompleted, {"state": "RETRY_WAIT"}, 409),
    ("heartbeat", errors.TaskExpired, {"state": "SUCCEEDED"}, 410),
]  # fmt: skip
REQUESTS = {
    "started": "task_started_request.json",
    "heartbeat": "heartbeat_request.json",
    "completed": "task_completed_request.json",
}
RPCS = {"started": "TaskStarted", "heartbeat": "TaskHeartbeat", "completed": "TaskCompleted"}


@pytest.mark.parametrize(
    "case", CALLBACK_CASES, ids=lambda case: f"{case[0]}-{case[1].default_reason}"
)
async def test_callback_errors_use_the_callback_body(
    gw: GatewayClient,
    case: tuple[str, type[errors.ArcoError], dict[str, str], int],
) -> None:
    route, error_class, metadata, status = case
    reason = error_class.default_reason
    gw.upstream.script[RPCS[route]] = error_class(f"{reason} happened", metadata=metadata)
    response = await gw.request(
        "POST", f"/api/v1/tasks/ct1_x/{route}", json=_fixture(REQUESTS[route]),
        headers={"Authorization": "Bearer task-token", "X-Request-Id": "cb-1"},
    )  # fmt: skip
    assert response.status_code == status
    assert response.headers["x-request-id"] == "cb-1"
    expected: dict[str, Any] = {"error": reason, "message": f"{reason} happened"}
    if "state" in metadata:
        expected["state"] = metadata["state"]
    if "expected_attempt" in metadata:
        expected.update(expectedAttempt=2, receivedAttempt=1)
    assert response.json() == expected


@pytest.mark.parametrize("source", PROTOCOL_SOURCES)
async def test_callback_error_payload_fixture_shape_from_error_info(
    gw: GatewayClient, source: str
) -> None:
    fixture = json.loads((protocol_dir(source) / "callback_error_payload.json").read_text())
    gw.upstream.script["TaskHeartbeat"] = Fail(
        grpc.StatusCode.ABORTED,
        fixture["message"],
        reason=fixture["error"],
        metadata={
            "state": fixture["state"],
            "expected_attempt": str(fixture["expectedAttempt"]),
            "received_attempt": str(fixture["receivedAttempt"]),
            "expected_attempt_id": fixture["expectedAttemptId"],
            "received_attempt_id": fixture["receivedAttemptId"],
        },
    )
    response = await gw.request(
        "POST", "/api/v1/tasks/ct1_x/heartbeat", json=_fixture("heartbeat_request.json"),
        headers={"Authorization": "Bearer task-token"},
    )  # fmt: skip
    assert response.status_code == 409
    assert response.json() == fixture  # exactly the fixture: keys, camelCase, numbers as numbers


async def test_callback_gateway_side_errors(gw: GatewayClient) -> None:
    body = _fixture("task_started_request.json")
    response = await gw.request("POST", "/api/v1/tasks/ct1_x/started", json=body, auth=False)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "message": "missing bearer token"}
    assert gw.upstream.calls == []
    response = await gw.request(
        "POST", "/api/v1/tasks/ct1_x/started", content=b"{oops",
        headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_argument"
    response = await gw.request(
        "POST",
        "/api/v1/tasks/ct1_x/started",
        json={**body, "attempt": -1},
        headers={"Authorization": "Bearer t"},
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_argument")


async def test_callback_5xx_uses_the_envelope(gw: GatewayClient) -> None:
    gw.upstream.script["TaskCompleted"] = Fail(
        grpc.StatusCode.INTERNAL, "boom", metadata={"error_id": "e9"}
    )
    response = await gw.request(
        "POST", "/api/v1/tasks/ct1_x/completed", json={}, headers={"Authorization": "Bearer t"}
    )
    assert response.status_code == 500
    assert response.json()["code"] == "INTERNAL"
    assert response.json()["details"] == {"errorId": "e9"}


async def test_uncaught_gateway_bug_is_redacted(upstream: Upstream) -> None:
    def broken(response: Any, inbound: Any) -> Any:
        raise RuntimeError("secret internals")

    specs = [
        dataclasses.replace(spec, reply=broken) if spec.rpc == "GetCatalog" else spec
        for spec in route_table()
    ]
    upstream.script["GetCatalog"] = catalog_pb.GetCatalogResponse()
    async with open_client(make_config(upstream.address), upstream, routes=specs) as gw:
        response = await gw.request("GET", "/api/v1/catalogs/x")
    assert response.status_code == 500
    assert response.json()["message"] == "Internal server error"
    assert "secret" not in response.text
