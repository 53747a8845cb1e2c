"""Fold records and the sweeper's hole finding: every ledger object of the look-back that
no record names is unfolded, whatever its id; folded ones and older ones are not."""

from __future__ import annotations

from arco_core.clock import FakeClock
from arco_core.compaction.engine import Compactor
from arco_core.fold_records import FoldRecordIndex, find_unfolded
from arco_core.ledger import LedgerReader, LedgerWriter
from arco_core.orchestration.projection import state_to_tables
from arco_core.paths import Scope, fold_record_path, fold_records_prefix
from arco_core.projections import OrchestrationAdapter
from arco_core.storage import Role
from tests.support.backends import Backend
from tests.unit.orchestration.orch_support import T0, TENANT, WORKSPACE, Events

SCOPE = Scope(TENANT, WORKSPACE)
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


async def _setup(
    backend: Backend, clock: FakeClock
) -> tuple[LedgerWriter, Compactor, LedgerReader]:
    writer = LedgerWriter(backend.storage(Role.API, scope=SCOPE), "orchestration", clock)
    engine = Compactor(
        backend.storage(Role.COMPACTOR, scope=SCOPE),
        OrchestrationAdapter(),
        clock=clock,
        fold_records=True,
    )
    await engine.open()
    return writer, engine, LedgerReader(backend.storage(Role.SWEEPER, scope=SCOPE), "orchestration")


def _run_ids(engine: Compactor) -> set[str]:
    return set(state_to_tables(engine.snapshot.state)["runs"].column("run_id").to_pylist())


async def _fold(engine: Compactor, paths: list[str]) -> None:
    await engine.compact(paths)
    await engine.flush_fold_records()


async def test_a_hole_below_the_watermark_is_found_and_then_recorded(backend: Backend) -> None:
    clock = FakeClock(T0 + DAY_MS + 10 * 60_000)
    writer, engine, ledger = await _setup(backend, clock)
    ev = Events(start_ms=T0 + DAY_MS - 30 * 60_000)  # yesterday (UTC), inside the look-back
    first_path = await writer.append(ev.trigger("r-first"))
    hole = ev.trigger("r-hole")
    hole_path = await writer.append(hole)  # the killed writer: never asked for compaction
    ev.ms = T0 + DAY_MS + 60_000  # today: another date directory
    later = [ev.trigger("r-later"), ev.trigger("r-last")]
    segment_path = await writer.append_segment(later)
    await _fold(engine, [first_path])
    await _fold(engine, [segment_path])
    manifest = engine.snapshot.manifest
    watermark = manifest.last_event_id if manifest else None
    assert watermark == later[-1].event_id > hole.event_id

    index = FoldRecordIndex(backend.storage(Role.SWEEPER, scope=SCOPE), "orchestration")

    async def unfolded() -> list[str]:
        return await find_unfolded(
            ledger, index, watermark=watermark, since_ms=clock.now_ms() - 2 * HOUR_MS
        )

    assert await unfolded() == [hole_path]
    await _fold(engine, await unfolded())
    assert await unfolded() == []
    assert "r-hole" in _run_ids(engine)


async def test_a_fold_whose_record_was_lost_is_asked_again_and_stays_idempotent(
    backend: Backend,
) -> None:
    clock = FakeClock(T0 + DAY_MS)
    writer, engine, ledger = await _setup(backend, clock)
    ev = Events(start_ms=T0 + DAY_MS - 60_000)
    path = await writer.append(ev.trigger("r-1"))
    # A compactor that died between publishing and writing its record.
    unrecorded = Compactor(
        backend.storage(Role.COMPACTOR, scope=SCOPE), OrchestrationAdapter(), clock=clock
    )
    await unrecorded.open()
    assert (await unrecorded.compact([path])).applied == 1
    index = FoldRecordIndex(backend.storage(Role.SWEEPER, scope=SCOPE), "orchestration")
    since = clock.now_ms() - HOUR_MS
    manifest = unrecorded.snapshot.manifest
    watermark = manifest.last_event_id if manifest else None
    assert await find_unfolded(ledger, index, watermark=watermark, since_ms=since) == [path]
    again = await engine.compact([path])
    await engine.flush_fold_records()
    assert (again.applied, again.published) == (0, False)
    assert await find_unfolded(ledger, index, watermark=watermark, since_ms=since) == []


async def test_only_the_look_back_is_searched(backend: Backend) -> None:
    clock = FakeClock(T0 + DAY_MS)
    writer, engine, ledger = await _setup(backend, clock)
    ev = Events(start_ms=T0)  # a day before now
    too_old = await writer.append(ev.trigger("r-old"))
    ev.ms = T0 + DAY_MS - 60_000
    recent = await writer.append(ev.trigger("r-recent"))
    later = ev.trigger("r-later")
    await _fold(engine, [await writer.append(later)])
    index = FoldRecordIndex(backend.storage(Role.SWEEPER, scope=SCOPE), "orchestration")
    found = await find_unfolded(
        ledger, index, watermark=later.event_id, since_ms=clock.now_ms() - HOUR_MS
    )
    # The day-old hole is left to a whole Rebuild: the sweep lists only its window.
    assert found == [recent]
    assert too_old not in found


async def test_objects_after_the_watermark_are_found_whatever_their_age(backend: Backend) -> None:
    clock = FakeClock(T0 + DAY_MS)
    writer, _engine, ledger = await _setup(backend, clock)
    ev = Events(start_ms=T0)
    first = await writer.append(ev.trigger("r-1"))
    index = FoldRecordIndex(backend.storage(Role.SWEEPER, scope=SCOPE), "orchestration")
    assert await find_unfolded(ledger, index, watermark=None, since_ms=clock.now_ms()) == [first]


async def test_an_unreadable_record_names_nothing(backend: Backend) -> None:
    clock = FakeClock(T0 + DAY_MS)
    writer, engine, ledger = await _setup(backend, clock)
    ev = Events(start_ms=T0 + DAY_MS - 60_000)
    path = await writer.append(ev.trigger("r-1"))
    await _fold(engine, [path])
    sweeper = backend.storage(Role.SWEEPER, scope=SCOPE)
    records = await sweeper.list(fold_records_prefix("orchestration"))
    assert len(records) == 1
    index = FoldRecordIndex(sweeper, "orchestration")
    since = clock.now_ms() - HOUR_MS
    watermark = ev.trigger("r-later").event_id
    assert await find_unfolded(ledger, index, watermark=watermark, since_ms=since) == []

    # A garbled record (written by hand with the compactor's role) is ignored, not fatal.
    garbled = fold_record_path("orchestration", ev.next_id())
    await backend.storage(Role.COMPACTOR, scope=SCOPE).create(garbled, b"{not json")
    fresh = FoldRecordIndex(sweeper, "orchestration")
    assert await find_unfolded(ledger, fresh, watermark=watermark, since_ms=since) == []
    await backend.storage(Role.COMPACTOR, scope=SCOPE).create(
        fold_record_path("orchestration", ev.next_id()), b'{"record_version": 99, "paths": []}'
    )
    assert await find_unfolded(ledger, fresh, watermark=watermark, since_ms=since) == []
