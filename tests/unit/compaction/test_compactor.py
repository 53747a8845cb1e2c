"""The compactor: fold, publish, catch up, merge, rebuild, fencing — on every backend."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pyarrow as pa
import pytest

from arco_core.canonical_json import canonical_bytes
from arco_core.clock import FakeClock
from arco_core.commit import ManifestStore
from arco_core.compaction.engine import Compactor
from arco_core.errors import ScopeViolation, StaleFencingToken
from arco_core.ledger import LedgerWriter
from arco_core.locks import LeaseLock
from arco_core.orchestration.projection import state_to_tables
from arco_core.orchestration.tables import TABLE_NAMES
from arco_core.paths import Scope, ledger_event_path, ledger_segment_path
from arco_core.projections import CatalogAdapter, OrchestrationAdapter
from arco_core.published import ManifestBody, ProjectionReader, parquet_to_table
from arco_core.storage import Role
from tests.support.backends import Backend
from tests.support.fixtures import GOLDEN_SCHEMAS_DIR
from tests.support.reference import reference_path
from tests.unit.orchestration.orch_support import T0, TENANT, WORKSPACE, Events

SCOPE = Scope(TENANT, WORKSPACE)
SCOPE_B = Scope(TENANT, WORKSPACE + "-b")


def _rescope(event: Any) -> Any:
    """The same event for SCOPE_B (a second, independent projection on one store)."""
    from arco_core.envelope import EventEnvelope

    return EventEnvelope.from_json_dict(
        {**event.to_json_dict(), "workspace_id": SCOPE_B.workspace_id}
    )


def _unscoped(tables: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [{k: v for k, v in row.items() if k != "workspace_id"} for row in table]
        for name, table in tables.items()
    }


def rows(state: Any) -> dict[str, list[dict[str, Any]]]:
    tables = state_to_tables(state)
    return {name: tables[name].to_pylist() for name in TABLE_NAMES}


def run_history(ev: Events, run: str, keys: list[str]) -> list[Any]:
    """A fan-in run: every key but the last feeds the last; all succeed."""
    *roots, sink = keys
    out = [ev.trigger(run), ev.plan(run, {**{k: [] for k in roots}, sink: roots})]
    for key in keys:
        out += [ev.dispatch(run, key), ev.enqueued(run, key), ev.started(run, key)]
        out += [ev.finished(run, key)]
    return out


async def append(backend: Backend, events: list[Any]) -> list[str]:
    writer = LedgerWriter(
        backend.storage(Role.API, scope=SCOPE), "orchestration", FakeClock(events[-1].timestamp_ms)
    )
    return await writer.append_all(events)


def compactor(backend: Backend, **kw: Any) -> Compactor:
    return Compactor(backend.storage(Role.COMPACTOR, scope=SCOPE), OrchestrationAdapter(), **kw)


async def test_compaction_publishes_what_the_reader_loads(backend: Backend) -> None:
    ev = Events()
    events = run_history(ev, "r1", ["a", "b", "c"])
    paths = await append(backend, events)
    engine = compactor(backend)
    await engine.open()
    results = [await engine.compact(paths[:4]), await engine.compact(paths[4:])]
    assert [r.seq for r in results] == [0, 1]
    assert sum(r.applied for r in results) == len(events)

    reader = ProjectionReader(
        backend.storage(Role.READER, scope=SCOPE), OrchestrationAdapter(), SCOPE
    )
    snapshot = await reader.refresh()
    assert snapshot.seq == 1
    assert rows(snapshot.state) == rows(engine.snapshot.state)
    assert snapshot.state.get_run("r1").state == "SUCCEEDED"

    # Re-compacting the same events changes nothing and publishes nothing.
    again = await engine.compact(paths)
    assert not again.published and again.seq == 1


async def test_incremental_reader_applies_only_new_deltas(backend: Backend) -> None:
    ev = Events()
    paths = await append(backend, run_history(ev, "r1", ["a", "b"]))
    engine = compactor(backend)
    await engine.open()
    reader = ProjectionReader(
        backend.storage(Role.READER, scope=SCOPE), OrchestrationAdapter(), SCOPE
    )
    for path in paths:
        await engine.compact([path])
        snapshot = await reader.refresh()
        assert snapshot.seq == engine.snapshot.seq
        assert rows(snapshot.state) == rows(engine.snapshot.state)


async def test_merge_folds_deltas_into_a_new_base(backend: Backend) -> None:
    ev = Events()
    paths = await append(backend, run_history(ev, "r1", ["a", "b", "c"]))
    engine = compactor(backend, l0_max_deltas=3)
    await engine.open()
    for path in paths:
        await engine.compact([path])
        if engine.merge_due():
            await engine.merge()
    manifest = engine.snapshot.manifest
    assert manifest is not None and len(manifest.deltas) < 3
    # A cold reader of the merged manifest sees exactly the fold state.
    reader = ProjectionReader(
        backend.storage(Role.READER, scope=SCOPE), OrchestrationAdapter(), SCOPE
    )
    assert rows((await reader.refresh()).state) == rows(engine.snapshot.state)


async def test_a_reader_at_the_merged_sequence_adopts_the_merge_without_loading(
    backend: Backend,
) -> None:
    ev = Events()
    paths = await append(backend, run_history(ev, "r1", ["a", "b", "c"]))
    engine = compactor(backend)
    await engine.open()
    current = ProjectionReader(
        backend.storage(Role.READER, scope=SCOPE), OrchestrationAdapter(), SCOPE
    )
    behind = ProjectionReader(
        backend.storage(Role.READER, scope=SCOPE), OrchestrationAdapter(), SCOPE
    )
    for path in paths[:-1]:
        await engine.compact([path])
    await behind.refresh()
    await engine.compact(paths[-1:])
    before = await current.refresh()
    stale = behind.current
    assert stale is not None and before.seq == stale.seq + 1

    merged = await engine.merge()
    assert merged.published
    body = engine.snapshot.manifest
    assert body is not None and body.merged_from_seq == before.seq and not body.deltas

    after = await current.refresh()
    assert after.seq == merged.seq
    assert after.state is before.state  # adopted: nothing was loaded
    assert after.manifest is not None and after.manifest.base == body.base
    assert not after.applied_delta_ids
    # A reader further behind cannot adopt it: it loads the new base.
    caught_up = await behind.refresh()
    assert caught_up.seq == merged.seq and caught_up.state is not stale.state
    assert rows(caught_up.state) == rows(after.state) == rows(engine.snapshot.state)
    # Later deltas apply on top of the adopted base as usual.
    more = await append(backend, run_history(ev, "r2", ["x"]))
    await engine.compact(more)
    assert rows((await current.refresh()).state) == rows(engine.snapshot.state)


async def test_commits_during_a_merge_are_rebased_onto_the_new_base(backend: Backend) -> None:
    ev = Events()
    first = await append(backend, run_history(ev, "r1", ["a", "b"]))
    more = await append(backend, run_history(ev, "r2", ["x", "y"]))
    engine = compactor(backend)
    await engine.open()
    for path in first:
        await engine.compact([path])
    reader = ProjectionReader(
        backend.storage(Role.READER, scope=SCOPE), OrchestrationAdapter(), SCOPE
    )
    await reader.refresh()

    # The merge takes its tables, then encodes and writes the base off the commit lock:
    # the commit queued behind it lands first and is rebased onto the new base.
    merging = asyncio.create_task(engine.merge())
    await asyncio.sleep(0)
    committed = await engine.compact(more)
    merged = await merging
    assert committed.published and merged.published and merged.seq == committed.seq + 1
    body = engine.snapshot.manifest
    assert body is not None and body.merged_from_seq == committed.seq
    assert len(body.deltas) == 1  # the concurrent commit's delta, on top of the new base

    expected = rows(engine.snapshot.state)
    assert engine.snapshot.state.get_run("r2").state == "SUCCEEDED"
    cold = ProjectionReader(
        backend.storage(Role.READER, scope=SCOPE), OrchestrationAdapter(), SCOPE
    )
    assert rows((await cold.refresh()).state) == expected
    assert rows((await reader.refresh()).state) == expected


async def test_rebuild_reproduces_the_incremental_projection(backend: Backend) -> None:
    ev = Events()
    events = run_history(ev, "r1", ["a", "b", "c"]) + run_history(ev, "r2", ["x", "y"])
    events.append(ev.failed("r2", "y", attempt=1))  # a late duplicate-ish fact
    paths = await append(backend, events)
    engine = compactor(backend)
    await engine.open()
    for i in range(0, len(paths), 3):
        await engine.compact(paths[i : i + 3])
    incremental = rows(engine.snapshot.state)
    shuffled = list(reversed(paths)) + paths[:5]  # order and duplicates do not matter
    result = await engine.rebuild(shuffled)
    assert result.commit.published and not result.whole
    reader = ProjectionReader(
        backend.storage(Role.READER, scope=SCOPE), OrchestrationAdapter(), SCOPE
    )
    assert rows((await reader.refresh()).state) == incremental


async def test_two_compactors_race_without_losing_or_doubling_events(backend: Backend) -> None:
    ev = Events()
    runs = [run_history(ev, f"r{i}", ["a", "b", "c"]) for i in range(6)]
    paths = [await append(backend, events) for events in runs]
    first, second = compactor(backend), compactor(backend)
    await asyncio.gather(first.open(), second.open())

    async def drive(engine: Compactor, batches: list[list[str]]) -> None:
        for batch in batches:
            await engine.compact(batch)

    await asyncio.gather(drive(first, paths[0::2]), drive(second, paths[1::2]))
    manifests = ManifestStore(backend.storage(Role.READER, scope=SCOPE), "orchestration")
    head = await manifests.head_seq()
    assert head == 5  # six publishes, contiguous from 0
    reader = ProjectionReader(
        backend.storage(Role.READER, scope=SCOPE), OrchestrationAdapter(), SCOPE
    )
    state = (await reader.refresh()).state
    for i in range(6):
        run = state.get_run(f"r{i}")
        assert run.state == "SUCCEEDED" and run.tasks_succeeded == 3  # applied exactly once
    assert ManifestBody.from_head(await manifests.read(head)).events_applied == sum(map(len, runs))


async def test_an_idle_compactor_announces_the_head_its_peer_published(backend: Backend) -> None:
    """A reader following the idle compactor's head stream sees its peer's commits."""
    from arco_core.compaction.peers import PeerHeads

    ev = Events()
    paths = await append(backend, run_history(ev, "r1", ["a", "b"]))
    busy, idle = compactor(backend), compactor(backend)
    await asyncio.gather(busy.open(), idle.open())
    await busy.compact(paths)
    assert idle.snapshot.seq is None  # it has not looked
    loop = PeerHeads(idle, interval_s=0.01)
    running = asyncio.create_task(loop.run())
    try:
        announced = await asyncio.wait_for(idle.wait_for_head(None), timeout=10)
    finally:
        await loop.shutdown()
        await running
    assert announced.seq == busy.snapshot.seq
    assert announced.state.get_run("r1").state == "SUCCEEDED"
    assert await idle.adopt_published_head() is False  # nothing new since


async def test_events_outside_the_scope_are_rejected_and_nothing_changes(backend: Backend) -> None:
    ev = Events()
    foreign = ev.trigger("r9")
    other = Events(start_ms=T0 + 60_000).trigger("r1")
    # Plant another tenant's event at this scope's canonical path (bypassing the writer).
    stray = json.loads(json.dumps(foreign.to_json_dict()))
    stray["tenant_id"] = "intruder"
    path = ledger_event_path("orchestration", foreign.event_id)
    await backend.storage(Role.API, scope=SCOPE).create(path, json.dumps(stray).encode())
    ok = await append(backend, [other])
    engine = compactor(backend)
    await engine.open()
    with pytest.raises(ScopeViolation):
        await engine.compact([*ok, path])
    assert (
        await ManifestStore(backend.storage(Role.READER, scope=SCOPE), "orchestration").head_seq()
        is None
    )


# Tables the reference has no golden schema for: their owned files are the contract.
OWN_TABLES = frozenset(
    {"code_manifests", "schedules", "schedule_ticks", "backfills", "backfill_chunks"}
)


@pytest.mark.parametrize("source", ["own", "reference"])
async def test_published_tables_match_the_golden_schemas(backend: Backend, source: str) -> None:
    """Exactly the owned golden files; the reference's columns where ../shared is present."""
    ev = Events()
    engine = compactor(backend)
    await engine.open()
    await engine.compact(await append(backend, run_history(ev, "r1", ["a", "b"])))
    await engine.merge()
    manifest = engine.snapshot.manifest
    assert manifest is not None and manifest.base is not None
    storage = backend.storage(Role.READER, scope=SCOPE)
    golden_dir = (
        GOLDEN_SCHEMAS_DIR / "orchestration"
        if source == "own"
        else reference_path("contracts/golden_schemas/orchestration")
    )
    types = {"Utf8": pa.string(), "UInt32": pa.uint32(), "Int64": pa.int64(), "Boolean": pa.bool_()}
    goldens = {path.name.removesuffix(".schema.json") for path in golden_dir.glob("*.schema.json")}
    assert {
        "runs",
        "tasks",
        "dep_satisfaction",
        "dispatch_outbox",
        "idempotency_keys",
        "timers",
    } <= (set(manifest.base.tables) & goldens)
    for name, artifact in manifest.base.tables.items():
        golden_path = golden_dir / f"{name}.schema.json"
        if source == "reference" and name in OWN_TABLES:
            continue  # ours alone
        schema = parquet_to_table(await storage.get(artifact.path)).schema
        fields = json.loads(golden_path.read_text())["fields"]
        if source == "own":
            assert schema.names == [field["name"] for field in fields], name
        for field in fields:
            actual = schema.field(field["name"])
            assert actual.type == types[field["data_type"]], (name, field)
            assert actual.nullable == field["nullable"], (name, field)


# -- catalog: Tier-1 writes under a fenced lock ---------------------------------------------


async def _catalog_event(backend: Backend, name: str) -> list[str]:
    """Plan and append a namespace creation against the published catalog state."""
    from arco_core.catalog.events import make_event
    from arco_core.catalog.planning import plan_create_namespace
    from arco_core.catalog.validation import validate_create_namespace
    from arco_core.clock import SystemClock

    reader = ProjectionReader(backend.storage(Role.READER, scope=SCOPE), CatalogAdapter(), SCOPE)
    state = (await reader.refresh()).state
    payloads = plan_create_namespace(
        state, validate_create_namespace(name), now_ms=SystemClock().now_ms()
    )
    writer = LedgerWriter(backend.storage(Role.API, scope=SCOPE), "catalog", SystemClock())
    return [
        await writer.append(make_event(p, tenant_id=TENANT, workspace_id=WORKSPACE))
        for p in payloads
    ]


async def test_stale_fencing_token_is_rejected_and_changes_nothing(backend: Backend) -> None:
    from arco_core.clock import SystemClock

    clock = SystemClock()
    lock = LeaseLock(backend.storage(Role.API, scope=SCOPE), "catalog", clock)
    engine = Compactor(backend.storage(Role.COMPACTOR, scope=SCOPE), CatalogAdapter())
    await engine.open()

    lease = await lock.acquire("api-1", timeout_s=5)
    paths = await _catalog_event(backend, "sales")
    result = await engine.compact(paths, fencing_token=lease.token, lock_name="catalog")
    assert result.published and result.seq == 0
    await lock.release(lease)

    newer = await lock.acquire("api-2", timeout_s=5)
    assert newer.token > lease.token
    more = await _catalog_event(backend, "marketing")
    with pytest.raises(StaleFencingToken):
        await engine.compact(more, fencing_token=lease.token, lock_name="catalog")
    manifests = ManifestStore(backend.storage(Role.READER, scope=SCOPE), "catalog")
    assert await manifests.head_seq() == 0  # nothing published for the stale writer
    ok = await engine.compact(more, fencing_token=newer.token, lock_name="catalog")
    assert ok.seq == 1
    head = await manifests.read(1)
    assert head.epoch == newer.token  # the fencing epoch is recorded
    reader = ProjectionReader(backend.storage(Role.READER, scope=SCOPE), CatalogAdapter(), SCOPE)
    state = (await reader.refresh()).state
    assert sorted(ns.name for ns in state.namespaces.values()) == ["marketing", "sales"]
    assert [c.snapshot_version for c in state.commits] == [0, 1]


async def test_catalog_verify_leaves_the_commit_log_out_and_sees_a_partial_rebuild(
    backend: Backend,
) -> None:
    engine = Compactor(backend.storage(Role.COMPACTOR, scope=SCOPE), CatalogAdapter())
    await engine.open()
    sales = await _catalog_event(backend, "sales")
    await engine.compact(sales)
    marketing = await _catalog_event(backend, "marketing")
    await engine.compact(marketing)
    verified = await engine.verify()
    assert verified.matches, verified
    assert "commits" not in {t.table for t in verified.tables}
    await engine.rebuild(sales)  # partial: marketing is gone from the published state
    verified = await engine.verify()
    namespaces = {t.table: t for t in verified.tables}["namespaces"]
    assert not verified.matches and namespaces.only_replayed == 1
    await engine.rebuild()
    assert (await engine.verify()).matches


async def test_two_compactor_processes_race_on_one_workspace(shared_backend: Backend) -> None:
    import multiprocessing
    import time
    from concurrent.futures import ProcessPoolExecutor

    from tests.unit.compaction.race_worker import CompactJob, compact_batches

    backend = shared_backend
    ev = Events()
    runs = [run_history(ev, f"r{i}", ["a", "b", "c"]) for i in range(10)]
    paths = [await append(backend, events) for events in runs]
    # Each process gets every other run; batches are split so they interleave.
    shares = [[p[:4], p[4:]] for p in paths]
    jobs = [
        CompactJob(
            backend.url,
            backend.env,
            TENANT,
            WORKSPACE,
            [batch for share in shares[i::2] for batch in share],
            time.time() + 2.0,
        )
        for i in range(2)
    ]
    ctx = multiprocessing.get_context("spawn")  # never fork after obstore/grpc are in use
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        futures = [asyncio.wrap_future(pool.submit(compact_batches, job)) for job in jobs]
        won = await asyncio.gather(*futures)
    # Manifests strictly increase per writer, and the losers retried until they won.
    for seqs in won:
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    manifests = ManifestStore(backend.storage(Role.READER, scope=SCOPE), "orchestration")
    assert await manifests.head_seq() == 19  # 20 publishes, contiguous, none lost
    assert sorted(s for seqs in won for s in seqs) == list(range(20))
    state = (
        await ProjectionReader(
            backend.storage(Role.READER, scope=SCOPE), OrchestrationAdapter(), SCOPE
        ).refresh()
    ).state
    for i in range(10):
        run = state.get_run(f"r{i}")
        assert run.state == "SUCCEEDED" and run.tasks_succeeded == 3, run
    assert ManifestBody.from_head(await manifests.read(19)).events_applied == sum(map(len, runs))


# -- ledger segments ------------------------------------------------------------------------


async def append_segment(backend: Backend, events: list[Any]) -> str:
    writer = LedgerWriter(
        backend.storage(Role.API, scope=SCOPE), "orchestration", FakeClock(events[-1].timestamp_ms)
    )
    return await writer.append_segment(events)


async def test_segments_and_events_compact_together(backend: Backend) -> None:
    ev = Events()
    r1 = run_history(ev, "r1", ["a", "b", "c"])
    r2 = run_history(ev, "r2", ["x", "y"])
    # r1 as one segment; r2 half as single events, half as a segment overlapping them.
    seg1 = await append_segment(backend, r1)
    singles = await append(backend, r2[:6])
    seg2 = await append_segment(backend, r2[4:])
    engine = compactor(backend)
    await engine.open()
    result = await engine.compact([seg2, *singles, seg1])
    assert result.published and result.applied == len(r1) + len(r2)
    assert result.event_ids[seg1] == tuple(e.event_id for e in r1)
    state = engine.snapshot.state
    assert state.get_run("r1").state == "SUCCEEDED" and state.get_run("r2").state == "SUCCEEDED"
    # Compacting the segment again is a no-op.
    assert not (await engine.compact([seg1])).published

    # The same history, one event per object and one batch per event, projects the same.
    other_scope = Backend(backend.kind, backend.url, backend.env, backend.store)
    paths = await LedgerWriter(
        other_scope.storage(Role.API, scope=SCOPE_B),
        "orchestration",
        FakeClock(r2[-1].timestamp_ms),
    ).append_all([_rescope(e) for e in r1 + r2])
    reference = Compactor(
        other_scope.storage(Role.COMPACTOR, scope=SCOPE_B), OrchestrationAdapter()
    )
    await reference.open()
    for path in paths:
        await reference.compact([path])
    assert _unscoped(rows(reference.snapshot.state)) == _unscoped(rows(state))


async def test_rebuild_from_segments(backend: Backend) -> None:
    ev = Events()
    events = run_history(ev, "r1", ["a", "b", "c"]) + run_history(ev, "r2", ["x", "y"])
    paths = await append(backend, events)
    engine = compactor(backend)
    await engine.open()
    for path in paths:
        await engine.compact([path])
    incremental = rows(engine.snapshot.state)
    segments = [await append_segment(backend, events[i : i + 5]) for i in range(0, len(events), 5)]
    result = await engine.rebuild([*reversed(segments), paths[3]])
    assert result.commit.published and result.commit.applied == len(events)
    reader = ProjectionReader(
        backend.storage(Role.READER, scope=SCOPE), OrchestrationAdapter(), SCOPE
    )
    assert rows((await reader.refresh()).state) == incremental
    # The whole ledger (every event file and every segment, overlapping) replays the same.
    whole = await engine.rebuild()
    assert whole.whole and whole.commit.applied == len(events)
    assert whole.paths_read == len(paths) + len(segments)
    assert rows((await reader.refresh()).state) == incremental
    verified = await engine.verify()
    assert verified.matches and verified.events_replayed == len(events)
    assert {t.table for t in verified.tables} == set(engine.snapshot.manifest.base.tables)


async def test_foreign_event_inside_a_segment_fails_the_compaction(backend: Backend) -> None:
    ev = Events()
    events = run_history(ev, "r1", ["a"])
    docs = [e.to_json_dict() for e in events]
    docs[1]["tenant_id"] = "intruder"
    path = ledger_segment_path("orchestration", events[-1].event_id)
    body = canonical_bytes({"events": docs, "segment_version": 1})
    await backend.storage(Role.API, scope=SCOPE).create(path, body)
    engine = compactor(backend)
    await engine.open()
    with pytest.raises(ScopeViolation):
        await engine.compact([path])
    assert engine.snapshot.seq is None


async def test_group_commit_counts_shared_segments_per_request(backend: Backend) -> None:
    from arco_core.compaction.group import GroupCommitter

    ev = Events()
    r1, r2 = run_history(ev, "r1", ["a"]), run_history(ev, "r2", ["b"])
    seg = await append_segment(backend, r1 + r2)
    single = await append(backend, r2[:1])
    engine = compactor(backend)
    await engine.open()
    committer = GroupCommitter(engine, merge_when_idle=False)
    loop = asyncio.create_task(committer.run())
    try:
        first, second = await asyncio.gather(committer.submit([seg]), committer.submit(single))
    finally:
        await committer.shutdown()
        await loop
    # Each request is told about the events its own paths hold, shared ones included.
    assert (first.applied, first.skipped) == (len(r1) + len(r2), 0)
    assert (second.applied, second.skipped) == (1, 0)
    assert first.commit.applied == len(r1) + len(r2)


async def test_group_committer_merges_in_the_background_while_commits_go_on(
    backend: Backend,
) -> None:
    from arco_core.compaction.group import GroupCommitter

    ev = Events()
    paths = await append(backend, run_history(ev, "r1", ["a", "b", "c", "d"]))
    engine = compactor(backend, l0_max_deltas=2)
    await engine.open()
    committer = GroupCommitter(engine)
    loop = asyncio.create_task(committer.run())
    try:
        # One request at a time: the queue empties after each, so merges fall due often
        # and run beside the commits that follow.
        results = [await committer.submit([path]) for path in paths]
    finally:
        await committer.shutdown()
        await loop
    assert sum(r.applied for r in results) == len(paths)
    seqs = [r.commit.seq for r in results]
    assert seqs == sorted(seqs)
    # Every published manifest was a commit or a merge of the one before it, and the
    # head reads back as exactly the folded state.
    store = ManifestStore(backend.storage(Role.READER, scope=SCOPE), "orchestration")
    head = await store.head()
    assert head is not None
    merges = 0
    for seq in range(head.seq + 1):
        body = ManifestBody.from_head(await store.read(seq))
        if body.merged_from_seq is not None:
            merges += 1
            assert body.merged_from_seq == seq - 1
    assert merges >= 1
    reader = ProjectionReader(
        backend.storage(Role.READER, scope=SCOPE), OrchestrationAdapter(), SCOPE
    )
    assert rows((await reader.refresh()).state) == rows(engine.snapshot.state)
