"""Compaction benchmark: ledger append rate, publish throughput, fold cost vs history size.

Run: ``.venv/bin/python bench/compaction_bench.py`` (LocalStore in a temp dir).

Prints
  * the ledger append rate: one object per event vs. concurrent callers group-appended
    into shared segments (the append bounds the whole mesh);
  * events folded and published per second for batches of 1, 100 and 1000 events, read
    from one object per event and from one segment per batch, from the median batch
    (target: >= 5,000 events/s at 1000);
  * the cost of compacting a 1,000-event batch on top of 10k, 100k and 1M existing task
    rows, as a ratio to the 10k case (target: 1M/10k <= 2). The history is published as
    a base snapshot (see ``seed_history``) that the compactor opens, as after a restart;
    the timed batches are ordinary ``Compactor.compact`` calls.

Every figure is measured in the same run; merges into a new base are reported
separately (they run when the writer is idle, off the commit path).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [
    str(Path(__file__).resolve().parent.parent / "gen"),
    str(Path(__file__).resolve().parent.parent),
]

import pyarrow as pa  # noqa: E402
import structlog  # noqa: E402

from arco_core.clock import FakeClock  # noqa: E402
from arco_core.commit import ManifestStore  # noqa: E402
from arco_core.compaction.engine import Compactor  # noqa: E402
from arco_core.compaction.parquet import artifact_for  # noqa: E402
from arco_core.envelope import EventEnvelope  # noqa: E402
from arco_core.ids import deterministic_attempt_id, dispatch_id, new_ulid  # noqa: E402
from arco_core.ledger import LedgerWriter  # noqa: E402
from arco_core.ledger_batching import BatchingLedgerWriter  # noqa: E402
from arco_core.orchestration.events import (  # noqa: E402
    DispatchRequested,
    PlanCreated,
    RunTriggered,
    TaskCompletionRecorded,
    TaskOutcome,
    TaskStarted,
    make_event,
)
from arco_core.orchestration.values import TaskDef, TriggerInfo  # noqa: E402
from arco_core.paths import Scope  # noqa: E402
from arco_core.projections import OrchestrationAdapter  # noqa: E402
from arco_core.published import Base, ManifestBody  # noqa: E402
from arco_core.storage import Role, ScopedStorage, open_object_store  # noqa: E402

SCOPE = Scope("bench", "ws")
TASKS_PER_RUN = 10


def quiet_logs() -> None:
    """Only the benchmark's own figures on stdout."""
    logging.basicConfig(level=logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def _ev(payload: object) -> EventEnvelope:
    return make_event(payload, tenant_id=SCOPE.tenant_id, workspace_id=SCOPE.workspace_id)  # type: ignore[arg-type]


def plan_events(run: str) -> list[EventEnvelope]:
    keys = [f"t{i}" for i in range(TASKS_PER_RUN)]
    tasks = tuple(TaskDef(key=k, depends_on=(keys[0],) if i else ()) for i, k in enumerate(keys))
    return [
        _ev(RunTriggered(run_id=run, plan_id=f"plan_{run}", trigger=TriggerInfo.manual("bench"))),
        _ev(PlanCreated(run_id=run, plan_id=f"plan_{run}", tasks=tasks)),
    ]


def worker_events(run: str, key: str) -> list[EventEnvelope]:
    did = dispatch_id(run, key, 1)
    attempt_id = deterministic_attempt_id(did)
    return [
        _ev(
            DispatchRequested(
                run_id=run, task_key=key, attempt=1, attempt_id=attempt_id, dispatch_id=did
            )
        ),
        _ev(TaskStarted(run_id=run, task_key=key, attempt=1, attempt_id=attempt_id, worker_id="w")),
        _ev(
            TaskCompletionRecorded(
                run_id=run,
                task_key=key,
                attempt=1,
                attempt_id=attempt_id,
                worker_id="w",
                outcome=TaskOutcome.SUCCEEDED,
            )
        ),
    ]


def traffic(count: int, prefix: str) -> list[EventEnvelope]:
    """``count`` events of fresh runs: plans, then dispatch/start/finish of root tasks."""
    out: list[EventEnvelope] = []
    n = 0
    while len(out) < count:
        run = f"{prefix}-{n}"
        n += 1
        out += plan_events(run)
        out += worker_events(run, "t0")
    return out[:count]


class Harness:
    def __init__(self, root: Path) -> None:
        store = open_object_store(root.as_uri(), {})
        self.api = ScopedStorage(store, SCOPE, Role.API)
        self.compactor_storage = ScopedStorage(store, SCOPE, Role.COMPACTOR)
        self.writer = LedgerWriter(self.api, "orchestration", FakeClock(int(time.time() * 1000)))
        self.engine = Compactor(
            self.compactor_storage, OrchestrationAdapter(), l0_max_deltas=1_000_000
        )

    async def append(self, events: list[EventEnvelope]) -> list[str]:
        """One object per event."""
        return await self.writer.append_all(events, concurrency=32)

    async def append_segments(self, events: list[EventEnvelope], size: int) -> list[str]:
        """One segment object per ``size`` events."""
        return [
            await self.writer.append_segment(events[i : i + size])
            for i in range(0, len(events), size)
        ]


async def append_rates(root: Path, count: int = 6000, callers: int = 64) -> dict[str, float]:
    """Events made durable per second: per-event objects vs. group-appended segments."""
    harness = Harness(root)
    rates: dict[str, float] = {}
    events = traffic(count, "ap1")
    started = time.perf_counter()
    await harness.append(events)
    rates["one object per event (32 concurrent puts)"] = count / (time.perf_counter() - started)

    # ``callers`` concurrent requests, each appending one task's 3 events at a time.
    batching = BatchingLedgerWriter(harness.writer)
    events = traffic(count, "ap2")
    requests = [events[i : i + 3] for i in range(0, len(events), 3)]

    async def caller(mine: list[list[EventEnvelope]]) -> None:
        for request in mine:
            await batching.append(request)

    started = time.perf_counter()
    await asyncio.gather(*(caller(requests[i::callers]) for i in range(callers)))
    label = f"group-appended segments ({callers} concurrent callers x 3 events)"
    rates[label] = count / (time.perf_counter() - started)
    rates["  (puts per 1000 events)"] = batching.puts * 1000 / count
    return rates


async def throughput(root: Path, segments: bool) -> dict[int, tuple[float, float]]:
    """(wall, CPU) events per second by batch size, from the median batch. The CPU rate
    (this process, all threads) tells how much a busy host distorted the wall rate."""
    harness = Harness(root)
    await harness.engine.open()
    results: dict[int, tuple[float, float]] = {}
    for batch, count in ((1, 200), (100, 20), (1000, 9)):
        events = traffic(batch * count, f"tp{batch}{'s' if segments else 'e'}")
        if segments:
            batches = [[p] for p in await harness.append_segments(events, batch)]
        else:
            paths = await harness.append(events)
            batches = [paths[i : i + batch] for i in range(0, len(paths), batch)]
        timings, cpu = [], []
        for paths in batches:
            started, cpu_started = time.perf_counter(), time.process_time()
            await harness.engine.compact(paths)
            timings.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
        results[batch] = (batch / statistics.median(timings), batch / statistics.median(cpu))
    return results


def _replicate(table: pa.Table, marker: str, run_ids: list[str]) -> pa.Table:
    """``table`` (the rows of one template run) repeated for every run id."""
    n = table.num_rows
    index = pa.array([i for _ in run_ids for i in range(n)], type=pa.int32())
    columns: list[pa.Array | pa.ChunkedArray] = []
    for column_field, column in zip(table.schema, table.columns, strict=True):
        values = column.to_pylist()
        if pa.types.is_string(column_field.type) and any(
            isinstance(v, str) and marker in v for v in values
        ):
            renamed = [v if v is None else v.replace(marker, r) for r in run_ids for v in values]
            columns.append(pa.array(renamed, type=column_field.type))
        else:
            columns.append(column.take(index))
    return pa.Table.from_arrays(columns, schema=table.schema)


async def seed_history(harness: Harness, task_rows: int) -> None:
    """Publish a base of ``task_rows`` planned tasks as the compactor itself would.

    Folding 100k plans event by event would dominate the benchmark, so one template run
    goes through the real fold and its rows are replicated under fresh run ids (same
    shape, keys and indexes as folded runs; only ULID-derived columns repeat). The base is
    written with the compactor's artifact writer and published as manifest 0; the timed
    batches then go through ``Compactor.compact`` on top of it.
    """
    marker = "runmarker"
    template = OrchestrationAdapter().empty_state(SCOPE)
    template.fold(plan_events(marker))
    run_ids = [f"h{r}" for r in range(task_rows // TASKS_PER_RUN)]
    tables = {
        name: _replicate(table, marker, run_ids) if table.num_rows else table
        for name, table in OrchestrationAdapter().tables(template).items()
    }
    snapshot_id = new_ulid()
    built = {
        name: artifact_for(f"snapshots/orchestration/{snapshot_id}", name, table)
        for name, table in sorted(tables.items())
    }
    for artifact, data in built.values():
        await harness.compactor_storage.create(artifact.path, data)
    body = ManifestBody(
        domain="orchestration",
        base=Base(snapshot_id=snapshot_id, tables={n: a for n, (a, _) in built.items()}),
        deltas=(),
        last_event_id=None,
        events_applied=2 * len(run_ids),
    )
    await ManifestStore(harness.compactor_storage, "orchestration").publish(None, body.to_json(), 0)


async def history_cost(root: Path, task_rows: int, samples: int) -> tuple[float, float, float]:
    """Median seconds to compact a 1,000-event batch on top of ``task_rows`` tasks."""
    harness = Harness(root)
    started = time.perf_counter()
    await seed_history(harness, task_rows)
    snapshot = await harness.engine.open()  # a compactor (re)starting on that base
    assert snapshot.state.row_count("tasks") == task_rows
    seed_sec = time.perf_counter() - started
    timings = []
    for s in range(samples):
        events = traffic(1000, f"s{task_rows}-{s}")
        paths = await harness.append_segments(events, 1000)
        started = time.perf_counter()
        await harness.engine.compact(paths)
        timings.append(time.perf_counter() - started)
    merge_started = time.perf_counter()
    await harness.engine.merge()
    merge_sec = time.perf_counter() - merge_started
    return statistics.median(timings), seed_sec, merge_sec


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


async def main(sizes: list[int], samples: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        appends = await append_rates(Path(tmp) / "ap")
    print("ledger append rate (LocalStore, events made durable per second):")
    baseline = next(iter(appends.values()))
    for label, rate in appends.items():
        if label.startswith("  "):
            print(f"  {label.strip():<62} {rate:>9,.1f}")
        else:
            print(f"  {label:<62} {rate:>9,.0f} events/s ({rate / baseline:.1f}x)")

    rates: dict[str, dict[int, tuple[float, float]]] = {}
    for segments in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            kind = "one segment per batch" if segments else "one object per event"
            rates[kind] = await throughput(Path(tmp) / "tp", segments)
    print("events folded and published per second (LocalStore):")
    for kind, by_batch in rates.items():
        print(f"  read from {kind}:")
        for batch, (rate, cpu_rate) in by_batch.items():
            print(
                f"    batch {batch:>5}: {rate:>9,.0f} events/s  (per CPU second: {cpu_rate:,.0f})"
            )
    for kind, by_batch in rates.items():
        rate = by_batch[1000][0]
        print(
            f"  target: >= 5,000 events/s at batch 1000, {kind} -> "
            f"{verdict(rate >= 5000)} ({rate / 5000:.2f}x the target)"
        )

    costs: dict[int, float] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            median, seed_sec, merge_sec = await history_cost(Path(tmp) / f"h{size}", size, samples)
        costs[size] = median
        print(
            f"1,000-event batch on {size:>9,} task rows: {median * 1e3:7.1f} ms "
            f"(seeding {seed_sec:.1f}s; an idle-time merge into a new base {merge_sec:.2f}s)"
        )
    base = costs[sizes[0]]
    print("cost ratio to the smallest history:")
    for size in sizes:
        print(f"  {size:>9,} / {sizes[0]:,}: {costs[size] / base:.2f}x")
    worst = costs[sizes[-1]] / base
    print(f"  target: {sizes[-1]:,}/{sizes[0]:,} <= 2 -> {verdict(worst <= 2)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000", help="task-row history sizes")
    parser.add_argument("--samples", type=int, default=5, help="batches timed per size")
    args = parser.parse_args()
    quiet_logs()
    asyncio.run(main([int(x) for x in args.sizes.split(",")], args.samples))
