"""The run-key backfill through the real mesh (gateway process -> api process): the
reference's shapes and statuses, and a run key that survives a redeploy over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx

from arco_sdk.manifest import AssetGraph, build_manifest, discover
from services.mesh import Mesh


def test_run_key_backfill_over_http(tmp_path: Path) -> None:
    definitions, schedules = discover("examples.lakehouse_demo")
    manifest = build_manifest(AssetGraph(definitions), schedules=schedules, deployed_by="test")
    with Mesh(tmp_path / "mesh", extra_env={"ARCO_GATEWAY_DEV_AUTH": "true"}) as mesh:
        ws = f"http://{mesh.address('gateway')}/api/v1/workspaces/{mesh.workspace_id}"
        backfill = f"{ws}/runs/run-key/backfill"
        headers = {"X-Tenant-Id": mesh.tenant_id, "X-Workspace-Id": mesh.workspace_id}
        with httpx.Client(headers=headers, timeout=30) as http:
            assert http.post(f"{ws}/manifests", json=manifest).status_code == 201
            trigger = {"selection": ["raw.events"], "runKey": "daily-1", "labels": {"a": "1"}}
            first = http.post(f"{ws}/runs", json=trigger)
            assert first.status_code == 201, first.text
            redeploy = {**manifest, "codeVersionId": "cv_next"}
            assert http.post(f"{ws}/manifests", json=redeploy).status_code == 201
            again = http.post(f"{ws}/runs", json=trigger)
            assert again.status_code == 200, again.text
            assert again.json()["runId"] == first.json()["runId"]

            same = http.post(backfill, json={"runKey": "daily-1", "selection": ["raw.events"]})
            assert same.status_code == 409, same.text  # the labels are part of the request
            assert same.json()["details"]["reason"] == "run_key_conflict"
            body = {**trigger, "selection": ["raw.events", "raw/events"]}
            answer = http.post(backfill, json=body)
            assert answer.status_code == 200, answer.text
            reply = answer.json()
            assert set(reply) == {"runKey", "runId", "requestFingerprint", "updated", "createdAt"}
            assert reply["runKey"] == "daily-1" and reply["runId"] == first.json()["runId"]
            assert reply["updated"] is False
            assert reply["createdAt"] == first.json()["createdAt"]

            refusals = {
                404: {"runKey": "never-used", "selection": ["raw.events"]},
                400: {"runKey": "daily-1", "selection": []},
            }
            for status, refused in refusals.items():
                response = http.post(backfill, json=refused)
                assert response.status_code == status, response.text
                assert {"code", "message"} <= set(response.json())
            unknown = http.post(backfill, json=refusals[404]).json()
            assert unknown["details"]["reason"] == "run_key_not_found"
            both = {
                "runKey": "daily-1",
                "selection": ["raw.events"],
                "partitionKey": "date=s:x",
                "partitions": [{"key": "date", "value": "x"}],
            }
            assert http.post(backfill, json=both).status_code == 400
            assert http.post(backfill, json={"selection": ["raw.events"]}).status_code == 400
