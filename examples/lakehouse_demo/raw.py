"""Raw sources, generated deterministically (seeded) so runs are reproducible."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from arco_sdk import AssetContext, asset

START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 7
EVENT_COUNT = 5_000
USER_COUNT = 200
COUNTRIES = ("de", "fr", "jp", "us", "br")
EVENT_TYPES = ("view", "click", "purchase")


@asset(owners=["data@arco.dev"], tags={"layer": "raw"}, timeout_seconds=300)
def users(ctx: AssetContext) -> pa.Table:
    """Users with their home country."""
    rng = random.Random(7)
    ids = list(range(1, USER_COUNT + 1))
    ctx.log.info("generating users", count=len(ids))
    return pa.table(
        {
            "user_id": pa.array(ids, pa.int64()),
            "country": pa.array([rng.choice(COUNTRIES) for _ in ids], pa.string()),
            "signup_day": pa.array(
                [(START - timedelta(days=rng.randint(0, 365))).date() for _ in ids], pa.date32()
            ),
        }
    )


@asset(owners=["data@arco.dev"], tags={"layer": "raw"}, timeout_seconds=300)
def events(ctx: AssetContext) -> pa.Table:
    """Product events over one week, including a few malformed rows to clean up."""
    rng = random.Random(42)
    rows: dict[str, list[object]] = {
        "event_id": [],
        "user_id": [],
        "event_type": [],
        "amount_cents": [],
        "ts": [],
    }
    for event_id in range(1, EVENT_COUNT + 1):
        kind = rng.choices(EVENT_TYPES, weights=(70, 25, 5))[0]
        user: int | None = rng.randint(1, USER_COUNT)
        amount = rng.randint(100, 20_000) if kind == "purchase" else 0
        if event_id % 97 == 0:
            user = None  # lost attribution
        if event_id % 211 == 0:
            amount = -amount - 1  # a refund recorded as a negative purchase
        rows["event_id"].append(event_id)
        rows["user_id"].append(user)
        rows["event_type"].append(kind)
        rows["amount_cents"].append(amount)
        rows["ts"].append(START + timedelta(seconds=rng.randint(0, DAYS * 86_400 - 1)))
        if event_id % 1_000 == 0:
            ctx.report_progress(event_id * 100 // EVENT_COUNT, "generating events")
    ctx.log.info("generated events", count=EVENT_COUNT)
    return pa.table(
        {
            "event_id": pa.array(rows["event_id"], pa.int64()),
            "user_id": pa.array(rows["user_id"], pa.int64()),
            "event_type": pa.array(rows["event_type"], pa.string()),
            "amount_cents": pa.array(rows["amount_cents"], pa.int64()),
            "ts": pa.array(rows["ts"], pa.timestamp("us", tz="UTC")),
        }
    )
