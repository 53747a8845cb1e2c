from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arco_core.clock import Clock, FakeClock, SystemClock, parse_rfc3339_ms, rfc3339_ms
from arco_core.errors import InvalidArgument


def test_rfc3339_format() -> None:
    assert rfc3339_ms(1_767_225_600_123) == "2026-01-01T00:00:00.123Z"
    assert rfc3339_ms(0) == "1970-01-01T00:00:00.000Z"


def test_rfc3339_parse() -> None:
    assert parse_rfc3339_ms("2026-01-01T00:00:00.123Z") == 1_767_225_600_123
    assert parse_rfc3339_ms("2026-01-01T00:00:00Z") == 1_767_225_600_000
    assert parse_rfc3339_ms("2026-01-01T02:00:00.5+02:00") == 1_767_225_600_500
    assert parse_rfc3339_ms("2026-01-01T00:00:00.123999999Z") == 1_767_225_600_123
    for bad in ("2026-01-01", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z", "x", ""):
        with pytest.raises(InvalidArgument):
            parse_rfc3339_ms(bad)


@given(st.integers(-62_135_596_800_000, 253_402_300_799_999))
def test_rfc3339_roundtrip(ms: int) -> None:
    assert parse_rfc3339_ms(rfc3339_ms(ms)) == ms


def test_fake_clock() -> None:
    clock = FakeClock(1_000)
    assert isinstance(clock, Clock)
    assert clock.advance(500) == 1_500
    assert clock.advance(timedelta(seconds=2)) == 3_500
    clock.set_ms(10)
    assert clock.now_ms() == 10
    assert clock.now() == datetime(1970, 1, 1, 0, 0, 0, 10_000, tzinfo=UTC)


def test_system_clock() -> None:
    clock = SystemClock()
    assert isinstance(clock, Clock)
    assert abs(clock.now_ms() - time.time() * 1000) < 1_000
    assert clock.now().tzinfo is not None
