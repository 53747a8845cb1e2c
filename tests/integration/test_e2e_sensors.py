"""A poll sensor defined in Python runs on a real worker: the automation service asks for
its evaluation when due, the dispatcher sends it, the worker runs the function and
answers through the gateway, the cursor advances and the requested runs run. Over both
worker transports (gRPC Dispatch and the JSON contract over HTTP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from arco_sdk.manifest import AssetGraph, build_manifest, discover
from arco_sdk.sensors import discover_sensors
from tests.integration.e2e_assets.harness import client_for, make_mesh, wait_for

MODULE = "tests.integration.e2e_assets.sensed"


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_a_poll_sensor_runs_on_a_worker_advances_its_cursor_and_requests_runs(
    tmp_path: Path, transport: str
) -> None:
    mesh = make_mesh(tmp_path / "mesh", modules=[MODULE], workers=1, worker_transport=transport)
    mesh.start()
    try:
        definitions, _ = discover(MODULE)
        manifest = build_manifest(
            AssetGraph(definitions), sensors=discover_sensors(MODULE), code_version_id="v1"
        )
        assert manifest["sensors"][0]["id"] == "file-counter"
        with client_for(mesh) as client:
            client.deploy_manifest(manifest)
        base = f"http://{mesh.address('gateway')}/api/v1/workspaces/{mesh.workspace_id}"
        headers = {"X-Tenant-Id": mesh.tenant_id, "X-Workspace-Id": mesh.workspace_id}
        with httpx.Client(headers=headers, timeout=10) as http:

            def settled() -> dict[str, Any] | None:
                sensor = http.get(f"{base}/sensors/file-counter")
                if sensor.status_code != 200:
                    return None
                body: dict[str, Any] = sensor.json()
                # Three answers with runs, then at least one with no new data.
                return body if body.get("cursor") == "3" and body["stateVersion"] >= 4 else None

            sensor = wait_for("the sensor's cursor reaches 3", settled, timeout=90)
            assert sensor["status"] == "ACTIVE"
            evals = http.get(f"{base}/sensors/file-counter/evals", params={"limit": 200}).json()
            applied = [
                e
                for e in reversed(evals["evals"])
                if e["status"]["status"] != "skipped_stale_cursor"
            ]
            assert [e["cursorAfter"] for e in applied[:4]] == ["1", "2", "3", "3"]
            assert [e["status"]["status"] for e in applied[:4]] == ["triggered"] * 3 + [
                "no_new_data"
            ]
            assert [e["runRequestsCount"] for e in applied[:4]] == [1, 1, 1, 0]

            def runs_done() -> list[dict[str, Any]] | None:
                runs = http.get(f"{base}/runs", params={"limit": 50}).json()["runs"]
                done = [r for r in runs if r["state"] == "SUCCEEDED"]
                return runs if len(runs) == 3 and len(done) == 3 else None

            runs = wait_for("the three requested runs succeed", runs_done, timeout=90)
            details = [http.get(f"{base}/runs/{r['runId']}").json() for r in runs]
            assert sorted(d["labels"]["arco.sensor_id"] for d in details) == ["file-counter"] * 3
            assert {task["taskKey"] for d in details for task in d["tasks"]} == {"sensed.files"}
    finally:
        codes = mesh.stop()
    assert all(code == 0 for code in codes.values()), codes
