"""Web UI benchmark: bundle size and first-load time of /ui/, against the SQL console.

Run: ``.venv/bin/python bench/ui_bench.py [--loads 5]`` (after ``make ui``)

Starts the mesh in staging posture (mTLS, JWTs) with Envoy in front, deploys the UI
test's assets and runs one of them, then opens each page ``--loads`` times in Debian's
Chromium, each time in a fresh browser context (cold cache), signed in with a JWT:

  * /ui/#/runs: navigation start to the first render of the runs table with data (the
    page's ``arco-ui-ready`` performance mark);
  * the baseline, /console/: navigation start to its status reading DONE (DuckDB-WASM
    started and the workspace's tables listed).

It prints the bundle (bytes and gzip bytes of gateway/ui/public/dist/app.js), the bytes
each page loaded (responses with a content-length: the static files), the median first-load times, and the UI/console ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT / "gen"), str(REPO_ROOT)]

from playwright.async_api import Browser, async_playwright  # noqa: E402

from tests.browser.test_console import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from tests.support.envoy import Edge  # noqa: E402
from tests.support.staging import (  # noqa: E402
    ADMINS,
    deploy,
    edge_of,
    staging_mesh,
    user_jwt,
)

BUNDLE = REPO_ROOT / "gateway" / "ui" / "public" / "dist" / "app.js"
TIMEOUT_MS = 120_000

# Time since navigation start at which each page first shows what it is for.
UI_READY = "performance.getEntriesByName('arco-ui-ready')[0]?.startTime"
# Installed before the console's own scripts: notes when its status first reads DONE.
CONSOLE_WATCH = """addEventListener('DOMContentLoaded', () => {
  const status = document.getElementById('status');
  if (!status) return;
  new MutationObserver((_, observer) => {
    if (['DONE', 'ERROR'].includes(status.textContent)) {
      window.arcoConsoleDone = {ms: performance.now(), status: status.textContent};
      observer.disconnect();
    }
  }).observe(status, {subtree: true, childList: true, characterData: true});
})"""


@dataclass
class Load:
    ms: float
    bytes: int


async def load_once(browser: Browser, url: str, token: str, ui: bool) -> Load:
    context = await browser.new_context(ignore_https_errors=True)
    try:
        # The UI reads its pasted token from sessionStorage; the console takes ?token=.
        await context.add_init_script(f"sessionStorage.setItem('arco.token', {token!r})")
        if not ui:
            await context.add_init_script(CONSOLE_WATCH)
        page = await context.new_page()
        sizes: list[int] = []
        # Every response with a length (static files; streamed api answers have none),
        # the DuckDB worker's wasm fetches included.
        page.on(
            "response",
            lambda response: sizes.append(int(response.headers.get("content-length", 0))),
        )
        await page.goto(url)
        if ui:
            await page.wait_for_function(f"() => {UI_READY} !== undefined", timeout=TIMEOUT_MS)
            ms = float(await page.evaluate(UI_READY))
        else:
            await page.wait_for_function("() => window.arcoConsoleDone", timeout=TIMEOUT_MS)
            done = await page.evaluate("window.arcoConsoleDone")
            if done["status"] != "DONE":
                raise RuntimeError(f"the console failed: {await page.text_content('#error')}")
            ms = float(done["ms"])
        await page.wait_for_load_state("networkidle")
        return Load(ms, sum(sizes))
    finally:
        await context.close()


async def measure(edge: Edge, loads: int) -> dict[str, list[Load]]:
    # The console mints signed file URLs, which takes an admin.
    token = user_jwt(ADMINS, user="bench")
    pages = {
        "ui": (f"{edge.url}/ui/#/runs", True),
        "console": (f"{edge.url}/console/?token={token}", False),
    }
    results: dict[str, list[Load]] = {name: [] for name in pages}
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            for _ in range(loads):
                # Interleaved, so a slower moment of the machine hits both pages alike.
                for name, (url, ui) in pages.items():
                    results[name].append(await load_once(browser, url, token, ui))
                    print(f"{name}: {results[name][-1]}", file=sys.stderr, flush=True)
        finally:
            await browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=5, help="cold loads of each page")
    args = parser.parse_args(argv)
    if not BUNDLE.exists():
        print("the web UI is not built: run `make ui`", file=sys.stderr)
        return 1
    bundle = BUNDLE.read_bytes()
    with (
        tempfile.TemporaryDirectory(prefix="arco-ui-bench-") as home,
        staging_mesh(Path(home), ["tests.browser.ui_assets"]) as mesh,
        edge_of(mesh, Path(home)) as edge,
    ):
        deploy(edge, "tests.browser.ui_assets", "bench1")
        results = asyncio.run(measure(edge, args.loads))
    ui_ms = statistics.median(load.ms for load in results["ui"])
    console_ms = statistics.median(load.ms for load in results["console"])
    ui_bytes = statistics.median(load.bytes for load in results["ui"])
    console_bytes = statistics.median(load.bytes for load in results["console"])
    print(
        f"bundle gateway/ui/public/dist/app.js: {len(bundle)} bytes, {len(gzip.compress(bundle))} gzip bytes"
    )
    print(
        f"bytes loaded     ui {ui_bytes:>12.0f}   console {console_bytes:>12.0f}   ratio {ui_bytes / console_bytes:.3f}"
    )
    print(
        f"first load (ms)  ui {ui_ms:>12.1f}   console {console_ms:>12.1f}   ratio {ui_ms / console_ms:.3f}"
    )
    print(f"({args.loads} cold loads each, medians; ui: runs table rendered, console: status DONE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
