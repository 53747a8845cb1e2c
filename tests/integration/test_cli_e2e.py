"""The ``arco`` CLI end to end against the real mesh, as a user runs it.

``arco init`` scaffolds a project in a temporary directory; the test adds one asset that
fails non-retryably the first time (a marker file remembers the attempt) and succeeds
afterwards. A mesh with one worker process loading the project's package directory then
serves every command, each run as a real ``arco`` subprocess with the ARCO_* environment:
validate, deploy, run --wait, status (one run and the list), logs, a run that fails,
rerun --from-failure --wait, and errors that print the server's message and exit non-zero.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.mesh import REPO_ROOT, Mesh

ARCO = Path(sys.executable).with_name("arco")
TIMEOUT_SEC = 120

pytestmark = pytest.mark.timeout(300)

FLAKY_ASSET = '''"""Fails non-retryably on its first attempt ever, succeeds afterwards."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa

from arco_sdk import AssetContext, AssetInput, NonRetryableError, asset


@asset(namespace="proj")
def flaky(ctx: AssetContext, squares: AssetInput) -> pa.Table:
    marker = Path(os.environ["ARCO_E2E_FLAKY_MARKER"])
    if not marker.exists():
        marker.write_text("failed once")
        ctx.log.info("flaky: first attempt, failing")
        raise NonRetryableError("flaky failed on purpose (first attempt)")
    ctx.log.info("flaky: marker present, succeeding")
    return squares.read()
'''


@dataclass
class Cli:
    project: Path
    env: dict[str, str]

    def __call__(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ARCO), *args],
            cwd=cwd or self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SEC + 30,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def ok(self, *args: str) -> str:
        done = self(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        return done.stdout


def _cli_env(api_url: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ARCO_")}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "gen"), str(REPO_ROOT)]),
            "COLUMNS": "250",  # rich wraps tables to the terminal width
            "NO_COLOR": "1",
            "ARCO_TENANT_ID": "local",
            "ARCO_WORKSPACE_ID": "default",
        }
    )
    if api_url:
        env["ARCO_API_URL"] = api_url
    return env


def _has_row(table: str, key: str, state: str) -> bool:
    """A task row of the status table (cells separated by rich's box characters)."""
    return re.search(rf"{re.escape(key)}[\s│|]+{state}\b", table) is not None


def _run_id(stdout: str) -> str:
    match = re.search(r"^run (\S+) ", stdout, re.MULTILINE)
    assert match, stdout
    return match.group(1)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    root = tmp_path_factory.mktemp("cli-e2e")
    init = Cli(root, _cli_env(None))("init", "proj")
    assert init.returncode == 0, (init.stdout, init.stderr)
    assert "created proj/" in init.stdout
    project = root / "proj"
    assert (project / "arco.toml").is_file()
    (project / "proj" / "flaky.py").write_text(FLAKY_ASSET)
    mesh = Mesh(
        root / "mesh",
        workers=1,
        worker_modules=[str(project / "proj")],
        worker_env={"ARCO_E2E_FLAKY_MARKER": str(root / "flaky.marker")},
    )
    mesh.start()
    try:
        yield Cli(project, _cli_env(f"http://{mesh.address('gateway')}"))
    finally:
        codes = mesh.stop()
    assert all(code == 0 for code in codes.values()), codes


def test_cli_against_the_mesh(cli: Cli) -> None:
    validated = cli.ok("validate")
    assert "ok: the asset graph is valid" in validated
    assert "raw.numbers" in validated and "proj.flaky" in validated

    deployed = cli.ok("deploy")
    assert re.search(r"deployed manifest \S+ \(3 assets", deployed), deployed

    ran = cli.ok(
        "run", "raw.numbers", "proj.squares", "--wait",
        "--timeout", str(TIMEOUT_SEC), "--poll-interval", "0.2",
    )  # fmt: skip
    run_id = _run_id(ran)
    assert f"run {run_id} SUCCEEDED" in ran

    shown = cli.ok("status", run_id)
    assert f"run {run_id}  SUCCEEDED" in shown
    for key in ("raw.numbers", "proj.squares"):
        assert _has_row(shown, key, "SUCCEEDED"), shown

    listed = cli.ok("status")
    assert run_id in listed and "SUCCEEDED" in listed

    logs = cli.ok("logs", run_id)
    assert "generating numbers" in logs, logs

    # One asset fails non-retryably: the run fails and `run --wait` says why, exit 1.
    failing = cli(
        "run", "proj.flaky", "--include-upstream", "--wait",
        "--timeout", str(TIMEOUT_SEC), "--poll-interval", "0.2",
    )  # fmt: skip
    assert failing.returncode == 1, (failing.stdout, failing.stderr)
    failed_id = _run_id(failing.stdout)
    assert f"run {failed_id} finished FAILED" in failing.stderr
    assert "flaky failed on purpose" in failing.stderr
    assert "Traceback" not in failing.stderr
    failed_status = cli.ok("status", failed_id)
    assert _has_row(failed_status, "proj.flaky", "FAILED"), failed_status
    assert "flaky: first attempt, failing" in cli.ok("logs", failed_id, "--task", "proj.flaky")

    # --from-failure reruns what failed; the marker now exists, so it succeeds.
    rerun = cli.ok(
        "rerun", failed_id, "--from-failure", "--wait",
        "--timeout", str(TIMEOUT_SEC), "--poll-interval", "0.2",
    )  # fmt: skip
    rerun_id = _run_id(rerun)
    assert rerun_id != failed_id
    assert f"rerun of {failed_id}, FROM_FAILURE" in rerun, rerun
    assert f"run {rerun_id} SUCCEEDED" in rerun
    rerun_status = cli.ok("status", rerun_id)
    assert f"rerun of {failed_id}" in rerun_status
    assert _has_row(rerun_status, "proj.flaky", "SUCCEEDED"), rerun_status


def test_errors_print_the_server_message_and_exit_non_zero(cli: Cli) -> None:
    unknown = cli("status", "01JUNKNOWNRUN0000000000000")
    assert unknown.returncode != 0
    assert "Traceback" not in unknown.stderr
    assert re.search(r"error: 404 NOT_FOUND: .*run", unknown.stderr), unknown.stderr
    assert "request id" in unknown.stderr

    missing_logs = cli("logs", "01JUNKNOWNRUN0000000000000")
    assert missing_logs.returncode != 0
    assert "NOT_FOUND" in missing_logs.stderr, missing_logs.stderr

    bad_rerun = cli("rerun", "01JUNKNOWNRUN0000000000000")
    assert bad_rerun.returncode != 0
    assert "--from-failure" in bad_rerun.stderr  # a usage error, caught before any call

    not_deployed = cli("run", "nowhere.nothing")
    assert not_deployed.returncode != 0
    assert "Traceback" not in not_deployed.stderr
    assert re.search(r"error: 4\d\d ", not_deployed.stderr), not_deployed.stderr
