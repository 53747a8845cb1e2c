"""The api's OrchestrationService over real gRPC with real compactors."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest
from arco.orchestration.v1 import orchestration_service_pb2 as pb
from arco.orchestration.v1 import orchestration_service_pb2_grpc as pb_grpc
from arco.orchestration.v1 import types_pb2
from google.protobuf import json_format

from arco_runtime.rpc_errors import parse_rpc_error
from tests.support.mesh_parts import WORKSPACE, api_with_compactors
from tests.support.tls import mesh_channel


def manifest(code_version: str = "v1") -> pb.DeployManifestRequest:
    """raw.events -> clean.events -> {agg.daily, agg.users} -> report.summary"""

    def asset(ns: str, name: str, deps: list[tuple[str, str]], retries: int = 2) -> dict[str, Any]:
        return {
            "key": {"namespace": ns, "name": name},
            "id": f"00000000-0000-7000-8000-{abs(hash((ns, name))) % 10**12:012d}",
            "execution": {"maxRetries": retries, "heartbeatTimeoutSeconds": 60},
            "dependencies": [{"upstreamKey": {"namespace": a, "name": b}} for a, b in deps],
        }

    body = {
        "workspaceId": WORKSPACE,
        "manifestVersion": "1.0",
        "codeVersionId": code_version,
        "assets": [
            asset("raw", "events", []),
            asset("clean", "events", [("raw", "events")]),
            asset("agg", "daily", [("clean", "events")]),
            asset("agg", "users", [("clean", "events")]),
            asset("report", "summary", [("agg", "daily"), ("agg", "users")]),
        ],
        "git": {"branch": "main", "commitSha": "abc123"},
    }
    return json_format.ParseDict(body, pb.DeployManifestRequest())


async def _code(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    detail = parse_rpc_error(info.value)
    return info.value.code(), detail.reason if detail else ""


async def test_deploy_trigger_inspect_cancel_and_logs(tmp_path: Path) -> None:
    with api_with_compactors(tmp_path) as procs:
        async with mesh_channel(procs["api"].grpc_address) as channel:
            stub = pb_grpc.OrchestrationServiceStub(channel)
            # Nothing deployed yet: a clear 400-class error, nothing planned.
            code, reason = await _code(
                stub.TriggerRun(
                    pb.TriggerRunRequest(workspace_id=WORKSPACE, selection=["raw.events"])
                )
            )
            assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "no_manifest")

            deployed = await stub.DeployManifest(manifest())
            assert deployed.created and deployed.asset_count == 5
            assert deployed.fingerprint.startswith("sha256:")
            listed = await stub.ListManifests(pb.ListManifestsRequest(workspace_id=WORKSPACE))
            assert [m.manifest_id for m in listed.manifests] == [deployed.manifest_id]
            assert listed.manifests[0].git_branch == "main"
            got = await stub.GetManifest(
                pb.GetManifestRequest(workspace_id=WORKSPACE, manifest_id=deployed.manifest_id)
            )
            assert len(got.manifest.assets) == 5 and got.manifest.code_version_id == "v1"

            # Selection + downstream closure; never downstream implicitly.
            only_root = await stub.TriggerRun(
                pb.TriggerRunRequest(workspace_id=WORKSPACE, selection=["raw.events"])
            )
            run = await stub.GetRun(
                pb.GetRunRequest(workspace_id=WORKSPACE, run_id=only_root.run_id)
            )
            assert [t.task_key for t in run.tasks] == ["raw.events"]
            triggered = await stub.TriggerRun(
                pb.TriggerRunRequest(
                    workspace_id=WORKSPACE,
                    selection=["clean.events"],
                    include_upstream=True,
                    include_downstream=True,
                    labels={"team": "data"},
                )
            )
            assert triggered.created and triggered.state == types_pb2.RUN_STATUS_PENDING
            run = await stub.GetRun(
                pb.GetRunRequest(workspace_id=WORKSPACE, run_id=triggered.run_id)
            )
            tasks = {t.task_key: t for t in run.tasks}
            assert set(tasks) == {
                "raw.events",
                "clean.events",
                "agg.daily",
                "agg.users",
                "report.summary",
            }
            assert tasks["raw.events"].state == types_pb2.TASK_STATUS_QUEUED  # READY
            assert tasks["report.summary"].state == types_pb2.TASK_STATUS_PENDING  # BLOCKED
            assert tasks["report.summary"].depends_on == ["agg.daily", "agg.users"]
            assert tasks["raw.events"].max_attempts == 3
            assert run.task_counts.total == 5 and run.labels["team"] == "data"

            runs = await stub.ListRuns(pb.ListRunsRequest(workspace_id=WORKSPACE, limit=1))
            assert [r.run_id for r in runs.runs] == [triggered.run_id] and runs.next_cursor
            more = await stub.ListRuns(
                pb.ListRunsRequest(workspace_id=WORKSPACE, limit=1, cursor=runs.next_cursor)
            )
            assert [r.run_id for r in more.runs] == [only_root.run_id]

            cancelled = await stub.CancelRun(
                pb.CancelRunRequest(workspace_id=WORKSPACE, run_id=triggered.run_id, reason="stop")
            )
            assert cancelled.state == types_pb2.RUN_STATUS_CANCELLED  # nothing was running
            run = await stub.GetRun(
                pb.GetRunRequest(workspace_id=WORKSPACE, run_id=triggered.run_id)
            )
            assert run.state == types_pb2.RUN_STATUS_CANCELLED
            assert {t.state for t in run.tasks} == {types_pb2.TASK_STATUS_CANCELLED}
            code, reason = await _code(
                stub.CancelRun(pb.CancelRunRequest(workspace_id=WORKSPACE, run_id=triggered.run_id))
            )
            assert code == grpc.StatusCode.ABORTED and reason == "run_already_finished"

            # A rerun of the cancelled run plans every task again.
            rerun = await stub.RerunRun(
                pb.RerunRunRequest(
                    workspace_id=WORKSPACE, run_id=triggered.run_id, mode=pb.RERUN_MODE_FROM_FAILURE
                )
            )
            assert rerun.parent_run_id == triggered.run_id
            assert rerun.rerun_kind == types_pb2.RERUN_KIND_FROM_FAILURE

            code, _ = await _code(
                stub.GetRun(pb.GetRunRequest(workspace_id="other", run_id=triggered.run_id))
            )
            assert code == grpc.StatusCode.NOT_FOUND  # another workspace: nothing to see
            code, reason = await _code(
                stub.TriggerRun(pb.TriggerRunRequest(workspace_id=WORKSPACE, selection=["nope.x"]))
            )
            assert code == grpc.StatusCode.INVALID_ARGUMENT


async def test_run_key_and_idempotency_key_replays(tmp_path: Path) -> None:
    with api_with_compactors(tmp_path) as procs:
        async with mesh_channel(procs["api"].grpc_address) as channel:
            stub = pb_grpc.OrchestrationServiceStub(channel)
            key = (("idempotency-key", "deploy-1"),)
            first = await stub.DeployManifest(manifest(), metadata=key)
            again = await stub.DeployManifest(manifest(), metadata=key)
            assert first.created and not again.created
            assert again.manifest_id == first.manifest_id
            code, reason = await _code(stub.DeployManifest(manifest("v2"), metadata=key))
            assert (code, reason) == (grpc.StatusCode.ABORTED, "idempotency_key_conflict")

            request = pb.TriggerRunRequest(
                workspace_id=WORKSPACE, selection=["raw.events"], run_key="daily-2026-01-01"
            )
            runs = await asyncio.gather(*(stub.TriggerRun(request) for _ in range(5)))
            assert len({r.run_id for r in runs}) == 1  # concurrent triggers converge
            assert sum(r.created for r in runs) == 1
            different = pb.TriggerRunRequest(
                workspace_id=WORKSPACE, selection=["clean.events"], run_key="daily-2026-01-01"
            )
            code, reason = await _code(stub.TriggerRun(different))
            assert (code, reason) == (grpc.StatusCode.ABORTED, "run_key_conflict")
            listed = await stub.ListRuns(pb.ListRunsRequest(workspace_id=WORKSPACE))
            assert len(listed.runs) == 1


async def test_malformed_manifests_are_invalid_argument_not_internal(tmp_path: Path) -> None:
    # Found by schemathesis: an asset without a key crashed the fingerprint (500).
    with api_with_compactors(tmp_path) as procs:
        async with mesh_channel(procs["api"].grpc_address) as channel:
            stub = pb_grpc.OrchestrationServiceStub(channel)
            broken = [
                {"manifestVersion": "1.0", "codeVersionId": "v", "assets": [{"id": "x"}]},
                {
                    "manifestVersion": "1.0",
                    "codeVersionId": "v",
                    "assets": [{"key": {"namespace": "a\u0007", "name": "b"}, "id": "x"}],
                },
                {
                    "manifestVersion": "1.0",
                    "codeVersionId": "v",
                    "assets": [
                        {"key": {"namespace": "a", "name": "b"}, "id": "x"},
                        {
                            "key": {"namespace": "a", "name": "c"},
                            "id": "y",
                            "dependencies": [{"parameterName": "p"}],
                        },
                    ],
                },
            ]
            for body in broken:
                request = json_format.ParseDict(
                    {"workspaceId": WORKSPACE, **body}, pb.DeployManifestRequest()
                )
                code, _ = await _code(stub.DeployManifest(request))
                assert code == grpc.StatusCode.INVALID_ARGUMENT, body
            listed = await stub.ListManifests(pb.ListManifestsRequest(workspace_id=WORKSPACE))
            assert not listed.manifests


def _stored_under(root: Path, part: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and part in p.parts]


async def test_manifest_limits_refuse_before_anything_is_written(tmp_path: Path) -> None:
    # The defaults: 8 MiB of canonical JSON and 10,000 assets.
    with api_with_compactors(tmp_path) as procs:
        async with mesh_channel(procs["api"].grpc_address) as channel:
            stub = pb_grpc.OrchestrationServiceStub(channel)
            key = (("idempotency-key", "deploy-limits"),)
            huge = manifest()
            huge.metadata.string_value = "x" * (8 * 1024 * 1024)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.DeployManifest(huge, metadata=key)
            detail = parse_rpc_error(info.value)
            assert (info.value.code(), detail.reason) == (
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "payload_too_large",
            )
            actual = int(detail.metadata["actual"])
            assert actual > 8 * 1024 * 1024 and detail.metadata["limit"] == "8388608"
            assert f"{actual} bytes" in detail.message and "8388608 bytes" in detail.message
            assert detail.metadata["http_status"] == "413"

            body = json_format.MessageToDict(manifest())
            body["assets"] = [
                {"key": {"namespace": "wide", "name": f"a{i}"}, "id": f"id-{i}"}
                for i in range(10_001)
            ]
            wide = json_format.ParseDict(body, pb.DeployManifestRequest())
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.DeployManifest(wide, metadata=key)
            detail = parse_rpc_error(info.value)
            assert (info.value.code(), detail.reason) == (
                grpc.StatusCode.INVALID_ARGUMENT,
                "too_many_assets",
            )
            assert "10001 assets" in detail.message and "limit of 10000" in detail.message

            # Nothing appended, nothing reserved: the key is still free for a good deploy.
            data = tmp_path / "data"
            assert _stored_under(data, "ledger") == []
            assert _stored_under(data, "idempotency") == []
            listed = await stub.ListManifests(pb.ListManifestsRequest(workspace_id=WORKSPACE))
            assert not listed.manifests
            body["assets"] = body["assets"][:10_000]
            deployed = await stub.DeployManifest(
                json_format.ParseDict(body, pb.DeployManifestRequest()), metadata=key
            )
            assert deployed.created and deployed.asset_count == 10_000
            assert _stored_under(data, "ledger") and _stored_under(data, "idempotency")
