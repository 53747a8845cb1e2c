"""The backfill domain core: selectors resolve against the asset's real partition
dimensions, chunks are planned under the concurrency bound, and state moves are checked."""

from __future__ import annotations

import random

import pytest

from arco_core.automation.backfills import (
    MAX_BACKFILL_PARTITIONS,
    BackfillState,
    ChunkState,
    Dimension,
    ExplicitSelector,
    Progress,
    RangeSelector,
    chunk_at,
    chunk_count,
    chunks_to_plan,
    dimensions_from_manifest,
    finished_state,
    parse_selector,
    progress,
    resolve_partitions,
    retry_failed_selector,
    selector_to_json,
    transition,
)
from arco_core.errors import Conflict, InvalidArgument

DAILY = (Dimension("date", "time", granularity="day"),)
HOURLY_BY_REGION = (
    Dimension("hour", "time", granularity="hour"),
    Dimension("region", "static", values=("eu", "us")),
)


def test_dimensions_come_from_the_manifest_wire_form() -> None:
    wire = {
        "isPartitioned": True,
        "dimensions": [
            {"name": "hour", "kind": "time", "granularity": "hour"},
            {"name": "region", "kind": "static", "values": ["eu", "us"]},
        ],
    }
    assert dimensions_from_manifest(wire) == HOURLY_BY_REGION
    assert dimensions_from_manifest(None) == ()
    with pytest.raises(InvalidArgument, match="kind"):
        dimensions_from_manifest({"dimensions": [{"name": "x", "kind": "dynamic"}]})


def test_a_daily_range_is_every_day_inclusive_across_a_month_end() -> None:
    keys = resolve_partitions(RangeSelector("2025-01-30", "2025-02-02"), DAILY)
    assert keys == (
        "date=d:2025-01-30",
        "date=d:2025-01-31",
        "date=d:2025-02-01",
        "date=d:2025-02-02",
    )
    leap = resolve_partitions(RangeSelector("2024-02-28", "2024-03-01"), DAILY)
    assert len(leap) == 3


def test_an_hourly_range_crosses_every_static_value() -> None:
    day = resolve_partitions(RangeSelector("2025-01-30", "2025-01-30"), HOURLY_BY_REGION)
    assert len(day) == 24 * 2
    two = resolve_partitions(
        RangeSelector("2025-01-30T22:00:00Z", "2025-01-30T23:00:00Z"), HOURLY_BY_REGION
    )
    assert len(two) == 4 and two[0].startswith("hour=t:2025-01-30T22:00:00")
    with pytest.raises(InvalidArgument, match="on the hour"):
        resolve_partitions(
            RangeSelector("2025-01-30T22:30:00Z", "2025-01-30T23:00:00Z"), HOURLY_BY_REGION
        )


@pytest.mark.parametrize(
    ("selector", "dimensions", "message"),
    [
        (RangeSelector("2025-02-02", "2025-01-30"), DAILY, "after its end"),
        (RangeSelector("2025-13-01", "2025-12-31"), DAILY, "not a date"),
        (RangeSelector("2025-01-01", "2025-01-02"), (), "not partitioned"),
        (
            RangeSelector("a", "b"),
            (Dimension("region", "static", values=("eu",)),),
            "one time dimension",
        ),
        (ExplicitSelector(("2025-01-01",)), HOURLY_BY_REGION, "exactly hour, region"),
        (ExplicitSelector(("date=d:2025-01-01,region=s:ZXU",)), DAILY, "exactly date"),
        (ExplicitSelector(("nonsense",)), DAILY, "not a date"),
        (RangeSelector("1700-01-01", "2100-01-01"), DAILY, str(MAX_BACKFILL_PARTITIONS)),
    ],
)
def test_what_an_asset_cannot_have_is_refused_with_the_reason(
    selector: RangeSelector | ExplicitSelector, dimensions: tuple[Dimension, ...], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        resolve_partitions(selector, dimensions)


def test_explicit_partitions_are_canonical_typed_and_unique() -> None:
    keys = resolve_partitions(
        ExplicitSelector(("2025-01-30", "date=d:2025-01-31", "date=2025-02-01", "2025-01-30")),
        DAILY,
    )
    assert keys == ("date=d:2025-01-30", "date=d:2025-01-31", "date=d:2025-02-01")
    static = (Dimension("region", "static", values=("eu", "us")),)
    with pytest.raises(InvalidArgument, match="one of eu, us"):
        resolve_partitions(ExplicitSelector(("apac",)), static)


def test_selectors_parse_from_json_and_round_trip() -> None:
    ranged = parse_selector({"type": "range", "start": "2025-01-01", "end": "2025-01-31"})
    assert ranged == RangeSelector("2025-01-01", "2025-01-31")
    assert parse_selector(selector_to_json(ranged)) == ranged
    filtered = parse_selector(
        {"type": "filter", "filters": {"partition_start": "2025-01-01", "end": "2025-01-02"}}
    )
    assert filtered == RangeSelector("2025-01-01", "2025-01-02")
    explicit = parse_selector({"type": "explicit", "partitions": ["a", "b"]})
    assert parse_selector(selector_to_json(explicit)) == explicit
    for bad in (
        None,
        {"type": "all"},
        {"type": "range", "start": "2025-01-01"},
        {"type": "explicit", "partitions": []},
        {"type": "explicit", "partitions": ["", "x"]},
        {"type": "filter", "filters": {"start": "2025-01-01"}},
        {"type": "filter", "filters": {"start": "a", "partition_start": "b", "end": "c"}},
        {"type": "filter", "filters": {"start": "a", "end": "b", "region": "eu"}},
    ):
        with pytest.raises(InvalidArgument) as info:
            parse_selector(bad)
        assert info.value.reason == "invalid_partition_selector"


def test_chunks_slice_the_keys_and_carry_one_run_key_each() -> None:
    keys = [f"date=d:2025-01-{d:02d}" for d in range(1, 26)]
    assert chunk_count(len(keys), 10) == 3
    last = chunk_at("bf1", keys, 10, 2)
    assert last.partition_keys == tuple(keys[20:])
    assert (last.chunk_id, last.run_key) == ("bf1:2", "backfill:bf1:chunk:2")
    assert last.fingerprint == chunk_at("bf1", keys, 10, 2).fingerprint
    assert last.fingerprint != chunk_at("bf1", keys, 10, 1).fingerprint
    with pytest.raises(IndexError):
        chunk_at("bf1", keys, 10, 3)


def test_thirty_days_under_three_concurrent_runs_pause_resume_and_retry_only_failures() -> None:
    keys = resolve_partitions(RangeSelector("2025-01-01", "2025-01-30"), DAILY)
    total = chunk_count(len(keys), 1)
    chunks: dict[int, ChunkState] = {}
    state, version = BackfillState.RUNNING, 1
    rng = random.Random(7)
    most_active = 0
    passes = 0
    failing = {4, 17}
    while finished_state(total, chunks) is None:
        passes += 1
        if passes == 5:
            version = transition(state, version, BackfillState.PAUSED, expected_version=version)
            state = BackfillState.PAUSED
            assert chunks_to_plan(state, total, chunks, 3) == []  # paused: nothing new
            version = transition(state, version, BackfillState.RUNNING)
            state = BackfillState.RUNNING
        for index in chunks_to_plan(state, total, chunks, 3):
            chunks[index] = ChunkState.PLANNED
        active = [i for i, s in chunks.items() if s.is_active]
        most_active = max(most_active, len(active))
        for index in active:  # runs finish in any order
            if rng.random() < 0.5:
                chunks[index] = ChunkState.FAILED if index in failing else ChunkState.SUCCEEDED
    assert most_active == 3
    assert finished_state(total, chunks) is BackfillState.FAILED
    assert progress(total, chunks.values()) == Progress(total, 0, 0, 28, 2)
    retry = retry_failed_selector(keys, 1, chunks)
    assert retry.partitions == (keys[4], keys[17])
    assert version == 3


def test_state_moves_are_checked_and_versioned() -> None:
    assert transition(BackfillState.RUNNING, 1, BackfillState.CANCELLED) == 2
    with pytest.raises(Conflict) as stale:
        transition(BackfillState.RUNNING, 3, BackfillState.PAUSED, expected_version=2)
    assert stale.value.reason == "backfill_version_conflict"
    for current, target in (
        (BackfillState.CANCELLED, BackfillState.RUNNING),
        (BackfillState.PAUSED, BackfillState.PAUSED),
        (BackfillState.SUCCEEDED, BackfillState.FAILED),
    ):
        with pytest.raises(Conflict) as bad:
            transition(current, 1, target)
        assert bad.value.reason == "invalid_backfill_transition"
    assert chunks_to_plan(BackfillState.CANCELLED, 5, {}, 3) == []
    with pytest.raises(Conflict, match="no failed chunks"):
        retry_failed_selector(["a"], 1, {0: ChunkState.SUCCEEDED})
