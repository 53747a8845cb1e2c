"""Fail closed: real api and gateway processes refuse an unsafe posture before they serve.

Each refusal is exit code 2 and one line on stderr (``python -m <module>: <why>``), never
a traceback and never a process that serves anyway. Production is the default posture;
dev must be asked for and stays on loopback; outside dev every secret is at least 32
bytes; a gateway that verifies JWTs needs the identity secret to forward their users.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.support.processes import ServiceProcess, service_env, start_service

LONG = {
    "ARCO_TASK_TOKEN_SECRET": "task-token-secret-of-32-bytes-at-least",
    "ARCO_IDENTITY_SECRET": "identity-secret-of-32-bytes-at-least",
    "ARCO_BROWSER_URL_SECRET": "browser-url-secret-of-32-bytes-at-least",
}
JWT = {
    "ARCO_JWT_SECRET": "jwt-secret-of-32-bytes-at-least-0123",
    "ARCO_JWT_ISSUER": "https://issuer.test",
    "ARCO_JWT_AUDIENCE": "arco-api",
}


def _prog(module: str) -> str:
    return f"python -m {module}"


def _one_line(module: str, text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith(f"{_prog(module)}: "), text
    assert "Traceback" not in text
    return lines[0].removeprefix(f"{_prog(module)}: ")


def _refused(module: str, tmp_path: Path, env: dict[str, str]) -> str:
    """Start ``module`` (dev-posture test environment overridden by ``env``) and return
    the one line it refused to start with."""
    process = start_service(module, tmp_path, env)
    try:
        code = process.process.wait(timeout=60)
    finally:
        process.kill()
    assert code == 2, process.log()
    assert not process.ready_file.exists()
    return _one_line(module, process.log())


def _serves(module: str, tmp_path: Path, env: dict[str, str]) -> None:
    process: ServiceProcess = start_service(module, tmp_path, env)
    try:
        process.wait_ready(timeout=30)
    except BaseException:
        process.kill()
        raise
    assert process.terminate() == 0, process.log()


def _run(module: str, env: dict[str, str], cwd: Path) -> str:
    """Run ``module`` with exactly ``env`` until it exits; the one line it refused with."""
    result = subprocess.run(
        [sys.executable, "-m", module],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    return _one_line(module, result.stderr)


@pytest.mark.parametrize("module", ["services.api", "gateway"])
def test_a_process_with_no_environment_at_all_refuses_to_start(module: str, tmp_path: Path) -> None:
    # Not a single ARCO_* variable: production posture, which needs mesh certificates.
    env = {key: value for key, value in os.environ.items() if not key.startswith("ARCO_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "gen"), str(REPO_ROOT)])
    line = _run(module, env, tmp_path)
    assert line.startswith("ARCO_TLS_CERT, ARCO_TLS_KEY, ARCO_TLS_CA required"), line


@pytest.mark.parametrize(
    ("module", "needs"),
    [
        ("services.api", "ARCO_IDENTITY_SECRET, ARCO_BROWSER_URL_SECRET"),
        (
            "gateway",
            "ARCO_JWT_SECRET or ARCO_JWT_PUBLIC_KEY_*, ARCO_JWT_ISSUER, ARCO_JWT_AUDIENCE",
        ),
    ],
)
def test_without_arco_environment_a_process_is_in_production_posture(
    module: str, needs: str, tmp_path: Path
) -> None:
    # The test environment (certificates, loopback) without ARCO_ENVIRONMENT: production.
    (tmp_path / "data").mkdir()
    env = service_env(
        tmp_path, {"ARCO_TASK_TOKEN_SECRET": LONG["ARCO_TASK_TOKEN_SECRET"]}, module=module
    )
    del env["ARCO_ENVIRONMENT"]
    assert _run(module, env, tmp_path) == f"ARCO_ENVIRONMENT=prod requires {needs}"


@pytest.mark.parametrize("module", ["services.api", "gateway"])
def test_dev_posture_on_a_non_loopback_bind_is_refused(module: str, tmp_path: Path) -> None:
    name = "ARCO_LISTEN_ADDRESS" if module == "services.api" else "ARCO_GATEWAY_LISTEN_ADDRESS"
    line = _refused(module, tmp_path, {"ARCO_ENVIRONMENT": "dev", name: "0.0.0.0:0"})
    assert line == (
        f"ARCO_ENVIRONMENT=dev is refused on a non-loopback bind ({name}=0.0.0.0:0); "
        "dev posture binds 127.0.0.1 only"
    )


def test_plaintext_outside_dev_is_refused(tmp_path: Path) -> None:
    line = _refused(
        "services.api", tmp_path, {"ARCO_ENVIRONMENT": "staging", "ARCO_TLS": "false", **LONG}
    )
    assert line.startswith("ARCO_TLS="), line
    assert "(plaintext) is allowed only with ARCO_ENVIRONMENT=dev, not staging" in line


@pytest.mark.parametrize("module", ["services.api", "gateway"])
def test_dev_posture_on_loopback_serves(module: str, tmp_path: Path) -> None:
    # Short secrets and no JWT are fine in dev (the test environment's defaults).
    _serves(module, tmp_path, {"ARCO_ENVIRONMENT": "dev"})


@pytest.mark.parametrize("module", ["services.api", "gateway"])
def test_staging_with_long_secrets_serves(module: str, tmp_path: Path) -> None:
    _serves(module, tmp_path, {"ARCO_ENVIRONMENT": "staging", **LONG, **JWT})


@pytest.mark.parametrize(
    ("module", "secret"),
    [
        ("services.api", "ARCO_TASK_TOKEN_SECRET"),
        ("services.api", "ARCO_IDENTITY_SECRET"),
        ("services.api", "ARCO_BROWSER_URL_SECRET"),
        ("services.api", "ARCO_JWT_SECRET"),
        ("gateway", "ARCO_IDENTITY_SECRET"),
        ("gateway", "ARCO_JWT_SECRET"),
        ("gateway", "ARCO_BROWSER_URL_SECRET"),
    ],
)
@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_a_secret_shorter_than_32_bytes_outside_dev_is_refused(
    module: str, secret: str, environment: str, tmp_path: Path
) -> None:
    env = {"ARCO_ENVIRONMENT": environment, **LONG, **JWT, secret: "x" * 31}
    line = _refused(module, tmp_path, env)
    assert line == f"{secret} must be at least 32 bytes outside dev"


def test_an_api_jwt_key_outside_dev_needs_issuer_and_audience(tmp_path: Path) -> None:
    env = {"ARCO_ENVIRONMENT": "staging", **LONG, "ARCO_JWT_SECRET": JWT["ARCO_JWT_SECRET"]}
    line = _refused("services.api", tmp_path, env)
    assert line == "ARCO_ENVIRONMENT=staging requires ARCO_JWT_ISSUER, ARCO_JWT_AUDIENCE"


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_a_gateway_with_a_jwt_but_no_identity_secret_is_refused(
    environment: str, tmp_path: Path
) -> None:
    env = {"ARCO_ENVIRONMENT": environment, **JWT}
    line = _refused("gateway", tmp_path, env)
    assert line == (
        "a JWT key is configured but ARCO_IDENTITY_SECRET is not: the gateway cannot "
        "forward the users it verifies to the api"
    )
