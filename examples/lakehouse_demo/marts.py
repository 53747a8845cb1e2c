"""Aggregates (fan-out from the cleaned events) and the final report (fan-in)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from arco_sdk import AssetContext, AssetInput, RowCountCheck, Schedule, asset


def _purchases(table: pa.Table) -> pa.Table:
    return table.filter(pc.equal(table["event_type"], "purchase"))


@asset(checks=[RowCountCheck(min_rows=1)], tags={"layer": "mart"}, timeout_seconds=300)
def daily_metrics(ctx: AssetContext, cleaned_events: AssetInput) -> pa.Table:
    """Per day: events, active users, purchases and revenue."""
    table = cleaned_events.read()
    activity = table.group_by("day").aggregate(
        [("event_id", "count"), ("user_id", "count_distinct")]
    )
    revenue = (
        _purchases(table)
        .group_by("day")
        .aggregate([("event_id", "count"), ("amount_cents", "sum")])
    )
    revenue = revenue.rename_columns(["day", "purchases", "revenue_cents"])
    result = (
        activity.rename_columns(["day", "events", "active_users"])
        .join(revenue, keys="day", join_type="left outer")
        .sort_by("day")
    )
    ctx.log.info("daily metrics", days=result.num_rows)
    return result


@asset(checks=[RowCountCheck(min_rows=1)], tags={"layer": "mart"}, timeout_seconds=300)
def country_metrics(ctx: AssetContext, cleaned_events: AssetInput) -> pa.Table:
    """Per country: buyers and revenue."""
    purchases = _purchases(cleaned_events.read())
    result = (
        purchases.group_by("country")
        .aggregate([("user_id", "count_distinct"), ("amount_cents", "sum")])
        .rename_columns(["country", "buyers", "revenue_cents"])
        .sort_by([("revenue_cents", "descending"), ("country", "ascending")])
    )
    ctx.log.info("country metrics", countries=result.num_rows)
    return result


@asset(tags={"layer": "report"}, timeout_seconds=300)
def report(ctx: AssetContext, daily_metrics: AssetInput, country_metrics: AssetInput) -> pa.Table:
    """One row of headline numbers for the week."""
    daily = daily_metrics.read()
    countries = country_metrics.read()
    total_revenue = pc.sum(daily["revenue_cents"]).as_py() or 0
    best_day = daily.sort_by([("revenue_cents", "descending")])["day"][0].as_py()
    top_country = countries["country"][0].as_py()
    summary = pa.table(
        {
            "days": pa.array([daily.num_rows], pa.int64()),
            "events": pa.array([pc.sum(daily["events"]).as_py()], pa.int64()),
            "revenue_cents": pa.array([total_revenue], pa.int64()),
            "best_day": pa.array([best_day], pa.date32()),
            "top_country": pa.array([top_country], pa.string()),
        }
    )
    print(f"week revenue {total_revenue / 100:.2f}, best day {best_day}, top country {top_country}")
    return summary


# Rebuild the report (and what it needs) every morning; the automation service fires it.
nightly_report = Schedule("nightly-report", "0 6 * * *", ("marts.report",), timezone="UTC")
