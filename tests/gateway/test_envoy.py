"""gateway/envoy.yaml: validated by the real Envoy binary, and a loopback smoke test with
Envoy terminating TLS in front of a real gateway and a real api process."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import REPO_ROOT, VENV_BIN
from tests.support.processes import start_service

ENVOY = VENV_BIN / "envoy"
CONFIG = REPO_ROOT / "gateway" / "envoy.yaml"


def _base_id() -> str:
    # Unique per process so parallel runs never share Envoy's shared-memory region.
    return str(10_000 + os.getpid() % 50_000)


def make_certs(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def render_config(
    tmp_path: Path, *, gateway: str = "arco-gateway:8080", api: str = "arco-api:50051"
) -> Path:
    """The committed config with its documented placeholders replaced for loopback."""
    text = CONFIG.read_text()
    certs = tmp_path / "tls"
    certs.mkdir(exist_ok=True)
    make_certs(certs)
    gw_host, gw_port = gateway.rsplit(":", 1)
    api_host, api_port = api.rsplit(":", 1)
    replacements = {
        "/etc/arco/tls/": f"{certs}/",
        "{address: 0.0.0.0, port_value: 8443}": "{address: 127.0.0.1, port_value: 0}",
        "{address: 127.0.0.1, port_value: 9901}": "{address: 127.0.0.1, port_value: 0}",
        "{address: arco-gateway, port_value: 8080}": f"{{address: {gw_host}, port_value: {gw_port}}}",
        "{address: arco-api, port_value: 50051}": f"{{address: {api_host}, port_value: {api_port}}}",
    }
    for placeholder, value in replacements.items():
        assert placeholder in text, f"placeholder {placeholder} missing from envoy.yaml"
        text = text.replace(placeholder, value)
    out = tmp_path / "envoy.yaml"
    out.write_text(text)
    return out


def validate(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENVOY), "--mode", "validate", "-c", str(config), "--base-id", _base_id(),
         "--disable-hot-restart", "-l", "error"],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip


def test_committed_config_has_no_machine_paths() -> None:
    text = CONFIG.read_text()
    assert "/tmp" not in text and "/work" not in text and "/home" not in text
    assert "/etc/arco/tls/tls.crt" in text


def test_envoy_validates_the_config(tmp_path: Path) -> None:
    result = validate(render_config(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout + result.stderr
    # The check is real: a typo in the config fails validation.
    broken = tmp_path / "broken.yaml"
    broken.write_text((tmp_path / "envoy.yaml").read_text().replace("stat_prefix:", "stat_prefx:"))
    assert validate(broken).returncode != 0


@pytest.fixture
def envoy_front(tmp_path: Path):  # type: ignore[no-untyped-def]
    api = start_service("services.api", tmp_path, name="api")
    gateway = None
    envoy = None
    try:
        api.wait_ready(timeout=20)
        gateway = start_service(
            "gateway", tmp_path, {"ARCO_API_ADDRESS": api.grpc_address}, name="gateway"
        )
        gateway_address = str(gateway.wait_ready(timeout=20)["http_address"])
        config = render_config(tmp_path, gateway=gateway_address, api=api.grpc_address)
        admin_file = tmp_path / "envoy-admin.txt"
        with (tmp_path / "envoy.log").open("wb") as log:
            envoy = subprocess.Popen(
                [str(ENVOY), "-c", str(config), "--base-id", _base_id(), "--disable-hot-restart",
                 "--concurrency", "1", "-l", "warning", "--admin-address-path", str(admin_file)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        port = _listener_port(envoy, admin_file, tmp_path / "envoy.log")
        yield port, tmp_path / "tls" / "tls.crt"
    finally:
        if envoy is not None:
            envoy.send_signal(signal.SIGTERM)
            try:
                envoy.wait(timeout=15)
            except subprocess.TimeoutExpired:
                envoy.kill()
                envoy.wait()
        if gateway is not None:
            gateway.terminate()
        api.terminate()


def _listener_port(envoy: subprocess.Popen[bytes], admin_file: Path, log: Path) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if envoy.poll() is not None:
            raise AssertionError(f"envoy exited {envoy.returncode}:\n{log.read_text()[-3000:]}")
        if admin_file.exists() and admin_file.read_text().strip():
            admin = admin_file.read_text().strip()
            try:
                with urllib.request.urlopen(
                    f"http://{admin}/listeners?format=json", timeout=2
                ) as r:
                    listeners = json.loads(r.read())
            except OSError:
                listeners = {}
            for listener in listeners.get("listener_statuses", []):
                port = listener.get("local_address", {}).get("socket_address", {}).get("port_value")
                if port:
                    return int(port)
        time.sleep(0.1)
    raise AssertionError(f"envoy listener not up:\n{log.read_text()[-3000:]}")


def test_envoy_routes_rest_and_grpc_over_tls(envoy_front: tuple[int, Path]) -> None:
    port, cert = envoy_front
    context = ssl.create_default_context(cafile=str(cert))
    with httpx.Client(verify=context, timeout=10) as client:
        deadline = time.monotonic() + 20
        while True:  # Envoy health-checks its clusters before routing to them
            response = client.get(
                f"https://127.0.0.1:{port}/api/v1/namespaces", headers={"X-Request-Id": "edge-1"}
            )
            if response.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        # REST reaches the gateway, which answers with its own envelope (no auth configured).
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "MISSING_AUTH"
        assert response.headers["x-request-id"] == "edge-1"
        spec = client.get(f"https://127.0.0.1:{port}/api/v1/openapi.json")
        assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.")
        assert client.get(f"https://127.0.0.1:{port}/metrics").status_code == 404

    credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
    with grpc.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(  # type: ignore[attr-defined]
            health_pb2.HealthCheckRequest(service="arco.orchestration.v1.OrchestrationService"),
            timeout=10,
            wait_for_ready=True,
        )
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
