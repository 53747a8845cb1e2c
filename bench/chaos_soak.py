"""The long chaos soak: the suite's soak (tests/integration/test_chaos_soak.py) scaled up.

Run: ``.venv/bin/python bench/chaos_soak.py [--kills-per-kind 25] [--merge-kills 10]
[--groups-per-run 3] [--seed N] [--keep]``

Starts a local mesh in production posture (mutual TLS on every hop) with two workers and
storage faults in every service (``ARCO_STORAGE_FAULTS``, a few percent of puts, gets and
lists fail), then ``kill -9`` and restarts every process kind (api, both compactors, the
orchestration compactor also while it merges, dispatcher, sweeper, gateway, workers) at
random moments while runs of the chaos graph go on. It prints the kills, the runs, and
the four counts that must be 0: runs not converged, events lost (never folded, or the
projection differs from a fresh replay of the ledger), attempts executed twice, and
successes recorded twice. Exit code 1 if any is not 0. The default makes 235 kills
(about 13 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT / "gen"), str(REPO_ROOT)]
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")

from tests.integration.e2e_assets.soak import PROCESS_KINDS, SoakPlan, run_soak, soak_mesh  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills-per-kind", type=int, default=25, help="kills of each process kind")
    parser.add_argument(
        "--merge-kills", type=int, default=10, help="extra compactor kills timed inside a merge"
    )
    parser.add_argument("--groups-per-run", type=int, default=3, help="ten-task groups per run")
    parser.add_argument("--seed", type=int, default=time.time_ns() % 1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the mesh home (logs, data)")
    args = parser.parse_args(argv)
    plan = SoakPlan(
        kills=dict.fromkeys(PROCESS_KINDS, args.kills_per_kind),
        merge_kills=args.merge_kills,
        groups_per_run=args.groups_per_run,
        run_timeout_sec=600.0,
        seed=args.seed,
    )
    home = Path(tempfile.mkdtemp(prefix="arco-soak-"))
    print(f"chaos soak: {plan.total_kills} kills, seed {plan.seed}, home {home}", flush=True)
    try:
        with soak_mesh(home) as mesh:
            report = run_soak(mesh, plan)
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    print(report.summary())
    bad = report.not_converged + report.events_lost + report.executed_twice
    return 1 if bad + report.successes_twice else 0


if __name__ == "__main__":
    raise SystemExit(main())
