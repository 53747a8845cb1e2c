from __future__ import annotations

import base64
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arco_core.clock import FakeClock
from arco_core.errors import InvalidArgument
from arco_core.ids import (
    UlidGenerator,
    callback_task_id,
    cloud_task_id,
    cron_timer_id,
    deterministic_attempt_id,
    dispatch_id,
    heartbeat_timer_id,
    is_ulid,
    new_ulid,
    parse_callback_task_id,
    parse_timer_id,
    retry_timer_id,
    run_id_from_run_key,
    run_key_hash,
    sla_timer_id,
    ulid_timestamp_ms,
)


def test_ulid_shape_and_timestamp() -> None:
    clock = FakeClock(1_736_935_200_123)
    gen = UlidGenerator(clock)
    ulid = gen.new()
    assert is_ulid(ulid)
    assert ulid_timestamp_ms(ulid) == 1_736_935_200_123
    assert is_ulid(new_ulid())


def test_ulid_burst_is_strictly_monotonic_in_one_millisecond() -> None:
    gen = UlidGenerator(FakeClock(1_000))
    ids = [gen.new() for _ in range(256)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 256
    assert all(ulid_timestamp_ms(i) == 1_000 for i in ids)


def test_ulid_monotonic_when_clock_steps_back() -> None:
    clock = FakeClock(5_000)
    gen = UlidGenerator(clock)
    first = gen.new()
    clock.set_ms(4_000)
    assert gen.new() > first


def test_ulid_monotonic_across_threads() -> None:
    gen = UlidGenerator(FakeClock(7))
    out: list[list[str]] = [[] for _ in range(8)]

    def work(bucket: list[str]) -> None:
        bucket.extend(gen.new() for _ in range(200))

    threads = [threading.Thread(target=work, args=(b,)) for b in out]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [u for bucket in out for u in bucket]
    assert len(set(flat)) == len(flat)
    for bucket in out:
        assert bucket == sorted(bucket)


def test_default_generator_is_monotonic() -> None:
    ids = [new_ulid() for _ in range(500)]
    assert ids == sorted(ids)


@pytest.mark.parametrize(
    "bad",
    ["", "01ARZ3NDEKTSV4RRFFQ69G5FA", "81ARZ3NDEKTSV4RRFFQ69G5FAV", "01arz3ndektsv4rrffq69g5fav"],
)
def test_not_ulid(bad: str) -> None:
    assert not is_ulid(bad)
    with pytest.raises(InvalidArgument) as info:
        ulid_timestamp_ms(bad)
    assert info.value.reason == "invalid_ulid"


def test_reference_examples() -> None:
    did = dispatch_id("run1", "extract", 1)
    assert did == "dispatch:run1:extract:1"
    assert deterministic_attempt_id(did) == "att_af5c419a69061299a227e6a9"
    assert (
        deterministic_attempt_id("dispatch:run-123:analytics.daily_sales:1")
        == "att_d73e81338503cf766c5a9d17"
    )
    assert cloud_task_id("d", did) == "d_cxtoltqhbncw6nevn7hy53kqn6"
    assert (
        cloud_task_id("d", "dispatch:run-123:analytics.daily_sales:1")
        == "d_qdd6g2ky62mspicbvotk3h6sws"
    )
    assert len(cloud_task_id("t", "timer:cron:s:1")) == 28
    assert (
        callback_task_id("run-123", "analytics.daily_sales")
        == "ct1_cnVuLTEyMwBhbmFseXRpY3MuZGFpbHlfc2FsZXM"
    )
    run_id = run_id_from_run_key(
        b"test-secret", "tenant-abc", "workspace-prod", "sched:daily-etl:1736935200"
    )
    assert run_id == "run_ba6mduulcrdaksbnw2imp3eiwq"
    assert len(run_id) == 30


def test_run_id_depends_on_every_input() -> None:
    base = run_id_from_run_key(b"s", "t", "w", "k")
    assert run_id_from_run_key(b"s", "t", "w", "k") == base
    assert run_id_from_run_key(b"x", "t", "w", "k") != base
    assert run_id_from_run_key(b"s", "u", "w", "k") != base
    assert run_id_from_run_key(b"s", "t", "v", "k") != base
    assert run_key_hash("k") == run_key_hash("k") and len(run_key_hash("k")) == 40


def _ct1(raw: bytes) -> str:
    return "ct1_" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    ("task_id", "reason"),
    [
        ("analytics.daily_sales", "missing_prefix"),
        ("ct1_***", "invalid_base64"),
        ("ct1_a", "invalid_base64"),
        (_ct1(b"no-nul"), "invalid_payload"),
        (_ct1(b"a\0b\0c"), "invalid_payload"),
        (_ct1(b"\0task"), "invalid_payload"),
        (_ct1(b"run\0"), "invalid_payload"),
        (_ct1(b"\xff\0task"), "invalid_utf8"),
    ],
)
def test_parse_callback_task_id_errors(task_id: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_callback_task_id(task_id)
    assert info.value.reason == reason
    if reason == "missing_prefix":
        assert "ct1_" in info.value.message


@given(
    st.text(min_size=1).filter(lambda s: "\0" not in s),
    st.text(min_size=1).filter(lambda s: "\0" not in s),
)
def test_callback_task_id_roundtrip(run_id: str, task_key: str) -> None:
    assert parse_callback_task_id(callback_task_id(run_id, task_key)) == (run_id, task_key)


def test_timer_ids() -> None:
    assert retry_timer_id("r", "a.b", 2, 100) == "timer:retry:r:a.b:2:100"
    assert heartbeat_timer_id("r", "a.b", 1, 5) == "timer:heartbeat:r:a.b:1:5"
    assert sla_timer_id("r", "a.b", 1, 5) == "timer:sla:r:a.b:1:5"
    assert cron_timer_id("daily", 9) == "timer:cron:daily:9"
    parsed = parse_timer_id("timer:retry:run:x:a.b:2:100")
    assert (parsed.timer_type, parsed.run_id, parsed.task_key, parsed.attempt, parsed.epoch) == (
        "retry",
        "run:x",
        "a.b",
        2,
        100,
    )
    cron = parse_timer_id("timer:cron:sched:1:42")
    assert (cron.schedule_id, cron.epoch) == ("sched:1", 42)
    for bad in ("timer:retry:r:1", "x:retry:r:t:1:2", "timer:bogus:r:t:1:2", "timer:cron::1"):
        with pytest.raises(InvalidArgument):
            parse_timer_id(bad)
