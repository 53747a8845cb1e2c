"""Query and browser read paths through real processes: compactors + api (+ gateway).

State is seeded the production way: ledger events appended under the scope, then folded
and published by the compactor processes over gRPC. The api reads it through its own
projection readers.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
import pytest
from arco.browser.v1 import browser_service_pb2 as browser_pb
from arco.browser.v1 import browser_service_pb2_grpc as browser_grpc
from arco.compactor.v1 import compactor_service_pb2 as comp_pb
from arco.compactor.v1 import compactor_service_pb2_grpc as comp_grpc
from arco.query.v1 import query_service_pb2 as query_pb
from arco.query.v1 import query_service_pb2_grpc as query_grpc

from arco_core.clock import FakeClock, SystemClock
from arco_core.ledger import LedgerWriter
from arco_core.paths import Scope
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_runtime.rpc_errors import parse_rpc_error
from arco_runtime.tls import Role as MeshRole
from tests.support.processes import ServiceProcess, start_service
from tests.support.tls import mesh_channel
from tests.unit.orchestration.orch_support import TENANT, WORKSPACE, Events
from tests.unit.query.query_support import (
    catalog_events_for_table,
    parquet_bytes,
    put_user_file,
    run_history,
)

SCOPE = Scope(TENANT, WORKSPACE)
URL_SECRET = "test-browser-url-secret"
SALES_PATH = "data/sales/orders.parquet"


def sales(rows: int = 2000) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "region": pa.array([f"r{i % 5}" for i in range(rows)]),
            "amount": pa.array([float(i % 10) for i in range(rows)]),
        }
    )


@dataclass
class Stack:
    tmp_path: Path
    storage_url: str
    storage_env: dict[str, str]
    procs: dict[str, ServiceProcess] = field(default_factory=dict)
    orch_seqs: list[int] = field(default_factory=list)
    catalog_seqs: list[int] = field(default_factory=list)

    def storage(self, role: Role) -> ScopedStorage:
        return ScopedStorage(open_object_store(self.storage_url, self.storage_env), SCOPE, role)

    @property
    def env(self) -> dict[str, str]:
        return {
            "ARCO_STORAGE_URL": self.storage_url,
            "ARCO_TENANT_ID": TENANT,
            "ARCO_WORKSPACE_ID": WORKSPACE,
            "ARCO_BROWSER_URL_SECRET": URL_SECRET,
            **self.storage_env,
        }

    def start(self, name: str, module: str, extra: dict[str, str]) -> ServiceProcess:
        proc = start_service(module, self.tmp_path, {**self.env, **extra}, name=name)
        self.procs[name] = proc
        proc.wait_ready(20)
        return proc

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.terminate()

    async def compact(self, domain: str, paths: list[str]) -> int:
        address = self.procs[f"compactor-{domain}"].grpc_address
        async with mesh_channel(address, MeshRole.API) as channel:
            answer = await comp_grpc.CompactorServiceStub(channel).CompactEvents(
                comp_pb.CompactEventsRequest(event_paths=paths)
            )
        return int(answer.manifest_seq)

    async def seed_run(self, ev: Events, run: str, keys: list[str]) -> int:
        events = run_history(ev, run, keys)
        writer = LedgerWriter(
            self.storage(Role.API), "orchestration", FakeClock(events[-1].timestamp_ms)
        )
        seq = await self.compact("orchestration", await writer.append_all(events))
        self.orch_seqs.append(seq)
        return seq

    async def register(self, table: str, location: str) -> int:
        events = await catalog_events_for_table(
            self.storage(Role.READER),
            SCOPE,
            "lake",
            "sales",
            table,
            location,
            [("id", "long"), ("region", "string"), ("amount", "double")],
        )
        writer = LedgerWriter(self.storage(Role.API), "catalog", SystemClock())
        seq = await self.compact("catalog", [await writer.append(e) for e in events])
        self.catalog_seqs.append(seq)
        return seq

    @property
    def api(self) -> str:
        return self.procs["api"].grpc_address


async def start_stack(
    tmp_path: Path,
    storage_url: str,
    storage_env: dict[str, str],
    *,
    gateway: bool = True,
    gateway_env: dict[str, str] | None = None,
    api_env: dict[str, str] | None = None,
) -> Stack:
    stack = Stack(tmp_path, storage_url, storage_env)
    try:
        orch = stack.start(
            "compactor-orchestration",
            "services.compactor",
            {"ARCO_COMPACTOR_DOMAIN": "orchestration"},
        )
        catalog = stack.start(
            "compactor-catalog", "services.compactor", {"ARCO_COMPACTOR_DOMAIN": "catalog"}
        )
        ev = Events()
        await stack.seed_run(ev, "r1", ["extract", "load"])
        await stack.seed_run(ev, "r2", ["a", "b", "c"])
        store = open_object_store(storage_url, storage_env)
        await put_user_file(store, SCOPE, SALES_PATH, parquet_bytes(sales()))
        await stack.register("orders", SALES_PATH)
        stack.start(
            "api",
            "services.api",
            {
                "ARCO_ORCH_COMPACTOR_ADDRESS": orch.grpc_address,
                "ARCO_CATALOG_COMPACTOR_ADDRESS": catalog.grpc_address,
                **(api_env or {}),
            },
        )
        if gateway:
            stack.start(
                "gateway",
                "gateway",
                {
                    "ARCO_API_ADDRESS": stack.api,
                    "ARCO_GATEWAY_DEV_AUTH": "true",
                    **(gateway_env or {}),
                },
            )
    except BaseException:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp_path = tmp_path_factory.mktemp("query_stack")
    running = await start_stack(tmp_path, (tmp_path / "data").as_uri(), {})
    try:
        yield running
    finally:
        running.stop()


def rows(data: bytes) -> list[dict[str, Any]]:
    return json.loads(data)  # type: ignore[no-any-return]


JSON = query_pb.RESULT_FORMAT_JSON


async def test_query_system_tasks_over_grpc(stack: Stack) -> None:
    async with mesh_channel(stack.api) as channel:
        stub = query_grpc.QueryServiceStub(channel)
        answer = await stub.Query(
            query_pb.QueryRequest(
                sql="SELECT run_id, task_key, state FROM system.orchestration.tasks "
                "ORDER BY run_id, task_key",
                format=JSON,
            )
        )
        assert answer.content_type == "application/json"
        assert [(r["run_id"], r["task_key"]) for r in rows(answer.data)] == [
            ("r1", "extract"),
            ("r1", "load"),
            ("r2", "a"),
            ("r2", "b"),
            ("r2", "c"),
        ]
        assert {r["state"] for r in rows(answer.data)} == {"SUCCEEDED"}
        assert dict(answer.state_versions) == {"orchestration": stack.orch_seqs[-1]}
        arrow = await stub.Query(
            query_pb.QueryRequest(sql="SELECT run_id FROM system.orchestration.runs")
        )
        assert arrow.content_type == "application/vnd.apache.arrow.stream"
        assert pa.ipc.open_stream(arrow.data).read_all().num_rows == 2


async def test_query_as_of_an_earlier_manifest(stack: Stack) -> None:
    async with mesh_channel(stack.api) as channel:
        stub = query_grpc.QueryServiceStub(channel)
        sql = "SELECT run_id FROM system.orchestration.runs ORDER BY run_id"
        then = await stub.Query(
            query_pb.QueryRequest(sql=sql, format=JSON, as_of=stack.orch_seqs[0])
        )
        assert rows(then.data) == [{"run_id": "r1"}]
        assert dict(then.state_versions) == {"orchestration": stack.orch_seqs[0]}
        now = await stub.Query(query_pb.QueryRequest(sql=sql, format=JSON))
        assert rows(now.data) == [{"run_id": "r1"}, {"run_id": "r2"}]


async def test_query_data_over_a_registered_parquet_table(stack: Stack) -> None:
    async with mesh_channel(stack.api) as channel:
        stub = query_grpc.QueryServiceStub(channel)
        answer = await stub.QueryData(
            query_pb.QueryDataRequest(
                sql="SELECT region, count(*) AS n, sum(amount) AS s FROM lake.sales.orders "
                "GROUP BY region ORDER BY region",
                format=JSON,
            )
        )
        assert rows(answer.data) == [
            {"region": f"r{i}", "n": 400, "s": float(sum((j % 10) for j in range(i, 2000, 5)))}
            for i in range(5)
        ]
        assert dict(answer.state_versions) == {"catalog": stack.catalog_seqs[-1]}


@pytest.mark.parametrize(
    ("sql", "needle"),
    [
        ("DROP TABLE system.orchestration.runs", "SELECT/CTE"),
        ("SELECT * FROM system.orchestration.idempotency_keys", "idempotency_keys"),
        ("SELECT * FROM read_parquet('/etc/passwd')", "table function"),
        ("SELECT 1; SELECT 2", "single-statement"),
    ],
)
async def test_bad_queries_are_invalid_argument(stack: Stack, sql: str, needle: str) -> None:
    async with mesh_channel(stack.api) as channel:
        stub = query_grpc.QueryServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Query(query_pb.QueryRequest(sql=sql, format=JSON))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert needle in (info.value.details() or "")


async def test_query_over_the_gateway_rest_route(stack: Stack) -> None:
    gateway = stack.procs["gateway"].ready["http_address"]
    request = urllib.request.Request(
        f"http://{gateway}/api/v1/query?format=json",
        data=json.dumps({"sql": "SELECT count(*) AS n FROM system.orchestration.tasks"}).encode(),
        headers={
            "content-type": "application/json",
            "x-tenant-id": TENANT,
            "x-workspace-id": WORKSPACE,
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read()) == [{"n": 5}]


# -- browser URLs -------------------------------------------------------------------------


async def _files(stub: Any, domain: str = "") -> list[Any]:
    listing = await stub.ListBrowsableFiles(browser_pb.ListBrowsableFilesRequest(domain=domain))
    return list(listing.files)


def _fetch(
    url: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


async def test_minted_local_urls_serve_head_get_and_range(stack: Stack) -> None:
    gateway = stack.procs["gateway"].ready["http_address"]
    async with mesh_channel(stack.api) as channel:
        stub = browser_grpc.BrowserServiceStub(channel)
        files = await _files(stub, "catalog")
        assert {f.table for f in files} == {
            "catalog.catalogs",
            "catalog.namespaces",
            "catalog.tables",
            "catalog.columns",
        }
        target = next(f for f in files if f.table == "catalog.tables")
        minted = await stub.MintUrls(
            browser_pb.MintUrlsRequest(domain="CATALOG", paths=[target.path])
        )
        assert minted.ttl_seconds == 900
        url = f"http://{gateway}{minted.urls[0].url}"
    expected = (
        Path(stack.storage_url.removeprefix("file://")) / SCOPE.prefix / target.path
    ).read_bytes()
    status, headers, body = _fetch(url)
    assert (status, body) == (200, expected)
    assert headers["access-control-allow-origin"] == "*"
    status, headers, body = _fetch(url, "HEAD")
    assert status == 200 and int(headers["content-length"]) == len(expected) and body == b""
    status, headers, body = _fetch(url, headers={"Range": "bytes=0-3"})
    assert (status, body) == (206, b"PAR1")
    assert headers["content-range"] == f"bytes 0-3/{len(expected)}"
    status, _, body = _fetch(url, headers={"Range": "bytes=-4"})
    assert (status, body) == (206, b"PAR1")
    # tampered signature, tampered expiry, another tenant's key, traversal
    assert _fetch(url[:-1] + ("0" if url[-1] != "0" else "1"))[0] == 403
    assert _fetch(url.replace("exp=", "exp=9"))[0] == 403
    assert _fetch(url.replace(f"tenant={TENANT}", "tenant=other"))[0] == 403
    assert _fetch(f"http://{gateway}/files/{SCOPE.prefix}../../etc/passwd?exp=9999999999&sig=00")[
        0
    ] in (403, 404)


async def test_expired_urls_are_refused(stack: Stack) -> None:
    gateway = stack.procs["gateway"].ready["http_address"]
    async with mesh_channel(stack.api) as channel:
        stub = browser_grpc.BrowserServiceStub(channel)
        target = (await _files(stub, "catalog"))[0]
        minted = await stub.MintUrls(
            browser_pb.MintUrlsRequest(domain="catalog", paths=[target.path], ttl_seconds=1)
        )
    url = f"http://{gateway}{minted.urls[0].url}"
    assert _fetch(url, "HEAD")[0] == 200
    await asyncio.sleep(2.2)
    assert _fetch(url, "HEAD")[0] == 403


@pytest.mark.parametrize(
    ("domain", "path", "ttl", "code", "reason"),
    [
        (
            "catalog",
            f"tenant=other/workspace={WORKSPACE}/snapshots/catalog/x.parquet",
            None,
            "PERMISSION_DENIED",
            "path_not_allowed",
        ),
        (
            "catalog",
            "state/catalog/not-in-manifest.0123456789ab.parquet",
            None,
            "PERMISSION_DENIED",
            "not_in_allowlist",
        ),
        (
            "catalog",
            "state/catalog/../../ledger/x.parquet",
            None,
            "INVALID_ARGUMENT",
            "invalid_path",
        ),
        (
            "catalog",
            "ledger/catalog/2026-01-01/x.json",
            None,
            "PERMISSION_DENIED",
            "path_not_allowed",
        ),
        (
            "catalog",
            "manifests/catalog/00000000000000000000.json",
            None,
            "PERMISSION_DENIED",
            "path_not_allowed",
        ),
        (
            "catalog",
            "state/catalog/commits.0123456789ab.parquet",
            None,
            "PERMISSION_DENIED",
            "projection_only_artifact",
        ),
        ("catalog", "FILE", 3601, "INVALID_ARGUMENT", "invalid_ttl"),
        ("search", "FILE", None, "INVALID_ARGUMENT", "unknown_domain"),
    ],
)
async def test_mint_refusals(  # noqa: PLR0917
    stack: Stack, domain: str, path: str, ttl: int | None, code: str, reason: str
) -> None:
    async with mesh_channel(stack.api) as channel:
        stub = browser_grpc.BrowserServiceStub(channel)
        if path == "FILE":
            path = (await _files(stub, "catalog"))[0].path
        request = browser_pb.MintUrlsRequest(domain=domain, paths=[path])
        if ttl is not None:
            request.ttl_seconds = ttl
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.MintUrls(request)
        assert info.value.code().name == code
        assert parse_rpc_error(info.value).reason == reason
    log = stack.procs["api"].log()
    assert "browser_url_deny" in log
    assert "sig=" not in log  # URLs are never logged


async def test_grants_are_audited_without_the_url(stack: Stack) -> None:
    async with mesh_channel(stack.api) as channel:
        stub = browser_grpc.BrowserServiceStub(channel)
        target = (await _files(stub, "catalog"))[0]
        minted = await stub.MintUrls(
            browser_pb.MintUrlsRequest(domain="catalog", paths=[target.path])
        )
    time.sleep(0.2)
    log = stack.procs["api"].log()
    assert "browser_url_grant" in log
    assert minted.urls[0].url.split("?")[1] not in log


@pytest.mark.s3
async def test_s3_presigned_urls_against_seaweedfs(tmp_path: Path, seaweed: Any) -> None:
    import uuid

    url = seaweed.url(f"q-{uuid.uuid4().hex[:10]}")
    stack = await start_stack(tmp_path, url, seaweed.env(), gateway=False)
    try:
        async with mesh_channel(stack.api) as channel:
            stub = browser_grpc.BrowserServiceStub(channel)
            target = next(f for f in await _files(stub, "catalog") if f.table == "catalog.tables")
            minted = await stub.MintUrls(
                browser_pb.MintUrlsRequest(domain="catalog", paths=[target.path], ttl_seconds=60)
            )
            signed = minted.urls[0].url
            assert signed.startswith(seaweed.endpoint) and "X-Amz-Signature" in signed
            status, _, body = _fetch(signed)
            assert status == 200 and body[:4] == b"PAR1" and len(body) == target.size_bytes
            status, _, body = _fetch(signed, headers={"Range": "bytes=0-3"})
            assert (status, body) == (206, b"PAR1")
            # GET-signed: HEAD is refused (why the console downloads with fetch())
            assert _fetch(signed, "HEAD")[0] == 403
            assert _fetch(signed.replace("X-Amz-Signature=", "X-Amz-Signature=0"))[0] == 403
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.MintUrls(
                    browser_pb.MintUrlsRequest(
                        domain="catalog", paths=["state/catalog/nope.0123456789ab.parquet"]
                    )
                )
            assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
            # queries work over S3 as well
            query = query_grpc.QueryServiceStub(channel)
            answer = await query.QueryData(
                query_pb.QueryDataRequest(
                    sql="SELECT count(*) AS n FROM lake.sales.orders", format=JSON
                )
            )
            assert rows(answer.data) == [{"n": 2000}]
    finally:
        stack.stop()
