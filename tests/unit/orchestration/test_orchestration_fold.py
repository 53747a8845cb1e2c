"""Named fold scenarios (ported from the reference's fold and correctness tests)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from orch_support import T0, TENANT, WORKSPACE, Events, att, fold_each, projection, ulid_at

from arco_core.clock import rfc3339_ms
from arco_core.envelope import EventEnvelope
from arco_core.ids import dispatch_id
from arco_core.orchestration.events import (
    RunTriggered,
    TaskOutcome,
    TimerEnqueued,
    TimerFired,
    TimerRequested,
    TimerType,
)
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.projection import state_from_tables, state_to_tables
from arco_core.orchestration.retry import retry_backoff_ms, retry_deadline_ms
from arco_core.orchestration.runs import AttemptSpan, task_attempts
from arco_core.orchestration.state import TaskState
from arco_core.orchestration.tables import (
    DEP_SATISFACTION,
    DISPATCH_OUTBOX,
    IDEMPOTENCY_KEYS,
    TASKS,
)
from arco_core.orchestration.values import TaskError, TriggerInfo


@pytest.fixture
def e() -> Events:
    return Events()


def started_run(e: Events, deps: dict[str, list[str]], run: str = "r1") -> FoldState:
    s = FoldState(tenant_id=TENANT, workspace_id=WORKSPACE)
    s.fold([e.trigger(run), e.plan(run, deps)])
    return s


def test_fold_plan_created_initializes_tasks(e: Events) -> None:
    s = FoldState()
    plan = e.plan("r1", {"a": [], "b": ["a"], "c": ["a", "b"]})
    s.fold([e.trigger("r1"), plan])
    a, b, c = (s.get_task("r1", k) for k in "abc")
    assert a is not None and b is not None and c is not None
    assert a.state == TaskState.READY and a.ready_at == plan.timestamp_ms
    assert b.state == TaskState.BLOCKED and b.ready_at is None and b.deps_total == 1
    assert c.state == TaskState.BLOCKED and c.deps_total == 2 and c.deps_satisfied_count == 0
    edges = list(s.rows(DEP_SATISFACTION))
    assert len(edges) == 3
    assert all(not edge.satisfied and edge.resolution is None for edge in edges)
    run = s.get_run("r1")
    assert run is not None and run.state == "RUNNING" and run.tasks_total == 3
    assert s.dependents("r1", "a") == ["b", "c"]
    assert s.dependencies("r1", "c") == ["a", "b"]


def test_plan_created_before_run_triggered_recovers_task_totals(e: Events) -> None:
    trigger = e.trigger("r1")
    plan = e.plan("r1", {"a": []})
    s = FoldState()
    s.fold([plan])
    assert s.get_run("r1") is None
    s.fold([trigger])
    run = s.get_run("r1")
    assert run is not None and run.tasks_total == 1 and run.state == "RUNNING"


def test_fold_orders_by_event_id_not_timestamps(e: Events) -> None:
    # Producer clocks are skewed: the plan claims to be older than the trigger.
    trigger = e.ev(
        RunTriggered(run_id="r1", plan_id="p", trigger=TriggerInfo.manual("u")), ts=T0 + 10_000
    )
    plan = e.plan("r1", {"a": []})
    plan = replace(plan, timestamp="2025-01-01T00:00:00.000Z")
    s = FoldState()
    s.fold([plan, trigger])
    run = s.get_run("r1")
    assert run is not None and run.tasks_total == 1


def test_run_triggered_and_plan_created_are_idempotent(e: Events) -> None:
    trigger, plan = e.trigger("r1"), e.plan("r1", {"a": []})
    s = FoldState()
    s.fold([trigger, plan])
    before = projection(s)
    result = s.fold([trigger, plan])
    assert result.skipped_duplicate == 2 and result.delta.is_empty
    assert projection(s) == before


def test_second_run_triggered_with_new_id_is_rejected(e: Events) -> None:
    s = FoldState()
    s.fold([e.trigger("r1")])
    # Same run, different key (a run_key): rejected because the run exists; no key burnt.
    again = e.trigger("r1", run_key="rk")
    result = s.fold([again])
    assert result.rejected == 1
    assert not s.has_idempotency_key(TENANT, WORKSPACE, "run:rk")


def test_duplicate_task_finished_does_not_double_increment(e: Events) -> None:
    s = started_run(e, {"a": [], "b": ["a"], "c": ["a"]})
    done = e.finished("r1", "a")
    s.fold([e.dispatch("r1", "a"), e.started("r1", "a"), done])
    s.fold([done])
    # Same attempt, different event id, same key: still a duplicate.
    s.fold([e.finished("r1", "a")])
    b = s.get_task("r1", "b")
    run = s.get_run("r1")
    assert b is not None and b.deps_satisfied_count == 1 and b.state == TaskState.READY
    assert run is not None and run.tasks_succeeded == 1 and run.tasks_completed == 1


def test_stale_attempt_event_is_rejected(e: Events) -> None:
    s = started_run(e, {"a": []})
    s.fold([e.dispatch("r1", "a"), e.started("r1", "a"), e.failed("r1", "a")])
    s.fold([e.dispatch("r1", "a", 2), e.started("r1", "a", 2)])
    late = e.finished("r1", "a", TaskOutcome.SUCCEEDED, 1, event_id=e.next_id())
    # A different key than the folded failure would be needed to even reach the guard.
    result = s.fold([late])
    assert result.applied == 0
    a = s.get_task("r1", "a")
    assert a is not None and a.state == TaskState.RUNNING and a.attempt == 2


def test_stale_finish_with_fresh_key_is_rejected_without_consuming_it(e: Events) -> None:
    s = started_run(e, {"a": []})
    s.fold([e.dispatch("r1", "a"), e.dispatch("r1", "a", 2), e.started("r1", "a", 2)])
    stale = e.finished("r1", "a", TaskOutcome.SUCCEEDED, 1)
    result = s.fold([stale])
    assert result.rejected == 1
    assert not s.has_idempotency_key(TENANT, WORKSPACE, stale.idempotency_key)
    a = s.get_task("r1", "a")
    assert a is not None and a.state == TaskState.RUNNING and a.attempt == 2


def test_task_started_attempt_id_mismatch_is_ignored(e: Events) -> None:
    s = started_run(e, {"a": []})
    s.fold([e.dispatch("r1", "a", attempt_id="att-1")])
    result = s.fold([e.started("r1", "a", attempt_id="att-other")])
    a = s.get_task("r1", "a")
    assert result.rejected == 1
    assert a is not None and a.state == TaskState.DISPATCHED and a.attempt_id == "att-1"


def test_upstream_failure_skips_downstream(e: Events) -> None:
    s = started_run(e, {"A": [], "B": ["A"], "C": ["B"]})
    s.fold([e.dispatch("r1", "A"), e.started("r1", "A"), e.failed("r1", "A", retryable=False)])
    states = {t.task_key: t.state for t in s.list_tasks("r1")}
    assert states == {"A": "FAILED", "B": "SKIPPED", "C": "SKIPPED"}
    ab, bc = s.get_edge("r1", "A", "B"), s.get_edge("r1", "B", "C")
    assert ab is not None and ab.resolution == "FAILED" and not ab.satisfied
    assert bc is not None and bc.resolution == "SKIPPED" and not bc.satisfied
    run = s.get_run("r1")
    assert run is not None and run.state == "FAILED"
    assert (run.tasks_failed, run.tasks_skipped, run.tasks_completed) == (1, 2, 3)


def test_cancelled_task_cascades_and_cancels_run(e: Events) -> None:
    s = started_run(e, {"a": [], "b": ["a"]})
    s.fold(
        [e.dispatch("r1", "a"), e.started("r1", "a"), e.finished("r1", "a", TaskOutcome.CANCELLED)]
    )
    assert [t.state for t in s.list_tasks("r1")] == ["CANCELLED", "CANCELLED"]
    edge = s.get_edge("r1", "a", "b")
    assert edge is not None and edge.resolution == "CANCELLED"
    run = s.get_run("r1")
    assert run is not None and run.tasks_cancelled == 2 and run.state == "CANCELLED"


def test_run_cancel_requested_cancels_pending_tasks(e: Events) -> None:
    s = started_run(e, {"a": [], "b": ["a"], "c": []})
    s.fold([e.dispatch("r1", "c")])
    s.fold([e.cancel("r1")])
    assert [t.state for t in s.list_tasks("r1")] == ["CANCELLED"] * 3
    run = s.get_run("r1")
    assert run is not None and run.state == "CANCELLED" and run.cancel_requested
    assert run.tasks_cancelled == 3
    assert s.row_count(DISPATCH_OUTBOX) == 0  # the cancelled task's dispatch is consumed
    assert all(edge.resolution is None for edge in s.rows(DEP_SATISFACTION))


def test_run_cancel_requested_does_not_cancel_running_tasks(e: Events) -> None:
    s = started_run(e, {"a": [], "b": []})
    s.fold([e.dispatch("r1", "a"), e.started("r1", "a")])
    s.fold([e.cancel("r1")])
    run = s.get_run("r1")
    assert run is not None and run.state == "RUNNING" and run.tasks_cancelled == 1
    a = s.get_task("r1", "a")
    assert a is not None and a.state == TaskState.RUNNING
    # The worker observes shouldCancel and finishes CANCELLED: the run completes.
    s.fold([e.finished("r1", "a", TaskOutcome.CANCELLED)])
    run = s.get_run("r1")
    assert run is not None and run.state == "CANCELLED" and run.tasks_cancelled == 2


def test_run_cancel_requested_preserves_terminal_tasks(e: Events) -> None:
    s = started_run(e, {"a": [], "b": []})
    s.fold([e.dispatch("r1", "a"), e.started("r1", "a"), e.finished("r1", "a")])
    s.fold([e.cancel("r1")])
    a, b = s.get_task("r1", "a"), s.get_task("r1", "b")
    assert a is not None and a.state == TaskState.SUCCEEDED
    assert b is not None and b.state == TaskState.CANCELLED
    run = s.get_run("r1")
    assert run is not None and run.state == "CANCELLED"
    assert (run.tasks_succeeded, run.tasks_cancelled) == (1, 1)
    # A second request and a request on a terminal run change nothing.
    assert s.fold([e.cancel("r1")]).applied == 0


def test_cancel_before_plan_cancels_the_plan(e: Events) -> None:
    s = FoldState()
    s.fold([e.trigger("r1"), e.cancel("r1")])
    run = s.get_run("r1")
    assert run is not None and run.state == "CANCELLED"
    s.fold([e.plan("r1", {"a": [], "b": ["a"]})])
    run = s.get_run("r1")
    assert [t.state for t in s.list_tasks("r1")] == ["CANCELLED", "CANCELLED"]
    assert run is not None and run.state == "CANCELLED"
    assert (run.tasks_total, run.tasks_completed, run.tasks_cancelled) == (2, 2, 2)
    assert s.ready_tasks_without_outbox() == []


def test_non_retryable_failure_is_terminal(e: Events) -> None:
    s = started_run(e, {"a": []})
    s.fold([e.dispatch("r1", "a"), e.started("r1", "a"), e.failed("r1", "a", retryable=False)])
    a = s.get_task("r1", "a")
    assert a is not None and a.state == TaskState.FAILED and a.retry_not_before is None
    assert a.error_message == "boom"
    run = s.get_run("r1")
    assert run is not None and run.state == "FAILED"


@pytest.mark.parametrize(
    ("category", "retryable", "expected"),
    [
        ("USER_CODE", None, "RETRY_WAIT"),
        ("INFRASTRUCTURE", None, "RETRY_WAIT"),
        ("TIMEOUT", None, "RETRY_WAIT"),
        ("DATA_QUALITY", None, "FAILED"),
        ("CONFIGURATION", None, "FAILED"),
        ("CANCELLED", None, "FAILED"),
        ("DATA_QUALITY", True, "RETRY_WAIT"),
        ("USER_CODE", False, "FAILED"),
    ],
)
def test_error_category_default_retryability(
    e: Events, category: str, retryable: bool | None, expected: str
) -> None:
    s = started_run(e, {"a": []})
    error = TaskError(category=category, message="x", retryable=retryable)
    s.fold([e.dispatch("r1", "a"), e.finished("r1", "a", TaskOutcome.FAILED, error=error)])
    a = s.get_task("r1", "a")
    assert a is not None and a.state == expected


def test_failure_without_error_is_retryable_until_max_attempts(e: Events) -> None:
    s = started_run(e, {"a": []})
    for attempt in (1, 2, 3):
        s.fold(
            [
                e.dispatch("r1", "a", attempt),
                e.started("r1", "a", attempt),
                e.finished("r1", "a", TaskOutcome.FAILED, attempt),
            ]
        )
        a = s.get_task("r1", "a")
        assert a is not None
        assert a.state == ("FAILED" if attempt == 3 else "RETRY_WAIT")


def test_retry_backoff_doubles_and_caps() -> None:
    assert [retry_backoff_ms(n) // 1000 for n in range(1, 9)] == [
        30,
        60,
        120,
        240,
        480,
        900,
        900,
        900,
    ]
    assert retry_backoff_ms(100) == 900_000


def test_failed_attempt_enters_retry_wait_with_deadline_from_the_event_ulid(e: Events) -> None:
    s = started_run(e, {"a": []})
    s.fold([e.dispatch("r1", "a"), e.started("r1", "a")])
    event_ms = T0 + 50_000
    # The worker/server timestamp is ten years off; only the ULID time counts.
    fail = replace(
        e.failed("r1", "a", event_id=ulid_at(event_ms, 999)),
        timestamp=rfc3339_ms(T0 + 3650 * 86_400_000),
    )
    s.fold([fail])
    a = s.get_task("r1", "a")
    assert a is not None and a.state == TaskState.RETRY_WAIT
    assert a.retry_not_before == event_ms + 30_000


def test_retry_deadline_uses_checked_arithmetic() -> None:
    assert retry_deadline_ms(2**63 - 1 - 30_000, 1) == 2**63 - 1
    assert retry_deadline_ms(2**63 - 30_000, 1) is None


def test_retry_cycle_dispatches_next_attempt(e: Events) -> None:
    s = started_run(e, {"a": []})
    s.fold(
        [e.dispatch("r1", "a"), e.enqueued("r1", "a"), e.started("r1", "a"), e.failed("r1", "a")]
    )
    s.fold([e.dispatch("r1", "a", 2)])
    a = s.get_task("r1", "a")
    assert a is not None and a.state == TaskState.DISPATCHED and a.attempt == 2
    assert a.retry_not_before is None and a.attempt_id == att("r1", "a", 2)
    assert [o.attempt for o in s.pending_outbox()] == [2]
    # A redelivered start of the failed attempt must not resurrect it.
    assert s.fold([e.started("r1", "a", 1, attempt_id=att("r1", "a", 1))]).applied == 0
    s.fold([e.started("r1", "a", 2), e.finished("r1", "a", attempt=2)])
    run = s.get_run("r1")
    assert run is not None and run.state == "SUCCEEDED"


def test_dispatch_requested_creates_outbox_row_and_enqueued_updates_it(e: Events) -> None:
    s = started_run(e, {"a": []})
    req = e.dispatch("r1", "a")
    s.fold([req])
    row = s.get_outbox(dispatch_id("r1", "a", 1))
    assert row is not None and row.status == "PENDING" and row.created_at == req.timestamp_ms
    assert row.attempt_id == att("r1", "a", 1) and row.worker_queue == "default-queue"
    assert s.ready_tasks_without_outbox() == []
    ack = e.enqueued("r1", "a")
    s.fold([ack])
    row = s.get_outbox(dispatch_id("r1", "a", 1))
    assert row is not None and row.status == "CREATED" and row.cloud_task_id == "d_r1_a_1"
    assert row.created_at == ack.timestamp_ms and row.row_version == ack.event_id
    assert s.pending_outbox() == []


def test_dispatch_out_of_order_fills_attempt_id_and_does_not_regress(e: Events) -> None:
    s = started_run(e, {"a": []})
    req = e.dispatch("r1", "a")
    ack = e.enqueued("r1", "a")
    s.fold([ack])
    row = s.get_outbox(dispatch_id("r1", "a", 1))
    assert row is not None and row.status == "CREATED" and row.attempt_id == ""
    s.fold([req])
    row = s.get_outbox(dispatch_id("r1", "a", 1))
    assert row is not None and row.status == "CREATED" and row.attempt_id == att("r1", "a", 1)
    assert row.row_version == ack.event_id  # max, never regressed
    a = s.get_task("r1", "a")
    assert a is not None and a.state == TaskState.DISPATCHED and a.attempt_id == row.attempt_id


def test_task_started_prunes_consumed_dispatch_outbox_row(e: Events) -> None:
    s = started_run(e, {"a": []})
    s.fold([e.dispatch("r1", "a"), e.enqueued("r1", "a")])
    result = s.fold([e.started("r1", "a")])
    assert s.get_outbox(dispatch_id("r1", "a", 1)) is None
    assert result.delta.table(DISPATCH_OUTBOX).deletes == ((dispatch_id("r1", "a", 1),),)
    # A late request or ack for the consumed attempt does not bring it back.
    assert s.fold([e.enqueued("r1", "a")]).applied == 0
    assert s.get_outbox(dispatch_id("r1", "a", 1)) is None


def test_duplicate_dispatch_requested_does_not_override_attempt_id(e: Events) -> None:
    s = started_run(e, {"a": []})
    s.fold([e.dispatch("r1", "a", attempt_id="att-1")])
    result = s.fold([e.dispatch("r1", "a", attempt_id="att-2")])
    assert result.skipped_duplicate == 1
    row = s.get_outbox(dispatch_id("r1", "a", 1))
    a = s.get_task("r1", "a")
    assert row is not None and row.attempt_id == "att-1"
    assert a is not None and a.attempt_id == "att-1"


def test_dependency_correctness(e: Events) -> None:
    s = started_run(e, {"A": [], "B": ["A"], "C": ["A", "B"]})
    s.fold([e.dispatch("r1", "A"), e.started("r1", "A"), e.finished("r1", "A")])
    b, c = s.get_task("r1", "B"), s.get_task("r1", "C")
    assert b is not None and b.state == TaskState.READY
    assert c is not None and c.state == TaskState.BLOCKED and c.deps_satisfied_count == 1
    edge = s.get_edge("r1", "A", "C")
    assert edge is not None and edge.satisfied and edge.resolution == "SUCCESS"
    assert edge.satisfying_attempt == 1
    assert [t.task_key for t in s.ready_tasks_without_outbox()] == ["B"]


def test_heartbeat_requires_current_attempt_and_keeps_the_latest_time(e: Events) -> None:
    s = started_run(e, {"a": []})
    s.fold([e.dispatch("r1", "a"), e.started("r1", "a")])
    s.fold([e.heartbeat("r1", "a", at=T0 + 9_000)])
    s.fold([e.heartbeat("r1", "a", at=T0 + 5_000)])  # delayed older heartbeat
    a = s.get_task("r1", "a")
    assert a is not None and a.last_heartbeat_at == T0 + 9_000
    assert a.state == TaskState.RUNNING
    assert s.fold([e.heartbeat("r1", "a", attempt=2)]).rejected == 1


def test_unknown_event_types_are_noops_that_keep_their_key(e: Events) -> None:
    s = started_run(e, {"a": []})
    env = e.trigger("r9")
    unknown = replace(env, data={"type": "brand_new_thing", "x": 1})
    before = projection(s)
    result = s.fold([unknown])
    assert result.unknown == 1 and result.applied == 0 and result.delta.is_empty
    assert projection(s) == before
    assert not s.has_idempotency_key(TENANT, WORKSPACE, unknown.idempotency_key)


def test_malformed_known_payload_is_invalid_not_fatal(e: Events) -> None:
    s = started_run(e, {"a": []})
    env = e.trigger("r9")
    bad = replace(env, data={"type": "task_started", "run_id": 5})
    result = s.fold([bad, e.dispatch("r1", "a")])
    assert result.invalid == 1 and result.applied == 1


def test_out_of_scope_events_are_not_applied(e: Events) -> None:
    s = FoldState(tenant_id=TENANT, workspace_id=WORKSPACE)
    env = e.trigger("r1")
    other = replace(env, tenant_id="evil")
    assert s.fold([other]).invalid == 1
    assert s.get_run("r1") is None


def test_success_records_output_and_visibility(e: Events) -> None:
    from arco_core.orchestration.events import (
        OutputVisibility,
        TaskOutputVisibilityChanged,
        VisibilityState,
    )

    s = started_run(e, {"a": []})
    s.fold([e.dispatch("r1", "a"), e.started("r1", "a")])
    s.fold(
        [
            e.finished(
                "r1",
                "a",
                output={"materializationId": "m1", "deltaTable": "t", "deltaVersion": 7},
                output_visibility=OutputVisibility(VisibilityState.PENDING),
            )
        ]
    )
    a = s.get_task("r1", "a")
    assert a is not None and a.materialization_id == "m1" and a.delta_version == 7
    assert a.output_visibility_state == "PENDING"
    vis = TaskOutputVisibilityChanged(
        run_id="r1",
        task_key="a",
        attempt=1,
        attempt_id=att("r1", "a", 1),
        visibility_state=VisibilityState.VISIBLE,
    )
    ev = e.ev(vis)
    s.fold([ev])
    a = s.get_task("r1", "a")
    assert a is not None and a.output_visibility_state == "VISIBLE"
    assert a.published_at == ev.timestamp_ms
    failed = TaskOutputVisibilityChanged(
        run_id="r1",
        task_key="a",
        attempt=1,
        attempt_id=att("r1", "a", 1),
        visibility_state=VisibilityState.FAILED,
        publish_error="x",
    )
    assert s.fold([e.ev(failed)]).rejected == 1  # VISIBLE is final


def test_timer_out_of_order_enqueued_before_requested(e: Events) -> None:
    s = FoldState()
    timer_id = "timer:retry:r1:a:1:1767225700"
    s.fold([e.ev(TimerEnqueued(timer_id=timer_id, cloud_task_id="t_x"))])
    row = s.get_timer(timer_id)
    assert row is not None and row.state == "SCHEDULED" and row.fire_at == 1_767_225_700_000
    assert (row.run_id, row.task_key, row.attempt, row.timer_type) == ("r1", "a", 1, "RETRY")
    req = TimerRequested(
        timer_id=timer_id,
        timer_type=TimerType.RETRY,
        fire_at=1_767_225_700_500,
        run_id="r1",
        task_key="a",
        attempt=1,
    )
    s.fold([e.ev(req)])
    row = s.get_timer(timer_id)
    assert row is not None and row.fire_at == 1_767_225_700_500 and row.cloud_task_id == "t_x"


def test_timer_fired_creates_row_from_timer_id(e: Events) -> None:
    s = FoldState()
    timer_id = "timer:cron:sched-1:1767225700"
    s.fold([e.ev(TimerFired(timer_id=timer_id, timer_type=TimerType.CRON))])
    row = s.get_timer(timer_id)
    assert row is not None and row.state == "FIRED" and row.timer_type == "CRON"
    assert s.fold([e.ev(TimerFired(timer_id="nonsense", timer_type=TimerType.CRON))]).rejected == 1


def test_retry_timer_overrides_retry_deadline(e: Events) -> None:
    s = started_run(e, {"a": []})
    s.fold([e.dispatch("r1", "a"), e.started("r1", "a"), e.failed("r1", "a")])
    req = TimerRequested(
        timer_id="timer:retry:r1:a:1:1767225999",
        timer_type=TimerType.RETRY,
        fire_at=1_767_225_999_000,
        run_id="r1",
        task_key="a",
        attempt=1,
    )
    s.fold([e.ev(req)])
    a = s.get_task("r1", "a")
    assert a is not None and a.retry_not_before == 1_767_225_999_000


def test_incremental_folds_equal_one_batch(e: Events) -> None:
    evs = [
        e.trigger("r1"),
        e.plan("r1", {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}),
        e.dispatch("r1", "a"),
        e.enqueued("r1", "a"),
        e.started("r1", "a"),
        e.heartbeat("r1", "a"),
        e.finished("r1", "a"),
        e.dispatch("r1", "b"),
        e.dispatch("r1", "c"),
        e.started("r1", "b"),
        e.failed("r1", "c", retryable=False),
        e.finished("r1", "b"),
    ]
    one, each = FoldState(), FoldState()
    one.fold(evs)
    fold_each(each, evs)
    assert projection(one) == projection(each)
    d = one.get_task("r1", "d")
    assert d is not None and d.state == TaskState.SKIPPED
    assert one.get_run("r1") is not None


def test_fold_touches_only_what_changed(e: Events) -> None:
    s = started_run(e, {"a": [], "b": ["a"]})
    result = s.fold([e.dispatch("r1", "a")])
    tables = {name: len(td.upserts) for name, td in result.delta.tables.items() if not td.is_empty}
    assert tables == {TASKS: 1, DISPATCH_OUTBOX: 1, "idempotency_keys": 1}


def test_failure_on_a_cancel_requested_run_does_not_retry(e: Events) -> None:
    s = started_run(e, {"a": [], "b": ["a"]})
    s.fold([e.dispatch("r1", "a"), e.started("r1", "a"), e.cancel("r1")])
    s.fold([e.failed("r1", "a")])
    a = s.get_task("r1", "a")
    assert a is not None and a.state == TaskState.CANCELLED and a.error_message == "boom"
    run = s.get_run("r1")
    assert run is not None and run.state == "CANCELLED" and run.tasks_cancelled == 2


def test_heartbeats_consume_no_idempotency_key(e: Events) -> None:
    # Each heartbeat has its own key (its time): a row per heartbeat grew the table forever.
    ledger = [e.trigger("r1"), e.plan("r1", {"a": []}), e.dispatch("r1", "a"), e.started("r1", "a")]
    s = FoldState(tenant_id=TENANT, workspace_id=WORKSPACE)
    s.fold(ledger)
    keys_before = len(s.idem_table.rows)
    heartbeats = [e.heartbeat("r1", "a") for _ in range(200)]
    ledger += heartbeats
    for start in range(0, len(heartbeats), 7):
        batch = heartbeats[start : start + 7]
        result = s.fold(batch)
        assert result.applied == len(batch)
        assert not result.delta.table(IDEMPOTENCY_KEYS).upserts
    assert len(s.idem_table.rows) == keys_before
    a = s.get_task("r1", "a")
    assert a is not None and a.last_heartbeat_at == e.ms

    # A redelivered heartbeat, alone or behind a later event, leaves the state as it was.
    settled = projection(s)
    s.fold([heartbeats[3]])
    s.fold([heartbeats[-1], heartbeats[0]])
    assert projection(s) == settled
    finished = e.finished("r1", "a")
    ledger.append(finished)
    s.fold([finished])
    settled = projection(s)
    s.fold([heartbeats[5]])
    assert projection(s) == settled

    # The projection equals a fresh replay of the ledger (each event once, in id order).
    replayed = FoldState(tenant_id=TENANT, workspace_id=WORKSPACE)
    replayed.fold(ledger)
    assert projection(replayed) == projection(s)


def at(envelope: EventEnvelope, ms: int) -> EventEnvelope:
    return replace(envelope, timestamp=rfc3339_ms(ms))


def test_a_retried_attempt_keeps_its_span_and_the_timeline_lists_every_started_attempt(
    e: Events,
) -> None:
    opening = [e.trigger("r1"), e.plan("r1", {"a": []})]
    first = [
        e.dispatch("r1", "a", 1),
        at(e.started("r1", "a", 1), T0 + 1_000),
        at(e.failed("r1", "a", 1), T0 + 3_000),
    ]
    redispatch = [e.dispatch("r1", "a", 2)]
    second = [
        at(e.started("r1", "a", 2), T0 + 5_000),
        at(e.finished("r1", "a", attempt=2), T0 + 8_000),
    ]
    s = FoldState(tenant_id=TENANT, workspace_id=WORKSPACE)
    s.fold(opening + first)
    a = s.get_task("r1", "a")
    assert a is not None and a.state == TaskState.RETRY_WAIT
    failed = AttemptSpan(1, att("r1", "a", 1), "FAILED", T0 + 1_000, T0 + 3_000, "boom")
    assert task_attempts(a) == [failed], "a waiting retry shows the failed attempt only"

    # Dispatched but not started: the row still holds attempt 1's start, not shown twice.
    s.fold(redispatch)
    a = s.get_task("r1", "a")
    assert a is not None and a.attempt == 2 and task_attempts(a) == [failed]

    s.fold(second)
    a = s.get_task("r1", "a")
    assert a is not None and a.state == TaskState.SUCCEEDED
    assert task_attempts(a) == [
        failed,
        AttemptSpan(2, att("r1", "a", 2), "SUCCEEDED", T0 + 5_000, T0 + 8_000, None),
    ]

    # Replay, one event per fold, equals the live fold; the Arrow round trip keeps it.
    replayed = FoldState(tenant_id=TENANT, workspace_id=WORKSPACE)
    fold_each(replayed, opening + first + redispatch + second)
    assert projection(replayed)[TASKS] == projection(s)[TASKS]
    loaded = state_from_tables(state_to_tables(s)).get_task("r1", "a")
    assert loaded is not None and task_attempts(loaded) == task_attempts(a)


def test_a_duplicate_failure_of_a_retried_attempt_records_it_once(e: Events) -> None:
    s = started_run(e, {"a": []})
    failure = e.failed("r1", "a", 1)
    s.fold([e.dispatch("r1", "a", 1), e.started("r1", "a", 1), failure, failure])
    a = s.get_task("r1", "a")
    assert a is not None and [span.attempt for span in task_attempts(a)] == [1]
