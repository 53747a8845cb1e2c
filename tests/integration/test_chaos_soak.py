"""Issue 12 acceptance, the chaos soak: over 50 ``kill -9`` of every process kind (api, both
compactors, four of them while the orchestration compactor merges, dispatcher, sweeper,
gateway, both workers) at random moments, over several runs, with storage faults in every
service and mTLS on every hop.

Every run converges to SUCCEEDED, no event is lost (a whole re-compaction applies nothing
and the projection, partition status included, equals a fresh replay of the ledger), no attempt executes twice and no
task's success is applied twice. The counts print; the seed too (``E2E_SOAK_SEED`` replays
an order). ``bench/chaos_soak.py`` is the longer version.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.integration.e2e_assets.soak import SoakPlan, run_soak, soak_mesh

KILLS = {
    "api": 7,
    "compactor-orchestration": 4,
    "compactor-catalog": 4,
    "dispatcher": 7,
    "sweeper": 6,
    "automation": 3,
    "gateway": 7,
    "worker-1": 7,
    "worker-2": 7,
}
MERGE_KILLS = 4

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_chaos_soak_loses_nothing_and_runs_nothing_twice(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    seed = int(os.environ.get("E2E_SOAK_SEED", time.time_ns() % 1_000_000))
    plan = SoakPlan(kills=KILLS, merge_kills=MERGE_KILLS, seed=seed)
    assert plan.total_kills >= 50
    with soak_mesh(tmp_path_factory.mktemp("soak")) as mesh:
        report = run_soak(mesh, plan)
    print(report.summary())
    assert sum(report.kills.values()) == plan.total_kills
    assert len(report.runs) >= 6, "kills should span several runs (each with a partitioned one)"
    assert report.kills_during_merge >= 1, "no kill landed inside a merge"
    assert report.not_converged == 0
    assert report.events_lost == 0
    assert report.executed_twice == 0
    assert report.successes_twice == 0
    assert report.partitions_materialized >= 3  # the partition rows compared are real ones
