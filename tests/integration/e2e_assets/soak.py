"""The chaos soak: ``kill -9`` every process kind at random moments, storage faults on.

Shared by the bounded soak in the suite (``tests/integration/test_chaos_soak.py``) and its
longer version (``bench/chaos_soak.py``). A :class:`SoakPlan` says how many kills of each
process kind, how many of the orchestration compactor's land while it merges deltas into a
new base, and how large each run is. :func:`run_soak` starts runs of the chaos graph one
after another while it kills and restarts processes in place (``Mesh.restart``), waits for
every run, and then counts, from the ledger, the projection and the assets' own execution
records (each chaos run comes with a run of the daily-partitioned pair over one of three
days, sometimes only its source, so partition rows are materialized and made stale):

* runs that did not converge to SUCCEEDED;
* events lost: ledger events a whole re-compaction still applies (never folded), plus
  run, task and partition status rows where the published projection differs from a
  fresh replay;
* executions of one attempt beyond the first (an asset run twice for one attempt);
* applied successes of a task beyond the first.

The caller asserts the counts; :meth:`SoakReport.summary` prints them.
"""

from __future__ import annotations

import collections
import dataclasses
import random
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from arco_core.envelope import EventEnvelope
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.tables import IDEMPOTENCY_KEYS
from arco_sdk.client import ArcoClient
from services.mesh import Mesh
from tests.integration.e2e_assets.chaos import DAILY_SINK, DAILY_SRC, FAN_OUT, GROUPS, NS
from tests.integration.e2e_assets.harness import (
    CHAOS_MODULE,
    TERMINAL,
    deploy,
    ledger_events,
    make_mesh,
    never_folded,
    projection,
    replay_differences,
    tasks_of,
    wait_run,
)

# Every process kind the mesh runs; a plan must kill each at least once.
PROCESS_KINDS = (
    "api",
    "compactor-orchestration",
    "compactor-catalog",
    "dispatcher",
    "sweeper",
    "automation",
    "gateway",
    "worker-1",
    "worker-2",
)
MERGE_KILL = "compactor-orchestration@merge"
MERGE_STARTED = b'"compactor_merge_started"'
MERGE_DONE = b'"compactor_merged_base"'
FINISHED = ("TaskCompletionRecorded", "TaskFinished")
_T = TypeVar("_T")
# Faults in every service's object store: a few percent of calls fail, each call is slower.
FAULTS = "put=0.03,get=0.03,list=0.03,latency_ms=3"


@dataclasses.dataclass(frozen=True)
class SoakPlan:
    kills: Mapping[str, int]
    merge_kills: int  # extra orchestration-compactor kills, each while a merge runs
    groups_per_run: int = 3  # ten-task fan-out/fan-in groups per run
    # A new run starts once the last one finished or after this many kills, whichever is
    # first, so the kills span several runs, often more than one live at a time.
    kills_per_run: int = 12
    pause_sec: tuple[float, float] = (0.2, 1.5)
    run_timeout_sec: float = 240.0
    seed: int = 0

    def __post_init__(self) -> None:
        missing = set(PROCESS_KINDS) - {k for k, n in self.kills.items() if n > 0}
        if missing:
            raise ValueError(f"a soak kills every process kind; missing {sorted(missing)}")

    @property
    def total_kills(self) -> int:
        return sum(self.kills.values()) + self.merge_kills


@dataclasses.dataclass
class SoakReport:
    seed: int
    kills: collections.Counter[str]
    kills_during_merge: int
    runs: list[str]
    not_converged: int
    events_lost: int
    executed_twice: int
    successes_twice: int
    redelivered_successes: int
    partitions_materialized: int  # partition status rows with a materialization
    elapsed_sec: float

    def summary(self) -> str:
        return "\n".join(
            [
                f"chaos soak seed {self.seed}: {sum(self.kills.values())} kill -9 "
                f"({dict(sorted(self.kills.items()))}), "
                f"{self.kills_during_merge} while the compactor merged, "
                f"{len(self.runs)} runs, {self.elapsed_sec:.0f} s",
                f"runs not converged {self.not_converged}; events lost {self.events_lost}; "
                f"attempts executed twice {self.executed_twice}; "
                f"successes recorded twice {self.successes_twice} "
                f"(redelivered success events deduplicated: {self.redelivered_successes}); "
                f"partitions materialized {self.partitions_materialized}",
            ]
        )


def soak_mesh(home: Path, *, extra_env: Mapping[str, str] | None = None) -> Mesh:
    """Two workers, storage faults in every service, quick repairs and frequent merges."""
    return make_mesh(
        home,
        modules=[CHAOS_MODULE],
        extra_env={
            "ARCO_ENVIRONMENT": "dev",  # the fault wrapper is dev-only; mTLS stays on
            "ARCO_STORAGE_FAULTS": FAULTS,
            "ARCO_SWEEP_READY_TIMEOUT_SEC": "5",
            "ARCO_SWEEP_DISPATCH_TIMEOUT_SEC": "10",
            # A merge every other commit, so kills can land inside one.
            "ARCO_COMPACTOR_L0_MAX_DELTAS": "2",
            **(extra_env or {}),
        },
    )


def group_keys(group: int) -> list[str]:
    return [
        f"{NS}.root_{group}",
        *(f"{NS}.mid_{group}_{i}" for i in range(FAN_OUT)),
        f"{NS}.sink_{group}",
    ]


def run_soak(mesh: Mesh, plan: SoakPlan) -> SoakReport:
    rng = random.Random(plan.seed)
    schedule = [name for name, count in plan.kills.items() for _ in range(count)]
    schedule += [MERGE_KILL] * plan.merge_kills
    rng.shuffle(schedule)
    started = time.monotonic()
    kills: collections.Counter[str] = collections.Counter()
    during_merge = 0
    with _client(mesh) as client:
        _retry(lambda: deploy(client, CHAOS_MODULE))
        runs = _trigger(client, plan, 0)
        since_trigger = 0
        for entry in schedule:
            time.sleep(rng.uniform(*plan.pause_sec))
            if since_trigger >= plan.kills_per_run or _state_or_none(client, runs[-1]) in TERMINAL:
                runs += _trigger(client, plan, len(runs) // 2)
                since_trigger = 0
            since_trigger += 1
            if entry == MERGE_KILL:
                during_merge += _kill_during_merge(mesh)
                kills["compactor-orchestration"] += 1
            else:
                mesh.restart(entry)
                kills[entry] += 1
        finished = [
            wait_run(client, run_id, timeout=plan.run_timeout_sec, mesh=mesh) for run_id in runs
        ]
    not_converged = sum(
        1
        for run in finished
        if run["state"] != "SUCCEEDED"
        or {t["state"] for t in tasks_of(run).values()} != {"SUCCEEDED"}
    )
    state = projection(mesh)
    events = ledger_events(mesh)
    twice, redelivered = _successes_twice(state, events, runs)
    return SoakReport(
        seed=plan.seed,
        kills=kills,
        kills_during_merge=during_merge,
        runs=runs,
        not_converged=not_converged,
        events_lost=never_folded(mesh) + replay_differences(mesh, events, runs),
        executed_twice=sum(_executed_twice(mesh, run_id) for run_id in runs),
        successes_twice=twice,
        redelivered_successes=redelivered,
        partitions_materialized=sum(
            row.last_materialization_run_id is not None for row in state.partition_statuses()
        ),
        elapsed_sec=time.monotonic() - started,
    )


def _client(mesh: Mesh) -> ArcoClient:
    """Retries idempotent reads through restarts for longer than the default client."""
    return ArcoClient(
        f"http://{mesh.address('gateway')}",
        tenant_id=mesh.tenant_id,
        workspace_id=mesh.workspace_id,
        max_attempts=10,
        deadline=120.0,
    )


def _retry(call: Callable[[], _T], timeout: float = 90.0) -> _T:
    """Deploy and trigger are safe to repeat (by content, by run key) through any restart."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _trigger(client: ArcoClient, plan: SoakPlan, index: int) -> list[str]:
    """Run ``index`` of the chaos graph, after a run of the partitioned pair (the chaos run
    last: the soak waits on it before the next)."""
    first = (index * plan.groups_per_run) % GROUPS
    keys = [
        key for g in range(first, first + plan.groups_per_run) for key in group_keys(g % GROUPS)
    ]
    day = f"date=d:2026-01-{index % 3 + 1:02d}"
    daily = [DAILY_SRC] if index % 2 else [DAILY_SRC, DAILY_SINK]
    partitioned = _retry(
        lambda: client.trigger_run(daily, partition_key=day, run_key=f"soak-{plan.seed}-{index}-d")
    )
    chaos = _retry(lambda: client.trigger_run(keys, run_key=f"soak-{plan.seed}-{index}"))
    return [partitioned.run_id, chaos.run_id]


def _state_or_none(client: ArcoClient, run_id: str) -> str | None:
    try:
        return client.get_run(run_id).state
    except Exception:  # whatever answers the client may be down right now
        return None


def _kill_during_merge(mesh: Mesh, wait_sec: float = 15.0) -> int:
    """Kill the orchestration compactor as soon as it logs a merge start; 1 if the merge
    had not finished when it died (no ``compactor_merged_base`` after the start)."""
    log_path = mesh.services["compactor-orchestration"].log_path
    offset = log_path.stat().st_size
    deadline = time.monotonic() + wait_sec
    seen = b""
    while time.monotonic() < deadline:
        with log_path.open("rb") as log_file:
            log_file.seek(offset)
            seen = log_file.read()
        if MERGE_STARTED in seen:
            break
        time.sleep(0.005)
    mesh.services["compactor-orchestration"].process.kill()
    with log_path.open("rb") as log_file:
        log_file.seek(offset)
        seen = log_file.read()
    mesh.restart("compactor-orchestration")
    start = seen.rfind(MERGE_STARTED)
    return int(start >= 0 and MERGE_DONE not in seen[start:])


def _executed_twice(mesh: Mesh, run_id: str) -> int:
    path = mesh.home / "markers" / f"{run_id}.chaos.executions"
    if not path.exists():
        return 0
    per_attempt = collections.Counter(
        tuple(line.split()[:2]) for line in path.read_text().splitlines() if line.strip()
    )
    return sum(count - 1 for count in per_attempt.values() if count > 1)


def _successes_twice(
    state: FoldState, events: Sequence[EventEnvelope], runs: Sequence[str]
) -> tuple[int, int]:
    """(tasks whose success was applied more than once, redelivered success events)."""
    applied_ids = {row.event_id for row in state.rows(IDEMPOTENCY_KEYS)}
    twice = redelivered = 0
    for run_id in runs:
        applied: collections.Counter[str] = collections.Counter()
        recorded: collections.Counter[str] = collections.Counter()
        for event in events:
            data = event.data
            if event.event_type not in FINISHED or data.get("run_id") != run_id:
                continue
            if data.get("outcome") == "succeeded":
                recorded[data["task_key"]] += 1
                if event.event_id in applied_ids:
                    applied[data["task_key"]] += 1
        twice += sum(count - 1 for count in applied.values() if count > 1)
        redelivered += sum(recorded.values()) - len(recorded)
    return twice, redelivered
