"""One day of orders, generated from the day itself so every rerun writes the same rows."""

from __future__ import annotations

import random
from datetime import date

import pyarrow as pa

from arco_sdk import AssetContext, DailyPartition, RowCountCheck, asset

ORDERS_PER_DAY = 50


@asset(
    namespace="sales",
    partitions=DailyPartition("date"),
    checks=[RowCountCheck(min_rows=1)],
    tags={"layer": "raw"},
    timeout_seconds=120,
)
def daily_orders(ctx: AssetContext) -> pa.Table:
    """The day's orders: id, customer and amount."""
    day = ctx.partition_key.to_python()["date"]
    assert isinstance(day, date)  # the date dimension's values are dates
    rng = random.Random(day.toordinal())  # the same day always gives the same orders
    ids = list(range(1, ORDERS_PER_DAY + 1))
    ctx.log.info("generating orders", day=day.isoformat(), count=len(ids))
    return pa.table(
        {
            "day": pa.array([day] * len(ids), pa.date32()),
            "order_id": pa.array(ids, pa.int64()),
            "customer_id": pa.array([rng.randint(1, 200) for _ in ids], pa.int64()),
            "amount_cents": pa.array([rng.randint(100, 20_000) for _ in ids], pa.int64()),
        }
    )
