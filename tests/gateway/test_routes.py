"""Every route reaches its RPC with the right path/query/body mapping and answers the
public shape (casing, enums, int64 numbers, omitted optionals, status codes)."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import pytest
from arco.browser.v1 import browser_service_pb2 as browser_pb
from arco.catalog.v1 import catalog_service_pb2 as catalog_pb
from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb
from arco.orchestration.v1 import task_callback_service_pb2 as callback_pb
from arco.orchestration.v1 import types_pb2
from arco.query.v1 import query_service_pb2 as query_pb
from google.protobuf import timestamp_pb2

from arco_runtime.identity import verify_identity
from gateway.routes import Content, route_table
from tests.gateway.conftest import IDENTITY_SECRET, TENANT, WORKSPACE, GatewayClient
from tests.support.fixtures import PROTOCOL_SOURCES, protocol_dir

WS = f"/api/v1/workspaces/{WORKSPACE}"


def ts(seconds: int) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromSeconds(seconds)
    return stamp


def _fill(path: str) -> str:
    return re.sub(
        r"\{(\w+)\}",
        lambda m: WORKSPACE if m.group(1) == "workspace_id" else f"p-{m.group(1)}",
        path,
    )


@pytest.mark.parametrize("spec", route_table(), ids=lambda s: s.operation_id)
async def test_every_route_reaches_its_rpc(gw: GatewayClient, spec: Any) -> None:
    gw.upstream.script[spec.rpc] = spec.response_type()
    body = {"mode": "subset"} if spec.rpc == "RerunRun" else {}
    headers = {"X-Request-Id": f"rid-{spec.operation_id}"}
    if spec.auth.value == "taskAuth":
        headers["Authorization"] = "Bearer opaque-task-token"
    response = await gw.request(
        spec.method, _fill(spec.path), json=body if spec.body else None, headers=headers
    )
    assert response.status_code in spec.success, response.text
    assert response.headers["x-request-id"] == f"rid-{spec.operation_id}"
    call = gw.upstream.last()
    assert call.method == spec.rpc
    for name in spec.path_params:
        expected = WORKSPACE if name == "workspace_id" else f"p-{name}"
        assert getattr(call.request, name) == expected
    assert call.metadata["x-request-id"] == f"rid-{spec.operation_id}"
    if spec.auth.value == "taskAuth":
        assert call.metadata["authorization"] == "Bearer opaque-task-token"
        assert "x-arco-identity" not in call.metadata
    else:
        assert "authorization" not in call.metadata  # the user JWT stays at the edge
        identity = verify_identity(call.metadata.items(), IDENTITY_SECRET, now=0)
        assert (identity.tenant, identity.workspace, identity.user) == (TENANT, WORKSPACE, "alice")
        assert identity.groups == ("eng",)
    if spec.content is Content.NONE:
        assert response.status_code == 204
        assert response.content == b""


# -- catalog family: snake_case, unwrapped entities -------------------------------------


async def test_create_namespace_is_201_snake_case_unwrapped(gw: GatewayClient) -> None:
    gw.upstream.script["CreateNamespace"] = catalog_pb.CreateNamespaceResponse(
        namespace=catalog_pb.Namespace(
            id="ns-1", name="sales", created_at=ts(1_700_000_000), updated_at=ts(1_700_000_001)
        )
    )
    response = await gw.request(
        "POST",
        "/api/v1/namespaces",
        json={"name": "sales", "unknown_field": 1},
        headers={"Idempotency-Key": "0190b6c4-7d2e-7000-8000-000000000001"},
    )
    assert response.status_code == 201
    assert response.json() == {
        "id": "ns-1",
        "name": "sales",
        "created_at": "2023-11-14T22:13:20Z",
        "updated_at": "2023-11-14T22:13:21Z",
    }  # optional description omitted, never null
    call = gw.upstream.last("CreateNamespace")
    assert call.request.name == "sales"
    assert not call.request.HasField("description")
    assert call.metadata["idempotency-key"] == "0190b6c4-7d2e-7000-8000-000000000001"


async def test_list_namespaces_passes_limit_and_cursor(gw: GatewayClient) -> None:
    gw.upstream.script["ListNamespaces"] = catalog_pb.ListNamespacesResponse(next_cursor="abc")
    response = await gw.request("GET", "/api/v1/namespaces?limit=7&cursor=eyJrIjoxfQ")
    assert response.status_code == 200
    assert response.json() == {"namespaces": [], "next_cursor": "abc"}
    call = gw.upstream.last("ListNamespaces")
    assert (call.request.limit, call.request.cursor) == (7, "eyJrIjoxfQ")
    bad = await gw.request("GET", "/api/v1/namespaces?limit=many")
    assert bad.status_code == 400
    assert bad.json()["code"] == "BAD_REQUEST"


async def test_table_columns_keep_false_and_zero(gw: GatewayClient) -> None:
    table = catalog_pb.Table(
        id="t-1",
        namespace="sales",
        name="orders",
        format="delta",
        columns=[catalog_pb.Column(id="c-1", name="id", data_type="int64", nullable=False)],
    )
    gw.upstream.script["RegisterTable"] = catalog_pb.RegisterTableResponse(table=table)
    response = await gw.request(
        "POST",
        "/api/v1/namespaces/sales/tables",
        json={
            "name": "orders",
            "columns": [{"name": "id", "data_type": "int64", "nullable": False}],
        },
    )
    assert response.status_code == 201
    assert response.json()["columns"] == [
        {"id": "c-1", "name": "id", "data_type": "int64", "nullable": False, "position": 0}
    ]
    request = gw.upstream.last("RegisterTable").request
    assert request.namespace == "sales"
    assert request.columns[0].data_type == "int64"
    assert request.columns[0].HasField("nullable") and request.columns[0].nullable is False


async def test_path_params_win_over_body(gw: GatewayClient) -> None:
    gw.upstream.script["UpdateTable"] = catalog_pb.UpdateTableResponse(table=catalog_pb.Table())
    await gw.request(
        "PUT",
        "/api/v1/namespaces/sales/tables/orders",
        json={"namespace": "other", "name": "x", "description": "d"},
    )
    request = gw.upstream.last("UpdateTable").request
    assert (request.namespace, request.name, request.description) == ("sales", "orders", "d")


async def test_lineage_snake_case(gw: GatewayClient) -> None:
    gw.upstream.script["AddLineageEdges"] = catalog_pb.AddLineageEdgesResponse(added=2)
    response = await gw.request(
        "POST",
        "/api/v1/lineage/edges",
        json={
            "edges": [{"source_id": "a", "target_id": "b"}, {"source_id": "b", "target_id": "c"}]
        },
    )
    assert (response.status_code, response.json()) == (201, {"added": 2})
    assert [e.source_id for e in gw.upstream.last().request.edges] == ["a", "b"]
    gw.upstream.script["GetLineage"] = catalog_pb.GetLineageResponse(
        table_id="b",
        upstream=[
            catalog_pb.LineageEdge(id="e1", source_id="a", target_id="b", edge_type="derives_from")
        ],
    )
    response = await gw.request("GET", "/api/v1/lineage/b")
    assert response.json() == {
        "table_id": "b",
        "upstream": [{"id": "e1", "source_id": "a", "target_id": "b", "edge_type": "derives_from"}],
        "downstream": [],
    }


# -- query: bytes out, format negotiation -----------------------------------------------


@pytest.mark.parametrize(
    ("url", "accept", "expected_format", "media_type"),
    [
        ("/api/v1/query?format=json", None, query_pb.RESULT_FORMAT_JSON, "application/json"),
        ("/api/v1/query?format=arrow", "application/json", query_pb.RESULT_FORMAT_ARROW, "application/vnd.apache.arrow.stream"),
        ("/api/v1/query", "application/json", query_pb.RESULT_FORMAT_JSON, "application/json"),
        ("/api/v1/query", None, query_pb.RESULT_FORMAT_ARROW, "application/vnd.apache.arrow.stream"),
        ("/api/v1/query-data", "*/*", query_pb.RESULT_FORMAT_ARROW, "application/vnd.apache.arrow.stream"),
    ],
)  # fmt: skip
async def test_query_format_negotiation(
    gw: GatewayClient, url: str, accept: str | None, expected_format: int, media_type: str
) -> None:
    def answer(request: Any) -> Any:
        cls = query_pb.QueryResponse if "data" not in url else query_pb.QueryDataResponse
        body = b'[{"a":1}]' if request.format == query_pb.RESULT_FORMAT_JSON else b"ARROW\x00\x01"
        return cls(data=body, content_type=media_type, row_count=1)

    gw.upstream.script["Query"] = answer
    gw.upstream.script["QueryData"] = answer
    headers = {"Accept": accept} if accept else {}
    response = await gw.request(
        "POST", url, json={"sql": "SELECT 1", "format": 99}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["x-arco-row-count"] == "1"
    request = gw.upstream.last().request
    assert request.sql == "SELECT 1"
    assert request.format == expected_format
    assert response.content == (
        b'[{"a":1}]' if expected_format == query_pb.RESULT_FORMAT_JSON else b"ARROW\x00\x01"
    )


async def test_query_rejects_unknown_format(gw: GatewayClient) -> None:
    response = await gw.request("POST", "/api/v1/query?format=csv", json={"sql": "SELECT 1"})
    assert response.status_code == 400
    assert response.json()["message"] == "format must be one of: json, arrow"
    assert gw.upstream.calls == []


# -- browser ---------------------------------------------------------------------------


async def test_browser_urls_and_files(gw: GatewayClient) -> None:
    gw.upstream.script["MintUrls"] = browser_pb.MintUrlsResponse(
        urls=[browser_pb.SignedUrl(path="p/a.parquet", url="http://x/a?sig=1")], ttl_seconds=900
    )
    response = await gw.request(
        "POST",
        "/api/v1/browser/urls",
        json={"domain": "catalog", "paths": ["p/a.parquet"], "ttl_seconds": 60},
    )
    assert response.json() == {
        "urls": [{"path": "p/a.parquet", "url": "http://x/a?sig=1"}],
        "ttl_seconds": 900,
    }
    assert gw.upstream.last().request.ttl_seconds == 60
    gw.upstream.script["ListBrowsableFiles"] = browser_pb.ListBrowsableFilesResponse(
        files=[
            browser_pb.BrowsableFile(
                domain="catalog", table="catalog.tables", path="s/t.parquet", size_bytes=2**40
            )
        ],
        state_versions={"catalog": 3},
    )
    response = await gw.request("GET", "/api/v1/browser/files?domain=catalog")
    assert response.json() == {
        "files": [
            {
                "domain": "catalog",
                "table": "catalog.tables",
                "path": "s/t.parquet",
                "size_bytes": 2**40,
            }
        ],
        "state_versions": {"catalog": 3},
    }
    assert gw.upstream.last().request.domain == "catalog"


# -- task callbacks: camelCase, the worker-protocol examples -------------------------------


def _epoch(rfc3339: str) -> int:
    return int(datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp())


@pytest.mark.parametrize("source", PROTOCOL_SOURCES)
async def test_callbacks_map_the_protocol_examples(gw: GatewayClient, source: str) -> None:
    def fixture(name: str) -> Any:
        return json.loads((protocol_dir(source) / name).read_text())

    token = {"Authorization": "Bearer t0k3n.task"}
    started_body = fixture("task_started_request.json")
    gw.upstream.script["TaskStarted"] = callback_pb.TaskStartedResponse(
        acknowledged=True, server_time=ts(1_767_225_606)
    )
    response = await gw.request(
        "POST", "/api/v1/tasks/ct1_abc/started", json=started_body, headers=token
    )
    assert response.json() == {"acknowledged": True, "serverTime": "2026-01-01T00:00:06Z"}
    started = gw.upstream.last("TaskStarted")
    assert (started.request.task_id, started.request.attempt, started.request.attempt_id) == (
        "ct1_abc",
        started_body["attempt"],
        started_body["attemptId"],
    )
    assert started.request.worker_id == started_body["workerId"]
    assert started.request.traceparent == started_body["traceparent"]
    assert started.metadata["authorization"] == "Bearer t0k3n.task"

    heartbeat_body = fixture("heartbeat_request.json")
    expected_answer = fixture("heartbeat_response.json")
    gw.upstream.script["TaskHeartbeat"] = callback_pb.TaskHeartbeatResponse(
        acknowledged=True,
        should_cancel=False,
        server_time=ts(_epoch(expected_answer["serverTime"])),
    )
    response = await gw.request(
        "POST", "/api/v1/tasks/ct1_abc/heartbeat", json=heartbeat_body, headers=token
    )
    assert response.json() == expected_answer
    assert gw.upstream.last().request.progress_pct == heartbeat_body["progressPct"]

    completed_body = fixture("task_completed_request.json")
    gw.upstream.script["TaskCompleted"] = callback_pb.TaskCompletedResponse(
        acknowledged=True, final_state="FAILED", server_time=ts(1_767_225_610)
    )
    response = await gw.request(
        "POST", "/api/v1/tasks/ct1_abc/completed", json=completed_body, headers=token
    )
    assert response.json() == {
        "acknowledged": True,
        "finalState": "FAILED",
        "serverTime": "2026-01-01T00:00:10Z",
    }
    completed = gw.upstream.last().request
    assert completed.outcome == completed_body["outcome"]
    assert completed.error.category == completed_body["error"]["category"]
    assert completed.error.retryable is completed_body["error"]["retryable"]
    assert completed.metrics.peak_memory_bytes == completed_body["metrics"]["peakMemoryBytes"]


async def test_heartbeat_answer_carries_a_renewed_task_token(gw: GatewayClient) -> None:
    gw.upstream.script["TaskHeartbeat"] = callback_pb.TaskHeartbeatResponse(
        acknowledged=True,
        should_cancel=False,
        server_time=ts(1_767_225_606),
        task_token="renewed.task.token",
        token_expires_at=ts(1_767_229_206),
    )
    response = await gw.request(
        "POST",
        "/api/v1/tasks/ct1_abc/heartbeat",
        json={"attempt": 1, "attemptId": "att-1", "workerId": "w1"},
        headers={"Authorization": "Bearer t0k3n.task"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "acknowledged": True,
        "shouldCancel": False,
        "serverTime": "2026-01-01T00:00:06Z",
        "taskToken": "renewed.task.token",
        "tokenExpiresAt": "2026-01-01T01:00:06Z",
    }


# -- orchestration and manifests: camelCase, enums, 201/200 ------------------------------


@pytest.mark.parametrize(("created", "status"), [(True, 201), (False, 200)])
async def test_trigger_run_created_vs_replayed(
    gw: GatewayClient, created: bool, status: int
) -> None:
    gw.upstream.script["TriggerRun"] = orch_pb.TriggerRunResponse(
        run_id="01RUN",
        plan_id="01PLAN",
        state=types_pb2.RUN_STATUS_PENDING,
        created=created,
        created_at=ts(1_700_000_000),
    )
    response = await gw.request(
        "POST", f"{WS}/runs",
        json={"selection": ["sales.orders"], "includeUpstream": True, "labels": {"env": "ci"}, "partitionKey": "date=d:2025-01-15"},
        headers={"Idempotency-Key": "k-1"},
    )  # fmt: skip
    assert response.status_code == status
    assert response.json() == {
        "runId": "01RUN", "planId": "01PLAN", "state": "PENDING", "created": created, "createdAt": "2023-11-14T22:13:20Z",
    }  # fmt: skip
    call = gw.upstream.last("TriggerRun")
    assert list(call.request.selection) == ["sales.orders"]
    assert call.request.include_upstream is True
    assert dict(call.request.labels) == {"env": "ci"}
    assert call.request.partition_key == "date=d:2025-01-15"
    assert call.metadata["idempotency-key"] == "k-1"


async def test_get_run_public_shape(gw: GatewayClient) -> None:
    gw.upstream.script["GetRun"] = orch_pb.GetRunResponse(
        run_id="01RUN",
        workspace_id=WORKSPACE,
        plan_id="01PLAN",
        state=types_pb2.RUN_STATUS_RUNNING,
        created_at=ts(1_700_000_000),
        labels={"a": "b"},
        task_counts=orch_pb.TaskCounts(total=1, running=1),
        tasks=[
            orch_pb.TaskSummary(
                task_key="sales.orders",
                state=types_pb2.TASK_STATUS_RUNNING,
                attempt=2,
                delta_version=2**40,
                internal_state=types_pb2.TASK_STATE_RUNNING,
            )
        ],
        state_version=9,
    )
    body = (await gw.request("GET", f"{WS}/runs/01RUN")).json()
    assert body["state"] == "RUNNING"
    assert "rerunKind" not in body and "parentRunId" not in body and "completedAt" not in body
    assert body["taskCounts"] == {
        "total": 1, "pending": 0, "queued": 0, "running": 1, "succeeded": 0, "failed": 0, "skipped": 0, "cancelled": 0,
    }  # fmt: skip
    task = body["tasks"][0]
    assert task["state"] == "RUNNING" and task["attempt"] == 2
    assert task["deltaVersion"] == 2**40 and isinstance(task["deltaVersion"], int)
    assert "errorMessage" not in task
    assert body["stateVersion"] == 9


async def test_list_runs_state_filter(gw: GatewayClient) -> None:
    gw.upstream.script["ListRuns"] = orch_pb.ListRunsResponse(
        runs=[
            orch_pb.RunListItem(
                run_id="r",
                state=types_pb2.RUN_STATUS_FAILED,
                rerun_kind=types_pb2.RERUN_KIND_SUBSET,
            )
        ],
        next_cursor="n",
    )
    response = await gw.request("GET", f"{WS}/runs?state=FAILED&limit=5")
    assert response.json() == {
        "runs": [
            {
                "runId": "r",
                "state": "FAILED",
                "taskCount": 0,
                "tasksSucceeded": 0,
                "tasksFailed": 0,
                "rerunKind": "SUBSET",
            }
        ],
        "nextCursor": "n",
    }
    request = gw.upstream.last().request
    assert (request.state, request.limit) == (types_pb2.RUN_STATUS_FAILED, 5)
    bad = await gw.request("GET", f"{WS}/runs?state=RUN_STATUS_FAILED")
    assert bad.status_code == 400
    assert "PENDING" in bad.json()["message"]


async def test_rerun_mode_mapping(gw: GatewayClient) -> None:
    gw.upstream.script["RerunRun"] = orch_pb.RerunRunResponse(
        run_id="02", plan_id="p", state=types_pb2.RUN_STATUS_PENDING, created=True, parent_run_id="01",
        rerun_kind=types_pb2.RERUN_KIND_FROM_FAILURE, rerun_reason="from failure of 01", created_at=ts(1),
    )  # fmt: skip
    response = await gw.request("POST", f"{WS}/runs/01/rerun", json={"mode": "fromFailure"})
    assert response.status_code == 201
    assert response.json()["rerunKind"] == "FROM_FAILURE"
    request = gw.upstream.last().request
    assert request.mode == orch_pb.RERUN_MODE_FROM_FAILURE and request.run_id == "01"
    await gw.request("POST", f"{WS}/runs/01/rerun", json={"mode": "subset", "selection": ["a.b"]})
    assert gw.upstream.last().request.mode == orch_pb.RERUN_MODE_SUBSET
    for bad in ({"mode": "FROM_FAILURE"}, {"mode": "RERUN_MODE_SUBSET"}, {}):
        response = await gw.request("POST", f"{WS}/runs/01/rerun", json=bad)
        assert response.status_code == 400
        assert response.json()["message"] == "mode must be one of: fromFailure, subset"


async def test_cancel_and_log_upload(gw: GatewayClient) -> None:
    gw.upstream.script["CancelRun"] = orch_pb.CancelRunResponse(
        run_id="01", state=types_pb2.RUN_STATUS_CANCELLING, cancelled_at=ts(5)
    )
    response = await gw.request("POST", f"{WS}/runs/01/cancel", content=b"")
    assert response.json() == {
        "runId": "01",
        "state": "CANCELLING",
        "cancelledAt": "1970-01-01T00:00:05Z",
    }
    gw.upstream.script["UploadTaskLogs"] = orch_pb.UploadTaskLogsResponse(
        path="logs/01/t/attempt-1.log", size_bytes=12
    )
    response = await gw.request(
        "POST", f"{WS}/runs/01/logs", json={"taskKey": "t", "attempt": 1, "stdout": "hello\n"}
    )
    assert response.json() == {"path": "logs/01/t/attempt-1.log", "sizeBytes": 12}
    request = gw.upstream.last().request
    assert (request.task_key, request.attempt, request.stdout) == ("t", 1, "hello\n")


async def test_get_logs_is_text_with_cursor_header(gw: GatewayClient) -> None:
    gw.upstream.script["GetRunLogs"] = orch_pb.GetRunLogsResponse(
        text="line 1\nline 2\n", next_cursor="c2"
    )
    response = await gw.request("GET", f"{WS}/runs/01/logs?taskKey=t&limit=2&cursor=c1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "line 1\nline 2\n"
    assert response.headers["x-arco-next-cursor"] == "c2"
    request = gw.upstream.last().request
    assert (request.task_key, request.limit, request.cursor) == ("t", 2, "c1")
    gw.upstream.script["GetRunLogs"] = orch_pb.GetRunLogsResponse(text="last\n")
    response = await gw.request("GET", f"{WS}/runs/01/logs")
    assert "x-arco-next-cursor" not in response.headers


@pytest.mark.parametrize(("created", "status"), [(True, 201), (False, 200)])
async def test_deploy_manifest(gw: GatewayClient, created: bool, status: int) -> None:
    gw.upstream.script["DeployManifest"] = orch_pb.DeployManifestResponse(
        manifest_id="01M", workspace_id=WORKSPACE, code_version_id="v1", fingerprint="sha256:ab",
        asset_count=1, deployed_at=ts(10), created=created,
    )  # fmt: skip
    manifest = {
        "manifestVersion": "1.0",
        "codeVersionId": "v1",
        "assets": [{"key": {"namespace": "sales", "name": "orders"}, "id": "0190b6c4-7d2e-7000-8000-000000000001",
                    "execution": {"maxRetries": 3}, "dependencies": [{"upstreamKey": {"namespace": "raw", "name": "o"}}]}],
        "git": {"branch": "main", "commitSha": "abc"},
        "metadata": {"team": "data"},
    }  # fmt: skip
    response = await gw.request("POST", f"{WS}/manifests", json=manifest)
    assert response.status_code == status
    assert response.json()["assetCount"] == 1 and response.json()["manifestId"] == "01M"
    request = gw.upstream.last().request
    assert request.workspace_id == WORKSPACE
    assert request.assets[0].dependencies[0].upstream_key.namespace == "raw"
    assert request.git.commit_sha == "abc"


async def test_get_and_list_manifests(gw: GatewayClient) -> None:
    stored = orch_pb.StoredManifest(
        manifest_id="01M", tenant_id=TENANT, workspace_id=WORKSPACE, manifest_version="1.0"
    )
    stored.assets.add(id="a").execution.update({"maxRetries": 3, "ratio": 0.5})
    gw.upstream.script["GetManifest"] = orch_pb.GetManifestResponse(manifest=stored)
    body = (await gw.request("GET", f"{WS}/manifests/01M")).json()
    assert body["manifestId"] == "01M" and body["tenantId"] == TENANT
    assert body["assets"][0]["execution"] == {"maxRetries": 3, "ratio": 0.5}  # not 3.0
    assert gw.upstream.last().request.manifest_id == "01M"
    gw.upstream.script["ListManifests"] = orch_pb.ListManifestsResponse(
        manifests=[orch_pb.ManifestListItem(manifest_id="01M", asset_count=1, git_branch="main")]
    )
    body = (await gw.request("GET", f"{WS}/manifests")).json()
    assert body["manifests"][0]["gitBranch"] == "main"
    assert "gitCommit" not in body["manifests"][0]
