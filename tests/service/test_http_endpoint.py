"""The HTTP side port of the gRPC services: metrics and the probe paths."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter

from services.common.http_endpoint import HttpEndpoint


@pytest.fixture
def endpoint() -> Iterator[HttpEndpoint]:
    registry = CollectorRegistry()
    Counter("arco_probe_test", "a metric of this test", registry=registry).inc()
    served = HttpEndpoint("127.0.0.1", 0, registry)
    served.start()
    try:
        yield served
    finally:
        served.stop()


def _get(endpoint: HttpEndpoint, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{endpoint.port}{path}", timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_readyz_follows_the_serving_state(endpoint: HttpEndpoint) -> None:
    assert _get(endpoint, "/readyz") == (503, b'{"ready": false}')
    endpoint.readiness.set(True)
    status, body = _get(endpoint, "/readyz")
    assert (status, json.loads(body)) == (200, {"ready": True})
    endpoint.readiness.set(False)  # draining
    assert _get(endpoint, "/readyz")[0] == 503


def test_healthz_metrics_and_unknown_paths(endpoint: HttpEndpoint) -> None:
    assert _get(endpoint, "/healthz")[0] == 200  # alive even before ready
    status, body = _get(endpoint, "/metrics")
    assert status == 200 and b"arco_probe_test_total 1.0" in body
    assert _get(endpoint, "/")[0] == 404
    assert _get(endpoint, "/readyz/../metrics")[0] == 404
