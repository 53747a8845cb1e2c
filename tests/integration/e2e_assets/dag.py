"""Purpose-built assets for the e2e tests (namespace ``e2e``).

source ─┬─> left ───┐
        ├─> middle ─┼─> sink            (fan-out / fan-in)
        └─> right ──┘
flaky                                   (fails retryably once, then succeeds)
broken ─> after_broken ─> after_after   (non-retryable failure, skips downstream)
slow ─> after_slow                      (cooperative, runs until cancelled)
victim                                  (attempt 1 hangs: its worker gets killed)
counted                                 (counts its executions)
"""

from __future__ import annotations

import time

import pyarrow as pa

from arco_sdk import AssetContext, AssetInput, asset
from arco_sdk.errors import NonRetryableError, RetryableError
from tests.integration.e2e_assets.markers import append_line, marker, record

NS = "e2e"
# The planner's floor: the shortest heartbeat timeout a task can have.
HEARTBEAT_TIMEOUT_SEC = 30


def _one(ctx: AssetContext, value: int) -> pa.Table:
    record(ctx.run_id, f"{ctx.asset_key.name}.attempt{ctx.attempt}", attempt=ctx.attempt)
    return pa.table({"value": pa.array([value], pa.int64())})


@asset(namespace=NS)
def source(ctx: AssetContext) -> pa.Table:
    return _one(ctx, 1)


@asset(namespace=NS)
def left(ctx: AssetContext, source: AssetInput) -> pa.Table:
    return _one(ctx, source.read()["value"][0].as_py() + 10)


@asset(namespace=NS)
def middle(ctx: AssetContext, source: AssetInput) -> pa.Table:
    return _one(ctx, source.read()["value"][0].as_py() + 20)


@asset(namespace=NS)
def right(ctx: AssetContext, source: AssetInput) -> pa.Table:
    return _one(ctx, source.read()["value"][0].as_py() + 30)


@asset(namespace=NS)
def sink(ctx: AssetContext, left: AssetInput, middle: AssetInput, right: AssetInput) -> pa.Table:
    total = sum(part.read()["value"][0].as_py() for part in (left, middle, right))
    return _one(ctx, total)


@asset(namespace=NS, max_retries=2)
def flaky(ctx: AssetContext) -> pa.Table:
    """Attempt 1 fails retryably (once per run, keyed by a marker file); then succeeds."""
    record(ctx.run_id, f"flaky.attempt{ctx.attempt}", attempt=ctx.attempt)
    failed_once = marker(ctx.run_id, "flaky.failed")
    if not failed_once.exists():
        failed_once.touch()
        raise RetryableError("flaky: first attempt fails on purpose")
    return pa.table({"value": pa.array([ctx.attempt], pa.int64())})


@asset(namespace=NS, max_retries=3)
def broken(ctx: AssetContext) -> pa.Table:
    record(ctx.run_id, f"broken.attempt{ctx.attempt}", attempt=ctx.attempt)
    raise NonRetryableError("broken: this input can never work")


@asset(namespace=NS)
def after_broken(ctx: AssetContext, broken: AssetInput) -> pa.Table:
    return _one(ctx, 0)


@asset(namespace=NS)
def after_after(ctx: AssetContext, after_broken: AssetInput) -> pa.Table:
    return _one(ctx, 0)


@asset(namespace=NS, heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_SEC, timeout_seconds=600)
def slow(ctx: AssetContext) -> pa.Table:
    """Works in small steps until the control plane asks it to stop (or 5 minutes)."""
    record(ctx.run_id, f"slow.attempt{ctx.attempt}", attempt=ctx.attempt)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if ctx.should_cancel():
            record(ctx.run_id, "slow.cancel_observed", attempt=ctx.attempt)
            ctx.raise_if_cancelled()
        time.sleep(0.1)
    return pa.table({"value": pa.array([0], pa.int64())})


@asset(namespace=NS)
def after_slow(ctx: AssetContext, slow: AssetInput) -> pa.Table:
    return _one(ctx, 0)


@asset(
    namespace=NS,
    max_retries=2,
    heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_SEC,
    timeout_seconds=600,
)
def victim(ctx: AssetContext) -> pa.Table:
    """Attempt 1 hangs (its worker is killed by the test); later attempts succeed."""
    record(ctx.run_id, f"victim.attempt{ctx.attempt}", attempt=ctx.attempt)
    if ctx.attempt == 1:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not ctx.should_cancel():
            time.sleep(0.1)
        raise RetryableError("victim: attempt 1 was supposed to be killed")
    return pa.table({"value": pa.array([ctx.attempt], pa.int64())})


@asset(namespace=NS)
def counted(ctx: AssetContext) -> pa.Table:
    """Counts executions in a marker file; runs long enough to be redelivered mid-flight."""
    append_line(ctx.run_id, "counted.executions", f"{ctx.attempt} {ctx.attempt_id}")
    record(ctx.run_id, f"counted.attempt{ctx.attempt}", attempt=ctx.attempt)
    time.sleep(3)
    return pa.table({"value": pa.array([1], pa.int64())})
