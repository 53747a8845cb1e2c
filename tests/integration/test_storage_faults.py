"""Storage faults (issue 12 item 10): the ARCO_STORAGE_FAULTS wrapper and what callers see."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from arco_core.errors import InvalidArgument, ObjectNotFound, StorageError
from arco_core.paths import Scope
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_core.storage_faults import FaultSpec, FaultyStore, parse_fault_spec
from arco_runtime.settings import ConfigError
from arco_sdk.client import ArcoClient
from arco_sdk.errors import ArcoApiError
from arco_sdk.manifest import AssetGraph, build_manifest, discover
from services.common.config import CommonConfig
from services.mesh import Mesh
from tests.integration.e2e_assets.faults import task_keys as faults_task_keys
from tests.integration.e2e_assets.harness import (
    ledger_events,
    make_mesh,
    never_folded,
    projection,
    replay_differences,
    tasks_of,
    wait_run,
)
from tests.support.seaweed import SeaweedServer

SCOPE = Scope("t1", "w1")
_T = TypeVar("_T")


def test_parse_fault_spec() -> None:
    spec = parse_fault_spec("put=0.05,get=0.1,list=0.2,latency_ms=5,seed=1")
    assert spec == FaultSpec(put=0.05, get=0.1, list=0.2, latency_ms=5.0, seed=1)
    assert parse_fault_spec("") is None
    assert parse_fault_spec(spec.to_text()) == spec
    for bad in ("put=2", "nope=0.1", "put", "get=x", "put=0.1,put=0.2", "latency_ms=-1"):
        with pytest.raises(InvalidArgument):
            parse_fault_spec(bad)


def test_setting_is_refused_outside_dev(tmp_path: Path) -> None:
    base = {"ARCO_STORAGE_URL": tmp_path.as_uri(), "ARCO_STORAGE_FAULTS": "put=0.5"}
    dev = CommonConfig.from_env(
        {**base, "ARCO_ENVIRONMENT": "dev", "ARCO_TLS": "off"},
        service="api",
        default_listen="127.0.0.1:0",
    )
    assert dev.storage_faults == FaultSpec(put=0.5)
    with pytest.raises(ConfigError, match="ARCO_STORAGE_FAULTS"):
        CommonConfig.from_env(
            {**base, "ARCO_ENVIRONMENT": "staging"}, service="api", default_listen="127.0.0.1:0"
        )
    with pytest.raises(ConfigError, match="ARCO_STORAGE_FAULTS"):
        CommonConfig.from_env(
            {**base, "ARCO_ENVIRONMENT": "dev", "ARCO_STORAGE_FAULTS": "put=7"},
            service="api",
            default_listen="127.0.0.1:0",
        )


def test_faults_raise_the_retryable_storage_error(tmp_path: Path) -> None:
    async def main() -> None:
        store = open_object_store(
            tmp_path.as_uri(), {}, faults=FaultSpec(put=0.5, get=0.5, list=0.5, seed=3)
        )
        assert isinstance(store, FaultyStore)
        api = ScopedStorage(store, SCOPE, Role.API)
        sweeper = ScopedStorage(store, SCOPE, Role.SWEEPER)
        created = 0
        for i in range(40):
            try:
                await api.create(f"ledger/x/{i}.json", b"x")
                created += 1
            except StorageError as exc:
                assert exc.code.value == "UNAVAILABLE"
                # a failed put never reached the store
                clean = ScopedStorage(store.inner, SCOPE, Role.READER)
                with pytest.raises(ObjectNotFound):
                    await clean.get(f"ledger/x/{i}.json")
        list_failures = 0
        for _ in range(20):
            try:
                assert len(await sweeper.list("ledger/")) == created
            except StorageError:
                list_failures += 1
        assert 0 < created < 40
        assert 0 < list_failures < 20
        assert store.injected["create"] == 40 - created
        assert store.injected["list"] == list_failures

    asyncio.run(main())


# -- a 200-task run through the full mesh with faults in every service -------------------------

FAULTS_MODULE = "tests.integration.e2e_assets.faults"
FAULT_SPEC = "put=0.05,get=0.05,list=0.05,latency_ms=5,seed=1"


class _CountingTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.statuses: collections.Counter[int] = collections.Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.statuses[response.status_code] += 1
        return response


def _retry_503(call: Callable[[], _T]) -> _T:
    """Deploy and trigger are not retried by the client (POSTs): a 503 is the caller's to retry.

    Both are safe to repeat: a manifest deploys by content, a trigger carries a run key.
    """
    deadline = time.monotonic() + 60
    while True:
        try:
            return call()
        except ArcoApiError as exc:
            if exc.status != 503 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _run_with_faults(mesh: Mesh) -> collections.Counter[int]:
    transport = _CountingTransport()
    client = ArcoClient(
        f"http://{mesh.address('gateway')}",
        tenant_id=mesh.tenant_id,
        workspace_id=mesh.workspace_id,
        transport=transport,
        max_attempts=10,
        deadline=120.0,
    )
    with client:
        definitions, _ = discover(FAULTS_MODULE)
        manifest = build_manifest(AssetGraph(definitions), code_version_id="v1")
        _retry_503(lambda: client.deploy_manifest(manifest))
        run_id = _retry_503(
            lambda: client.trigger_run(faults_task_keys(), run_key="faults-0").run_id
        )
        run = wait_run(client, run_id, timeout=100, mesh=mesh)
    print(f"client statuses {dict(transport.statuses)}")
    assert run["state"] == "SUCCEEDED", run["state"]
    tasks = tasks_of(run)
    assert len(tasks) == 200
    assert {t["state"] for t in tasks.values()} == {"SUCCEEDED"}
    # Only answers and retryable refusals: 503 (storage unavailable) and the gateway's 429
    # (its rate limit, met while the client polls and retries); never a 500 or a 4xx error.
    assert set(transport.statuses) <= {200, 201, 429, 503}, transport.statuses

    # Every acknowledged event folded exactly once: compacting every ledger path again
    # applies nothing, and a fresh replay equals the published projection.
    assert never_folded(mesh) == 0, "some acknowledged event was never folded"
    assert replay_differences(mesh, ledger_events(mesh), [run_id]) == 0
    run_row = projection(mesh).get_run(run_id)
    assert run_row is not None
    assert (run_row.state, run_row.tasks_completed, run_row.tasks_succeeded) == (
        "SUCCEEDED",
        200,
        200,
    )
    return transport.statuses


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_200_task_run_converges_with_faults_on_local_store(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    mesh = make_mesh(
        tmp_path_factory.mktemp("faults"),
        modules=[FAULTS_MODULE],
        extra_env={
            "ARCO_ENVIRONMENT": "dev",
            "ARCO_STORAGE_FAULTS": FAULT_SPEC,
            "ARCO_SWEEP_READY_TIMEOUT_SEC": "5",
            "ARCO_SWEEP_DISPATCH_TIMEOUT_SEC": "10",
        },
    )
    mesh.start()
    try:
        _run_with_faults(mesh)
    finally:
        mesh.stop()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_200_task_run_converges_with_faults_on_seaweedfs(
    tmp_path_factory: pytest.TempPathFactory, seaweed: SeaweedServer
) -> None:
    mesh = make_mesh(
        tmp_path_factory.mktemp("faults-s3"),
        modules=[FAULTS_MODULE],
        extra_env={
            **seaweed.env(),
            "ARCO_ENVIRONMENT": "dev",
            "ARCO_STORAGE_FAULTS": FAULT_SPEC,
            "ARCO_SWEEP_READY_TIMEOUT_SEC": "5",
            "ARCO_SWEEP_DISPATCH_TIMEOUT_SEC": "10",
        },
    )
    mesh.storage_url = seaweed.url(f"faults-{time.time_ns()}")
    mesh.start()
    try:
        _run_with_faults(mesh)
    finally:
        mesh.stop()
