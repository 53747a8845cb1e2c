"""Each service starts from its entry point, reports SERVING, and exits 0 on SIGTERM."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.conftest import REPO_ROOT
from tests.support.processes import service_env, start_service
from tests.support.tls import mesh_sync_channel

GRPC_SERVICES = [
    pytest.param("services.api", {}, "arco.orchestration.v1.OrchestrationService", id="api"),
    pytest.param(
        "services.compactor",
        {"ARCO_COMPACTOR_DOMAIN": "orchestration"},
        "arco.compactor.v1.CompactorService",
        id="compactor-orchestration",
    ),
    pytest.param(
        "services.compactor",
        {"ARCO_COMPACTOR_DOMAIN": "catalog"},
        "arco.compactor.v1.CompactorService",
        id="compactor-catalog",
    ),
    pytest.param("services.dispatcher", {}, "arco.dispatch.v1.DispatcherService", id="dispatcher"),
    pytest.param("services.sweeper", {}, "arco.sweeper.v1.SweeperService", id="sweeper"),
]


def _reflected_services(address: str) -> set[str]:
    with mesh_sync_channel(address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        return {
            service.name for item in responses for service in item.list_services_response.service
        }


@pytest.mark.parametrize(("module", "env", "service"), GRPC_SERVICES)
def test_service_serves_and_stops_cleanly(
    tmp_path: Path, module: str, env: dict[str, str], service: str
) -> None:
    proc = start_service(module, tmp_path, env)
    try:
        ready = proc.wait_ready(timeout=10.0)
        with mesh_sync_channel(proc.grpc_address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for name in ("", service):
                answer = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
                assert answer.status == health_pb2.HealthCheckResponse.SERVING
        assert service in _reflected_services(proc.grpc_address)
        with urllib.request.urlopen(f"http://{ready['metrics_address']}/metrics", timeout=5) as r:
            metrics = r.read().decode()
        assert 'arco_rpc_requests_total{code="OK",method="/grpc.health.v1.Health/Check"}' in metrics
        # The probe paths on the same side port mirror the gRPC health answer.
        with urllib.request.urlopen(f"http://{ready['metrics_address']}/readyz", timeout=5) as r:
            assert json.loads(r.read()) == {"ready": True}
    finally:
        code = proc.terminate()
    assert code == 0, proc.log()
    log = proc.log()
    assert '"event": "service_config"' in log
    assert "test-task-token-secret" not in log  # secrets are redacted in the config line
    assert '"event": "service_stopped"' in log


def test_automation_serves_health_and_stops_cleanly(tmp_path: Path) -> None:
    """It serves no RPC of its own: health for probes, and its loop, which follows a
    compactor that is not there yet (it retries, and still stops at once)."""
    proc = start_service(
        "services.automation", tmp_path, {"ARCO_ORCH_COMPACTOR_ADDRESS": "127.0.0.1:9"}
    )
    try:
        proc.wait_ready(timeout=10.0)
        with mesh_sync_channel(proc.grpc_address) as channel:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=5
            )
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        code = proc.terminate()
    assert code == 0, proc.log()
    assert '"event": "service_stopped"' in proc.log()


def test_gateway_serves_and_stops_cleanly(tmp_path: Path) -> None:
    proc = start_service("gateway", tmp_path, {"ARCO_API_ADDRESS": "127.0.0.1:9"})
    try:
        ready = proc.wait_ready(timeout=10.0)
        with urllib.request.urlopen(f"http://{ready['http_address']}/healthz", timeout=5) as r:
            assert r.status == 200
    finally:
        code = proc.terminate()
    assert code == 0, proc.log()


@pytest.mark.parametrize(
    "module",
    [
        "services.api",
        "services.compactor",
        "services.dispatcher",
        "services.sweeper",
        "services.automation",
        "gateway",
    ],
)
def test_help_lists_the_environment(tmp_path: Path, module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        env=service_env(tmp_path),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0
    assert "ARCO_" in result.stdout


def test_bad_configuration_fails_fast_with_a_clear_message(tmp_path: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "services.compactor"],
        env=service_env(tmp_path, {"ARCO_COMPACTOR_DOMAIN": "everything"}),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "ARCO_COMPACTOR_DOMAIN must be one of orchestration, catalog" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 30
