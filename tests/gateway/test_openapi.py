"""The served OpenAPI document and the route table agree; both agree with the proto
annotations and cover the reference contract's in-scope operations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from google.api import annotations_pb2
from starlette.routing import Route

from gateway.app import create_app
from gateway.openapi import OPENAPI_PATH, build_openapi
from gateway.routes import route_table
from tests.gateway.conftest import GatewayClient, make_config

METHODS = {"get", "post", "put", "delete", "patch"}


async def test_served_document_is_the_generated_one(gw: GatewayClient) -> None:
    response = await gw.request("GET", OPENAPI_PATH, auth=False)
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(build_openapi(route_table())))
    assert response.json()["openapi"].startswith("3.")


def test_every_route_documented_and_every_documented_path_routed() -> None:
    doc = build_openapi(route_table())
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    table = {(spec.path, spec.method) for spec in route_table()}
    assert documented == table
    app = create_app(make_config("127.0.0.1:1"))
    served = {
        (route.path, method)
        for route in app.routes
        if isinstance(route, Route) and route.path.startswith("/api/v1/")
        for method in (route.methods or ())
        if method != "HEAD"
    }
    assert served - {(OPENAPI_PATH, "GET")} == table
    assert len(table) == len(route_table())  # no duplicates


def test_statuses_and_operation_ids_match() -> None:
    doc = build_openapi(route_table())
    for spec in route_table():
        operation = doc["paths"][spec.path][spec.method.lower()]
        assert operation["operationId"] == spec.operation_id
        assert sorted(operation["responses"]) == sorted(
            str(s) for s in (*spec.success, *spec.errors)
        )
        documented_params = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
        assert documented_params == set(spec.path_params)
        assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} == {
            q.name for q in spec.query
        }


def _all_refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        refs = {node["$ref"].rsplit("/", 1)[-1]} if "$ref" in node else set()
        for value in node.values():
            refs |= _all_refs(value)
        return refs
    if isinstance(node, list):
        return set().union(*(_all_refs(item) for item in node)) if node else set()
    return set()


def test_every_schema_reference_resolves() -> None:
    doc = build_openapi(route_table())
    assert _all_refs(doc) <= set(doc["components"]["schemas"])


def test_route_table_matches_the_proto_http_annotations() -> None:
    annotated: dict[str, tuple[str, str]] = {}
    services = {spec.service for spec in route_table()}
    for spec in route_table():
        service = spec.request_type.DESCRIPTOR.file.pool.FindServiceByName(spec.service)
        for method in service.methods:
            rule = method.GetOptions().Extensions[annotations_pb2.http]
            kind = rule.WhichOneof("pattern")
            if kind:
                annotated[f"/{spec.service}/{method.name}"] = (kind.upper(), getattr(rule, kind))
    assert {s.service for s in route_table()} == services
    assert {spec.grpc_method: (spec.method, spec.path) for spec in route_table()} == annotated


def test_casing_per_family() -> None:
    doc = build_openapi(route_table())
    schemas = doc["components"]["schemas"]

    def response_props(path: str, method: str, status: str) -> set[str]:
        ref = doc["paths"][path][method]["responses"][status]["content"]["application/json"][
            "schema"
        ]["$ref"]
        return set(schemas[ref.rsplit("/", 1)[-1]]["properties"])

    assert {"created_at", "updated_at"} <= response_props("/api/v1/namespaces/{name}", "get", "200")
    assert {"next_cursor"} <= response_props("/api/v1/namespaces", "get", "200")
    assert {"ttl_seconds"} <= response_props("/api/v1/browser/urls", "post", "200")
    assert {"runId", "createdAt"} <= response_props(
        "/api/v1/workspaces/{workspace_id}/runs", "post", "201"
    )
    assert {"serverTime", "shouldCancel"} <= response_props(
        "/api/v1/tasks/{task_id}/heartbeat", "post", "200"
    )
    run_state = schemas["TriggerRunResponse"]["properties"]["state"]
    assert run_state["enum"] == [
        "PENDING",
        "RUNNING",
        "CANCELLING",
        "SUCCEEDED",
        "FAILED",
        "CANCELLED",
        "TIMED_OUT",
    ]
    callback_409 = doc["paths"]["/api/v1/tasks/{task_id}/heartbeat"]["post"]["responses"]["410"]
    assert callback_409["content"]["application/json"]["schema"]["$ref"].endswith(
        "CallbackErrorResponse"
    )


def test_every_reference_contract_operation_is_served(shared_dir: Path) -> None:
    """All 55 operations of the reference contract, with its methods, paths, operation ids
    and status codes (beyond them only documented additions)."""
    reference = json.loads((shared_dir / "contracts/openapi/reference_openapi.json").read_text())
    ours = {(spec.path, spec.method): spec for spec in route_table()}
    in_scope = {
        (path, method.upper()): op
        for path, ops in reference["paths"].items()
        for method, op in ops.items()
        if method in METHODS
    }
    assert len(in_scope) == 55
    assert {op["operationId"] for op in in_scope.values()} <= {
        s.operation_id for s in ours.values()
    }
    for key, op in in_scope.items():
        assert key in ours, f"reference operation {key} is not served"
        spec = ours[key]
        assert spec.operation_id == op["operationId"]
        reference_success = {int(s) for s in op["responses"] if s.startswith("2")}
        assert reference_success <= set(spec.success), key
        reference_errors = {int(s) for s in op["responses"] if not s.startswith("2")}
        assert reference_errors <= set(spec.errors), (key, reference_errors - set(spec.errors))
