"""``arco backfill`` end to end against the real mesh (gateway, api, automation, a worker).

The project is one daily-partitioned asset that fails non-retryably for 2026-01-02 the
first time (a marker file remembers it), holds days of 2025 until the test releases them,
and succeeds otherwise. Each command runs as a real
``arco`` subprocess: a three-day backfill ends FAILED with that one chunk failed,
``status`` shows its chunks, ``retry-failed`` reruns just that partition and succeeds, a
create replayed with its request id answers the same backfill, and a long backfill is
paused, resumed and cancelled, after which another move is refused with the server's 409.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from services.mesh import Mesh
from tests.integration.test_cli_e2e import TIMEOUT_SEC, Cli, _cli_env

pytestmark = pytest.mark.timeout(300)

DAILY_ASSET = '''"""One row per day; 2026-01-02 fails non-retryably until the marker exists, and
days of 2025 wait for the release file (so a backfill of them stays running)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pyarrow as pa

from arco_sdk import AssetContext, DailyPartition, NonRetryableError, asset


@asset(namespace="bf", partitions=DailyPartition("date"))
def days(ctx: AssetContext) -> pa.Table:
    day = ctx.partition_key.to_python()["date"]
    marker = Path(os.environ["ARCO_E2E_BACKFILL_MARKER"])
    release = marker.with_suffix(".release")
    while day.year == 2025 and not release.exists():
        if ctx.cancel_event.wait(0.05):
            ctx.raise_if_cancelled()
    if day == date(2026, 1, 2) and not marker.exists():
        marker.write_text("failed once")
        raise NonRetryableError("2026-01-02 failed on purpose (first attempt)")
    return pa.table({"day": [day.isoformat()]})
'''
WAIT = ("--wait", "--timeout", str(TIMEOUT_SEC), "--poll-interval", "0.2")


def _backfill_id(stdout: str) -> str:
    match = re.search(r"^backfill (\S+) ", stdout, re.MULTILINE)
    assert match, stdout
    return match.group(1)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    root = tmp_path_factory.mktemp("cli-backfill")
    package = root / "proj" / "bf"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""Backfill test assets."""\n')
    (package / "days.py").write_text(DAILY_ASSET)
    mesh = Mesh(
        root / "mesh",
        workers=1,
        worker_modules=[str(package)],
        worker_env={"ARCO_E2E_BACKFILL_MARKER": str(root / "days.marker")},
    )
    mesh.start()
    try:
        env = _cli_env(f"http://{mesh.address('gateway')}")
        env["ARCO_WORKSPACE_ID"] = mesh.workspace_id
        env["ARCO_TENANT_ID"] = mesh.tenant_id
        project = Cli(root / "proj", env)
        project.ok("deploy", "--assets", str(package))
        yield project
    finally:
        (root / "days.release").write_text("go")
        codes = mesh.stop()
    assert all(code == 0 for code in codes.values()), codes


def test_a_failed_chunk_is_retried_alone(cli: Cli) -> None:
    failing = cli(
        "backfill", "create", "bf.days", "--start", "2026-01-01", "--end", "2026-01-03",
        "--chunk-size", "1", "--max-concurrent-runs", "2", "--request-id", "three-days", *WAIT,
    )  # fmt: skip
    assert failing.returncode == 1, (failing.stdout, failing.stderr)
    assert "Traceback" not in failing.stderr
    parent = _backfill_id(failing.stdout)
    assert (
        f"backfill {parent} created: bf.days, 3 partitions in 3 chunks of at most 1, "
        "at most 2 runs at a time" in failing.stdout
    ), failing.stdout
    assert f"backfill {parent}  FAILED  chunks 2/3 succeeded, 0 running, 0 pending, 1 failed" in (
        failing.stdout
    )
    assert f"backfill {parent} finished FAILED (1 failed chunks" in failing.stderr

    shown = cli.ok("backfill", "status", parent)
    assert re.search(r"date=d:2026-01-02[\s│|]+\S+[\s│|]+FAILED", shown), shown
    assert len(re.findall(r"\bSUCCEEDED\b", shown)) == 2, shown

    replay = cli.ok(
        "backfill", "create", "bf.days", "--start", "2026-01-01", "--end", "2026-01-03",
        "--chunk-size", "1", "--max-concurrent-runs", "2", "--request-id", "three-days",
    )  # fmt: skip
    assert f"backfill {parent} exists (same request id)" in replay, replay

    retried = cli.ok("backfill", "retry-failed", parent, *WAIT)
    child = _backfill_id(retried)
    assert child != parent
    assert f"created (retry of {parent}): bf.days, 1 partitions in 1 chunks" in retried
    assert f"backfill {child}  SUCCEEDED  chunks 1/1 succeeded" in retried, retried
    assert f"retry of {parent}" in cli.ok("backfill", "status", child)
    again = cli.ok("backfill", "retry-failed", parent)
    assert f"backfill {child} exists (same request id)" in again, again

    listed = cli.ok("backfill", "status")
    assert parent in listed and child in listed and "FAILED" in listed


def test_pause_resume_cancel_and_a_refused_move(cli: Cli) -> None:
    created = cli.ok(
        "backfill", "create", "bf.days", "--start", "2025-01-01", "--end", "2025-01-30",
        "--chunk-size", "1", "--max-concurrent-runs", "1",
    )  # fmt: skip
    backfill = _backfill_id(created)
    assert "30 partitions in 30 chunks" in created, created
    # Its first chunk run is held by the asset, so the backfill stays RUNNING.
    paused = cli.ok("backfill", "pause", backfill)
    assert f"backfill {backfill}  PAUSED" in paused, paused
    resumed = cli.ok("backfill", "resume", backfill)
    assert f"backfill {backfill}  RUNNING" in resumed, resumed
    cancelled = cli.ok("backfill", "cancel", backfill)
    assert f"backfill {backfill}  CANCELLED" in cancelled, cancelled

    refused = cli("backfill", "resume", backfill)
    assert refused.returncode != 0
    assert "Traceback" not in refused.stderr
    assert re.search(r"error: 409 \S+: .*", refused.stderr), refused.stderr

    stale = cli("backfill", "cancel", backfill, "--expected-version", "1")
    assert stale.returncode != 0 and "409" in stale.stderr, stale.stderr

    unknown = cli("backfill", "status", "01JUNKNOWNBACKFILL00000000")
    assert unknown.returncode != 0
    assert re.search(r"error: 404 NOT_FOUND: ", unknown.stderr), unknown.stderr

    usage = cli("backfill", "create", "bf.days", "--start", "2025-01-01")
    assert usage.returncode != 0 and "both --start and --end" in usage.stderr, usage.stderr
