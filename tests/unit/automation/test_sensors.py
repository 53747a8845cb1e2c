"""The sensor domain core: when a poll is due, what a worker's answer may hold, and how the
cursor moves: of two evaluations from one state version only the first applies."""

from __future__ import annotations

import pytest

from arco_core.automation.sensors import (
    MAX_CURSOR_BYTES,
    MAX_RUN_REQUESTS,
    EvaluationResult,
    EvaluationStatus,
    SensorKind,
    SensorRunRequest,
    SensorSpec,
    SensorState,
    SensorStatus,
    apply_evaluation,
    next_poll_ms,
    parse_evaluation,
    push_evaluation_key,
    requested_runs,
)
from arco_core.errors import InvalidArgument

NOW = 1_767_225_600_000


def test_specs_are_validated() -> None:
    assert SensorSpec("new-files").kind is SensorKind.POLL
    for bad, reason in (
        ({"sensor_id": ""}, "invalid_sensor_id"),
        ({"sensor_id": "a\nb"}, "invalid_sensor_id"),
        ({"sensor_id": "s", "minimum_interval_seconds": 0}, "invalid_minimum_interval"),
    ):
        with pytest.raises(InvalidArgument) as info:
            SensorSpec(**bad)
        assert info.value.reason == reason
    with pytest.raises(ValueError):
        SensorSpec("s", kind="cron")  # type: ignore[arg-type]


def test_a_poll_sensor_is_due_once_per_minimum_interval_and_never_when_paused() -> None:
    spec = SensorSpec("s", minimum_interval_seconds=60)
    assert next_poll_ms(spec, SensorState()) == 0
    polled = SensorState(last_evaluation_at_ms=NOW, state_version=1)
    assert next_poll_ms(spec, polled) == NOW + 60_000
    assert next_poll_ms(spec, SensorState(status=SensorStatus.PAUSED)) is None
    assert next_poll_ms(SensorSpec("p", kind=SensorKind.PUSH), SensorState()) is None


def test_keys_make_a_redelivered_message_one_evaluation() -> None:
    assert push_evaluation_key("s", "m1") == push_evaluation_key("s", "m1")
    assert push_evaluation_key("s", "m1") != push_evaluation_key("s", "m2")
    with pytest.raises(InvalidArgument):
        push_evaluation_key("s", "")


def test_a_workers_answer_is_parsed_and_bounded() -> None:
    result = parse_evaluation(
        {
            "cursor": "offset-42",
            "runRequests": [
                {"runKey": "file-1", "assets": ["raw.events", "raw.events"], "labels": {"f": "1"}},
                {"runKey": "file-2", "assets": ["raw.events"], "partitions": ["date=d:2025-01-01"]},
            ],
        }
    )
    assert result.cursor == "offset-42"
    assert [r.run_key for r in result.run_requests] == ["file-1", "file-2"]
    assert result.run_requests[0].assets == ("raw.events",)
    assert parse_evaluation({}) == EvaluationResult(None)
    too_many = [{"runKey": f"k{i}", "assets": ["a"]} for i in range(MAX_RUN_REQUESTS + 1)]
    for bad, reason in (
        ({"cursor": 5}, "invalid_sensor_result"),
        ({"cursor": "x" * (MAX_CURSOR_BYTES + 1)}, "sensor_cursor_too_large"),
        ({"runRequests": too_many}, "too_many_run_requests"),
        ({"runRequests": [{"runKey": "", "assets": ["a"]}]}, "invalid_sensor_result"),
        ({"runRequests": [{"runKey": "k", "assets": []}]}, "invalid_sensor_result"),
        ({"runRequests": [{"runKey": "k", "assets": ["a"], "labels": {"x": 1}}]}, None),
        ({"runRequests": [{"runKey": "k", "assets": ["a"]}] * 2}, "invalid_sensor_result"),
        ({"error": "boom", "runRequests": [{"runKey": "k", "assets": ["a"]}]}, None),
        ({"runRequests": "k"}, "invalid_sensor_result"),
    ):
        with pytest.raises(InvalidArgument) as info:
            parse_evaluation(bad)
        assert info.value.reason == (reason or "invalid_sensor_result")


def test_of_two_evaluations_from_one_version_only_the_first_moves_the_cursor() -> None:
    state = SensorState(cursor="c0", state_version=2)
    first = EvaluationResult("c1", (SensorRunRequest("f1", ("a",)),))
    second = EvaluationResult("c1-other", (SensorRunRequest("f9", ("a",)),))

    after, applied = apply_evaluation(
        state, first, eval_id="e1", at_ms=NOW, expected_state_version=2
    )
    again, stale = apply_evaluation(
        after, second, eval_id="e2", at_ms=NOW + 1, expected_state_version=2
    )

    assert (after.cursor, after.state_version, after.last_eval_id) == ("c1", 3, "e1")
    assert applied.status is EvaluationStatus.TRIGGERED
    assert requested_runs("s", applied) == [("sensor:s:f1", first.run_requests[0])]
    assert again == after  # the stale one changes nothing
    assert stale.status is EvaluationStatus.SKIPPED_STALE_CURSOR
    assert requested_runs("s", stale) == []


def test_errors_keep_the_cursor_and_empty_answers_report_no_new_data() -> None:
    state = SensorState(cursor="c0", state_version=1)
    failed, record = apply_evaluation(
        state,
        EvaluationResult(None, error="timeout"),
        eval_id="e",
        at_ms=NOW,
        expected_state_version=1,
    )
    assert (failed.cursor, failed.state_version, record.status) == ("c0", 2, EvaluationStatus.ERROR)
    assert record.error == "timeout"
    idle, quiet = apply_evaluation(
        failed, EvaluationResult("c0"), eval_id="f", at_ms=NOW + 5, expected_state_version=None
    )
    assert quiet.status is EvaluationStatus.NO_NEW_DATA and idle.last_evaluation_at_ms == NOW + 5


def test_a_run_request_fingerprint_follows_its_content_not_its_order_of_assets() -> None:
    one = SensorRunRequest("k", ("b", "a"), labels={"x": "1"})
    same = SensorRunRequest("k", ("a", "b"), labels={"x": "1"})
    other = SensorRunRequest("k", ("a", "b"), labels={"x": "2"})
    assert one.fingerprint == same.fingerprint != other.fingerprint
    assert one.scoped_run_key("s1") != one.scoped_run_key("s2")
