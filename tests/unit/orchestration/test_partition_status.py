"""The partition_status projection: last success, last attempt, staleness, replay equality."""

from __future__ import annotations

import itertools
import json

from orch_support import T0, Events, projection

from arco_core.envelope import EventEnvelope
from arco_core.folding import RetentionCutoffs
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.projection import state_from_tables, state_to_tables
from arco_core.orchestration.state import PartitionStatusRow
from arco_core.orchestration.tables import PARTITION_STATUS

GRAPH = {"ns.raw": [], "ns.clean": ["ns.raw"]}


def run_ok(
    e: Events, run: str, assets: dict[str, list[str]], partition: str
) -> list[EventEnvelope]:
    """One run materializing ``assets`` (in order) for ``partition``."""
    events = [e.trigger(run, code_version="v7"), e.asset_plan(run, assets, partition)]
    for key in assets:
        events += [e.dispatch(run, key), e.started(run, key), e.finished(run, key)]
    return events


def status(s: FoldState, asset: str, partition: str) -> PartitionStatusRow:
    (row,) = [r for r in s.partition_statuses(asset) if r.partition_key == partition]
    return row


def test_a_success_records_the_materialization_and_the_attempt() -> None:
    e = Events()
    s = FoldState()
    s.fold([e.manifest(GRAPH), *run_ok(e, "r1", {"ns.raw": []}, "2026-01-01")])
    row = status(s, "ns.raw", "2026-01-01")
    assert row.last_materialization_run_id == "r1"
    assert row.last_materialization_code_version == "v7"
    assert row.last_attempt_run_id == "r1" and row.last_attempt_outcome == "SUCCEEDED"
    assert row.last_materialization_at == row.last_attempt_at is not None
    assert row.stale_since is None and row.stale_reason_code is None
    assert row.delta_partition == "2026-01-01"
    assert json.loads(row.execution_lineage_ref or "") == {
        "runId": "r1",
        "taskKey": "ns.raw",
        "attempt": 1,
    }


def test_a_failed_attempt_is_recorded_without_a_materialization() -> None:
    e = Events()
    s = FoldState()
    run = "r1"
    s.fold([e.trigger(run), e.asset_plan(run, {"ns.raw": []}, "p1")])
    s.fold([e.dispatch(run, "ns.raw"), e.started(run, "ns.raw"), e.failed(run, "ns.raw")])
    row = status(s, "ns.raw", "p1")
    # A retryable failure (the task goes to RETRY_WAIT) still counts as an attempt.
    assert (row.last_attempt_run_id, row.last_attempt_outcome) == (run, "FAILED")
    assert row.last_materialization_run_id is None and row.last_materialization_at is None
    s.fold(
        [
            e.dispatch(run, "ns.raw", 2),
            e.started(run, "ns.raw", 2),
            e.finished(run, "ns.raw", attempt=2),
        ]
    )
    s.fold(run_ok(e, "r2", {"ns.raw": []}, "p1")[:-1])
    s.fold([e.failed("r2", "ns.raw", retryable=False)])
    row = status(s, "ns.raw", "p1")
    assert (row.last_attempt_run_id, row.last_attempt_outcome) == ("r2", "FAILED")
    assert row.last_materialization_run_id == run  # the success of attempt 2 stays


def test_a_task_without_a_partition_leaves_no_row() -> None:
    e = Events()
    s = FoldState()
    s.fold(run_ok(e, "r1", {"ns.raw": []}, None))  # type: ignore[arg-type]
    assert s.partition_statuses() == []


def stale_history(e: Events) -> list[list[EventEnvelope]]:
    """raw and clean materialized, raw again (clean now stale), then clean again."""
    return [
        [e.manifest(GRAPH)],
        run_ok(e, "r1", {"ns.raw": [], "ns.clean": ["ns.raw"]}, "p1"),
        run_ok(e, "r2", {"ns.raw": []}, "p1"),
        run_ok(e, "r3", {"ns.clean": []}, "p1"),
    ]


def test_a_partition_is_stale_once_its_upstream_rematerializes() -> None:
    e = Events()
    manifest, first, upstream_again, downstream_again = stale_history(e)
    s = FoldState()
    s.fold([*manifest, *first])
    assert status(s, "ns.clean", "p1").stale_since is None
    s.fold(upstream_again)
    clean, raw = status(s, "ns.clean", "p1"), status(s, "ns.raw", "p1")
    assert raw.last_materialization_run_id == "r2"
    assert clean.stale_since == raw.last_materialization_at
    assert clean.stale_reason_code == "upstream_newer"
    assert clean.last_materialization_run_id == "r1"
    s.fold(downstream_again)
    clean = status(s, "ns.clean", "p1")
    assert clean.last_materialization_run_id == "r3"
    assert clean.stale_since is None and clean.stale_reason_code is None


def test_staleness_is_per_partition() -> None:
    e = Events()
    s = FoldState()
    s.fold([e.manifest(GRAPH)])
    s.fold(run_ok(e, "r1", {"ns.raw": [], "ns.clean": ["ns.raw"]}, "p1"))
    s.fold(run_ok(e, "r2", {"ns.raw": [], "ns.clean": ["ns.raw"]}, "p2"))
    s.fold(run_ok(e, "r3", {"ns.raw": []}, "p2"))
    assert status(s, "ns.clean", "p1").stale_since is None
    assert status(s, "ns.clean", "p2").stale_since is not None


def test_runs_folded_in_any_order_and_batching_equal_a_fresh_replay() -> None:
    e = Events()
    manifest, *runs = stale_history(e)
    replay = FoldState()
    replay.fold([event for batch in stale_history(Events()) for event in batch])
    expected = projection(replay)
    assert expected[PARTITION_STATUS]
    for order in itertools.permutations(runs):
        s = FoldState()
        s.fold(manifest)
        for batch in order:
            s.fold(batch)
            s = state_from_tables(state_to_tables(s))
        assert projection(s) == expected, [b[0].event_id for b in order]


def test_retention_keeps_partition_status() -> None:
    e = Events()
    s = FoldState()
    s.fold([e.manifest(GRAPH), *run_ok(e, "r1", {"ns.raw": []}, "p1")])
    before = s.partition_statuses()
    result = s.expire(
        RetentionCutoffs(terminal_runs_before_ms=T0 + 10**9, idempotency_keys_before_ms=0)
    )
    assert s.get_run("r1") is None and result.delta.row_count > 0
    assert s.partition_statuses() == before
