"""Retention: finished runs and old idempotency records leave the projection and stay gone
(verification and Rebuild apply the published cutoffs), and superseded manifests, state
objects, task logs and idempotency markers are removed while the head and the asOf window
stay readable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from arco_core.clock import FakeClock, SystemClock
from arco_core.commit import ManifestStore
from arco_core.compaction.engine import Compactor
from arco_core.compaction.retention import GarbageCollector, RetentionPolicy
from arco_core.envelope import EventEnvelope
from arco_core.errors import CommitConflict, ObjectNotFound
from arco_core.ledger import LedgerWriter
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.projection import state_to_tables
from arco_core.paths import Scope, manifest_head_hint_path, task_log_path
from arco_core.projections import OrchestrationAdapter
from arco_core.published import ManifestBody, ProjectionReader
from arco_core.storage import Role, ScopedStorage
from tests.support.backends import Backend
from tests.unit.orchestration.orch_support import TENANT, WORKSPACE, Events

SCOPE = Scope(TENANT, WORKSPACE)
DOMAIN = "orchestration"
DAY = timedelta(days=1)


class World:
    def __init__(self, backend: Backend, clock: FakeClock, **engine_options: int) -> None:
        self.clock = clock
        self.api = backend.storage(Role.API, scope=SCOPE)
        self.compactor_storage = backend.storage(Role.COMPACTOR, scope=SCOPE)
        self.reader_storage = backend.storage(Role.READER, scope=SCOPE)
        self.writer = LedgerWriter(self.api, DOMAIN, clock)
        self.engine = Compactor(
            self.compactor_storage, OrchestrationAdapter(), clock=clock, **engine_options
        )
        self.events = Events(start_ms=clock.now_ms())

    async def fold(self, *events: EventEnvelope) -> None:
        await self.engine.compact([await self.writer.append(e) for e in events])

    def finished_run(self, run_id: str) -> list[EventEnvelope]:
        ev = self.events
        return [
            ev.trigger(run_id),
            ev.plan(run_id, {"a": [], "b": ["a"]}),
            ev.dispatch(run_id, "a"),
            ev.started(run_id, "a"),
            ev.finished(run_id, "a"),
            ev.dispatch(run_id, "b"),
            ev.started(run_id, "b"),
            ev.finished(run_id, "b"),
        ]

    def catch_up_events(self) -> None:
        self.events.ms = self.clock.now_ms()


def _now_clock() -> FakeClock:
    # Object times come from the real clock: the fake one starts at real time and only
    # moves forward, so "older than" means the same for both.
    return FakeClock(SystemClock().now_ms())


def _rows_of(state: FoldState, run_id: str) -> int:
    tables = state_to_tables(state)
    return sum(
        table.column("run_id").to_pylist().count(run_id)
        for name, table in tables.items()
        if "run_id" in table.column_names
    )


async def _objects(storage: ScopedStorage, *prefixes: str) -> set[str]:
    return {meta.path for prefix in prefixes for meta in await storage.list(prefix)}


async def test_finished_runs_and_old_keys_leave_the_projection_and_stay_gone(
    backend: Backend,
) -> None:
    world = World(backend, _now_clock())
    engine = world.engine
    await engine.open()
    await world.fold(*world.finished_run("r-old"))
    live = world.events
    await world.fold(live.trigger("r-live"), live.plan("r-live", {"a": []}))
    old_keys = engine.snapshot.state.row_count("idempotency_keys")
    world.clock.advance(91 * DAY)
    world.catch_up_events()
    new_run = world.finished_run("r-new")
    await world.fold(*new_run)
    assert _rows_of(engine.snapshot.state, "r-old") > 0

    result = await engine.expire(RetentionPolicy().cutoffs(world.clock.now_ms()))

    assert result.published
    state = engine.snapshot.state
    assert state.get_run("r-old") is None
    assert _rows_of(state, "r-old") == 0  # tasks, edges, outbox rows and timers too
    assert state.get_run("r-live") is not None  # old, but not finished
    assert state.get_run("r-new") is not None
    keys_now = state.row_count("idempotency_keys")
    assert keys_now == len(new_run)  # only r-new's events' keys are young enough
    assert old_keys > 0
    manifest = engine.snapshot.manifest
    assert manifest is not None and manifest.retention.terminal_runs_before_ms > 0

    reader = ProjectionReader(world.reader_storage, OrchestrationAdapter(), SCOPE)
    published = (await reader.refresh()).state
    assert published.get_run("r-old") is None and published.get_run("r-new") is not None

    verification = await engine.verify()  # the replay applies the published cutoffs
    assert [t.table for t in verification.tables if not t.matches] == []
    rebuilt = await engine.rebuild()
    assert rebuilt.commit.published
    assert engine.snapshot.state.get_run("r-old") is None
    assert engine.snapshot.state.get_run("r-live") is not None
    again = await engine.expire(RetentionPolicy().cutoffs(world.clock.now_ms()))
    assert not again.published  # nothing left to remove


async def _history(world: World, runs: int) -> None:
    for i in range(runs):
        await world.fold(world.events.trigger(f"r-{i}"))
        if world.engine.merge_due():
            await world.engine.merge()


async def test_superseded_manifests_and_state_objects_are_removed_and_the_head_still_loads(
    backend: Backend,
) -> None:
    world = World(backend, _now_clock(), l0_max_deltas=2)
    engine, storage = world.engine, world.compactor_storage
    await engine.open()
    await _history(world, 9)
    state_prefixes = ("state/orchestration/l0/", "snapshots/orchestration/")
    before = await _objects(storage, *state_prefixes)
    world.clock.advance(timedelta(hours=2))
    world.catch_up_events()
    await world.fold(world.events.trigger("r-last"))
    head = engine.snapshot.head
    assert head is not None
    expected = state_to_tables(engine.snapshot.state)
    policy = RetentionPolicy(manifests_sec=3600, grace_sec=60)

    collected = await GarbageCollector(storage, DOMAIN, policy, world.clock).collect(
        head, lambda _run: False
    )

    assert (collected.floor, collected.manifests) == (head.seq, head.seq)
    head_files = {art.path for _, art in ManifestBody.from_head(head).files()}
    assert await _objects(storage, *state_prefixes) == head_files
    assert collected.state_objects == len(before - head_files) > 0

    reader = ProjectionReader(world.reader_storage, OrchestrationAdapter(), SCOPE)
    snapshot = await reader.refresh()
    assert snapshot.seq == head.seq
    assert state_to_tables(snapshot.state) == expected
    with pytest.raises(ObjectNotFound):
        await reader.at(head.seq - 1)  # outside the asOf window

    # A reader whose head hint is gone or stale still finds the head above the floor.
    await storage.overwrite(manifest_head_hint_path(DOMAIN), b'{"seq": 0}')
    assert await ManifestStore(world.reader_storage, DOMAIN).head_seq() == head.seq
    await storage.delete(manifest_head_hint_path(DOMAIN))
    assert await ManifestStore(world.reader_storage, DOMAIN).head_seq() == head.seq

    # A compactor that starts now continues the chain; none can restart it at 0.
    restarted = Compactor(storage, OrchestrationAdapter(), clock=world.clock)
    assert (await restarted.open()).seq == head.seq
    await restarted.compact([await world.writer.append(world.events.trigger("r-after"))])
    assert restarted.snapshot.seq == head.seq + 1
    with pytest.raises(CommitConflict):
        await ManifestStore(storage, DOMAIN, world.clock).publish(None, {"domain": DOMAIN}, 0)


async def test_manifests_inside_the_as_of_window_stay_readable(backend: Backend) -> None:
    world = World(backend, _now_clock(), l0_max_deltas=2)
    engine, storage = world.engine, world.compactor_storage
    await engine.open()
    await _history(world, 4)
    old_head = engine.snapshot.seq
    assert old_head is not None
    world.clock.advance(timedelta(minutes=30))
    world.catch_up_events()
    await _history(world, 3)
    first_kept = old_head + 1
    kept = {
        seq: state_to_tables((await engine_reader(world).at(seq)).state)
        for seq in range(first_kept, (engine.snapshot.seq or 0) + 1)
    }
    world.clock.advance(timedelta(minutes=45))  # the first batch is now 75 min old
    head = engine.snapshot.head
    assert head is not None
    policy = RetentionPolicy(manifests_sec=3600, grace_sec=60)

    collected = await GarbageCollector(storage, DOMAIN, policy, world.clock).collect(
        head, lambda _run: False
    )

    assert (collected.floor, collected.manifests) == (first_kept, first_kept)
    reader = engine_reader(world)
    for seq, tables in kept.items():  # every kept manifest loads, state objects and all
        assert state_to_tables((await reader.at(seq)).state) == tables
    with pytest.raises(ObjectNotFound):
        await reader.at(old_head)


def engine_reader(world: World) -> ProjectionReader[FoldState]:
    return ProjectionReader(world.reader_storage, OrchestrationAdapter(), SCOPE)


async def test_logs_of_finished_runs_and_old_idempotency_markers_are_removed(
    backend: Backend,
) -> None:
    world = World(backend, _now_clock())
    await world.engine.open()
    await world.fold(*world.finished_run("r-done"))
    ev = world.events
    await world.fold(ev.trigger("r-running"), ev.plan("r-running", {"a": []}))
    done_log, running_log = task_log_path("r-done", "a", 1), task_log_path("r-running", "a", 1)
    for path in (done_log, running_log):
        await world.api.create(path, b"output")
    await world.api.create("idempotency/triggers/old.json", b"{}")
    head = world.engine.snapshot.head
    assert head is not None
    state = world.engine.snapshot.state
    policy = RetentionPolicy()
    collector = GarbageCollector(
        world.compactor_storage, DOMAIN, policy, world.clock, api_objects=True
    )

    young = await collector.collect(head, state.run_unfinished)
    assert (young.task_logs, young.idempotency_markers) == (0, 0)

    world.clock.advance(91 * DAY)
    old = await collector.collect(head, state.run_unfinished)

    assert (old.task_logs, old.idempotency_markers) == (1, 1)
    assert not await world.api.exists(done_log)
    assert await world.api.exists(running_log)  # its run has not finished
    assert not await world.api.exists("idempotency/triggers/old.json")
    assert await world.api.exists(head.path)  # the head manifest is never removed


async def test_a_quiet_scope_keeps_only_its_head_once_the_window_and_grace_pass(
    backend: Backend,
) -> None:
    """No commit after the history: the oldest kept manifest is the head itself, so only
    a publish on its way (younger than the grace) could still need another object."""
    world = World(backend, _now_clock(), l0_max_deltas=2)
    engine, storage = world.engine, world.compactor_storage
    await engine.open()
    await _history(world, 7)
    head = engine.snapshot.head
    assert head is not None
    world.clock.advance(2 * DAY)
    policy = RetentionPolicy(manifests_sec=3600, grace_sec=60)

    collected = await GarbageCollector(storage, DOMAIN, policy, world.clock).collect(
        head, lambda _run: False
    )

    head_files = {art.path for _, art in ManifestBody.from_head(head).files()}
    assert collected.floor == head.seq and collected.state_objects > 0
    state = await _objects(storage, "state/orchestration/l0/", "snapshots/orchestration/")
    assert state == head_files
    reader = ProjectionReader(world.reader_storage, OrchestrationAdapter(), SCOPE)
    assert (await reader.refresh()).seq == head.seq
