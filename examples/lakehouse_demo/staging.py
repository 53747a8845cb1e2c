"""Cleaned, attributed events (fan-in of both raw sources)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from arco_sdk import AssetContext, AssetInput, NotNullCheck, RowCountCheck, asset


@asset(
    checks=[RowCountCheck(min_rows=1), NotNullCheck(("user_id", "country"))],
    tags={"layer": "staging"},
    timeout_seconds=300,
)
def cleaned_events(ctx: AssetContext, events: AssetInput, users: AssetInput) -> pa.Table:
    """Events with a known user and a non-negative amount, joined to the user's country."""
    raw = events.read()
    valid = raw.filter(
        pc.and_(pc.is_valid(raw["user_id"]), pc.greater_equal(raw["amount_cents"], 0))
    )
    joined = valid.join(users.read().select(["user_id", "country"]), keys="user_id")
    day = pc.cast(joined["ts"], pa.date32())
    cleaned = joined.append_column("day", day).sort_by("event_id")
    ctx.log.info("cleaned events", kept=cleaned.num_rows, dropped=raw.num_rows - valid.num_rows)
    return cleaned
