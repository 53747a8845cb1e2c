"""The schedule operations the gateway documents have the reference's shapes: field
names of every request and response body, query parameters and statuses (the routes
themselves run over real processes in tests/service/test_schedules_api.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.openapi import build_openapi
from gateway.routes import route_table
from tests.gateway.conftest import GatewayClient

OPERATIONS = (
    "list_schedules",
    "get_schedule",
    "upsert_schedule",
    "enable_schedule",
    "disable_schedule",
    "list_schedule_ticks",
)


def _operations(doc: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {
        op["operationId"]: (path, method, op)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if isinstance(op, dict) and "operationId" in op
    }


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _field_names(doc: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> set[str]:
    """Every property name of a body, nested arrays and objects included (dotted)."""
    schema = _resolve(doc, schema)
    names: set[str] = set()
    for name, prop in (schema.get("properties") or {}).items():
        names.add(name)
        inner = _resolve(doc, prop)
        if inner.get("type") == "array" and isinstance(inner.get("items"), dict):
            inner = _resolve(doc, inner["items"])
        if depth < 2 and inner.get("properties"):
            names |= {f"{name}.{n}" for n in _field_names(doc, inner, depth + 1)}
    return names


def _body(doc: dict[str, Any], op: dict[str, Any], status: str) -> dict[str, Any]:
    return dict(op["responses"][status]["content"]["application/json"]["schema"])


@pytest.fixture(scope="module")
def reference(shared_dir: Path) -> dict[str, Any]:
    return dict(json.loads((shared_dir / "contracts/openapi/reference_openapi.json").read_text()))


@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_the_shapes_are_the_references(reference: dict[str, Any], operation_id: str) -> None:
    ours = json.loads(json.dumps(build_openapi(route_table())))
    ref_path, ref_method, ref_op = _operations(reference)[operation_id]
    our_path, our_method, our_op = _operations(ours)[operation_id]
    assert (our_path, our_method) == (ref_path, ref_method)
    for status in (s for s in ref_op["responses"] if s.startswith("2")):
        assert _field_names(ours, _body(ours, our_op, status)) == _field_names(
            reference, _body(reference, ref_op, status)
        ), status
    ref_request = ref_op.get("requestBody", {}).get("content", {}).get("application/json")
    if ref_request and _resolve(reference, ref_request["schema"]).get("properties"):
        our_request = our_op["requestBody"]["content"]["application/json"]["schema"]
        assert _field_names(ours, our_request) == _field_names(reference, ref_request["schema"])
    ref_query = {p["name"] for p in ref_op.get("parameters", []) if p["in"] == "query"}
    our_query = {p["name"] for p in our_op.get("parameters", []) if p["in"] == "query"}
    assert our_query == ref_query


async def test_a_tick_status_outside_the_enum_is_refused_by_the_gateway(
    gw: GatewayClient,
) -> None:
    response = await gw.request(
        "GET", "/api/v1/workspaces/analytics/schedules/daily/ticks?status=LATE"
    )
    assert response.status_code == 400
    assert gw.upstream.calls == []
