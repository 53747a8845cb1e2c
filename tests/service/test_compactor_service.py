"""The compactor service for real: group commit, head stream, sync-compact, rebuild, restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from arco.compactor.v1 import compactor_service_pb2 as pb
from arco.compactor.v1 import compactor_service_pb2_grpc as pb_grpc

from arco_core.clock import FakeClock
from arco_core.ledger import LedgerWriter
from arco_core.paths import Scope
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_runtime.rpc_errors import parse_rpc_error
from arco_runtime.tls import Role as MeshRole
from tests.support.processes import ServiceProcess, start_service
from tests.support.tls import mesh_channel
from tests.unit.orchestration.orch_support import TENANT, WORKSPACE, Events

ENV = {"ARCO_TENANT_ID": TENANT, "ARCO_WORKSPACE_ID": WORKSPACE}


def _history(ev: Events, run: str) -> list:
    out = [ev.trigger(run), ev.plan(run, {"a": [], "b": ["a"]})]
    for key in ("a", "b"):
        out += [ev.dispatch(run, key), ev.started(run, key), ev.finished(run, key)]
    return out


async def _append(tmp_path: Path, events: list) -> list[str]:
    store = open_object_store((tmp_path / "data").as_uri(), {})
    storage = ScopedStorage(store, Scope(TENANT, WORKSPACE), Role.API)
    return await LedgerWriter(
        storage, "orchestration", FakeClock(events[-1].timestamp_ms)
    ).append_all(events)


def _start(tmp_path: Path, domain: str = "orchestration") -> ServiceProcess:
    proc = start_service(
        "services.compactor", tmp_path, {**ENV, "ARCO_COMPACTOR_DOMAIN": domain}, name=f"c-{domain}"
    )
    proc.wait_ready(10)
    return proc


async def test_concurrent_requests_are_group_committed_and_streamed(tmp_path: Path) -> None:
    ev = Events()
    histories = [_history(ev, f"r{i}") for i in range(20)]
    paths = [await _append(tmp_path, h) for h in histories]
    proc = _start(tmp_path)
    try:
        async with mesh_channel(proc.grpc_address, MeshRole.API) as channel:
            stub = pb_grpc.CompactorServiceStub(channel)
            seen: list[int] = []

            async def watch() -> None:
                async for head in stub.WatchHead(pb.WatchHeadRequest()):
                    seen.append(head.manifest_seq)

            watcher = asyncio.create_task(watch())
            answers = await asyncio.gather(
                *(stub.CompactEvents(pb.CompactEventsRequest(event_paths=p)) for p in paths)
            )
            assert sum(a.events_applied for a in answers) == sum(map(len, histories))
            head = await stub.GetHead(pb.GetHeadRequest())
            # Fewer publishes than requests: concurrent requests shared commits.
            assert head.manifest_seq + 1 < len(paths)
            assert max(a.group_size for a in answers) > 1
            for _ in range(100):
                if seen and seen[-1] == head.manifest_seq:
                    break
                await asyncio.sleep(0.05)
            watcher.cancel()
            assert seen == sorted(set(seen)) and seen[-1] == head.manifest_seq
    finally:
        assert proc.terminate() == 0, proc.log()


async def test_bad_requests_get_invalid_argument_and_change_nothing(tmp_path: Path) -> None:
    ev = Events()
    paths = await _append(tmp_path, _history(ev, "r1"))
    proc = _start(tmp_path)
    try:
        async with mesh_channel(proc.grpc_address, MeshRole.API) as channel:
            stub = pb_grpc.CompactorServiceStub(channel)
            for request in (
                pb.CompactEventsRequest(),
                pb.CompactEventsRequest(event_paths=["ledger/orchestration/../x.json"]),
                pb.CompactEventsRequest(event_paths=["ledger/catalog/2026-01-01/x.json"]),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await stub.CompactEvents(request)
                assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.SyncCompact(
                    pb.SyncCompactRequest(event_paths=paths, fencing_token=1, lock_name="catalog")
                )
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert parse_rpc_error(info.value).reason == "unsupported_domain"
            assert (await stub.GetHead(pb.GetHeadRequest())).manifest_seq == 0
            assert not (tmp_path / "data" / "tenant=acme" / "workspace=prod" / "manifests").exists()
    finally:
        assert proc.terminate() == 0


async def test_state_survives_kill_and_restart_and_rebuild_matches(tmp_path: Path) -> None:
    ev = Events()
    first = await _append(tmp_path, _history(ev, "r1"))
    second = await _append(tmp_path, _history(ev, "r2"))
    proc = _start(tmp_path)
    async with mesh_channel(proc.grpc_address, MeshRole.API) as channel:
        stub = pb_grpc.CompactorServiceStub(channel)
        await stub.CompactEvents(pb.CompactEventsRequest(event_paths=first))
    proc.kill()  # kill -9: no clean shutdown
    proc = _start(tmp_path)
    try:
        async with mesh_channel(proc.grpc_address, MeshRole.API) as channel:
            stub = pb_grpc.CompactorServiceStub(channel)
            before = await stub.GetHead(pb.GetHeadRequest())
            assert before.manifest_seq == 0
            answer = await stub.CompactEvents(
                pb.CompactEventsRequest(event_paths=[*first, *second])
            )
            assert answer.events_applied == len(second)  # the first run was not applied twice
        async with mesh_channel(proc.grpc_address, MeshRole.OPERATOR) as operator:
            rebuilt = await pb_grpc.CompactorServiceStub(operator).Rebuild(
                pb.RebuildRequest(event_paths=[*second, *first])
            )
            assert rebuilt.manifest_seq == answer.manifest_seq + 1
            assert rebuilt.events_applied == len(first) + len(second)
    finally:
        assert proc.terminate() == 0
