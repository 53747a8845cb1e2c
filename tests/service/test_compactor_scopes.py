"""Compactor processes serving many scopes: two shards split the registered scopes, each
refuses the other's, and an unregistered scope is NOT_FOUND (real processes, real TLS)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from arco.compactor.v1 import compactor_service_pb2 as pb
from arco.compactor.v1 import compactor_service_pb2_grpc as pb_grpc

from arco_core.clock import FakeClock
from arco_core.envelope import EventEnvelope
from arco_core.ledger import LedgerWriter
from arco_core.paths import Scope
from arco_core.registry import WorkspaceRegistry, shard_of
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_runtime.rpc_errors import parse_rpc_error
from arco_runtime.tls import Role as MeshRole
from services.common.compactor_client import CompactorShards
from tests.support.processes import ServiceProcess, start_service
from tests.support.tls import mesh_channel, tls_config
from tests.unit.orchestration.orch_support import Events


def _scope_of_shard(shard: int, name: str) -> Scope:
    """The first scope ``acme/<name>N`` that shard ``shard`` of 2 owns."""
    return next(
        scope
        for scope in (Scope("acme", f"{name}{i}") for i in range(100))
        if shard_of(scope, 2) == shard
    )


A, B = _scope_of_shard(0, "a"), _scope_of_shard(1, "b")


async def _append(tmp_path: Path, scope: Scope, run: str) -> list[str]:
    ev = Events()
    events: list[EventEnvelope] = [
        dataclasses.replace(e, tenant_id=scope.tenant_id, workspace_id=scope.workspace_id)
        for e in (ev.trigger(run), ev.plan(run, {"a": []}))
    ]
    storage = ScopedStorage(open_object_store((tmp_path / "data").as_uri(), {}), scope, Role.API)
    return await LedgerWriter(
        storage, "orchestration", FakeClock(events[-1].timestamp_ms)
    ).append_all(events)


@pytest.fixture
def shards(tmp_path: Path) -> Iterator[list[ServiceProcess]]:
    started = []
    try:
        for index in range(2):
            started.append(
                start_service(
                    "services.compactor",
                    tmp_path,
                    {"ARCO_COMPACTOR_DOMAIN": "orchestration", "ARCO_SHARD": f"{index}/2"},
                    name=f"compactor-{index}",
                )
            )
        for proc in started:
            proc.wait_ready(15)
        yield started
    finally:
        for proc in started:
            proc.terminate()


def _request(scope: Scope, paths: list[str]) -> pb.CompactEventsRequest:
    return pb.CompactEventsRequest(
        event_paths=paths, tenant_id=scope.tenant_id, workspace_id=scope.workspace_id
    )


async def test_two_shards_split_the_scopes_and_refuse_each_others(
    tmp_path: Path, shards: list[ServiceProcess]
) -> None:
    registry = WorkspaceRegistry(open_object_store((tmp_path / "data").as_uri(), {}), FakeClock())
    paths = {A: await _append(tmp_path, A, "ra"), B: await _append(tmp_path, B, "rb")}
    unregistered = _scope_of_shard(0, "ghost")
    async with (
        mesh_channel(shards[0].grpc_address, MeshRole.API) as zero,
        mesh_channel(shards[1].grpc_address, MeshRole.API) as one,
    ):
        stubs = {0: pb_grpc.CompactorServiceStub(zero), 1: pb_grpc.CompactorServiceStub(one)}
        # Not registered yet: NOT_FOUND, nothing opened.
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stubs[0].CompactEvents(_request(A, paths[A]))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        assert parse_rpc_error(info.value).reason == "workspace_not_found"
        for scope in (A, B):
            await registry.create(scope)  # no restart follows
        for scope, owner in ((A, 0), (B, 1)):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stubs[1 - owner].CompactEvents(_request(scope, paths[scope]))
            assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert parse_rpc_error(info.value).reason == "scope_not_in_shard"
            answer = await stubs[owner].CompactEvents(_request(scope, paths[scope]))
            assert answer.events_applied == 2
            head = await stubs[owner].GetHead(
                pb.GetHeadRequest(tenant_id=scope.tenant_id, workspace_id=scope.workspace_id)
            )
            assert head.manifest_seq == answer.manifest_seq
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stubs[0].GetHead(
                pb.GetHeadRequest(tenant_id="acme", workspace_id=unregistered.workspace_id)
            )
        assert info.value.code() == grpc.StatusCode.NOT_FOUND

    # A client of the shard list reaches each scope's owner: a repeat folds nothing new.
    clients = CompactorShards([p.grpc_address for p in shards], tls_config(MeshRole.API))
    try:
        for scope in (A, B):
            again = await clients.client(scope).compact(paths[scope])
            assert (again.events_applied, again.events_skipped) == (0, 2)
    finally:
        await clients.close()
