"""Test-side helpers for the end-to-end mesh tests (never imported by workers)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from arco_core.envelope import EventEnvelope
from arco_core.errors import StorageError, Unavailable
from arco_core.ledger import LedgerReader
from arco_core.orchestration.fold import FoldState
from arco_core.paths import Scope
from arco_core.projections import OrchestrationAdapter
from arco_core.published import ProjectionReader
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_runtime.tls import Role as TlsRole
from arco_sdk.client import ArcoClient
from arco_sdk.manifest import AssetGraph, build_manifest, discover
from services.common.compactor_client import CompactorClient
from services.mesh import Mesh, tail
from tests.integration.e2e_assets.markers import MARKER_DIR_ENV

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
DAG_MODULE = "tests.integration.e2e_assets.dag"
CHAOS_MODULE = "tests.integration.e2e_assets.chaos"


def make_mesh(
    home: Path,
    *,
    modules: Sequence[str],
    workers: int = 2,
    extra_env: Mapping[str, str] | None = None,
    worker_env: Mapping[str, str] | None = None,
    worker_transport: str = "grpc",
    callbacks: str = "gateway",
) -> Mesh:
    """A mesh with fast anti-entropy (short sweeps, 1 s running grace) and marker files."""
    return Mesh(
        home,
        workers=workers,
        worker_modules=list(modules),
        worker_env={MARKER_DIR_ENV: str(home / "markers"), **(worker_env or {})},
        extra_env={
            "ARCO_SWEEP_INTERVAL_SEC": "0.5",
            "ARCO_SWEEP_RUNNING_GRACE_SEC": "1",
            "ARCO_DISPATCH_SAFETY_TICK_SEC": "1",
            "ARCO_LOG_LEVEL": "INFO",
            **(extra_env or {}),
        },
        worker_transport=worker_transport,
        callbacks=callbacks,
    )


def client_for(mesh: Mesh) -> ArcoClient:
    return ArcoClient(
        f"http://{mesh.address('gateway')}",
        tenant_id=mesh.tenant_id,
        workspace_id=mesh.workspace_id,
    )


def deploy(client: ArcoClient, module: str, code_version_id: str = "v1") -> dict[str, Any]:
    definitions, _ = discover(module)
    manifest = build_manifest(AssetGraph(definitions), code_version_id=code_version_id)
    return client.deploy_manifest(manifest).to_json()


def tasks_of(run: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {task["taskKey"]: task for task in run.get("tasks", [])}


def wait_for(what: str, probe: Callable[[], Any], *, timeout: float, interval: float = 0.25) -> Any:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def wait_run(
    client: ArcoClient,
    run_id: str,
    *,
    timeout: float,
    mesh: Mesh | None = None,
    until: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    """Poll GetRun until the run is terminal (or ``until`` holds)."""
    done = until or (lambda run: run["state"] in TERMINAL)
    deadline = time.monotonic() + timeout
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            run = client.get_run(run_id).to_json()  # the public JSON the tests assert on
        except Exception:  # the api may be restarting (chaos); keep polling
            run = run or {}
        else:
            if done(run):
                return run
        time.sleep(0.25)
    states = {key: task["state"] for key, task in tasks_of(run).items()}
    logs = ""
    if mesh is not None:
        logs = "\n".join(
            f"--- {name}\n{tail(svc.log_path, 8)}" for name, svc in mesh.services.items()
        )
    raise AssertionError(
        f"run {run_id} not done after {timeout:.0f}s: {run.get('state')} {states}\n{logs}"
    )


def read_marker(mesh: Mesh, run_id: str, name: str) -> dict[str, Any] | None:
    path = mesh.home / "markers" / f"{run_id}.{name}.json"
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return None


# -- storage-side views (the test process reads the same LocalStore) --------------------------


def _scope(mesh: Mesh, scope: Scope | None) -> Scope:
    """``scope``, else the mesh's own workspace (the views below take any scope the mesh's
    services serve)."""
    return scope or Scope(mesh.tenant_id, mesh.workspace_id)


def _storage(mesh: Mesh, role: Role, scope: Scope | None) -> ScopedStorage:
    store = open_object_store(mesh.storage_url, mesh.extra_env)
    return ScopedStorage(store, _scope(mesh, scope), role)


def projection(mesh: Mesh, *, scope: Scope | None = None) -> FoldState:
    """The published orchestration state at the head (as every reader sees it)."""

    async def load() -> FoldState:
        storage = _storage(mesh, Role.READER, scope)
        reader = ProjectionReader(storage, OrchestrationAdapter(), _scope(mesh, scope))
        snapshot = await reader.refresh()
        state: FoldState = snapshot.state
        return state

    return asyncio.run(load())


def ledger_paths(mesh: Mesh, *, scope: Scope | None = None) -> list[str]:
    """Every orchestration ledger object, by an anti-entropy (sweeper-role) scan."""
    reader = LedgerReader(_storage(mesh, Role.SWEEPER, scope), "orchestration")
    return asyncio.run(reader.scan_paths_after(None))


def ledger_events(mesh: Mesh, *, scope: Scope | None = None) -> list[EventEnvelope]:
    reader = LedgerReader(_storage(mesh, Role.SWEEPER, scope), "orchestration")

    async def scan() -> list[EventEnvelope]:
        return await reader.read(await reader.scan_paths_after(None))

    return asyncio.run(scan())


def run_events(mesh: Mesh, run_id: str) -> list[EventEnvelope]:
    return [e for e in ledger_events(mesh) if e.data.get("run_id") == run_id]


def service_log(mesh: Mesh, name: str) -> str:
    return (mesh.run_dir / f"{name}.log").read_text(errors="replace")


# -- what a converged mesh must show -----------------------------------------------------------


def never_folded(
    mesh: Mesh, compactor_name: str = "compactor-orchestration", *, scope: Scope | None = None
) -> int:
    """Events a re-compaction of every ledger object still applies (0: all were folded),
    asked of the orchestration compactor named ``compactor_name`` (it must serve the scope).

    The compactor's store injects faults too and one batch is all or nothing, so the
    ledger goes in small chunks, each retried until it gets through.
    """
    paths = ledger_paths(mesh, scope=scope)

    async def compact_all() -> int:
        compactor = CompactorClient(
            mesh.address(compactor_name), mesh.tls_config(TlsRole.API), scope=scope
        )
        applied = 0
        try:
            for start in range(0, len(paths), 20):
                for attempt in range(60):
                    try:
                        answer = await compactor.compact(paths[start : start + 20])
                    except (Unavailable, StorageError):
                        if attempt == 59:
                            raise
                        await asyncio.sleep(0.1)
                        continue
                    applied += answer.events_applied
                    break
        finally:
            await compactor.close()
        return applied

    return asyncio.run(compact_all())


def replay_differences(
    mesh: Mesh,
    events: Sequence[EventEnvelope],
    runs: Sequence[str],
    *,
    scope: Scope | None = None,
) -> int:
    """Run and task rows of ``runs``, and partition status rows, where the published
    projection differs from a fresh replay."""
    at = _scope(mesh, scope)
    replay = FoldState(tenant_id=at.tenant_id, workspace_id=at.workspace_id)
    replay.fold(list(events))
    published = projection(mesh, scope=scope)  # after the re-compaction
    differences = 0
    for run_id in runs:
        mine, theirs = replay.get_run(run_id), published.get_run(run_id)
        if mine is None or theirs is None:
            differences += 1
            continue
        if (mine.state, mine.tasks_completed, mine.tasks_succeeded) != (
            theirs.state,
            theirs.tasks_completed,
            theirs.tasks_succeeded,
        ):
            differences += 1
        for task in published.list_tasks(run_id):
            again = replay.get_task(run_id, task.task_key)
            if again is None or (again.state, again.attempt, again.attempt_id) != (
                task.state,
                task.attempt,
                task.attempt_id,
            ):
                differences += 1
    replayed = {(r.asset_key, r.partition_key): r for r in replay.partition_statuses()}
    for row in published.partition_statuses():
        if replayed.pop((row.asset_key, row.partition_key), None) != row:
            differences += 1
    return differences + len(replayed)
