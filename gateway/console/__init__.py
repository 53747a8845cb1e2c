"""The browser console: a static page that runs SQL in DuckDB-WASM 1.28.0.

Everything is served from this directory (``index.html``, ``console.js`` and the npm
packages ``scripts/install_console_assets.sh`` installs into ``node_modules``); the page
never loads anything from a CDN. DuckDB-WASM 1.28.0 is pinned because it has Parquet built
in; newer versions fetch their Parquet extension from the internet at run time.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

__all__ = ["CONSOLE_DIR", "console_routes", "routes"]

CONSOLE_DIR = Path(__file__).resolve().parent

# ES modules and wasm need exact media types (browsers refuse text/plain modules).
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("application/wasm", ".wasm")


def console_routes() -> list[BaseRoute]:
    """``/console/`` (index.html) and its assets."""
    return [Mount("/console", app=StaticFiles(directory=CONSOLE_DIR, html=True), name="console")]


# The gateway app mounts ``routes()`` of this module.
routes = console_routes
