"""The backfill routes through the real mesh (gateway process -> api process, with the
automation service planning chunks; no workers, so chunk runs stay queued): every answer
has the reference's JSON shape (CreateBackfillResponse, BackfillResponse,
ListBackfillsResponse, ListBackfillChunksResponse, validated against the reference
document), and the statuses are the contract's: 202 new, 200 replay or read, 409 for
another payload under one request id and for a move the state forbids, 400 for a bad
selector, 404 for an unknown backfill and for another workspace's path."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from arco_sdk.manifest import AssetGraph, build_manifest, discover
from services.mesh import Mesh

pytestmark = pytest.mark.timeout(180)

ASSET = "sales.daily_orders"
RANGE = {"type": "range", "start": "2026-01-01", "end": "2026-01-03"}


class Shapes:
    """Validators of the reference document's component schemas."""

    def __init__(self, reference: dict[str, Any]) -> None:
        self._components = reference["components"]

    def check(self, name: str, body: Any) -> None:
        schema = {"$ref": f"#/components/schemas/{name}", "components": self._components}
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(body)]
        assert not errors, (name, errors, body)


@pytest.fixture(scope="module")
def shapes(shared_dir: Path) -> Shapes:
    path = shared_dir / "contracts/openapi/reference_openapi.json"
    return Shapes(json.loads(path.read_text()))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, str]]:
    mesh = Mesh(tmp_path_factory.mktemp("backfill-routes"))
    mesh.start()
    try:
        headers = {"X-Tenant-Id": mesh.tenant_id, "X-Workspace-Id": mesh.workspace_id}
        base = f"http://{mesh.address('gateway')}/api/v1/workspaces/{mesh.workspace_id}"
        with httpx.Client(headers=headers, timeout=30) as http:
            definitions, schedules = discover("examples.daily_sales")
            manifest = build_manifest(AssetGraph(definitions), schedules=schedules)
            deployed = http.post(f"{base}/manifests", json=manifest)
            assert deployed.status_code == 201, deployed.text
            yield http, base
    finally:
        codes = mesh.stop()
    assert all(code == 0 for code in codes.values()), codes


def _create(http: httpx.Client, base: str, request_id: str, **extra: Any) -> httpx.Response:
    body = {"assetSelection": [ASSET], "partitionSelector": RANGE, "clientRequestId": request_id}
    return http.post(f"{base}/backfills", json={**body, **extra})


def _until_planned(http: httpx.Client, base: str, backfill_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        body = dict(http.get(f"{base}/backfills/{backfill_id}/chunks").json())
        if body["chunks"]:
            return body
        assert time.monotonic() < deadline, "no chunk planned"
        time.sleep(0.1)


def test_create_replay_and_reads_have_the_reference_shapes(
    api: tuple[httpx.Client, str], shapes: Shapes
) -> None:
    http, base = api
    created = _create(http, base, "shapes-1", chunkSize=1, maxConcurrentRuns=2)
    assert created.status_code == 202, created.text
    shapes.check("CreateBackfillResponse", created.json())
    backfill_id = created.json()["backfillId"]

    replay = _create(http, base, "shapes-1", chunkSize=1, maxConcurrentRuns=2)
    assert replay.status_code == 200, replay.text
    assert replay.json()["backfillId"] == backfill_id
    shapes.check("CreateBackfillResponse", replay.json())
    other = _create(http, base, "shapes-1", chunkSize=3)
    assert other.status_code == 409, other.text
    assert other.json()["code"] == "CONFLICT"

    keyed = http.post(
        f"{base}/backfills",
        json={"assetSelection": [ASSET], "partitionSelector": RANGE},
        headers={"Idempotency-Key": "shapes-header"},
    )
    assert keyed.status_code == 202, keyed.text
    assert keyed.json()["backfillId"] != backfill_id

    got = http.get(f"{base}/backfills/{backfill_id}")
    assert got.status_code == 200
    shapes.check("BackfillResponse", got.json())
    body = got.json()
    assert body["assetSelection"] == [ASSET]
    assert body["partitionSelector"] == RANGE
    assert (body["chunkSize"], body["maxConcurrentRuns"], body["totalPartitions"]) == (1, 2, 3)
    assert body["chunkCounts"]["total"] == 3
    assert body["state"] == "RUNNING" and body["stateVersion"] == 1

    listed = http.get(f"{base}/backfills", params={"limit": 1})
    assert listed.status_code == 200
    shapes.check("ListBackfillsResponse", listed.json())
    assert len(listed.json()["backfills"]) == 1 and listed.json()["nextCursor"]
    running = http.get(f"{base}/backfills", params={"state": "RUNNING"}).json()
    assert backfill_id in {b["backfillId"] for b in running["backfills"]}

    chunks = _until_planned(http, base, backfill_id)
    shapes.check("ListBackfillChunksResponse", chunks)
    first = chunks["chunks"][0]
    assert first["chunkIndex"] == 0 and first["partitionKeys"] == ["date=d:2026-01-01"]
    assert first["runKey"] == f"backfill:{backfill_id}:chunk:0" and first["runId"]
    # maxConcurrentRuns 2 and no worker to finish them: two chunks planned, never three.
    assert len(chunks["chunks"]) <= 2


def test_bad_selectors_are_400(api: tuple[httpx.Client, str]) -> None:
    http, base = api
    for selector in (
        {"type": "range", "start": "2026-01-03", "end": "2026-01-01"},
        {"type": "explicit", "partitions": []},
        {"type": "sideways"},
        {"type": "filter", "filters": {"start": "2026-01-01", "end": "2026-01-02", "status": "x"}},
    ):
        answer = http.post(
            f"{base}/backfills",
            json={"assetSelection": [ASSET], "partitionSelector": selector, "clientRequestId": "b"},
        )
        assert answer.status_code == 400, (selector, answer.text)
    missing_key = http.post(
        f"{base}/backfills", json={"assetSelection": [ASSET], "partitionSelector": RANGE}
    )
    assert missing_key.status_code == 400, missing_key.text


def test_state_moves_and_their_conflicts(api: tuple[httpx.Client, str], shapes: Shapes) -> None:
    http, base = api
    created = _create(http, base, "moves-1", chunkSize=1, maxConcurrentRuns=1)
    assert created.status_code == 202, created.text
    one = f"{base}/backfills/{created.json()['backfillId']}"

    paused = http.post(f"{one}/pause", json={})
    assert paused.status_code == 200, paused.text
    shapes.check("BackfillResponse", paused.json())
    assert (paused.json()["state"], paused.json()["stateVersion"]) == ("PAUSED", 2)
    assert http.post(f"{one}/pause", json={}).status_code == 409
    stale = http.post(f"{one}/resume", json={"expectedStateVersion": 1})
    assert stale.status_code == 409, stale.text
    resumed = http.post(f"{one}/resume", json={"expectedStateVersion": 2})
    assert resumed.status_code == 200 and resumed.json()["state"] == "RUNNING"
    cancelled = http.post(f"{one}/cancel", json={})
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "CANCELLED"
    shapes.check("BackfillResponse", cancelled.json())
    assert http.post(f"{one}/resume", json={}).status_code == 409
    # Its planned chunk run never ends here (no worker), so there is nothing to retry yet.
    _until_planned(http, base, created.json()["backfillId"])
    assert http.post(f"{one}/retry-failed", json={}).status_code == 409


def test_unknown_backfills_and_other_workspaces_are_404(api: tuple[httpx.Client, str]) -> None:
    http, base = api
    created = _create(http, base, "scoped-1")
    assert created.status_code == 202, created.text
    backfill_id = created.json()["backfillId"]
    other = base.rsplit("/", 1)[0] + "/someone-else"
    routes = [
        ("GET", ""),
        ("GET", f"/{backfill_id}"),
        ("GET", f"/{backfill_id}/chunks"),
        ("POST", f"/{backfill_id}/pause"),
        ("POST", f"/{backfill_id}/resume"),
        ("POST", f"/{backfill_id}/cancel"),
        ("POST", f"/{backfill_id}/retry-failed"),
    ]
    for method, suffix in [*routes, ("POST", "")]:
        body = {"assetSelection": [ASSET], "partitionSelector": RANGE, "clientRequestId": "x"}
        answer = http.request(method, f"{other}/backfills{suffix}", json=body)
        assert answer.status_code == 404, (method, suffix, answer.text)
    unknown = "01JUNKNOWNBACKFILL00000000"
    for method, suffix in routes[1:]:
        answer = http.request(method, f"{base}/backfills{suffix.replace(backfill_id, unknown)}")
        assert answer.status_code == 404, (method, suffix, answer.text)
        assert answer.json()["code"] == "NOT_FOUND"
    # The backfill itself is untouched by all that.
    assert http.get(f"{base}/backfills/{backfill_id}").json()["state"] == "RUNNING"
