"""Assets for the attempt-lifetime e2e tests (namespace ``life``).

outlives_token   runs ``E2E_OUTLIVE_SEC`` seconds (default 10): several task-token TTLs
                 when the mesh mints short-lived tokens
blocker          holds its worker's only slot until the test writes ``{run}.release``
quick            returns at once (moves the dispatcher's round robin on)
exclusive        counts its executions, then waits for ``{run}.release``
"""

from __future__ import annotations

import os
import time

import pyarrow as pa

from arco_sdk import AssetContext, asset
from tests.integration.e2e_assets.markers import append_line, marker, record, worker_id

NS = "life"
OUTLIVE_ENV = "E2E_OUTLIVE_SEC"
HOLD_LIMIT_SEC = 60.0


def _value(value: int) -> pa.Table:
    return pa.table({"value": pa.array([value], pa.int64())})


def _hold(ctx: AssetContext) -> None:
    """Until the test releases the run (or the limit, so a broken test cannot hang)."""
    deadline = time.monotonic() + HOLD_LIMIT_SEC
    release = marker(ctx.run_id, "release")
    while time.monotonic() < deadline and not release.exists() and not ctx.should_cancel():
        time.sleep(0.05)


@asset(namespace=NS, timeout_seconds=600)
def outlives_token(ctx: AssetContext) -> pa.Table:
    record(ctx.run_id, f"outlives_token.attempt{ctx.attempt}", attempt=ctx.attempt)
    time.sleep(float(os.environ.get(OUTLIVE_ENV, "10")))
    record(ctx.run_id, f"outlives_token.done{ctx.attempt}", attempt=ctx.attempt)
    return _value(ctx.attempt)


@asset(namespace=NS, timeout_seconds=600)
def blocker(ctx: AssetContext) -> pa.Table:
    record(ctx.run_id, "blocker", attempt=ctx.attempt)
    _hold(ctx)
    return _value(0)


@asset(namespace=NS)
def quick(ctx: AssetContext) -> pa.Table:
    record(ctx.run_id, "quick", attempt=ctx.attempt)
    return _value(0)


@asset(namespace=NS, timeout_seconds=600)
def exclusive(ctx: AssetContext) -> pa.Table:
    append_line(ctx.run_id, "exclusive.executions", f"{ctx.attempt} {ctx.attempt_id} {worker_id()}")
    _hold(ctx)
    return _value(1)
