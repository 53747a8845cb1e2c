"""Assets of the web UI test (tests/browser/test_ui.py): ``ui.source`` prints a line its
log upload must carry, ``ui.doubled`` reads it, ``ui.slow`` works in small steps until it
is cancelled (so the UI can cancel a run while a task is really running)."""

from __future__ import annotations

import time

import pyarrow as pa

from arco_sdk import AssetContext, AssetInput, asset

LOG_LINE = "ui-source-says-hello"


@asset(namespace="ui")
def source(ctx: AssetContext) -> pa.Table:
    print(LOG_LINE, flush=True)
    return pa.table({"value": pa.array([21], pa.int64())})


@asset(namespace="ui")
def doubled(ctx: AssetContext, source: AssetInput) -> pa.Table:
    return pa.table({"value": pa.array([source.read()["value"][0].as_py() * 2], pa.int64())})


@asset(namespace="ui", heartbeat_timeout_seconds=30, timeout_seconds=600)
def slow(ctx: AssetContext) -> pa.Table:
    """Cooperative: checks for cancellation between short sleeps (gives up after 5 min)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ctx.raise_if_cancelled()
        time.sleep(0.1)
    return pa.table({"value": pa.array([0], pa.int64())})
