"""The console in headless Chromium: DuckDB-WASM 1.28.0 reads gateway-signed Parquet URLs.

Real processes (compactors, api, gateway) on loopback; Debian's /usr/bin/chromium driven
by Playwright. Result parity: the same SQL over the same snapshot gives the same rows in
the browser and through the api.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from arco.query.v1 import query_service_pb2 as query_pb
from arco.query.v1 import query_service_pb2_grpc as query_grpc

from tests.conftest import REPO_ROOT
from tests.service.test_api_query import Stack, start_stack
from tests.support.tls import mesh_channel
from tests.unit.orchestration.orch_support import TENANT, WORKSPACE

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DUCKDB = REPO_ROOT / "gateway/console/node_modules/@duckdb/duckdb-wasm/package.json"

# (browser SQL over the registered views, server SQL over the same tables)
PARITY = [
    (
        "SELECT name, format, location FROM catalog_tables ORDER BY name",
        "SELECT name, format, location FROM catalog.tables ORDER BY name",
    ),
    (
        "SELECT t.name AS table_name, c.name AS column_name, c.data_type, c.ordinal "
        "FROM catalog_tables t JOIN catalog_columns c ON c.table_id = t.id "
        "ORDER BY t.name, c.ordinal",
        "SELECT t.name AS table_name, c.name AS column_name, c.data_type, c.ordinal "
        "FROM catalog.tables t JOIN catalog.columns c ON c.table_id = t.id "
        "ORDER BY t.name, c.ordinal",
    ),
]


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system_deps.sh (apt-get install chromium)")
    if not DUCKDB.exists() or '"1.28.0"' not in DUCKDB.read_text():
        pytest.fail("DuckDB-WASM 1.28.0 is missing: run scripts/install_console_assets.sh")
    tmp_path = tmp_path_factory.mktemp("console_stack")
    running = await start_stack(tmp_path, (tmp_path / "data").as_uri(), {})
    try:
        yield running
    finally:
        running.stop()


async def run_in_console(gateway: str, sql: str) -> tuple[list[dict[str, Any]], list[str], float]:
    from playwright.async_api import async_playwright

    requests: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = await browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            url = (
                f"http://{gateway}/console/?tenant={TENANT}&workspace={WORKSPACE}&sql={quote(sql)}"
            )
            await page.goto(url)
            await page.wait_for_function(
                "['DONE', 'ERROR'].includes(document.getElementById('status').textContent)",
                timeout=60_000,
            )
            status = await page.text_content("#status")
            error = await page.text_content("#error")
            assert status == "DONE", error
            text = await page.text_content("#result-json")
            elapsed = float(await page.get_attribute("#result-json", "data-ms") or 0)
            assert text
            return json.loads(text), requests, elapsed
        finally:
            await browser.close()


def normalise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # DuckDB-WASM hands BIGINT back as double (castBigIntToDouble); compare numerically.
    return [
        {
            k: (float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v)
            for k, v in row.items()
        }
        for row in rows
    ]


@pytest.mark.parametrize(("browser_sql", "server_sql"), PARITY)
async def test_console_runs_sql_in_duckdb_wasm_with_parity(
    stack: Stack, browser_sql: str, server_sql: str
) -> None:
    gateway = stack.procs["gateway"].ready["http_address"]
    browser_rows, requests, _ = await run_in_console(gateway, browser_sql)
    async with mesh_channel(stack.api) as channel:
        answer = await query_grpc.QueryServiceStub(channel).Query(
            query_pb.QueryRequest(sql=server_sql, format=query_pb.RESULT_FORMAT_JSON)
        )
    server_rows = json.loads(answer.data)
    assert server_rows, "the server query returned nothing to compare"
    assert normalise(browser_rows) == normalise(server_rows)
    # The page minted URLs and read Parquet through the gateway's signed route, and every
    # request stayed on loopback (no CDN, no extension downloads).
    assert any("/api/v1/browser/urls" in u or "/files/" in u for u in requests)
    assert any("/files/" in u and "sig=" in u for u in requests)
    assert all(u.startswith((f"http://{gateway}/", "blob:")) for u in requests), [
        u for u in requests if not u.startswith(f"http://{gateway}/")
    ]


async def test_console_shows_runs_and_tasks(stack: Stack) -> None:
    from playwright.async_api import async_playwright

    gateway = stack.procs["gateway"].ready["http_address"]
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = await browser.new_page()
            await page.goto(f"http://{gateway}/console/?tenant={TENANT}&workspace={WORKSPACE}")
            await page.wait_for_function(
                "['DONE', 'ERROR'].includes(document.getElementById('status').textContent)",
                timeout=60_000,
            )
            assert await page.text_content("#status") == "DONE", await page.text_content("#error")
            runs = await page.text_content("#runs") or ""
            tasks = await page.text_content("#tasks") or ""
            assert "r1" in runs and "r2" in runs and "SUCCEEDED" in runs
            assert "extract" in tasks and "load" in tasks
            files = await page.text_content("#files") or ""
            assert "catalog.tables" in files
        finally:
            await browser.close()
