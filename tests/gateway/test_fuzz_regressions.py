"""Regressions for what schemathesis found against the real mesh (tests/gateway/test_schemathesis.py).

Each test pins one bug on the in-process gateway with a scripted upstream, so it runs in
milliseconds and says exactly what was wrong.
"""

from __future__ import annotations

import pytest
from arco.catalog.v1 import catalog_service_pb2 as catalog_pb
from arco.orchestration.v1 import task_callback_service_pb2 as callback_pb

from tests.gateway.conftest import GatewayClient

# Header values an HTTP client may send but gRPC metadata cannot carry (non-ASCII, a tab,
# DEL): forwarding them failed the upstream call client-side and answered 500.
UNSENDABLE = [b"key\xe9", b"a\tb", b"a\x7fb"]


@pytest.mark.parametrize("value", UNSENDABLE, ids=["latin1", "tab", "del"])
async def test_unsendable_idempotency_key_is_a_400_not_a_500(
    gw: GatewayClient, value: bytes
) -> None:
    gw.upstream.script["CreateNamespace"] = catalog_pb.CreateNamespaceResponse()
    response = await gw.request(
        "POST", "/api/v1/namespaces", json={"name": "n"}, headers={"Idempotency-Key": value}
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "BAD_REQUEST"
    assert "Idempotency-Key" in response.json()["message"]
    assert not gw.upstream.calls


@pytest.mark.parametrize("value", UNSENDABLE, ids=["latin1", "tab", "del"])
async def test_unsendable_traceparent_is_dropped(gw: GatewayClient, value: bytes) -> None:
    gw.upstream.script["CreateNamespace"] = catalog_pb.CreateNamespaceResponse()
    response = await gw.request(
        "POST", "/api/v1/namespaces", json={"name": "n"}, headers={"traceparent": value}
    )
    assert response.status_code == 201, response.text
    assert "traceparent" not in gw.upstream.last("CreateNamespace").metadata


@pytest.mark.parametrize("value", UNSENDABLE, ids=["latin1", "tab", "del"])
async def test_unsendable_task_token_is_a_401_callback_error(
    gw: GatewayClient, value: bytes
) -> None:
    gw.upstream.script["TaskStarted"] = callback_pb.TaskStartedResponse()
    response = await gw.request(
        "POST",
        "/api/v1/tasks/t-1/started",
        auth=False,
        json={"attempt": 1, "attemptId": "a", "workerId": "w"},
        headers={"Authorization": b"Bearer tok" + value},
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_token"
    assert not gw.upstream.calls


async def test_a_null_repeated_message_field_is_a_400_not_a_500(gw: GatewayClient) -> None:
    """protobuf's JSON parser raised AttributeError (not ParseError) for this body."""
    response = await gw.request(
        "POST",
        "/api/v1/workspaces/analytics/manifests",
        json={"manifestVersion": "1", "assets": [{"id": "a.b", "checks": None}]},
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "BAD_REQUEST"
    assert not gw.upstream.calls
