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
from arco_core.projections import OrchestrationAdapter
from arco_core.published import ProjectionReader
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
            admin = pb_grpc.CompactorServiceStub(operator)
            assert (await admin.VerifyProjection(pb.VerifyProjectionRequest())).matches
            rebuilt = await admin.Rebuild(pb.RebuildRequest())
            assert rebuilt.whole
            assert rebuilt.manifest_seq == answer.manifest_seq + 1
            assert rebuilt.events_applied == len(first) + len(second)
            assert {t.table: t.rows for t in rebuilt.tables}["runs"] == 2
            verified = await admin.VerifyProjection(pb.VerifyProjectionRequest())
            assert verified.matches and verified.manifest_seq == rebuilt.manifest_seq
            assert verified.events_replayed == len(first) + len(second)
    finally:
        assert proc.terminate() == 0


def _published_files(tmp_path: Path) -> dict[str, bytes]:
    """Published state: not the ledger, nor fold records (written in the background after
    a commit or rebuild answered, so one may land between two looks)."""
    root = tmp_path / "data" / "tenant=acme" / "workspace=prod"
    return {
        name: path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and not (name := str(path.relative_to(root))).startswith(
            ("ledger", "state/orchestration/folded/")
        )
    }


async def test_partial_rebuild_needs_the_flag_and_verify_reports_the_difference(
    tmp_path: Path,
) -> None:
    ev = Events()
    first = await _append(tmp_path, _history(ev, "r1"))
    second = await _append(tmp_path, _history(ev, "r2"))
    proc = _start(tmp_path)
    try:
        async with (
            mesh_channel(proc.grpc_address, MeshRole.API) as channel,
            mesh_channel(proc.grpc_address, MeshRole.OPERATOR) as operator,
        ):
            api = pb_grpc.CompactorServiceStub(channel)
            await api.CompactEvents(pb.CompactEventsRequest(event_paths=[*first, *second]))
            admin = pb_grpc.CompactorServiceStub(operator)
            head = await api.GetHead(pb.GetHeadRequest())
            before = _published_files(tmp_path)
            for request, reason in (
                (pb.RebuildRequest(event_paths=first), "partial_rebuild_not_requested"),
                (pb.RebuildRequest(partial=True), "partial_rebuild_without_paths"),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await admin.Rebuild(request)
                assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert parse_rpc_error(info.value).reason == reason
            assert "partial" in (info.value.details() or "")
            assert _published_files(tmp_path) == before  # byte-identical: nothing written
            assert await api.GetHead(pb.GetHeadRequest()) == head

            # A partial rebuild from the first run only: the published state loses r2.
            partial = await admin.Rebuild(pb.RebuildRequest(event_paths=first, partial=True))
            assert not partial.whole and partial.events_applied == len(first)
            assert {t.table: t.rows for t in partial.tables}["runs"] == 1
            published = _published_files(tmp_path)
            verified = await admin.VerifyProjection(pb.VerifyProjectionRequest())
            assert not verified.matches
            runs = {t.table: t for t in verified.tables}["runs"]
            assert (runs.published_rows, runs.replayed_rows) == (1, 2)
            assert runs.only_replayed == 1 and not runs.matches
            assert any("r2" in key for key in runs.sample_keys)
            assert verified.ledger_last_event_id > verified.published_last_event_id
            assert _published_files(tmp_path) == published  # verify wrote nothing

            # The whole rebuild repairs it.
            await admin.Rebuild(pb.RebuildRequest())
            assert (await admin.VerifyProjection(pb.VerifyProjectionRequest())).matches
    finally:
        assert proc.terminate() == 0


async def test_rebuild_and_verify_are_operator_only(tmp_path: Path) -> None:
    proc = _start(tmp_path)
    try:
        async with mesh_channel(proc.grpc_address, MeshRole.API) as channel:
            stub = pb_grpc.CompactorServiceStub(channel)
            for call in (
                stub.Rebuild(pb.RebuildRequest()),
                stub.VerifyProjection(pb.VerifyProjectionRequest()),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await call
                assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        assert proc.terminate() == 0


async def test_a_restart_into_a_flaky_store_still_opens_the_published_head(tmp_path: Path) -> None:
    """Found by the chaos soak: a failed read while loading the head stopped the start."""
    ev = Events()
    first = await _append(tmp_path, _history(ev, "r1"))
    proc = _start(tmp_path)
    async with mesh_channel(proc.grpc_address, MeshRole.API) as channel:
        stub = pb_grpc.CompactorServiceStub(channel)
        applied = await stub.CompactEvents(pb.CompactEventsRequest(event_paths=first))
    proc.kill()
    # A third of reads fail now; the fault sequence is fixed by the seed.
    proc = start_service(
        "services.compactor",
        tmp_path,
        {**ENV, "ARCO_COMPACTOR_DOMAIN": "orchestration", "ARCO_STORAGE_FAULTS": "get=0.3,seed=4"},
        name="c-flaky",
    )
    try:
        proc.wait_ready(60)
        async with mesh_channel(proc.grpc_address, MeshRole.API) as channel:
            # The scope's engine opens on its first request, retrying the failed reads.
            head = await pb_grpc.CompactorServiceStub(channel).GetHead(pb.GetHeadRequest())
        assert head.manifest_seq == applied.manifest_seq
        assert "compactor_open_retry" in proc.log()
    finally:
        assert proc.terminate() == 0


async def test_the_compactor_applies_retention_by_itself_and_readers_follow(
    tmp_path: Path,
) -> None:
    """Events from January are far older than a 30-day run retention: a pass removes the
    finished run, the superseded manifests and their state, and a reader loads the head."""
    ev = Events()
    old = await _append(tmp_path, _history(ev, "r-old"))
    running = await _append(tmp_path, [ev.trigger("r-running")])
    store = open_object_store((tmp_path / "data").as_uri(), {})
    reader = ScopedStorage(store, Scope(TENANT, WORKSPACE), Role.READER)
    settings = {
        "ARCO_RETAIN_TERMINAL_RUNS_SEC": str(30 * 86_400),
        "ARCO_RETAIN_MANIFESTS_SEC": "0",
        "ARCO_RETENTION_GRACE_SEC": "1",
        "ARCO_RETENTION_INTERVAL_SEC": "1",
    }
    proc = start_service(
        "services.compactor",
        tmp_path,
        {**ENV, "ARCO_COMPACTOR_DOMAIN": "orchestration", **settings},
        name="c-retention",
    )
    try:
        proc.wait_ready(10)
        async with mesh_channel(proc.grpc_address, MeshRole.API) as channel:
            stub = pb_grpc.CompactorServiceStub(channel)
            for paths in (old, running):
                await stub.CompactEvents(pb.CompactEventsRequest(event_paths=paths))
            head = await stub.GetHead(pb.GetHeadRequest())

            def manifest_names() -> list[str]:
                found = (tmp_path / "data").rglob("manifests/orchestration/*.json")
                return sorted(p.name for p in found if not p.name.startswith("_"))

            # A pass runs every second once idle; wait for one after the last commit.
            for _ in range(200):
                if manifest_names() == [f"{head.manifest_seq:020d}.json"]:
                    break
                await asyncio.sleep(0.05)
            head = await stub.GetHead(pb.GetHeadRequest())
        assert manifest_names() == [f"{head.manifest_seq:020d}.json"]
        scope = Scope(TENANT, WORKSPACE)
        state = (await ProjectionReader(reader, OrchestrationAdapter(), scope).refresh()).state
        assert state.get_run("r-old") is None
        assert state.get_run("r-running") is not None  # not finished: kept whatever its age
    finally:
        assert proc.terminate() == 0, proc.log()
