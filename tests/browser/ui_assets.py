"""Assets of the web UI test (tests/browser/test_ui.py): ``ui.source`` prints a line its
log upload must carry, ``ui.doubled`` reads it, ``ui.slow`` works in small steps until it
is cancelled (so the UI can cancel a run while a task is really running), ``ui.flaky``
fails its first attempt and succeeds on its retry (two timeline bars), ``ui.days`` is
daily-partitioned and takes a moment per day (a backfill stays running long enough to be
paused), ``ui.ticked`` is run by the ``ui-every-minute`` schedule and the ``ui-counter``
poll sensor asks for one run of it and then reports no new data."""

from __future__ import annotations

import time

import pyarrow as pa

from arco_sdk import (
    AssetContext,
    AssetInput,
    DailyPartition,
    RunRequest,
    Schedule,
    SensorContext,
    SensorResult,
    asset,
    sensor,
)

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


@asset(namespace="ui", max_retries=1, retry_delay_seconds=0)
def flaky(ctx: AssetContext) -> pa.Table:
    if ctx.attempt == 1:
        raise RuntimeError("ui.flaky fails its first attempt on purpose")
    return pa.table({"attempt": pa.array([ctx.attempt], pa.int64())})


@asset(namespace="ui", partitions=DailyPartition("date"))
def days(ctx: AssetContext) -> pa.Table:
    # Long enough per chunk for the page to pause the backfill before it ends.
    if ctx.cancel_event.wait(2.0):
        ctx.raise_if_cancelled()
    return pa.table({"day": [ctx.partition_key.to_python()["date"].isoformat()]})


@asset(namespace="ui")
def ticked(ctx: AssetContext) -> pa.Table:
    return pa.table({"run": pa.array([ctx.run_id])})


every_minute = Schedule("ui-every-minute", "* * * * *", ("ui.ticked",))


@sensor("ui-counter", minimum_interval_seconds=5, assets=["ui.ticked"])
def counter(context: SensorContext) -> SensorResult:
    if context.cursor:
        return SensorResult(cursor=context.cursor)
    return SensorResult(cursor="1", run_requests=[RunRequest("ui-counter-1")])
