"""The mesh launcher brings every service up on loopback and down cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from services.mesh import Mesh, grpc_serving
from tests.conftest import REPO_ROOT
from tests.support.processes import service_env

EXPECTED = {
    "compactor-orchestration",
    "compactor-catalog",
    "api",
    "gateway",
    "dispatcher",
    "sweeper",
    "automation",
}


def test_mesh_starts_every_service_and_stops_them_cleanly(tmp_path: Path) -> None:
    mesh = Mesh(tmp_path / "mesh")
    mesh.start()
    try:
        assert set(mesh.services) == EXPECTED
        pids = {running.process.pid for running in mesh.services.values()}
        assert len(pids) == len(EXPECTED)  # every service is its own process
        for name, running in mesh.services.items():
            assert running.process.poll() is None, name
            if name != "gateway":
                assert grpc_serving(running.address, mesh.tls_config()), name
                assert running.address.startswith("127.0.0.1:")
        gateway = mesh.address("gateway")
        with urllib.request.urlopen(f"http://{gateway}/readyz", timeout=5) as response:
            assert json.loads(response.read()) == {"ready": True}
        # The embedded default storage is a local directory under the mesh home.
        assert mesh.storage_url == (tmp_path / "mesh" / "data").resolve().as_uri()
    finally:
        codes = mesh.stop()
    assert codes == dict.fromkeys(EXPECTED, 0)


def _gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "zombie" in status.read_text()
    except FileNotFoundError:
        return True


def _launch(tmp_path: Path) -> tuple[subprocess.Popen[str], str, list[int]]:
    """``python -m services.mesh up`` until it serves: the process, its output, the pids of
    the services it started."""
    home = tmp_path / "home"
    process = subprocess.Popen(
        [sys.executable, "-m", "services.mesh", "up", "--home", str(home)],
        env=service_env(tmp_path),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "press Ctrl-C to stop" in line:
            break
    output = "".join(lines)
    ready = [json.loads(path.read_text()) for path in (home / "run").glob("*.ready.json")]
    return process, output, [int(info["pid"]) for info in ready]


def test_mesh_command_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    process, output, child_pids = _launch(tmp_path)
    try:
        assert "press Ctrl-C to stop" in output, output
        assert "mTLS: CA and per-role certificates" in output
        for name in EXPECTED:
            assert name in output
        assert len(child_pids) == len(EXPECTED)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output + rest
    assert "stopped cleanly" in rest
    for pid in child_pids:
        assert _gone(pid)


def test_services_exit_when_the_launcher_is_killed(tmp_path: Path) -> None:
    """kill -9 of the launcher runs no cleanup of its own: the services notice their
    lifeline closing and drain instead of living on as orphans."""
    process, output, child_pids = _launch(tmp_path)
    try:
        assert "press Ctrl-C to stop" in output, output
        assert len(child_pids) == len(EXPECTED)
        process.kill()
        process.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(_gone(pid) for pid in child_pids):
            time.sleep(0.1)
        survivors = [pid for pid in child_pids if not _gone(pid)]
    finally:
        assert process.stdout is not None
        process.stdout.close()
        for pid in child_pids:  # only the services this test's launcher started
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)
    assert survivors == [], f"orphaned services outlived the launcher: {survivors}"
