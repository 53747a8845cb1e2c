"""One call through the real mesh: gateway process -> real api process."""

from __future__ import annotations

import json
from pathlib import Path

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
