"""The plain-HTTP side port of every gRPC service: Prometheus ``/metrics``, ``/healthz`` and
``/readyz``.

``/readyz`` answers what the gRPC health service answers (200 while SERVING, 503 before
start-up finished and while draining). It exists because orchestrators probe over plain
HTTP or plain gRPC, and the gRPC port requires a mesh client certificate that no probe
has; the side port carries no data, only this state and the metrics.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class Readiness:
    """The serving state the side port reports; set by the service lifecycle."""

    def __init__(self) -> None:
        self._ready = threading.Event()

    def set(self, ready: bool) -> None:
        if ready:
            self._ready.set()
        else:
            self._ready.clear()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds
        return


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def endpoint_app(registry: CollectorRegistry, readiness: Readiness) -> Callable[..., Any]:
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _json(start_response, "200 OK", {"status": "ok"})
        if path == "/readyz":
            if readiness.ready:
                return _json(start_response, "200 OK", {"ready": True})
            return _json(start_response, "503 Service Unavailable", {"ready": False})
        if path == "/metrics":
            result: Iterable[bytes] = metrics(environ, start_response)
            return result
        return _json(start_response, "404 Not Found", {"error": "not found"})

    return app


class HttpEndpoint:
    """The side port, served from a daemon thread."""

    def __init__(self, host: str, port: int, registry: CollectorRegistry) -> None:
        self.readiness = Readiness()
        self._server = make_server(
            host,
            port,
            endpoint_app(registry, self.readiness),
            server_class=_ThreadingServer,
            handler_class=_QuietHandler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="http-endpoint", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
