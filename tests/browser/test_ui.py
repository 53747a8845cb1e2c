"""The web UI (/ui/) in Debian's Chromium, driven by Playwright, against the whole mesh in
staging posture (mTLS between services, JWTs at the edge) behind Envoy: the page reaches
the api only through the TypeScript SDK over gRPC-web on its own origin.

Signs in by pasting a token, launches a run of a selection from the asset graph and
watches it reach SUCCEEDED without a reload, reads one task's logs, cancels a run while
its task is running and reruns it from failure. Then the automation pages: disables and
enables a schedule and sees its ticks, reads a poll sensor's evaluations, sees a retried
task's two attempts as two bars, and creates, pauses, resumes and cancels a backfill
(a move from a stale state version is refused with 409 and the page reloads). Screenshots
of each page are kept as artefacts under ``build/test-artifacts/ui/<test>/`` (gitignored),
replaced on every run."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Page, Route, async_playwright

from services.mesh import Mesh
from tests.browser import ui_assets
from tests.browser.test_console import CHROMIUM, CHROMIUM_FLAGS
from tests.conftest import REPO_ROOT
from tests.support.envoy import Edge
from tests.support.staging import (
    OPERATORS,
    WORKSPACE,
    deploy,
    edge_of,
    staging_mesh,
    user_jwt,
)

BUNDLE = REPO_ROOT / "gateway" / "ui" / "public" / "dist" / "app.js"
ARTEFACTS = REPO_ROOT / "build" / "test-artifacts" / "ui"
# Generous: a run goes through planning, dispatch, a worker and the compactor.
RUN_TIMEOUT_MS = 120_000
# The schedule ticks every minute; its first tick may also wait behind other runs.
TICK_TIMEOUT_MS = 150_000


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system_deps.sh (apt-get install chromium)")
    if not BUNDLE.exists():
        pytest.fail("the web UI is not built: run scripts/install_ui.sh")
    with staging_mesh(tmp_path_factory.mktemp("ui"), ["tests.browser.ui_assets"]) as running:
        yield running


@pytest.fixture(scope="module")
def edge(mesh: Mesh, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    with edge_of(mesh, tmp_path_factory.mktemp("ui-edge")) as front:
        deploy(front, "tests.browser.ui_assets", "ui1")
        yield front


@pytest.fixture
async def page(edge: Edge) -> AsyncIterator[Page]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            # The edge's certificate is the test's own self-signed one.
            context = await browser.new_context(
                ignore_https_errors=True, viewport={"width": 1280, "height": 900}
            )
            yield await context.new_page()
        finally:
            await browser.close()


async def run_state_becomes(page: Page, state: str) -> None:
    await page.wait_for_function(
        "s => document.getElementById('run-state')?.textContent === s",
        arg=state,
        timeout=RUN_TIMEOUT_MS,
    )


async def sign_in(page: Page, edge: Edge, path: str) -> None:
    await page.goto(f"{edge.url}/ui/{path}")
    await page.wait_for_selector("#sign-in", timeout=30_000)
    await page.fill("#token", user_jwt(OPERATORS, user="olga"))
    await page.click("#sign-in button[type=submit]")


def _screenshots(request: pytest.FixtureRequest) -> Path:
    """A fresh directory for this test's screenshots, kept after the run."""
    shots = ARTEFACTS / request.node.name
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    return shots


async def test_the_ui_signs_in_runs_a_selection_reads_logs_cancels_and_reruns(
    edge: Edge, page: Page, request: pytest.FixtureRequest
) -> None:
    requests: list[str] = []
    page.on("request", lambda sent: requests.append(sent.url))
    shots = _screenshots(request)

    # Production posture: the api refuses the page until a token is pasted.
    await page.goto(f"{edge.url}/ui/#/runs")
    await page.wait_for_selector("#sign-in", timeout=30_000)
    await page.screenshot(path=shots / "sign-in.png", full_page=True)
    await page.fill("#token", "not-a-jwt")
    await page.click("#sign-in button[type=submit]")
    await page.wait_for_selector("#sign-in .error", timeout=30_000)
    await page.fill("#token", user_jwt(OPERATORS, user="olga"))
    await page.click("#sign-in button[type=submit]")
    await page.wait_for_selector("#runs", timeout=30_000)
    assert "olga" in (await page.text_content("nav") or ""), "signed in as the token's subject"
    await page.screenshot(path=shots / "runs-empty.png", full_page=True)

    # The asset graph of the deployed manifest, laid out, with its edges.
    await page.click("nav >> text=Assets")
    await page.wait_for_selector('[data-asset="ui.doubled"]', timeout=30_000)
    assert await page.locator("g.asset").count() == 6
    assert await page.locator('path.edge[data-from="ui.source"][data-to="ui.doubled"]').count() == 1
    source_box = await page.locator('[data-asset="ui.source"]').bounding_box()
    doubled_box = await page.locator('[data-asset="ui.doubled"]').bounding_box()
    assert source_box and doubled_box and source_box["x"] < doubled_box["x"], (
        "laid out left to right"
    )
    assert await page.get_attribute('[data-asset="ui.source"]', "data-health") == "never"
    await page.screenshot(path=shots / "assets-before.png", full_page=True)

    # Launch a run of the selection and watch it succeed live (the page polls; no reload).
    await page.click('[data-asset="ui.source"]')
    await page.click('[data-asset="ui.doubled"]')
    assert "(2)" in (await page.text_content("#launch-run") or "")
    await page.click("#launch-run")
    await page.wait_for_selector("#run-state", timeout=30_000)
    run_id = page.url.rsplit("/", 1)[-1]
    await run_state_becomes(page, "SUCCEEDED")
    assert page.url.endswith(f"#/runs/{run_id}"), "the page followed the run without navigating"
    rows = page.locator("tr.task-row")
    assert sorted(await rows.evaluate_all("rs => rs.map(r => r.dataset.taskKey)")) == [
        "ui.doubled",
        "ui.source",
    ]
    assert await page.locator("tr.task-row .bar.SUCCEEDED").count() == 2
    await page.screenshot(path=shots / "run-succeeded.png", full_page=True)

    # One task's logs (GetRunLogs with its task key): the source's line, only under it.
    await page.click('tr[data-task-key="ui.source"] .show-logs')
    await page.wait_for_function(
        "line => document.getElementById('task-logs')?.textContent.includes(line)",
        arg=ui_assets.LOG_LINE,
        timeout=RUN_TIMEOUT_MS,
    )
    await page.screenshot(path=shots / "task-logs.png", full_page=True)
    await page.click('tr[data-task-key="ui.doubled"] .show-logs')
    await page.wait_for_function(
        "() => { const p = document.getElementById('task-logs');"
        " return p?.dataset.taskKey === 'ui.doubled' && p.textContent !== 'loading…'; }",
        timeout=30_000,
    )
    assert ui_assets.LOG_LINE not in (await page.text_content("#task-logs") or "")

    # The graph now shows the materializations.
    await page.click("nav >> text=Assets")
    await page.wait_for_selector('[data-asset="ui.source"][data-health="fresh"]', timeout=60_000)
    assert "materialized" in (await page.text_content('[data-asset="ui.doubled"]') or "")
    assert "unpartitioned" in (await page.text_content('[data-asset="ui.doubled"]') or "")
    await page.screenshot(path=shots / "assets-after.png", full_page=True)

    # A second run, of the cooperative slow asset: cancel it while its task runs.
    await page.click('[data-asset="ui.slow"]')
    await page.click("#launch-run")
    await page.wait_for_selector(
        'tr[data-task-key="ui.slow"][data-state="RUNNING"]', timeout=RUN_TIMEOUT_MS
    )
    cancelled_id = page.url.rsplit("/", 1)[-1]
    assert cancelled_id != run_id
    await page.click("#cancel-run")
    await run_state_becomes(page, "CANCELLED")
    assert await page.get_attribute('tr[data-task-key="ui.slow"]', "data-state") == "CANCELLED"
    await page.screenshot(path=shots / "run-cancelled.png", full_page=True)

    # Rerun from failure: a new run, child of the cancelled one, running the slow task again.
    await page.click("#rerun-from-failure")
    await page.wait_for_function(
        "old => !location.hash.endsWith(old) && document.getElementById('run-state')",
        arg=cancelled_id,
        timeout=30_000,
    )
    rerun_id = page.url.rsplit("/", 1)[-1]
    assert cancelled_id in (await page.text_content(".facts") or "")
    await page.wait_for_selector('tr[data-task-key="ui.slow"]', timeout=30_000)
    await page.click("#cancel-run")
    await run_state_becomes(page, "CANCELLED")

    # The runs list, filtered by state: both cancelled runs, not the succeeded one.
    await page.click("nav >> text=Runs")
    await page.wait_for_selector(f'tr.run-row[data-run-id="{run_id}"]', timeout=30_000)
    await page.select_option("#run-state-filter", label="CANCELLED")
    await page.wait_for_function(
        'id => !document.querySelector(`tr.run-row[data-run-id="${id}"]`)'
        " && document.querySelectorAll('tr.run-row').length === 2",
        arg=run_id,
        timeout=30_000,
    )
    listed = await page.locator("tr.run-row").evaluate_all("rs => rs.map(r => r.dataset.runId)")
    assert sorted(listed) == sorted([cancelled_id, rerun_id])
    await page.screenshot(path=shots / "runs-cancelled.png", full_page=True)

    # Everything the page loaded or called stayed on the edge's origin (no CDN).
    assert requests and all(url.startswith(f"{edge.url}/") for url in requests), requests
    assert any("/arco.orchestration.v1.OrchestrationService/" in url for url in requests)
    assert not any("/api/v1/" in url for url in requests), "the UI calls gRPC-web, not REST"


async def test_the_ui_shows_schedules_sensors_retried_attempts_and_moves_a_backfill(
    edge: Edge, page: Page, request: pytest.FixtureRequest
) -> None:
    shots = _screenshots(request)
    await sign_in(page, edge, "#/schedules")

    # The manifest's schedule: disable it, then enable it again; its ticks are listed.
    row = 'tr.schedule-row[data-schedule-id="ui-every-minute"]'
    await page.wait_for_selector(f'{row}[data-enabled="true"]', timeout=30_000)
    assert "* * * * *" in (await page.text_content(row) or "")
    await page.screenshot(path=shots / "schedules.png", full_page=True)
    await page.click(f"{row} a")
    await page.wait_for_selector('#schedule-state[data-enabled="true"]', timeout=30_000)
    await page.click("#disable-schedule")
    await page.wait_for_selector('#schedule-state[data-enabled="false"]', timeout=30_000)
    assert await page.is_disabled("#disable-schedule")
    await page.click("#enable-schedule")
    await page.wait_for_selector('#schedule-state[data-enabled="true"]', timeout=30_000)
    await page.wait_for_selector("tr.tick-row", timeout=TICK_TIMEOUT_MS)
    statuses = await page.locator("tr.tick-row").evaluate_all("rs => rs.map(r => r.dataset.status)")
    assert set(statuses) <= {"TRIGGERED", "SKIPPED"}, statuses
    await page.screenshot(path=shots / "schedule.png", full_page=True)

    # The poll sensor, evaluated on the worker: one run requested, then no new data.
    await page.click("nav >> text=Sensors")
    row = 'tr.sensor-row[data-sensor-id="ui-counter"]'
    await page.wait_for_selector(f'{row}[data-status="ACTIVE"]', timeout=RUN_TIMEOUT_MS)
    assert "poll" in (await page.text_content(row) or "")
    await page.screenshot(path=shots / "sensors.png", full_page=True)
    await page.click(f"{row} a")
    await page.wait_for_selector('tr.eval-row[data-status="triggered"]', timeout=RUN_TIMEOUT_MS)
    await page.wait_for_selector('tr.eval-row[data-status="no_new_data"]', timeout=RUN_TIMEOUT_MS)
    assert await page.text_content("#sensor-cursor") == "1"
    await page.screenshot(path=shots / "sensor.png", full_page=True)

    # A backfill of six days, one chunk at a time, made on the page.
    await page.click("nav >> text=Backfills")
    await page.wait_for_selector("#new-backfill", timeout=30_000)
    await page.select_option("#backfill-asset", "ui.days")
    await page.fill("#backfill-start", "2026-01-01")
    await page.fill("#backfill-end", "2026-01-06")
    await page.click("#create-backfill")
    await page.wait_for_selector("#backfill-state", timeout=30_000)
    backfill_id = page.url.rsplit("/", 1)[-1]
    await page.wait_for_selector("tr.chunk-row", timeout=RUN_TIMEOUT_MS)
    await page.click("#pause-backfill")
    await backfill_state_becomes(page, "PAUSED")
    await page.screenshot(path=shots / "backfill-paused.png", full_page=True)
    await page.click("#resume-backfill")
    await backfill_state_becomes(page, "RUNNING")

    # A move from a stale version: the page is kept from refreshing while the backfill
    # is paused behind its back, so its Pause carries the old version and gets a 409.
    await page.route("**/arco.orchestration.v1.OrchestrationService/GetBackfill", _abort)
    with edge.http() as http:
        paused = http.post(
            f"{edge.url}/api/v1/workspaces/{WORKSPACE}/backfills/{backfill_id}/pause",
            json={},
            headers={"authorization": f"Bearer {user_jwt(OPERATORS, user='other')}"},
        )
    assert paused.status_code == 200, paused.text
    assert await page.text_content("#backfill-state") == "RUNNING"
    await page.click("#pause-backfill")
    await page.wait_for_selector(".action-error", timeout=30_000)
    assert "backfill_version_conflict" in (await page.text_content(".action-error") or "")
    await page.unroute("**/arco.orchestration.v1.OrchestrationService/GetBackfill")
    await backfill_state_becomes(page, "PAUSED")
    await page.screenshot(path=shots / "backfill-stale.png", full_page=True)

    await page.click("#cancel-backfill")
    await backfill_state_becomes(page, "CANCELLED")
    chunk_states = await page.locator("tr.chunk-row").evaluate_all(
        "rs => rs.map(r => r.dataset.state)"
    )
    assert chunk_states and len(chunk_states) < 6, "cancelled before every chunk was planned"
    await page.screenshot(path=shots / "backfill-cancelled.png", full_page=True)
    await page.click("nav >> text=Backfills")
    await page.wait_for_selector(
        f'tr.backfill-row[data-backfill-id="{backfill_id}"][data-state="CANCELLED"]',
        timeout=30_000,
    )
    await page.screenshot(path=shots / "backfills.png", full_page=True)

    # A task that failed once and succeeded on its retry: one bar per attempt.
    await page.click("nav >> text=Assets")
    await page.click('[data-asset="ui.flaky"]')
    await page.click("#launch-run")
    await page.wait_for_selector("#run-state", timeout=30_000)
    await run_state_becomes(page, "SUCCEEDED")
    bars = page.locator('tr[data-task-key="ui.flaky"] .bar')
    assert await bars.evaluate_all("bs => bs.map(b => [b.dataset.attempt, b.dataset.state])") == [
        ["1", "FAILED"],
        ["2", "SUCCEEDED"],
    ]
    await page.screenshot(path=shots / "run-retried.png", full_page=True)


async def _abort(route: Route) -> None:
    await route.abort()


async def backfill_state_becomes(page: Page, state: str) -> None:
    await page.wait_for_function(
        "s => document.getElementById('backfill-state')?.textContent === s",
        arg=state,
        timeout=RUN_TIMEOUT_MS,
    )
