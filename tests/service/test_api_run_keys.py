"""Run keys over real gRPC with real compactors: what a key stands for survives a redeploy,
and the operator's BackfillRunKey stores a fingerprint on reservations without one."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import grpc
import pytest
from arco.orchestration.v1 import orchestration_service_pb2 as pb
from arco.orchestration.v1 import orchestration_service_pb2_grpc as pb_grpc

from arco_core.canonical_json import canonical_bytes
from arco_core.ids import new_ulid
from arco_core.paths import Scope, run_key_reservation_path
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_runtime.rpc_errors import parse_rpc_error
from tests.service.test_api_orchestration import manifest
from tests.support.mesh_parts import TENANT, WORKSPACE, api_with_compactors
from tests.support.tls import mesh_channel

Code = grpc.StatusCode


async def _code(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    detail = parse_rpc_error(info.value)
    return info.value.code(), detail.reason if detail else ""


def _backfill(run_key: str, selection: list[str], **fields: Any) -> pb.BackfillRunKeyRequest:
    return pb.BackfillRunKeyRequest(
        workspace_id=WORKSPACE, run_key=run_key, selection=selection, **fields
    )


async def _write_legacy_reservation(
    root: Path, run_key: str, selection: list[str], manifest_id: str | None
) -> str:
    """A reservation as the api wrote it before request fingerprints: its fingerprint
    hashed the request with the id of the manifest then deployed (None: no fingerprint)."""
    record: dict[str, Any] = {
        "run_id": new_ulid(),
        "trigger_id": new_ulid(),
        "plan_id": new_ulid(),
        "at": "2025-06-01T00:00:00.000Z",
        "run_key": run_key,
    }
    if manifest_id is not None:
        body = {
            "selection": sorted(selection),
            "includeUpstream": False,
            "includeDownstream": False,
            "labels": {},
            "partitionKey": None,
            "manifestId": manifest_id,
        }
        record["fingerprint"] = hashlib.sha256(canonical_bytes(body)).hexdigest()
    store = open_object_store((root / "data").as_uri(), {})
    storage = ScopedStorage(store, Scope(TENANT, WORKSPACE), Role.API)
    await storage.create(run_key_reservation_path(run_key), canonical_bytes(record))
    return str(record["run_id"])


async def test_the_same_trigger_after_a_redeploy_is_a_replay_not_a_conflict(
    tmp_path: Path,
) -> None:
    with api_with_compactors(tmp_path) as procs:
        async with mesh_channel(procs["api"].grpc_address) as channel:
            stub = pb_grpc.OrchestrationServiceStub(channel)
            await stub.DeployManifest(manifest("v1"))
            request = pb.TriggerRunRequest(
                workspace_id=WORKSPACE,
                selection=["clean.events", "raw.events"],
                run_key="nightly-1",
                labels={"team": "data", "env": "prod"},
            )
            first = await stub.TriggerRun(request)
            redeployed = await stub.DeployManifest(manifest("v2"))
            assert redeployed.created

            # Before the fix the fingerprint held the manifest id: this was ABORTED.
            again = await stub.TriggerRun(request)
            assert (again.run_id, again.created) == (first.run_id, False)
            # Order and repeats of the selection, and label order, are the same request.
            reordered = pb.TriggerRunRequest(
                workspace_id=WORKSPACE,
                selection=["raw/events", "clean.events", "raw.events"],
                run_key="nightly-1",
                labels={"env": "prod", "team": "data"},
            )
            assert (await stub.TriggerRun(reordered)).run_id == first.run_id
            different = pb.TriggerRunRequest(
                workspace_id=WORKSPACE, selection=["raw.events"], run_key="nightly-1"
            )
            assert await _code(stub.TriggerRun(different)) == (Code.ABORTED, "run_key_conflict")


async def test_backfill_run_key(tmp_path: Path) -> None:
    with api_with_compactors(tmp_path) as procs:
        async with mesh_channel(procs["api"].grpc_address) as channel:
            stub = pb_grpc.OrchestrationServiceStub(channel)
            v1 = await stub.DeployManifest(manifest("v1"))

            assert await _code(stub.BackfillRunKey(_backfill("nobody", ["raw.events"]))) == (
                Code.NOT_FOUND,
                "run_key_not_found",
            )
            invalid = [
                _backfill("rk", []),
                _backfill("", ["raw.events"]),
                _backfill(
                    "rk",
                    ["raw.events"],
                    partition_key="date=s:a",
                    partitions=[pb.PartitionValue(key="date", value="a")],
                ),
                _backfill("rk", ["raw.events"], partition_key="date=a"),  # not canonical
            ]
            for request in invalid:
                code, _ = await _code(stub.BackfillRunKey(request))
                assert code == Code.INVALID_ARGUMENT, request

            # A reservation with its request fingerprint: nothing to do.
            triggered = await stub.TriggerRun(
                pb.TriggerRunRequest(workspace_id=WORKSPACE, selection=["raw.events"], run_key="rk")
            )
            current = await stub.BackfillRunKey(_backfill("rk", ["raw.events"]))
            assert (current.run_key, current.run_id, current.updated) == (
                "rk",
                triggered.run_id,
                False,
            )
            assert len(current.request_fingerprint) == 64
            assert current.created_at == triggered.created_at
            assert await _code(stub.BackfillRunKey(_backfill("rk", ["clean.events"]))) == (
                Code.ABORTED,
                "run_key_conflict",
            )

            # A legacy reservation (manifest v1 in its fingerprint) after a redeploy: the
            # trigger with the same request replays it; backfill checks and upgrades it.
            legacy_run = await _write_legacy_reservation(
                tmp_path, "legacy", ["raw.events"], v1.manifest_id
            )
            await stub.DeployManifest(manifest("v2"))
            replayed = await stub.TriggerRun(
                pb.TriggerRunRequest(
                    workspace_id=WORKSPACE, selection=["raw.events"], run_key="legacy"
                )
            )
            assert replayed.run_id == legacy_run
            assert await _code(stub.BackfillRunKey(_backfill("legacy", ["clean.events"]))) == (
                Code.ABORTED,
                "run_key_conflict",
            )
            upgraded = await stub.BackfillRunKey(_backfill("legacy", ["raw.events"]))
            assert (upgraded.run_id, upgraded.updated) == (legacy_run, True)
            again = await stub.BackfillRunKey(_backfill("legacy", ["raw.events"]))
            assert (again.updated, again.request_fingerprint) == (
                False,
                upgraded.request_fingerprint,
            )
            assert again.created_at.ToJsonString() == "2025-06-01T00:00:00Z"
            # From now on the key is checked against the stored request fingerprint.
            assert await _code(
                stub.TriggerRun(
                    pb.TriggerRunRequest(
                        workspace_id=WORKSPACE,
                        selection=["raw/events", "clean.events"],
                        run_key="legacy",
                    )
                )
            ) == (Code.ABORTED, "run_key_conflict")

            # No fingerprint at all: two operators racing with different requests, one wins.
            await _write_legacy_reservation(tmp_path, "bare", ["raw.events"], None)
            answers = await asyncio.gather(
                stub.BackfillRunKey(_backfill("bare", ["raw.events"])),
                stub.BackfillRunKey(_backfill("bare", ["clean.events"])),
                return_exceptions=True,
            )
            won = [a for a in answers if isinstance(a, pb.BackfillRunKeyResponse)]
            lost = [a for a in answers if isinstance(a, grpc.aio.AioRpcError)]
            assert len(won) == 1 and won[0].updated
            assert len(lost) == 1 and lost[0].code() == Code.ABORTED
