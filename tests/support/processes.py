"""Start real service processes for tests, and stop them by PID."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arco_core.paths import Scope
from services.mesh import create_workspace
from tests.conftest import REPO_ROOT
from tests.support.tls import MODULE_ROLES, tls_env


@dataclass
class ServiceProcess:
    module: str
    process: subprocess.Popen[bytes]
    log_path: Path
    ready_file: Path
    ready: dict[str, Any] = field(default_factory=dict)

    def wait_ready(self, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.module} exited {self.process.returncode} before ready:\n{self.log()}"
                )
            if self.ready_file.exists():
                self.ready = json.loads(self.ready_file.read_text())
                return self.ready
            time.sleep(0.02)
        raise AssertionError(f"{self.module} not ready within {timeout}s:\n{self.log()}")

    def terminate(self, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"{self.module} ignored SIGTERM for {timeout}s:\n{self.log()}"
            ) from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    @property
    def grpc_address(self) -> str:
        return str(self.ready["grpc_address"])


def service_env(
    tmp_path: Path, extra: Mapping[str, str] | None = None, *, module: str = "services.api"
) -> dict[str, str]:
    """The environment of a test service: dev posture on loopback, mutual TLS with the
    certificate of the module's role (``extra`` overrides any of it)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ARCO_")}
    env.update(
        {
            "ARCO_ENVIRONMENT": "dev",
            **tls_env(MODULE_ROLES[module]),
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "gen"), str(REPO_ROOT)]),
            "ARCO_STORAGE_URL": (tmp_path / "data").as_uri(),
            "ARCO_LISTEN_ADDRESS": "127.0.0.1:0",
            "ARCO_METRICS_ADDRESS": "127.0.0.1:0",
            "ARCO_GATEWAY_LISTEN_ADDRESS": "127.0.0.1:0",
            "ARCO_TASK_TOKEN_SECRET": "test-task-token-secret",
            "ARCO_WORKER_DISPATCH_SECRET": "test-dispatch-secret",
            "ARCO_SHUTDOWN_GRACE_SEC": "2",
            **(extra or {}),
        }
    )
    return env


def ensure_workspace(env: Mapping[str, str]) -> None:
    """Create the workspace a service's environment names, as an admin would before users
    arrive (outside dev no workspace exists at start)."""
    scope = Scope(env.get("ARCO_TENANT_ID", "local"), env.get("ARCO_WORKSPACE_ID", "default"))
    create_workspace(env["ARCO_STORAGE_URL"], env, scope)


def start_service(
    module: str, tmp_path: Path, extra_env: Mapping[str, str] | None = None, name: str | None = None
) -> ServiceProcess:
    label = name or module.replace(".", "_")
    (tmp_path / "data").mkdir(parents=True, exist_ok=True)
    ready_file = tmp_path / f"{label}.ready.json"
    ready_file.unlink(missing_ok=True)
    log_path = tmp_path / f"{label}.log"
    env = service_env(tmp_path, extra_env, module=module)
    if env["ARCO_ENVIRONMENT"] != "dev":
        ensure_workspace(env)
    env["ARCO_READY_FILE"] = str(ready_file)
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            env=env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return ServiceProcess(module, process, log_path, ready_file)
