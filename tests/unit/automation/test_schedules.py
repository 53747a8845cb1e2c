"""Schedule semantics: validation, DST, catch-up, enable/disable and the per-tick ids."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arco_core import errors
from arco_core.automation.schedules import (
    MAX_SCHEDULE_ID_LENGTH,
    SKIP_MAX_CATCHUP_TICKS,
    SKIP_OUTSIDE_CATCHUP_WINDOW,
    SKIP_PAUSED,
    ScheduleSpec,
    ScheduleState,
    Tick,
    new_schedule_state,
    next_ticks,
    plan_ticks,
    set_enabled,
    ticks_between,
)
from arco_core.automation.triggers import tick_trigger_request
from arco_core.clock import parse_rfc3339_ms, rfc3339_ms
from arco_core.orchestration.deployments import validate_manifest
from arco_core.orchestration.runs import request_fingerprint, validate_trigger
from arco_sdk import asset
from arco_sdk.manifest import AssetGraph, Schedule, build_manifest

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def at(text: str) -> int:
    return parse_rfc3339_ms(text)


def spec(cron: str, timezone: str = "UTC", **kwargs: int) -> ScheduleSpec:
    return ScheduleSpec("nightly", cron, ("sales.orders",), timezone, **kwargs)


def times(ticks: list[Tick] | tuple[Tick, ...]) -> list[str]:
    return [rfc3339_ms(t.at_ms)[:19] + "Z" for t in ticks]


# -- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cron",
    [
        "0 * * *",  # four fields
        "0 0 * * * *",  # six (seconds or years)
        "61 * * * *",
        "0 24 * * *",
        "0 0 30 2 *",  # never fires
        "0 0 L * *",  # croniter extensions outside the Unix dialect
        "0 9 * * 1#2",
        "R * * * *",
        "H * * * *",
        "@daily",
        "0 0 * FOO *",
        "",
    ],
)
def test_a_cron_outside_the_five_field_dialect_is_rejected(cron: str) -> None:
    with pytest.raises(errors.InvalidCronExpression) as caught:
        spec(cron)
    assert caught.value.reason == "invalid_cron"
    assert caught.value.code is errors.ErrorCode.INVALID_ARGUMENT


@pytest.mark.parametrize("zone", ["Mars/Olympus", "utc", "", "localtime", "../etc/passwd"])
def test_an_unknown_time_zone_is_rejected(zone: str) -> None:
    with pytest.raises(errors.UnknownTimezone) as caught:
        spec("0 0 * * *", zone)
    assert caught.value.reason == "unknown_timezone"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"schedule_id": ""}, "invalid_schedule_id"),
        ({"schedule_id": "x" * (MAX_SCHEDULE_ID_LENGTH + 1)}, "invalid_schedule_id"),
        ({"schedule_id": "a\nb"}, "invalid_schedule_id"),
        ({"assets": ()}, "invalid_asset_selection"),
        ({"assets": ("a", "")}, "invalid_asset_selection"),
        ({"catchup_window_seconds": 0}, "invalid_catchup_window"),
        ({"max_catchup_ticks": 0}, "invalid_max_catchup_ticks"),
    ],
)
def test_other_bad_fields_have_their_own_reasons(kwargs: dict[str, object], reason: str) -> None:
    fields: dict[str, object] = {"schedule_id": "s", "cron": "0 0 * * *", "assets": ("a",)}
    with pytest.raises(errors.InvalidArgument) as caught:
        ScheduleSpec(**{**fields, **kwargs})  # type: ignore[arg-type]
    assert caught.value.reason == reason


def test_the_spec_is_normalised() -> None:
    s = ScheduleSpec("s", "  0   9 * *  MON-FRI ", ("b", "a", "b"), "Europe/Berlin")
    assert s.cron == "0 9 * * MON-FRI"
    assert s.assets == ("a", "b")


def test_day_of_week_is_unix_numbering() -> None:
    """1-5 is Monday to Friday; 0 and 7 are Sunday (the reference's Quartz dialect differs)."""
    sunday = at("2026-03-01T00:00:00Z")
    weekdays = {
        datetime.fromtimestamp(t.at_ms / 1000, ZoneInfo("UTC")).strftime("%a")
        for t in ticks_between(spec("0 9 * * 1-5"), sunday, sunday + 7 * DAY_MS)
    }
    assert weekdays == {"Mon", "Tue", "Wed", "Thu", "Fri"}
    for sunday_field in ("0", "7", "sun"):
        assert times(next_ticks(spec(f"0 9 * * {sunday_field}"), sunday, 1)) == [
            "2026-03-01T09:00:00Z"
        ]


# -- DST ---------------------------------------------------------------------------------


def test_a_daily_time_in_the_spring_gap_fires_once_at_the_end_of_the_gap() -> None:
    # New York skips 02:00-03:00 local on 2026-03-08 (07:00Z is 03:00 EDT).
    got = ticks_between(
        spec("30 2 * * *", "America/New_York"),
        at("2026-03-07T00:00:00Z"),
        at("2026-03-10T00:00:00Z"),
    )
    assert times(got) == ["2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]
    # Berlin skips 02:00-03:00 local on 2026-03-29 (01:00Z is 03:00 CEST).
    got = ticks_between(
        spec("30 2 * * *", "Europe/Berlin"), at("2026-03-28T00:00:00Z"), at("2026-03-31T00:00:00Z")
    )
    assert times(got) == ["2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]


def test_a_daily_time_in_the_autumn_overlap_fires_once() -> None:
    # New York has 01:00-02:00 local twice on 2025-11-02 (05:30Z EDT and 06:30Z EST).
    got = ticks_between(
        spec("30 1 * * *", "America/New_York"),
        at("2025-11-01T00:00:00Z"),
        at("2025-11-04T00:00:00Z"),
    )
    assert times(got) == ["2025-11-01T05:30:00Z", "2025-11-02T05:30:00Z", "2025-11-03T06:30:00Z"]
    got = ticks_between(
        spec("30 2 * * *", "Europe/Berlin"), at("2026-10-24T00:00:00Z"), at("2026-10-27T00:00:00Z")
    )
    assert times(got) == ["2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]


def test_hourly_fires_every_real_hour_across_both_changes() -> None:
    hourly = spec("0 * * * *", "America/New_York")
    # Autumn: 01:00 EDT, 01:00 EST, 02:00 EST (the reference's conformance scenario).
    autumn = ticks_between(hourly, at("2025-11-02T04:00:00Z"), at("2025-11-02T07:30:00Z"))
    assert times(autumn) == ["2025-11-02T05:00:00Z", "2025-11-02T06:00:00Z", "2025-11-02T07:00:00Z"]
    # Spring: 01:00 EST then 03:00 EDT, one real hour apart; no extra tick for the gap.
    spring = ticks_between(hourly, at("2026-03-08T04:30:00Z"), at("2026-03-08T09:30:00Z"))
    assert [t.at_ms for t in spring] == [at("2026-03-08T05:00:00Z") + i * HOUR_MS for i in range(5)]
    half_past = ticks_between(
        spec("30 * * * *", "America/New_York"),
        at("2026-03-08T05:00:00Z"),
        at("2026-03-08T09:00:00Z"),
    )
    assert times(half_past) == [
        "2026-03-08T05:30:00Z",
        "2026-03-08T06:30:00Z",
        "2026-03-08T07:30:00Z",
        "2026-03-08T08:30:00Z",
    ]


def test_next_ticks_from_inside_the_overlap_keep_its_second_hour() -> None:
    hourly = spec("*/20 * * * *", "America/New_York")
    # 05:30Z is 01:30 EDT: the second 01:40 (06:40Z) and the whole EST hour are still ahead.
    got = next_ticks(hourly, at("2025-11-02T05:30:00Z"), 6)
    assert times(got) == [
        "2025-11-02T05:40:00Z",
        "2025-11-02T06:00:00Z",
        "2025-11-02T06:20:00Z",
        "2025-11-02T06:40:00Z",
        "2025-11-02T07:00:00Z",
        "2025-11-02T07:20:00Z",
    ]


ZONES = ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "UTC", "Asia/Kolkata"]
CRONS = ["0 * * * *", "*/20 * * * *", "30 2 * * *", "30 1 * * *", "15 1-3 * * 0", "0 0 1 * *"]
YEAR_2025 = (at("2025-01-01T00:00:00Z"), at("2026-12-31T00:00:00Z"))


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    cron=st.sampled_from(CRONS),
    start=st.integers(*YEAR_2025),
    cuts=st.lists(st.integers(0, 40 * DAY_MS), min_size=1, max_size=4),
)
def test_split_evaluations_see_every_tick_once(
    zone: str, cron: str, start: int, cuts: list[int]
) -> None:
    """Walking a span in pieces gives the same strictly increasing ticks as walking it whole,
    and next_ticks agrees with both."""
    s = spec(cron, zone)
    bounds = sorted({start, *(start + c for c in cuts)})
    whole = ticks_between(s, bounds[0], bounds[-1])
    pieces = [t for lo, hi in itertools.pairwise(bounds) for t in ticks_between(s, lo, hi)]
    assert pieces == whole
    assert all(a.at_ms < b.at_ms for a, b in itertools.pairwise(whole))
    assert next_ticks(s, bounds[0], len(whole)) == whole


# -- catch-up ----------------------------------------------------------------------------


def test_catch_up_runs_the_most_recent_missed_ticks_once() -> None:
    daily = spec("0 0 * * *", catchup_window_seconds=14 * 86_400, max_catchup_ticks=3)
    now = at("2026-01-11T00:00:30Z")
    state = ScheduleState(enabled=True, evaluated_through_ms=at("2026-01-01T00:00:00Z"))
    plan = plan_ticks(daily, state, now)
    assert times(plan.due) == [
        "2026-01-09T00:00:00Z",
        "2026-01-10T00:00:00Z",
        "2026-01-11T00:00:00Z",
    ]
    assert times([s.tick for s in plan.skipped]) == [
        f"2026-01-{d:02d}T00:00:00Z" for d in range(2, 9)
    ]
    assert {s.reason for s in plan.skipped} == {SKIP_MAX_CATCHUP_TICKS}
    assert plan.expired is None
    state = plan.advance(state)
    # Evaluating again, right away or later in the day, finds nothing more.
    for later in (now, now + 1, now + HOUR_MS):
        again = plan_ticks(daily, state, later)
        assert (again.due, again.skipped, again.expired) == ((), (), None)
    # The next day brings exactly the next tick.
    tomorrow = plan_ticks(daily, state, now + DAY_MS)
    assert times(tomorrow.due) == ["2026-01-12T00:00:00Z"] and tomorrow.skipped == ()


def test_ticks_older_than_the_window_are_reported_expired_not_run() -> None:
    daily = spec("0 0 * * *", catchup_window_seconds=3 * 86_400, max_catchup_ticks=10)
    state = ScheduleState(enabled=True, evaluated_through_ms=at("2026-01-01T00:00:00Z"))
    now = at("2026-01-11T00:00:00Z")  # the window opens just after 2026-01-08T00:00Z
    plan = plan_ticks(daily, state, now)
    assert times(plan.due) == [
        "2026-01-09T00:00:00Z",
        "2026-01-10T00:00:00Z",
        "2026-01-11T00:00:00Z",
    ]
    assert plan.skipped == ()
    assert plan.expired is not None
    assert plan.expired.reason == SKIP_OUTSIDE_CATCHUP_WINDOW
    assert times([plan.expired.first]) == ["2026-01-02T00:00:00Z"]
    assert plan.expired.through_ms == at("2026-01-08T00:00:00Z")
    assert plan.evaluated_through_ms == now
    # With nothing in the window, the cursor still moves past what expired, once.
    monthly = spec("0 0 1 * *", catchup_window_seconds=60)
    state = ScheduleState(enabled=True, evaluated_through_ms=at("2025-12-31T00:00:00Z"))
    none_in_window = plan_ticks(monthly, state, now)
    assert none_in_window.due == () and none_in_window.expired is not None
    assert times([none_in_window.expired.first]) == ["2026-01-01T00:00:00Z"]
    assert none_in_window.evaluated_through_ms == now - 60_000
    later = plan_ticks(monthly, none_in_window.advance(state), now + HOUR_MS)
    assert (later.due, later.skipped, later.expired) == ((), (), None)


def test_a_new_schedule_owes_nothing_from_before_it_was_created() -> None:
    hourly = spec("0 * * * *", max_catchup_ticks=100)
    created = at("2026-01-01T10:30:00Z")
    plan = plan_ticks(hourly, new_schedule_state(created), created + 2 * HOUR_MS)
    assert times(plan.due) == ["2026-01-01T11:00:00Z", "2026-01-01T12:00:00Z"]


def test_a_clock_that_goes_back_changes_nothing() -> None:
    state = ScheduleState(enabled=True, evaluated_through_ms=at("2026-01-02T00:00:00Z"))
    plan = plan_ticks(spec("0 * * * *"), state, at("2026-01-01T00:00:00Z"))
    assert plan.due == () and plan.evaluated_through_ms == state.evaluated_through_ms


@settings(max_examples=100, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    cron=st.sampled_from(["0 * * * *", "*/20 * * * *", "30 2 * * *", "30 1 * * *"]),
    start=st.integers(*YEAR_2025),
    steps=st.lists(st.integers(1, 3 * DAY_MS), min_size=1, max_size=12),
    window_s=st.integers(60, 2 * 86_400),
    max_ticks=st.integers(1, 5),
)
def test_repeated_evaluations_handle_each_tick_exactly_once(
    *, zone: str, cron: str, start: int, steps: list[int], window_s: int, max_ticks: int
) -> None:
    s = spec(cron, zone, catchup_window_seconds=window_s, max_catchup_ticks=max_ticks)
    state, now, seen = new_schedule_state(start), start, []
    expired_spans = []
    for step in steps:
        now += step
        plan = plan_ticks(s, state, now)
        assert len(plan.due) <= max_ticks
        assert all(now - window_s * 1000 < t.at_ms <= now for t in plan.due)
        seen += [*plan.due, *(k.tick for k in plan.skipped)]
        if plan.expired is not None:
            expired_spans.append((plan.expired.first.at_ms, plan.expired.through_ms))
        state = plan.advance(state)
    assert len(seen) == len(set(seen))
    # Everything that happened is either listed once or inside a reported expired span.
    listed = {t.at_ms for t in seen}
    for tick in ticks_between(s, start, now):
        inside = any(lo <= tick.at_ms <= hi for lo, hi in expired_spans)
        assert (tick.at_ms in listed) != inside, rfc3339_ms(tick.at_ms)


# -- enable / disable --------------------------------------------------------------------


def test_a_disabled_schedule_runs_nothing_and_is_not_caught_up_when_enabled() -> None:
    hourly = spec("0 * * * *", max_catchup_ticks=24)
    state = new_schedule_state(at("2026-01-01T00:00:00Z"))
    state = set_enabled(state, False, at("2026-01-01T00:30:00Z"))
    paused = plan_ticks(hourly, state, at("2026-01-01T03:00:00Z"))
    assert paused.due == ()
    assert times([k.tick for k in paused.skipped]) == [
        "2026-01-01T01:00:00Z",
        "2026-01-01T02:00:00Z",
        "2026-01-01T03:00:00Z",
    ]
    assert {k.reason for k in paused.skipped} == {SKIP_PAUSED}
    state = paused.advance(state)
    assert not state.enabled
    # Not evaluated for a while, then enabled at 06:10: 04:00-06:00 are never run.
    state = set_enabled(state, True, at("2026-01-01T06:10:00Z"))
    resumed = plan_ticks(hourly, state, at("2026-01-01T08:00:00Z"))
    assert times(resumed.due) == ["2026-01-01T07:00:00Z", "2026-01-01T08:00:00Z"]
    assert resumed.skipped == ()


def test_enabling_an_enabled_schedule_keeps_its_backlog() -> None:
    state = ScheduleState(enabled=True, evaluated_through_ms=at("2026-01-01T00:00:00Z"))
    assert set_enabled(state, True, at("2026-01-05T00:00:00Z")) == state
    off = set_enabled(state, False, at("2026-01-05T00:00:00Z"))
    assert set_enabled(off, False, at("2026-01-06T00:00:00Z")) == off


# -- ids ---------------------------------------------------------------------------------


def test_tick_ids_and_run_keys_are_fixed_by_the_schedule_and_the_instant() -> None:
    tick = next_ticks(
        ScheduleSpec("daily-etl", "0 10 * * *", ("a",)), at("2025-01-15T00:00:00Z"), 1
    )[0]
    assert tick.tick_id == "daily-etl:1736935200"
    assert tick.run_key == "sched:daily-etl:1736935200"


def test_two_processes_evaluating_the_same_ticks_request_the_same_runs() -> None:
    """Two automation processes with the same cursor but different clocks (one slow, one
    restarted after a kill mid-tick) agree on every tick they both see, so the run key
    triggers one run per tick."""
    s = ScheduleSpec("hourly-x", "0 * * * *", ("b", "a"), "Europe/Berlin", max_catchup_ticks=5)
    state = new_schedule_state(at("2026-10-25T00:00:00Z"))
    first = plan_ticks(s, state, at("2026-10-25T03:00:10Z"))
    second = plan_ticks(s, state, at("2026-10-25T03:59:59Z"))
    assert first.due == second.due
    requests = [tick_trigger_request(s, t) for t in first.due]
    again = [tick_trigger_request(s, t) for t in second.due]
    assert requests == again
    assert len({r.run_key for r in requests}) == len(requests)
    for request in requests:
        validate_trigger(request)
        assert request.selection == ("a", "b")
    fingerprints = [request_fingerprint(r) for r in requests]
    assert fingerprints == [request_fingerprint(r) for r in again]


def test_the_longest_schedule_id_still_gives_a_valid_run_key() -> None:
    s = ScheduleSpec("x" * MAX_SCHEDULE_ID_LENGTH, "0 0 1 1 *", ("a",))
    tick = next_ticks(s, at("2100-06-01T00:00:00Z"), 1)[0]
    validate_trigger(tick_trigger_request(s, tick))


# -- deploy ------------------------------------------------------------------------------


def _manifest(cron: str, timezone: str = "UTC") -> dict[str, Any]:
    """What an SDK user deploys: one asset and a ``Schedule`` over it."""

    @asset(namespace="sales", name="orders")
    def orders(ctx: Any) -> None:
        return None

    schedule = Schedule("nightly", cron, ("sales.orders",), timezone)
    manifest: dict[str, Any] = build_manifest(
        AssetGraph([orders]), code_version_id="v1", schedules=[schedule]
    )
    return manifest


@pytest.mark.parametrize(
    ("schedule", "error"),
    [
        (("0 0 * * * *",), errors.InvalidCronExpression),
        (("not a cron at all",), errors.InvalidCronExpression),
        (("0 2 * * *", "Europe/Atlantis"), errors.UnknownTimezone),
    ],
)
def test_deploy_refuses_a_schedule_that_cannot_fire(
    schedule: tuple[str, ...], error: type[errors.ArcoError]
) -> None:
    with pytest.raises(error):
        validate_manifest(_manifest(*schedule))
    validate_manifest(_manifest("0 2 * * *", "Europe/Berlin"))
