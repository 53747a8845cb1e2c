"""One call through the real mesh: gateway process -> real api process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from services.mesh import Mesh


def test_a_route_reaches_the_real_api(tmp_path: Path) -> None:
    mesh = Mesh(tmp_path / "mesh", extra_env={"ARCO_GATEWAY_DEV_AUTH": "true"})
    mesh.start()
    try:
        gateway = mesh.address("gateway")
        response = httpx.get(
            f"http://{gateway}/api/v1/namespaces",
            headers={
                "X-Tenant-Id": mesh.tenant_id,
                "X-Workspace-Id": mesh.workspace_id,
                "X-Request-Id": "mesh-req-1",
            },
            timeout=10,
        )
        assert response.headers["x-request-id"] == "mesh-req-1"
        body = response.json()
        if response.status_code == 501:
            # Today: the api answers UNIMPLEMENTED; the gateway maps it, it never fakes success.
            assert body["code"] == "NOT_IMPLEMENTED"
            assert "ListNamespaces" in body["message"]
            assert body["requestId"] == "mesh-req-1"
            assert body["details"]["reason"] == "rpc_not_implemented"
        else:  # once the catalog lands: the public list shape
            assert response.status_code == 200, body
            assert isinstance(body["namespaces"], list)
        # The api saw the same request id: the call really crossed the process boundary.
        api_log = (mesh.run_dir / "api.log").read_text()
        lines = [json.loads(line) for line in api_log.splitlines() if line.startswith("{")]
        assert any(
            line.get("request_id") == "mesh-req-1" and "ListNamespaces" in line.get("rpc", "")
            for line in lines
        ), api_log[-2000:]
    finally:
        codes = mesh.stop()
    assert set(codes.values()) == {0}


def _manifest(assets: int, metadata: str = "") -> dict[str, Any]:
    return {
        "manifestVersion": "1.0",
        "codeVersionId": "v1",
        "assets": [
            {"key": {"namespace": "wide", "name": f"a{i}"}, "id": f"id-{i}"} for i in range(assets)
        ],
        "metadata": metadata,
    }


def test_manifest_limits_over_http(tmp_path: Path) -> None:
    """The api's limits reach the client through the real gateway; a body over the
    gateway's own limit is its 413. The defaults: 8 MiB manifests, 10 MiB bodies."""
    with Mesh(tmp_path / "mesh", extra_env={"ARCO_GATEWAY_DEV_AUTH": "true"}) as mesh:
        url = f"http://{mesh.address('gateway')}/api/v1/workspaces/{mesh.workspace_id}/manifests"
        headers = {
            "X-Tenant-Id": mesh.tenant_id,
            "X-Workspace-Id": mesh.workspace_id,
            "X-User-Id": "ana",
            "Idempotency-Key": "deploy-1",
        }
        with httpx.Client(headers=headers, timeout=60) as http:
            over_manifest = http.post(url, json=_manifest(1, "x" * (9 * 1024 * 1024)))
            body = over_manifest.json()
            assert over_manifest.status_code == 413, body
            assert body["code"] == "PAYLOAD_TOO_LARGE"
            assert body["details"]["reason"] == "payload_too_large"
            assert "limit of 8388608 bytes" in body["message"]
            assert f"{body['details']['metadata']['actual']} bytes" in body["message"]

            over_body = http.post(url, json=_manifest(1, "x" * (11 * 1024 * 1024)))
            assert over_body.status_code == 413
            assert over_body.json()["code"] == "PAYLOAD_TOO_LARGE"
            assert "request body exceeds 10485760 bytes" in over_body.json()["message"]

            too_wide = http.post(url, json=_manifest(10_001))
            body = too_wide.json()
            assert too_wide.status_code == 400, body
            assert body["details"]["reason"] == "too_many_assets"
            assert "10001 assets" in body["message"] and "limit of 10000" in body["message"]

            # Nothing was deployed or reserved: the same key deploys a manifest within limits.
            assert http.get(url).json().get("manifests", []) == []
            deployed = http.post(url, json=_manifest(10_000))
            assert deployed.status_code == 201, deployed.json()
            assert deployed.json()["assetCount"] == 10_000


def test_catalog_inventory_over_http(tmp_path: Path) -> None:
    """The inventory describes the published catalog snapshot: it moves with each write."""
    with Mesh(tmp_path / "mesh", extra_env={"ARCO_GATEWAY_DEV_AUTH": "true"}) as mesh:
        base = f"http://{mesh.address('gateway')}/api/v1"
        headers = {"X-Tenant-Id": mesh.tenant_id, "X-Workspace-Id": mesh.workspace_id}
        with httpx.Client(headers=headers, timeout=30) as http:
            empty = http.get(f"{base}/catalog/inventory")
            assert empty.status_code == 404, empty.text
            assert empty.json()["details"]["reason"] == "catalog_not_published"

            assert http.post(f"{base}/catalogs", json={"name": "lake"}).status_code == 201
            first = http.get(f"{base}/catalog/inventory").json()
            http.post(f"{base}/catalogs/lake/schemas", json={"name": "raw"})
            columns = [{"name": "id", "data_type": "int64"}, {"name": "v", "data_type": "string"}]
            table = http.post(
                f"{base}/catalogs/lake/schemas/raw/tables",
                json={"name": "events", "columns": columns},
            )
            assert table.status_code == 201, table.text
            inventory = http.get(f"{base}/catalog/inventory")
        assert inventory.status_code == 200, inventory.text
        body = inventory.json()
        assert body["manifest_type"] == "catalog_inventory_snapshot" and body["version"] == 1
        assert body["catalog_snapshot_version"] > first["catalog_snapshot_version"]
        assert body["catalog_manifest_id"] == f"{body['catalog_snapshot_version']:020d}"
        assert body["published_at"].endswith("Z") and body["published_at"] >= first["published_at"]
        assert body["counts"] == {"catalogs": 1, "schemas": 1, "tables": 1, "columns": 2}
        assert first["counts"] == {"catalogs": 1, "schemas": 0, "tables": 0, "columns": 0}
        assert body["object_families"] == [
            {
                "name": name,
                "available": True,
                "row_count": count,
                "query_handle": f"system.catalog.{name}",
            }
            for name, count in (("catalogs", 1), ("namespaces", 1), ("tables", 1), ("columns", 2))
        ]
        assert not any("/" in str(value) for value in body.values())  # no paths exposed
