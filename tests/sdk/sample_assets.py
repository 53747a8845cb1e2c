"""Assets the worker tests dispatch. Behaviour is steered through the envelope payload."""

from __future__ import annotations

import asyncio
import time

import httpx
import pyarrow as pa

from arco_sdk import (
    AssetContext,
    AssetInput,
    AssetResult,
    DailyPartition,
    DataQualityError,
    NonRetryableError,
    RetryableError,
    RowCountCheck,
    asset,
)


def _cooperative_sleep(ctx: AssetContext, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not ctx.should_cancel():
        time.sleep(0.01)


@asset(namespace="t")
def side_effect(ctx: AssetContext) -> AssetResult:
    """Reports its side effect to the recorder, so the test sees the ordering."""
    httpx.post(ctx.payload["sideEffectUrl"], json={"taskId": ctx.payload["taskId"]}, timeout=5)
    _cooperative_sleep(ctx, float(ctx.payload.get("seconds", 0)))
    return AssetResult(row_count=1)


@asset(namespace="t")
def sleepy(ctx: AssetContext) -> AssetResult:
    seconds = float(ctx.payload.get("seconds", 1))
    _cooperative_sleep(ctx, seconds)
    ctx.report_progress(100, "done")
    return AssetResult(row_count=0)


@asset(namespace="t")
def stubborn(ctx: AssetContext) -> None:
    """Ignores cancellation entirely."""
    time.sleep(float(ctx.payload.get("seconds", 3)))


@asset(namespace="t", timeout_seconds=1)
def too_slow(ctx: AssetContext) -> None:
    _cooperative_sleep(ctx, 10)


@asset(namespace="t")
def printer(ctx: AssetContext) -> None:
    marker = ctx.payload["marker"]
    for i in range(20):
        print(f"{marker} line {i}")
        ctx.log.info("logged", marker=marker, i=i)
        time.sleep(0.005)


@asset(namespace="t")
async def async_printer(ctx: AssetContext) -> AssetResult:
    marker = ctx.payload["marker"]
    for i in range(10):
        print(f"{marker} async line {i}")
        await asyncio.sleep(0.005)
    return AssetResult(row_count=10)


@asset(namespace="t")
def fails_plain(ctx: AssetContext) -> None:
    raise ValueError("boom")


@asset(namespace="t")
def fails_retryable(ctx: AssetContext) -> None:
    raise RetryableError("flaky source")


@asset(namespace="t")
def fails_nonretryable(ctx: AssetContext) -> None:
    raise NonRetryableError("bad input file")


@asset(namespace="t")
def fails_quality(ctx: AssetContext) -> None:
    raise DataQualityError("negative totals")


@asset(namespace="t", checks=[RowCountCheck(min_rows=5)])
def too_few_rows(ctx: AssetContext) -> pa.Table:
    return pa.table({"x": [1, 2]})


@asset(namespace="t")
def cancels_itself(ctx: AssetContext) -> None:
    ctx.cancel_event.set()
    ctx.raise_if_cancelled()


@asset(namespace="t")
def source_table(ctx: AssetContext) -> pa.Table:
    return pa.table({"n": list(range(10))})


@asset(namespace="t")
def doubled(ctx: AssetContext, source_table: AssetInput) -> pa.Table:
    table = source_table.read()
    return pa.table({"n2": [n * 2 for n in table["n"].to_pylist()]})


@asset(namespace="t", partitions=DailyPartition("date"))
def daily(ctx: AssetContext) -> pa.Table:
    day = ctx.partition_key.to_python()["date"]
    return pa.table({"day": [str(day)]})
