"""The web UI: runs and the asset graph, a static page served at ``/ui/``.

The page is TypeScript (``src/``) bundled by ``scripts/install_ui.sh`` into
``public/dist/app.js``; only ``public/`` is served, never the sources or ``node_modules``.
It calls the api through the TypeScript SDK over gRPC-web on its own origin, so it works
only behind the Envoy edge (``deploy/k8s/base/envoy/envoy.yaml``); the gateway answers
none of its calls itself.
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

__all__ = ["UI_DIR", "routes"]

UI_DIR = Path(__file__).resolve().parent / "public"


def routes() -> list[BaseRoute]:
    """``/ui/`` (index.html) and its stylesheet and bundle."""
    return [Mount("/ui", app=StaticFiles(directory=UI_DIR, html=True), name="ui")]
