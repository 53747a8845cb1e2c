"""ArcoClient and the arco CLI against a real loopback server with canned,
reference-shaped /api/v1 responses."""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from typer.testing import CliRunner

from arco_sdk import ArcoApiError, ArcoClient, ArcoConnectionError
from arco_sdk.cli import app, load_config
from tests.sdk.support import ThreadedServer

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "lakehouse_demo"


class CannedApi:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.hits: Counter[str] = Counter()

    def app(self) -> Starlette:
        async def record(request: Request) -> Any:
            body: Any = None
            raw = await request.body()
            if raw:
                try:
                    body = await request.json()
                except ValueError:
                    body = raw
            key = f"{request.method} {request.url.path}"
            self.hits[key] += 1
            self.requests.append((request.method, str(request.url), dict(request.headers), body))
            return body

        async def manifests(request: Request) -> Response:
            body = await record(request)
            if request.method == "GET":
                return JSONResponse({"manifests": [{"manifestId": "M1", "assetCount": 6}]})
            return JSONResponse(
                {
                    "manifestId": "01MANIFEST",
                    "workspaceId": request.path_params["ws"],
                    "codeVersionId": body["codeVersionId"],
                    "fingerprint": "f" * 64,
                    "assetCount": len(body["assets"]),
                    "deployedAt": "2026-01-01T00:00:00Z",
                },
                status_code=201,
            )

        async def runs(request: Request) -> Response:
            body = await record(request)
            if request.method == "GET":
                if (
                    request.query_params.get("state") == "FLAKY"
                    and self.hits["GET " + request.url.path] < 3
                ):
                    return JSONResponse({"code": "UNAVAILABLE", "message": "busy"}, status_code=503)
                return JSONResponse(
                    {
                        "runs": [
                            {
                                "runId": "RUN1",
                                "state": "SUCCEEDED",
                                "createdAt": "2026-01-01T00:00:00Z",
                                "taskCount": 6,
                                "tasksSucceeded": 6,
                                "tasksFailed": 0,
                            }
                        ]
                    }
                )
            if "bad.asset" in body["selection"]:
                return JSONResponse(
                    {
                        "code": "BAD_REQUEST",
                        "message": "unknown asset keys: bad.asset",
                        "requestId": "REQ-42",
                    },
                    status_code=400,
                    headers={"x-request-id": "REQ-42"},
                )
            run_id = "RUNF" if "t.fails" in body["selection"] else "RUN1"
            return JSONResponse(
                {
                    "runId": run_id,
                    "planId": "P1",
                    "state": "PENDING",
                    "created": True,
                    "createdAt": "x",
                },
                status_code=201,
            )

        async def run(request: Request) -> Response:
            await record(request)
            run_id = request.path_params["run_id"]
            if run_id == "MISSING":
                return JSONResponse(
                    {"code": "NOT_FOUND", "message": "run not found: MISSING"}, status_code=404
                )
            if run_id == "BROKEN":  # a body that is not a run
                return JSONResponse({"state": "RUNNING", "tasks": [{"taskKey": 7}]})
            polls = self.hits[f"GET {request.url.path}"]
            final = "FAILED" if run_id == "RUNF" else "SUCCEEDED"
            state = "RUNNING" if polls < 3 else final
            task_state = (
                "RUNNING" if polls < 3 else ("FAILED" if final == "FAILED" else "SUCCEEDED")
            )
            return JSONResponse(
                {
                    "runId": run_id,
                    "workspaceId": "default",
                    "planId": "P1",
                    "state": state,
                    "createdAt": "2026-01-01T00:00:00Z",
                    "labels": {},
                    "taskCounts": {"total": 1, "running": int(state == "RUNNING")},
                    "tasks": [
                        {
                            "taskKey": "raw.events",
                            "state": task_state,
                            "attempt": 1,
                            "errorMessage": "boom" if task_state == "FAILED" else None,
                        }
                    ],
                }
            )

        async def cancel(request: Request) -> Response:
            await record(request)
            if request.path_params["run_id"] == "FLAKY":
                return JSONResponse({"code": "UNAVAILABLE", "message": "busy"}, status_code=503)
            return JSONResponse(
                {"runId": request.path_params["run_id"], "state": "CANCELLING", "cancelledAt": "x"}
            )

        async def rerun(request: Request) -> Response:
            await record(request)
            return JSONResponse(
                {
                    "runId": "RUN2",
                    "planId": "P2",
                    "state": "PENDING",
                    "created": True,
                    "createdAt": "x",
                    "parentRunId": request.path_params["run_id"],
                    "rerunKind": "FROM_FAILURE",
                    "rerunReason": "x",
                },
                status_code=201,
            )

        async def logs(request: Request) -> Response:
            await record(request)
            cursor = request.query_params.get("cursor")
            if cursor is None:
                return PlainTextResponse("--- page one ---\n", headers={"x-arco-next-cursor": "c1"})
            if cursor == "c1":
                return PlainTextResponse("--- page two ---\n", headers={"x-arco-next-cursor": "c2"})
            return PlainTextResponse("--- page three ---\n")

        async def query(request: Request) -> Response:
            body = await record(request)
            if "DROP" in body["sql"]:
                return JSONResponse(
                    {"code": "BAD_REQUEST", "message": "only SELECT is allowed"}, status_code=400
                )
            if request.query_params.get("format") == "arrow":
                table = pa.table({"a": [1, 2]})
                sink = io.BytesIO()
                with pa.ipc.new_stream(sink, table.schema) as writer:
                    writer.write_table(table)
                return Response(sink.getvalue(), media_type="application/vnd.apache.arrow.stream")
            return JSONResponse([{"a": 1, "b": "x"}, {"a": 2, "b": None}])

        async def namespaces(request: Request) -> Response:
            await record(request)
            if request.query_params.get("cursor") == "n1":
                return JSONResponse({"namespaces": [{"id": "ns-b", "name": "b"}]})
            return JSONResponse({"namespaces": [{"id": "ns-a", "name": "a"}], "next_cursor": "n1"})

        async def garbage(request: Request) -> Response:
            return PlainTextResponse("upstream exploded", status_code=500)

        ws = "/api/v1/workspaces/{ws}"
        return Starlette(
            routes=[
                Route(f"{ws}/manifests", manifests, methods=["GET", "POST"]),
                Route(f"{ws}/runs", runs, methods=["GET", "POST"]),
                Route(f"{ws}/runs/{{run_id}}", run, methods=["GET"]),
                Route(f"{ws}/runs/{{run_id}}/cancel", cancel, methods=["POST"]),
                Route(f"{ws}/runs/{{run_id}}/rerun", rerun, methods=["POST"]),
                Route(f"{ws}/runs/{{run_id}}/logs", logs, methods=["GET"]),
                Route("/api/v1/query", query, methods=["POST"]),
                Route("/api/v1/namespaces", namespaces, methods=["GET"]),
                Route("/api/v1/namespaces/{ns}/tables", garbage, methods=["GET"]),
            ]
        )


@pytest.fixture
def api() -> Iterator[tuple[CannedApi, str]]:
    canned = CannedApi()
    with ThreadedServer(canned.app()) as server:
        yield canned, server.url


def _client(url: str, **kwargs: Any) -> ArcoClient:
    return ArcoClient(url, tenant_id="t1", workspace_id="default", sleep=lambda s: None, **kwargs)


# -- client ---------------------------------------------------------------------------------------


def test_client_sends_auth_and_request_ids(api: tuple[CannedApi, str]) -> None:
    canned, url = api
    with _client(url) as client:
        assert client.list_runs(limit=5).runs[0].run_id == "RUN1"
    _, full_url, headers, _ = canned.requests[-1]
    assert headers["x-tenant-id"] == "t1" and headers["x-workspace-id"] == "default"
    assert "authorization" not in headers and len(headers["x-request-id"]) == 26
    assert full_url.endswith("/api/v1/workspaces/default/runs?limit=5")
    with ArcoClient(url, token="tok") as client:
        client.list_runs()
    assert canned.requests[-1][2]["authorization"] == "Bearer tok"
    assert "x-tenant-id" not in canned.requests[-1][2]


def test_client_error_carries_server_message_and_request_id(api: tuple[CannedApi, str]) -> None:
    _, url = api
    with _client(url) as client, pytest.raises(ArcoApiError) as info:
        client.trigger_run(["bad.asset"])
    assert (info.value.status, info.value.code, info.value.request_id) == (
        400,
        "BAD_REQUEST",
        "REQ-42",
    )
    assert info.value.message == "unknown asset keys: bad.asset"
    with _client(url) as client, pytest.raises(ArcoApiError) as info:
        client.list_tables("x")
    assert info.value.status == 500 and info.value.message == "upstream exploded"
    assert info.value.request_id is not None


def test_idempotent_reads_retry_transient_failures(api: tuple[CannedApi, str]) -> None:
    canned, url = api
    with _client(url) as client:
        assert client.list_runs(state="FLAKY").runs
    assert canned.hits["GET /api/v1/workspaces/default/runs"] == 3
    ids = {r[2]["x-request-id"] for r in canned.requests}
    assert len(ids) == 1  # one logical call, one request id across attempts


def test_non_idempotent_calls_are_not_retried(api: tuple[CannedApi, str]) -> None:
    canned, url = api
    with _client(url) as client, pytest.raises(ArcoApiError) as info:
        client.cancel_run("FLAKY")
    assert info.value.status == 503
    assert canned.hits["POST /api/v1/workspaces/default/runs/FLAKY/cancel"] == 1


def test_retries_stop_at_the_deadline() -> None:
    with (
        ArcoClient("http://127.0.0.1:9", deadline=0.5, timeout=0.2) as client,
        pytest.raises(ArcoConnectionError, match="cannot reach"),
    ):
        client.list_runs()


def test_logs_follow_every_page(api: tuple[CannedApi, str]) -> None:
    _, url = api
    with _client(url) as client:
        pages = list(client.iter_logs("RUN1", task_key="raw.events", limit=1))
    assert [p.text for p in pages] == [
        "--- page one ---\n",
        "--- page two ---\n",
        "--- page three ---\n",
    ]
    assert pages[0].next_cursor == "c1" and pages[-1].next_cursor is None


def test_query_json_and_arrow(api: tuple[CannedApi, str]) -> None:
    _, url = api
    with _client(url) as client:
        assert client.query("SELECT 1") == [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
        table = client.query("SELECT 1", format="arrow")
        assert table.column("a").to_pylist() == [1, 2]
        assert [n.name for n in client.list_namespaces()] == ["a", "b"]


def test_an_answer_of_the_wrong_shape_is_an_invalid_response(api: tuple[CannedApi, str]) -> None:
    _, url = api
    with _client(url) as client, pytest.raises(ArcoApiError) as info:
        client.get_run("BROKEN")
    assert (info.value.status, info.value.code) == (200, "INVALID_RESPONSE")
    assert "Run lacks runId" in info.value.message


def test_trigger_and_rerun_bodies(api: tuple[CannedApi, str]) -> None:
    canned, url = api
    with _client(url) as client:
        client.trigger_run(
            ["raw.events"], partition_key="date=d:2026-01-01", include_upstream=True, run_key="rk"
        )
        assert canned.requests[-1][3] == {
            "selection": ["raw.events"],
            "partitionKey": "date=d:2026-01-01",
            "includeUpstream": True,
            "runKey": "rk",
        }
        client.rerun("RUN1", mode="fromFailure")
        assert canned.requests[-1][3] == {"mode": "fromFailure"}
        with pytest.raises(ValueError, match="selection"):
            client.rerun("RUN1", mode="subset")


# -- CLI ------------------------------------------------------------------------------------------


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _env() -> dict[str, str]:
    return {k: "" for k in os.environ if k.startswith("ARCO_")}


def test_config_precedence(tmp_path: Path) -> None:
    (tmp_path / "arco.toml").write_text(
        '[project]\nassets = ["pkg"]\n[api]\nurl = "http://file"\ntenant_id = "ft"\n'
        'workspace_id = "fw"\n[worker]\noutput_dir = "out"\n'
    )
    (tmp_path / "pkg").mkdir()
    config = load_config({}, env={}, cwd=tmp_path)
    assert (config.api_url, config.tenant_id, config.workspace_id) == ("http://file", "ft", "fw")
    assert config.assets == [str(tmp_path / "pkg")] and config.output_dir == str(tmp_path / "out")
    config = load_config(
        {}, env={"ARCO_API_URL": "http://env", "ARCO_TENANT_ID": "et"}, cwd=tmp_path
    )
    assert (config.api_url, config.tenant_id, config.workspace_id) == ("http://env", "et", "fw")
    config = load_config(
        {"api_url": "http://flag"}, env={"ARCO_API_URL": "http://env"}, cwd=tmp_path / "pkg"
    )
    assert config.api_url == "http://flag" and config.tenant_id == "ft"


def test_init_then_validate_and_dry_run(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["init", "my-proj"], env=_env())
    assert result.exit_code == 0, result.output
    assert (tmp_path / "my-proj" / "arco.toml").is_file()
    assert (tmp_path / "my-proj" / "my_proj" / "example.py").is_file()
    monkeypatch.chdir(tmp_path / "my-proj")
    result = runner.invoke(app, ["validate"], env=_env())
    assert result.exit_code == 0, result.output
    assert "raw.numbers" in result.output and "my_proj.squares" in result.output
    result = runner.invoke(app, ["deploy", "--dry-run", "-o", "manifest.json"], env=_env())
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output and (tmp_path / "my-proj" / "manifest.json").is_file()
    again = runner.invoke(app, ["init", "my-proj"], env=_env(), catch_exceptions=False)
    monkeypatch.chdir(tmp_path)
    again = runner.invoke(app, ["init", "my-proj"], env=_env())
    assert again.exit_code == 1 and "not empty" in again.output


def test_validate_reports_graph_errors_without_traceback(runner: CliRunner, tmp_path: Path) -> None:
    pkg = tmp_path / "broken_cli_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "m.py").write_text(
        "from arco_sdk import asset\n@asset(key='a.b')\ndef b(ctx, nothing): ...\n"
    )
    result = runner.invoke(app, ["validate", "--assets", str(pkg)], env=_env())
    assert result.exit_code == 1
    assert "a.b" in result.output and "'nothing'" in result.output
    assert "Traceback" not in result.output


def test_deploy_sends_manifest_with_idempotency_key(
    runner: CliRunner, api: tuple[CannedApi, str]
) -> None:
    canned, url = api
    result = runner.invoke(
        app, ["--api-url", url, "--tenant", "t1", "deploy", "--assets", str(EXAMPLE)], env=_env()
    )
    assert result.exit_code == 0, result.output
    assert "deployed manifest 01MANIFEST (6 assets" in result.output
    method, full_url, headers, body = canned.requests[-1]
    assert method == "POST" and full_url.endswith("/api/v1/workspaces/default/manifests")
    assert len(headers["idempotency-key"]) == 64 and body["manifestVersion"] == "1.0"
    assert len(body["assets"]) == 6


def test_run_wait_succeeds(runner: CliRunner, api: tuple[CannedApi, str]) -> None:
    canned, url = api
    args = [
        "--api-url",
        url,
        "run",
        "raw.events",
        "-u",
        "-p",
        "date=2026-01-02",
        "--wait",
        "--poll-interval",
        "0.01",
    ]
    result = runner.invoke(app, args, env=_env())
    assert result.exit_code == 0, result.output
    assert "run RUN1 PENDING" in result.output and "raw.events: SUCCEEDED" in result.output
    trigger = next(r for r in canned.requests if r[0] == "POST")
    assert trigger[3] == {
        "selection": ["raw.events"],
        "partitionKey": "date=d:2026-01-02",
        "includeUpstream": True,
    }


def test_run_wait_failure_exits_non_zero(runner: CliRunner, api: tuple[CannedApi, str]) -> None:
    _, url = api
    result = runner.invoke(
        app, ["--api-url", url, "run", "t.fails", "--wait", "--poll-interval", "0.01"], env=_env()
    )
    assert result.exit_code == 1
    assert "finished FAILED" in result.output and "boom" in result.output


def test_server_errors_print_message_and_request_id(
    runner: CliRunner, api: tuple[CannedApi, str]
) -> None:
    _, url = api
    result = runner.invoke(app, ["--api-url", url, "run", "bad.asset"], env=_env())
    assert result.exit_code == 1
    assert "400 BAD_REQUEST: unknown asset keys: bad.asset (request id REQ-42)" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["--api-url", url, "status", "MISSING"], env=_env())
    assert result.exit_code == 1 and "run not found: MISSING" in result.output


def test_status_list_watch_logs_cancel_rerun_query(
    runner: CliRunner, api: tuple[CannedApi, str]
) -> None:
    canned, url = api
    base = ["--api-url", url]
    result = runner.invoke(app, [*base, "status"], env=_env())
    assert result.exit_code == 0 and "RUN1" in result.output and "SUCCEEDED" in result.output
    result = runner.invoke(
        app, [*base, "status", "RUN1", "--watch", "--poll-interval", "0.01"], env=_env()
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, [*base, "logs", "RUN1"], env=_env())
    assert result.exit_code == 0
    assert result.output == "--- page one ---\n--- page two ---\n--- page three ---\n"
    result = runner.invoke(app, [*base, "cancel", "RUN1", "--reason", "oops"], env=_env())
    assert result.exit_code == 0 and "CANCELLING" in result.output
    assert canned.requests[-1][3] == {"reason": "oops"}
    result = runner.invoke(app, [*base, "rerun", "RUN1", "--from-failure"], env=_env())
    assert (
        result.exit_code == 0 and "run RUN2 PENDING (rerun of RUN1, FROM_FAILURE)" in result.output
    )
    result = runner.invoke(app, [*base, "rerun", "RUN1", "--subset", "raw/events"], env=_env())
    assert canned.requests[-1][3] == {"mode": "subset", "selection": ["raw.events"]}
    result = runner.invoke(app, [*base, "rerun", "RUN1"], env=_env())
    assert result.exit_code == 1 and "exactly one" in result.output
    result = runner.invoke(app, [*base, "query", "SELECT a, b FROM t"], env=_env())
    assert result.exit_code == 0 and "2 rows" in result.output
    result = runner.invoke(app, [*base, "query", "DROP TABLE t"], env=_env())
    assert result.exit_code == 1 and "only SELECT is allowed" in result.output


def test_unreachable_api_is_a_clean_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--api-url", "http://127.0.0.1:9", "status", "RUN1"], env=_env())
    assert result.exit_code == 1 and "cannot reach" in result.output
    assert "Traceback" not in result.output
