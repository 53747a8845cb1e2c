"""The gateway mounts the web UI at /ui/ and serves its public/ directory only: the page,
its stylesheet and bundle, never the TypeScript sources, package files or node_modules."""

from __future__ import annotations

import httpx

from gateway.app import create_app
from tests.gateway.conftest import make_config


async def test_ui_serves_the_page_and_not_its_sources() -> None:
    transport = httpx.ASGITransport(app=create_app(make_config("127.0.0.1:1")))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        page = await client.get("/ui/")
        assert page.status_code == 200
        assert 'src="dist/app.js"' in page.text
        assert (await client.get("/ui/ui.css")).status_code == 200
        private = ("/ui/src/main.tsx", "/ui/package.json", "/ui/node_modules/preact/package.json")
        for path in private:
            assert (await client.get(path)).status_code == 404, path
