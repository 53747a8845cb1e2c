"""Partition status over real processes: ledger -> compactor -> api (gRPC) -> gateway (REST)."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.error
import urllib.request
from typing import Any

import grpc
import pytest
from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb
from arco.orchestration.v1 import orchestration_service_pb2_grpc as orch_grpc
from typer.testing import CliRunner

from arco_core.envelope import EventEnvelope
from arco_sdk.cli import app
from tests.service.test_api_callbacks import Mesh, mesh  # noqa: F401 - the fixture
from tests.support.processes import start_service
from tests.support.tls import mesh_channel
from tests.unit.orchestration.orch_support import TENANT, WORKSPACE, Events

GRAPH = {"ns.raw": [], "ns.clean": ["ns.raw"]}


def run_ok(
    e: Events, run: str, assets: dict[str, list[str]], partition: str
) -> list[EventEnvelope]:
    events = [e.trigger(run), e.asset_plan(run, assets, partition)]
    for key in assets:
        events += [e.dispatch(run, key), e.started(run, key), e.finished(run, key)]
    return events


def _get(url: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, headers={"x-tenant-id": TENANT, "x-workspace-id": WORKSPACE}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_partitions_listed_filtered_paged_and_summarized(mesh: Mesh) -> None:  # noqa: F811
    e = mesh.ev
    history = [e.manifest(GRAPH)]
    for partition in ("p1", "p2", "p3"):
        history += run_ok(e, f"r-{partition}", GRAPH, partition)
    history += run_ok(e, "r-again", {"ns.raw": []}, "p2")  # ns.clean/p2 is now stale
    failing = "r-fail"
    history += [e.trigger(failing), e.asset_plan(failing, {"ns.raw": []}, "p4")]
    history += [e.dispatch(failing, "ns.raw"), e.started(failing, "ns.raw")]
    history += [e.failed(failing, "ns.raw", retryable=False)]
    await mesh.seed(history)

    async with mesh_channel(mesh.api.grpc_address) as channel:
        stub = orch_grpc.OrchestrationServiceStub(channel)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:  # the api follows the published head
            listed = await stub.ListPartitions(
                orch_pb.ListPartitionsRequest(workspace_id=WORKSPACE, limit=200)
            )
            if len(listed.partitions) == 7 or loop.time() > deadline:
                break
            await asyncio.sleep(0.05)
        keys = [(p.asset_key, p.partition_key) for p in listed.partitions]
        assert keys == sorted(keys) and len(keys) == 7
        stale = await stub.ListPartitions(
            orch_pb.ListPartitionsRequest(workspace_id=WORKSPACE, stale_only=True)
        )
        assert [(p.asset_key, p.partition_key) for p in stale.partitions] == [("ns.clean", "p2")]
        assert stale.partitions[0].stale_reason == "upstream_newer"
        pages: list[tuple[str, str]] = []
        cursor = ""
        while True:
            page = await stub.ListPartitions(
                orch_pb.ListPartitionsRequest(
                    workspace_id=WORKSPACE, asset_key="ns.raw", limit=3, cursor=cursor
                )
            )
            pages += [(p.asset_key, p.partition_key) for p in page.partitions]
            if not page.HasField("next_cursor"):
                break
            cursor = page.next_cursor
        assert pages == [("ns.raw", p) for p in ("p1", "p2", "p3", "p4")]
        summary = await stub.GetAssetPartitionSummary(
            orch_pb.GetAssetPartitionSummaryRequest(workspace_id=WORKSPACE, asset_key="ns.raw")
        )
        assert (summary.total_partitions, summary.materialized_partitions) == (4, 3)
        assert (summary.stale_partitions, summary.missing_partitions) == (0, 1)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.ListPartitions(
                orch_pb.ListPartitionsRequest(workspace_id=WORKSPACE, cursor="not-a-cursor")
            )
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    gateway = start_service(
        "gateway",
        mesh.tmp_path,
        {"ARCO_API_ADDRESS": mesh.api.grpc_address, "ARCO_GATEWAY_DEV_AUTH": "true"},
        name="gateway",
    )
    try:
        base = f"http://{gateway.wait_ready(15)['http_address']}/api/v1/workspaces/{WORKSPACE}"
        status, body = await asyncio.to_thread(_get, f"{base}/partitions?assetKey=ns.raw&limit=2")
        assert status == 200 and "nextCursor" in body
        first = body["partitions"][0]
        assert first["assetKey"] == "ns.raw" and first["partitionKey"] == "p1"
        assert first["isStale"] is False and first["lastMaterializationRunId"] == "r-p1"
        assert first["lastAttemptOutcome"] == "SUCCEEDED"
        status, body = await asyncio.to_thread(_get, f"{base}/partitions?staleOnly=true")
        assert status == 200
        assert [(p["assetKey"], p["isStale"]) for p in body["partitions"]] == [("ns.clean", True)]
        status, body = await asyncio.to_thread(_get, f"{base}/assets/ns.clean/partitions/summary")
        assert status == 200 and body == {
            "assetKey": "ns.clean",
            "totalPartitions": 3,
            "materializedPartitions": 3,
            "stalePartitions": 1,
            "missingPartitions": 0,
        }
        status, body = await asyncio.to_thread(_get, f"{base}/assets/ns.none/partitions/summary")
        assert status == 404
        status, _ = await asyncio.to_thread(_get, f"{base}/partitions?limit=201")
        assert status == 400

        # The CLI over the same gateway.
        cli = ["--api-url", f"http://{gateway.ready['http_address']}"]
        cli += ["--tenant", TENANT, "--workspace", WORKSPACE]
        env = {k: "" for k in os.environ if k.startswith("ARCO_")}
        result = await asyncio.to_thread(
            CliRunner().invoke, app, [*cli, "partitions", "ns.clean"], env=env
        )
        assert result.exit_code == 0, result.output
        assert "3 partitions, 3 materialized, 1 stale, 0 missing" in result.output
        assert all(f"p{i}" in result.output for i in (1, 2, 3)) and "r-p2" in result.output
        result = await asyncio.to_thread(
            CliRunner().invoke, app, [*cli, "partitions", "ns.clean", "--stale"], env=env
        )
        assert result.exit_code == 0 and "p2" in result.output and "p1" not in result.output
        result = await asyncio.to_thread(
            CliRunner().invoke, app, [*cli, "partitions", "ns.none"], env=env
        )
        assert result.exit_code == 1 and "no partitions found" in result.output
    finally:
        assert gateway.terminate() == 0, gateway.log()
