"""Property tests: random DAGs, plausible worker histories, hostile delivery.

Histories are produced by a small simulator that, like the real API, dispatcher and
sweeper, only emits an event that the current projection allows (it folds every event it
emits into an oracle state), plus the noise a real system sees: duplicate deliveries,
results of superseded attempts, late acknowledgements and heartbeats.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisWarning
from orch_support import Events, att, projection

from arco_core.envelope import EventEnvelope
from arco_core.folding import EventOutcome
from arco_core.orchestration.events import PlanCreated, TaskOutcome
from arco_core.orchestration.fold import FoldResult, FoldState
from arco_core.orchestration.handlers.lifecycle import derive_run_state
from arco_core.orchestration.projection import (
    delta_to_tables,
    state_from_tables,
    state_to_tables,
    tables_to_delta,
)
from arco_core.orchestration.state import TERMINAL_TASK_STATES, TaskState
from arco_core.orchestration.tables import (
    DEP_SATISFACTION,
    DISPATCH_OUTBOX,
    IDEMPOTENCY_KEYS,
    RUNS,
    TASKS,
)
from arco_core.orchestration.values import TaskDef

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class History:
    events: list[EventEnvelope] = field(default_factory=list)
    # Events whose effect commutes with anything after them (heartbeats, acks,
    # duplicates, results of superseded attempts): they may be delivered arbitrarily late.
    tolerant: set[int] = field(default_factory=set)
    run_of: list[str] = field(default_factory=list)


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    n = draw(st.integers(1, 6))
    deps: dict[str, list[str]] = {}
    for i in range(n):
        ups = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        deps[f"t{i}"] = [f"t{j}" for j in sorted(ups)]
    return deps


MANIFEST = "(manifest)"  # run_of of the deployment that opens every history


def _with_assets(e: Events, run: str, deps: dict[str, list[str]]) -> EventEnvelope:
    tasks = tuple(
        TaskDef(key=k, depends_on=tuple(v), asset_key=f"ns.{k}", partition_key="p")
        for k, v in deps.items()
    )
    return e.ev(PlanCreated(run_id=run, plan_id=f"plan_{run}", tasks=tasks))


def simulate(data: st.DataObject, run_dags: dict[str, dict[str, list[str]]]) -> History:
    e = Events()
    oracle = FoldState()
    h = History()

    def emit(env: EventEnvelope, run: str, *, tolerant: bool = False) -> None:
        h.tolerant.update({len(h.events)} if tolerant else set())
        h.events.append(env)
        h.run_of.append(run)
        oracle.fold([env])

    # Every task materializes one partition of asset ns.<key>; ns.t<i> reads ns.t<i-1>, so
    # runs interleave over shared partition_status rows (stale marks included).
    emit(e.manifest({f"ns.t{i}": [f"ns.t{i - 1}"] if i else [] for i in range(6)}), MANIFEST)
    for run, deps in run_dags.items():
        if data.draw(st.booleans(), label=f"plan-first-{run}"):
            # PlanCreated gets the smaller event id: it folds before RunTriggered.
            plan = _with_assets(e, run, deps)
            trigger = e.trigger(run)
            emit(plan, run)
            emit(trigger, run)
        else:
            emit(e.trigger(run), run)
            emit(_with_assets(e, run, deps), run)

    steps = data.draw(st.integers(0, 70), label="steps")
    for _ in range(steps):
        actions: list[tuple[str, Callable[[], None]]] = []
        for run in run_dags:
            r = oracle.get_run(run)
            for t in oracle.list_tasks(run):
                key, attempt = t.task_key, t.attempt
                if t.state == TaskState.READY and not oracle.outbox_for_task(run, key):
                    actions.append((f"dispatch {run}/{key}", _bind(emit, e.dispatch, run, key, 1)))
                if t.state == TaskState.RETRY_WAIT:
                    actions.append(
                        (f"retry {run}/{key}", _bind(emit, e.dispatch, run, key, attempt + 1))
                    )
                if t.state == TaskState.DISPATCHED:
                    actions.append(
                        (f"start {run}/{key}", _bind(emit, e.started, run, key, attempt))
                    )
                    actions.append(
                        (
                            f"fail-before-start {run}/{key}",
                            _finish(emit, e, run, key, attempt=attempt, kind="fail"),
                        )
                    )
                if t.state == TaskState.RUNNING:
                    for kind in ("succeed", "succeed", "fail", "fail-terminal", "cancel"):
                        actions.append(
                            (
                                f"{kind} {run}/{key}",
                                _finish(emit, e, run, key, attempt=attempt, kind=kind),
                            )
                        )
                    actions.append(
                        (
                            f"heartbeat {run}/{key}",
                            _bind(emit, e.heartbeat, run, key, attempt, tolerant=True),
                        )
                    )
                if attempt > 1:
                    actions.append(
                        (
                            f"stale {run}/{key}",
                            _finish(
                                emit,
                                e,
                                run,
                                key,
                                attempt=attempt - 1,
                                kind="succeed",
                                tolerant=True,
                            ),
                        )
                    )
            for o in oracle.pending_outbox():
                if o.run_id == run:
                    actions.append(
                        (
                            f"ack {o.dispatch_id}",
                            _bind(emit, e.enqueued, run, o.task_key, o.attempt, tolerant=True),
                        )
                    )
            if r is not None and r.state in ("RUNNING", "TRIGGERED") and not r.cancel_requested:
                actions.append((f"cancel {run}", _bind(emit, e.cancel, run)))
        if h.events:
            actions.append(("duplicate", lambda: _duplicate(data, h, oracle)))
        if not actions:
            break
        # Draw the label, not the closure: a history's report stays readable.
        chosen = data.draw(st.sampled_from([label for label, _ in actions]), label="action")
        dict(actions)[chosen]()
    return h


def _bind(
    emit: Callable[..., None],
    make: Callable[..., EventEnvelope],
    run: str,
    *args: object,
    tolerant: bool = False,
) -> Callable[[], None]:
    return lambda: emit(make(run, *args), run, tolerant=tolerant)


def _finish(
    emit: Callable[..., None],
    e: Events,
    run: str,
    key: str,
    *,
    attempt: int,
    kind: str,
    tolerant: bool = False,
) -> Callable[[], None]:
    def go() -> None:
        if kind == "succeed":
            env = e.finished(run, key, TaskOutcome.SUCCEEDED, attempt)
        elif kind == "fail":
            env = e.failed(run, key, attempt, retryable=True)
        elif kind == "fail-terminal":
            env = e.failed(run, key, attempt, retryable=False)
        else:
            env = e.finished(run, key, TaskOutcome.CANCELLED, attempt)
        emit(env, run, tolerant=tolerant)

    return go


def _duplicate(data: st.DataObject, h: History, oracle: FoldState) -> None:
    i = data.draw(st.integers(0, len(h.events) - 1), label="dup-of")
    h.tolerant.add(len(h.events))
    h.events.append(h.events[i])
    h.run_of.append(h.run_of[i])
    oracle.fold([h.events[i]])


@st.composite
def histories(draw: st.DrawFn) -> History:
    n_runs = draw(st.integers(1, 3))
    run_dags = {f"r{i}": draw(dags()) for i in range(n_runs)}
    return simulate(draw(st.data()), run_dags)


# --- invariants ------------------------------------------------------------------------------


def check_invariants(s: FoldState) -> None:
    for run in s.rows(RUNS):
        tasks = s.list_tasks(run.run_id)
        if tasks:
            assert run.tasks_total == len(tasks)
        states = [t.state for t in tasks]
        assert run.tasks_completed == sum(x in TERMINAL_TASK_STATES for x in states)
        assert run.tasks_succeeded == states.count("SUCCEEDED")
        assert run.tasks_failed == states.count("FAILED")
        assert run.tasks_skipped == states.count("SKIPPED")
        assert run.tasks_cancelled == states.count("CANCELLED")
        if tasks:
            assert run.state == derive_run_state(run).value
        else:
            assert run.state in ("TRIGGERED", "CANCELLED")
        assert (run.completed_at is not None) == (run.state in ("SUCCEEDED", "FAILED", "CANCELLED"))
        if run.cancel_requested:
            assert not [t for t in tasks if t.state in ("BLOCKED", "READY", "DISPATCHED")]
    for t in s.rows(TASKS):
        ups = [s.get_edge(t.run_id, u, t.task_key) for u in s.dependencies(t.run_id, t.task_key)]
        assert len(ups) == t.deps_total
        satisfied = sum(1 for edge in ups if edge is not None and edge.satisfied)
        assert t.deps_satisfied_count == satisfied
        resolutions = {edge.resolution for edge in ups if edge is not None}
        if t.state == TaskState.SUCCEEDED:
            assert resolutions <= {"SUCCESS"} and satisfied == t.deps_total
        if t.state == TaskState.SKIPPED:
            assert resolutions & {"FAILED", "SKIPPED"}
        if t.state == TaskState.READY:
            assert satisfied == t.deps_total
        if t.state == TaskState.BLOCKED:
            assert satisfied < t.deps_total
        assert (t.retry_not_before is not None) <= (t.state == TaskState.RETRY_WAIT)
        assert (t.completed_at is not None) == (t.state in TERMINAL_TASK_STATES)
        for o in s.outbox_for_task(t.run_id, t.task_key):
            # Outbox rows exist only for attempts that may still run.
            assert t.state not in TERMINAL_TASK_STATES
            assert o.attempt >= t.attempt
            if o.attempt == t.attempt:
                assert t.state not in ("RUNNING", "RETRY_WAIT")
    # Indexes agree with a full scan.
    by_scan = sorted(t.pk for t in s.rows(TASKS) if t.state == TaskState.READY)
    assert sorted(t.pk for t in s.tasks_in_state("READY")) == by_scan
    pending = sorted(o.dispatch_id for o in s.rows(DISPATCH_OUTBOX) if o.status == "PENDING")
    assert sorted(o.dispatch_id for o in s.pending_outbox()) == pending


def check_step(
    before: dict[tuple[str, str], str],
    s: FoldState,
    batch: list[EventEnvelope],
    result: FoldResult,
) -> None:
    """Terminal tasks never change; rejected events never consume their key."""
    for pk, state in before.items():
        if state in TERMINAL_TASK_STATES:
            t = s.get_task(*pk)
            assert t is not None and t.state == state
    for row in result.delta.table(IDEMPOTENCY_KEYS).upserts:
        assert result.outcomes[row.event_id] == EventOutcome.APPLIED
    for env in batch:
        if result.outcomes[env.event_id] in (EventOutcome.REJECTED, EventOutcome.UNKNOWN):
            owner = s.idempotency_owner(env.tenant_id, env.workspace_id, env.idempotency_key)
            assert owner != env.event_id


def fold_checked(s: FoldState, batch: list[EventEnvelope]) -> FoldResult:
    before = {t.pk: t.state for t in s.rows(TASKS)}
    result = s.fold(batch)
    check_step(before, s, batch, result)
    check_invariants(s)
    return result


def without_keys(p: dict[str, list[dict[str, object]]]) -> dict[str, list[dict[str, object]]]:
    return {k: v for k, v in p.items() if k != IDEMPOTENCY_KEYS}


# --- properties ------------------------------------------------------------------------------


@SETTINGS
@given(h=histories(), data=st.data())
def test_one_batch_equals_event_by_event_equals_reloaded_random_splits(
    h: History, data: st.DataObject
) -> None:
    one = FoldState()
    fold_checked(one, h.events)
    expected = projection(one)

    each = FoldState()
    for env in h.events:
        fold_checked(each, [env])
    assert projection(each) == expected

    # Contiguous batches; between batches the state is reloaded from Arrow tables, and a
    # reader that only applies the persisted deltas stays equal to the folder.
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(h.events) - 1)), max_size=6)))
    bounds = [0, *cuts, len(h.events)]
    state = FoldState()
    reader = FoldState()
    for lo, hi in itertools.pairwise(bounds):
        result = fold_checked(state, h.events[lo:hi])
        tables = delta_to_tables(result.delta)
        reader.apply_delta(
            tables_to_delta(
                {k: v[0] for k, v in tables.items()}, {k: v[1] for k, v in tables.items()}
            )
        )
        state = state_from_tables(state_to_tables(state))
        assert projection(reader) == projection(state)
    assert projection(state) == expected


@SETTINGS
@given(h=histories(), data=st.data())
def test_permutation_and_duplication_within_a_batch(h: History, data: st.DataObject) -> None:
    expected = FoldState()
    expected.fold(h.events)
    extra = data.draw(st.lists(st.sampled_from(h.events), max_size=10))
    shuffled = data.draw(st.permutations([*h.events, *extra]))
    s = FoldState()
    fold_checked(s, shuffled)
    assert projection(s) == projection(expected)


@SETTINGS
@given(h=histories(), data=st.data())
def test_delayed_and_duplicated_delivery_converges(h: History, data: st.DataObject) -> None:
    n = len(h.events)
    # Base batch of every event: a non-decreasing split.
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, n - 1)), max_size=5)))
    batch = [sum(1 for c in cuts if c <= i) for i in range(n)]
    # A run's whole suffix may arrive late (relative to the other runs)...
    runs = sorted(set(h.run_of) - {MANIFEST})  # the graph is deployed before the runs
    if data.draw(st.booleans(), label="delay-suffix"):
        run = data.draw(st.sampled_from(runs))
        start = data.draw(st.integers(0, n - 1))
        shift = data.draw(st.integers(1, 3))
        batch = [b + shift if h.run_of[i] == run and i >= start else b for i, b in enumerate(batch)]
    # ...and any tolerant event (heartbeat, ack, duplicate, stale result) arbitrarily late.
    for i in sorted(h.tolerant):
        batch[i] += data.draw(st.integers(0, 4), label=f"delay-{i}")
    deliveries = [(b, h.events[i]) for i, b in enumerate(batch)]
    # Redelivery of anything, never before its original.
    for i in data.draw(st.lists(st.integers(0, n - 1), max_size=6)):
        deliveries.append((batch[i] + data.draw(st.integers(0, 3)), h.events[i]))
    in_order = FoldState()
    in_order.fold(h.events)

    s = FoldState()
    for b in sorted({b for b, _ in deliveries}):
        group = [env for bb, env in deliveries if bb == b]
        fold_checked(s, data.draw(st.permutations(group)))
    assert without_keys(projection(s)) == without_keys(projection(in_order))


@SETTINGS
@given(h=histories(), data=st.data())
def test_rollback_and_copy_restore_exactly(h: History, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(h.events)))
    s = FoldState()
    s.fold(h.events[:cut])
    before = projection(s)
    snapshot = s.copy()
    result = s.fold(h.events[cut:])
    assert projection(snapshot) == before
    s.rollback(result)
    assert projection(s) == before
    check_invariants(s)
    # Folding the rest again after the rollback gives the same answer as without it.
    s.fold(h.events[cut:])
    full = FoldState()
    full.fold(h.events)
    assert projection(s) == projection(full)


EXPECTED_STATES = frozenset(
    {
        "SUCCEEDED",
        "FAILED",
        "SKIPPED",
        "CANCELLED",
        "RETRY_WAIT",
        "RUNNING",
        "run:SUCCEEDED",
        "run:FAILED",
        "run:CANCELLED",
        "edge:FAILED",
        "edge:SUCCESS",
        "partition:stale",
        "partition:attempt-failed",
    }
)


def reached_states(h: History) -> set[str]:
    s = FoldState()
    s.fold(h.events)
    reached = {t.state for t in s.rows(TASKS)}
    reached.update(f"run:{r.state}" for r in s.rows(RUNS))
    reached.update(
        f"edge:{edge.resolution}" for edge in s.rows(DEP_SATISFACTION) if edge.resolution
    )
    for row in s.partition_statuses():
        if row.stale_since is not None:
            reached.add("partition:stale")
        if row.last_attempt_outcome == "FAILED":
            reached.add("partition:attempt-failed")
    return reached


@pytest.mark.parametrize("expected", sorted(EXPECTED_STATES))
def test_simulator_reaches_interesting_states(expected: str) -> None:
    """Guard against a vacuous generator: the histories do exercise the hard paths.

    The rarest state shows up in about 3% of histories, so a fixed draw of a few hundred can
    miss it on an unlucky seed; each state is searched for until found instead, with a budget
    (2,000 histories) that makes a miss mean the generator really cannot reach it.
    """
    # find() re-runs the history it found to report it, and its repr is long; that is expected.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Generating overly large repr", HypothesisWarning)
        found = find(
            histories(),
            lambda h: expected in reached_states(h),
            settings=settings(
                max_examples=2000,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            ),
        )
    assert expected in reached_states(found)


def test_attempt_ids_are_prefixed() -> None:
    assert att("r", "k", 1).startswith("att_")
