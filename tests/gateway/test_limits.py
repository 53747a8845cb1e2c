"""Per-tenant rate limits (429 + Retry-After), the stricter URL-minting bucket, body limits,
Idempotency-Key and traceparent pass-through."""

from __future__ import annotations

import pytest
from arco.browser.v1 import browser_service_pb2 as browser_pb
from arco.catalog.v1 import catalog_service_pb2 as catalog_pb

from arco_runtime.ratelimit import RateLimiter
from gateway.config import RateLimitConfig
from tests.gateway.conftest import Upstream, auth_headers, make_config, open_client


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_gcra_burst_refill_and_retry_after() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=3, max_keys=10, clock=clock)
    assert [limiter.check("t").allowed for _ in range(4)] == [True, True, True, False]
    refused = limiter.check("t")
    assert not refused.allowed and refused.retry_after_sec == 1
    clock.now += 1.0
    assert limiter.check("t").allowed
    assert limiter.check("other").allowed  # keys are independent


def test_lru_is_bounded() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=1, max_keys=2, clock=clock)
    for key in ("a", "b", "c"):
        limiter.check(key)
    assert len(limiter) == 2
    assert limiter.check("a").allowed  # "a" was evicted, so it starts fresh


async def test_tenant_rate_limit_429(upstream: Upstream) -> None:
    clock = FakeClock()
    config = make_config(upstream.address, rate_limit=RateLimitConfig(per_minute=60, burst=2))
    upstream.script["ListNamespaces"] = catalog_pb.ListNamespacesResponse()
    async with open_client(config, upstream, clock=clock) as gw:
        statuses = [(await gw.request("GET", "/api/v1/namespaces")).status_code for _ in range(2)]
        assert statuses == [200, 200]
        response = await gw.request("GET", "/api/v1/namespaces", headers={"X-Request-Id": "rl-1"})
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1"
        assert response.headers["x-request-id"] == "rl-1"
        assert response.headers["x-ratelimit-remaining"] == "0"
        assert response.json() == {
            "code": "RATE_LIMITED",
            "message": "Rate limit exceeded. Limit: 60 requests per minute. Retry after 1 seconds.",
            "requestId": "rl-1",
        }
        assert len(upstream.calls) == 2
        # another tenant has its own bucket
        other = await gw.request("GET", "/api/v1/namespaces", headers=auth_headers(tenant="beta"))
        assert other.status_code == 200
        assert other.headers["x-ratelimit-limit"] == "60"
        clock.now += 1.0
        assert (await gw.request("GET", "/api/v1/namespaces")).status_code == 200


async def test_url_minting_has_a_stricter_bucket(upstream: Upstream) -> None:
    config = make_config(
        upstream.address,
        rate_limit=RateLimitConfig(per_minute=600, burst=50, url_per_minute=60, url_burst=1),
    )
    upstream.script["MintUrls"] = browser_pb.MintUrlsResponse()
    upstream.script["ListBrowsableFiles"] = browser_pb.ListBrowsableFilesResponse()
    async with open_client(config, upstream, clock=FakeClock()) as gw:
        body = {"domain": "catalog", "paths": []}
        assert (await gw.request("POST", "/api/v1/browser/urls", json=body)).status_code == 200
        second = await gw.request("POST", "/api/v1/browser/urls", json=body)
        assert second.status_code == 429 and "Limit: 60 requests" in second.json()["message"]
        assert (await gw.request("GET", "/api/v1/browser/files")).status_code == 200


async def test_callbacks_are_not_limited_by_a_path_task_id(upstream: Upstream) -> None:
    # A caller picks the task id of the path: a limit keyed by it was evaded by varying it
    # and evicted real keys. The api limits callbacks by the verified token instead.
    config = make_config(upstream.address, rate_limit=RateLimitConfig(per_minute=60, burst=1))
    async with open_client(config, upstream, clock=FakeClock()) as gw:
        token = {"Authorization": "Bearer t"}
        for _ in range(3):
            beat = await gw.request("POST", "/api/v1/tasks/a/heartbeat", json={}, headers=token)
            assert beat.status_code != 429


@pytest.mark.parametrize("declared", [True, False])
async def test_body_limit_413(upstream: Upstream, declared: bool) -> None:
    async with open_client(make_config(upstream.address, max_body_bytes=64), upstream) as gw:
        payload = b'{"name": "' + b"x" * 100 + b'"}'

        async def chunks():  # no Content-Length: counted while streaming
            yield payload[:50]
            yield payload[50:]

        content = payload if declared else chunks()
        response = await gw.request(
            "POST",
            "/api/v1/namespaces",
            content=content,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 413
        assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
        assert response.json()["requestId"] == response.headers["x-request-id"]
        assert upstream.calls == []
        callback = await gw.request(
            "POST", "/api/v1/tasks/t/started", content=payload,
            headers={"Content-Type": "application/json", "Authorization": "Bearer t"},
        )  # fmt: skip
        assert callback.status_code == 413
        assert callback.json()["error"] == "payload_too_large"


async def test_idempotency_key_and_traceparent_are_forwarded(upstream: Upstream) -> None:
    upstream.script["CreateCatalog"] = catalog_pb.CreateCatalogResponse(
        catalog=catalog_pb.Catalog()
    )
    async with open_client(make_config(upstream.address), upstream) as gw:
        await gw.request(
            "POST", "/api/v1/catalogs", json={"name": "c"},
            headers={"Idempotency-Key": "idem-1", "traceparent": "00-aa-bb-01"},
        )  # fmt: skip
    metadata = upstream.last().metadata
    assert metadata["idempotency-key"] == "idem-1"
    assert metadata["traceparent"] == "00-aa-bb-01"
