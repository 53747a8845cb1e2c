from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arco_core.canonical_json import canonical_bytes
from arco_core.clock import FakeClock, parse_rfc3339_ms, rfc3339_ms
from arco_core.envelope import EventEnvelope, _timestamp_ms
from arco_core.errors import (
    Conflict,
    InvalidArgument,
    PermissionDenied,
    RoleWriteDenied,
    ScopeViolation,
)
from arco_core.ids import UlidGenerator
from arco_core.ledger import SEGMENT_VERSION, LedgerReader, LedgerWriter
from arco_core.ledger_batching import BatchingLedgerWriter
from arco_core.paths import Scope, ledger_event_path, ledger_segment_path
from arco_core.storage import Role
from tests.unit.core.conftest import Backend

NOW_MS = 1_767_225_600_000


def _envelope(scope: Scope, event_id: str, **overrides: Any) -> EventEnvelope:
    fields: dict[str, Any] = {
        "event_id": event_id,
        "event_type": "TaskStarted",
        "event_version": 1,
        "timestamp": rfc3339_ms(NOW_MS),
        "source": f"arco-flow/{scope.tenant_id}/{scope.workspace_id}",
        "tenant_id": scope.tenant_id,
        "workspace_id": scope.workspace_id,
        "idempotency_key": f"started:run1:extract:{event_id}",
        "data": {"type": "task_started", "run_id": "run1", "attempt": 1},
        "correlation_id": "run1",
    }
    fields.update(overrides)
    return EventEnvelope(**fields)


@pytest.fixture
def ids() -> UlidGenerator:
    return UlidGenerator(FakeClock(NOW_MS))


def test_envelope_json_roundtrip(ids: UlidGenerator) -> None:
    env = _envelope(Scope("t", "w"), ids.new())
    doc = env.to_json_dict()
    assert "causation_id" not in doc and doc["correlation_id"] == "run1"
    assert EventEnvelope.from_json_dict(doc) == env
    assert EventEnvelope.from_bytes(env.canonical_bytes()) == env
    assert env.data_type == "task_started"
    assert env.timestamp_ms == NOW_MS
    assert env.event_time_ms == NOW_MS


def test_envelope_validation(ids: UlidGenerator) -> None:
    doc = _envelope(Scope("t", "w"), ids.new()).to_json_dict()
    partial = {k: v for k, v in doc.items() if k not in ("source", "data")}
    with pytest.raises(InvalidArgument) as info:
        EventEnvelope.from_json_dict(partial)
    assert "source" in info.value.message and "data" in info.value.message
    bad_values: list[tuple[str, Any]] = [
        ("event_id", "nope"),
        ("event_type", "task_started"),
        ("event_version", 0),
        ("event_version", True),
        ("timestamp", "yesterday"),
        ("tenant_id", "Bad/Tenant"),
        ("data", {"no": "type"}),
        ("data", {"type": "TaskStarted"}),
        ("idempotency_key", ""),
        ("correlation_id", ""),
    ]
    for key, value in bad_values:
        with pytest.raises(InvalidArgument):
            EventEnvelope.from_json_dict({**doc, key: value})
    # Unknown top-level fields from newer writers are tolerated.
    assert EventEnvelope.from_json_dict({**doc, "future_field": 1}).event_id == doc["event_id"]


async def test_append_is_idempotent_for_identical_events(
    backend: Backend, ids: UlidGenerator
) -> None:
    storage = backend.storage(Role.API)
    writer = LedgerWriter(storage, "orchestration", FakeClock(NOW_MS))
    env = _envelope(backend.scope, ids.new())
    path = await writer.append(env)
    assert path == ledger_event_path("orchestration", env.event_id)
    assert await writer.append(env) == path
    assert await storage.get(path) == canonical_bytes(env.to_json_dict())


async def test_append_accepts_canonically_equal_existing_bytes(
    backend: Backend, ids: UlidGenerator
) -> None:
    storage = backend.storage(Role.API)
    env = _envelope(backend.scope, ids.new())
    path = ledger_event_path("orchestration", env.event_id)
    pretty = json.dumps(env.to_json_dict(), indent=2).encode()
    await storage.create(path, pretty)
    writer = LedgerWriter(storage, "orchestration", FakeClock(NOW_MS))
    assert await writer.append(env) == path
    assert await storage.get(path) == pretty


async def test_append_conflict_on_different_bytes(backend: Backend, ids: UlidGenerator) -> None:
    storage = backend.storage(Role.API)
    writer = LedgerWriter(storage, "orchestration", FakeClock(NOW_MS))
    env = _envelope(backend.scope, ids.new())
    path = await writer.append(env)
    changed = _envelope(backend.scope, env.event_id, data={"type": "task_started", "attempt": 2})
    with pytest.raises(Conflict) as info:
        await writer.append(changed)
    assert info.value.reason == "ledger_event_conflict"
    assert await storage.get(path) == env.canonical_bytes()


async def test_append_rejects_future_skew_and_foreign_scope(backend: Backend) -> None:
    storage = backend.storage(Role.API)
    clock = FakeClock(NOW_MS)
    writer = LedgerWriter(storage, "orchestration", clock)
    ok = UlidGenerator(FakeClock(NOW_MS + 5 * 60 * 1000)).new()
    await writer.append(_envelope(backend.scope, ok))
    future = UlidGenerator(FakeClock(NOW_MS + 5 * 60 * 1000 + 1)).new()
    with pytest.raises(InvalidArgument) as info:
        await writer.append(_envelope(backend.scope, future))
    assert info.value.reason == "event_id_future_skew"
    foreign = _envelope(Scope("someone-else", backend.scope.workspace_id), ok)
    with pytest.raises(ScopeViolation):
        await writer.append(foreign)
    sweeper = backend.storage(Role.SWEEPER)
    assert [m.path for m in await sweeper.list("ledger/")] == [
        ledger_event_path("orchestration", ok)
    ]


async def test_append_all_validates_everything_first(backend: Backend, ids: UlidGenerator) -> None:
    storage = backend.storage(Role.DISPATCHER)
    writer = LedgerWriter(storage, "orchestration", FakeClock(NOW_MS))
    good = [_envelope(backend.scope, ids.new()) for _ in range(40)]
    bad = _envelope(backend.scope, ids.new(), event_type="not-pascal")
    with pytest.raises(InvalidArgument):
        await writer.append_all([*good, bad])
    assert await backend.storage(Role.SWEEPER).list("ledger/") == []
    paths = await writer.append_all(good, concurrency=4)
    assert paths == [ledger_event_path("orchestration", e.event_id) for e in good]


async def test_reader_role_cannot_append(backend: Backend, ids: UlidGenerator) -> None:
    writer = LedgerWriter(backend.storage(Role.COMPACTOR), "orchestration", FakeClock(NOW_MS))
    with pytest.raises(RoleWriteDenied):
        await writer.append(_envelope(backend.scope, ids.new()))


async def test_read_sorts_dedupes_and_checks_paths(backend: Backend, ids: UlidGenerator) -> None:
    storage = backend.storage(Role.API)
    writer = LedgerWriter(storage, "catalog", FakeClock(NOW_MS))
    envs = [_envelope(backend.scope, ids.new()) for _ in range(5)]
    paths = await writer.append_all(envs)
    reader = LedgerReader(backend.storage(Role.COMPACTOR), "catalog")
    shuffled = [paths[3], paths[0], paths[4], paths[0], paths[1], paths[2], paths[3]]
    assert [e.event_id for e in await reader.read(shuffled)] == [e.event_id for e in envs]

    with pytest.raises(ScopeViolation):
        await reader.read([backend.scope.prefix + paths[0]])
    with pytest.raises(InvalidArgument):
        await reader.read(["ledger/catalog/../orchestration/x.json"])
    with pytest.raises(InvalidArgument):
        await LedgerReader(backend.storage(Role.COMPACTOR), "orchestration").read([paths[0]])

    # An event stored under another event's canonical path is refused.
    other_id = ids.new()
    misplaced = ledger_event_path("catalog", other_id)
    await storage.create(misplaced, envs[0].canonical_bytes())
    with pytest.raises(InvalidArgument) as info:
        await reader.read([misplaced])
    assert info.value.reason == "non_canonical_event_path"

    # An event of another tenant planted in this scope is refused.
    planted_id = ids.new()
    planted = _envelope(Scope("intruder", "ws"), planted_id)
    await storage.create(ledger_event_path("catalog", planted_id), planted.canonical_bytes())
    with pytest.raises(ScopeViolation):
        await reader.read([ledger_event_path("catalog", planted_id)])


async def test_scan_after_is_for_sweeper_and_compactor(
    backend: Backend, ids: UlidGenerator
) -> None:
    writer = LedgerWriter(backend.storage(Role.API), "orchestration", FakeClock(NOW_MS))
    envs = [_envelope(backend.scope, ids.new()) for _ in range(6)]
    await writer.append_all(envs)
    await backend.storage(Role.API).create("ledger/orchestration/stray.txt", b"junk")
    for role in (Role.API, Role.DISPATCHER, Role.READER):
        with pytest.raises(PermissionDenied):
            await LedgerReader(backend.storage(role), "orchestration").scan_after(None)
    # The compactor lists the ledger (only the ledger) for a whole rebuild.
    compactor = LedgerReader(backend.storage(Role.COMPACTOR), "orchestration")
    assert [e.event_id for e in await compactor.scan_after(None)] == [e.event_id for e in envs]
    sweeper = LedgerReader(backend.storage(Role.SWEEPER), "orchestration")
    assert [e.event_id for e in await sweeper.scan_after(None)] == [e.event_id for e in envs]
    after = await sweeper.scan_after(envs[2].event_id)
    assert [e.event_id for e in after] == [e.event_id for e in envs[3:]]
    assert len(await sweeper.scan_paths_after(None, limit=2)) == 2


# -- segments: several events in one immutable object -----------------------------------------


async def test_segment_round_trip_and_replay(backend: Backend, ids: UlidGenerator) -> None:
    storage = backend.storage(Role.API)
    writer = LedgerWriter(storage, "orchestration", FakeClock(NOW_MS))
    envs = [_envelope(backend.scope, ids.new()) for _ in range(5)]
    path = await writer.append_segment(list(reversed(envs)) + envs[:2])  # order, repeats
    assert path == ledger_segment_path("orchestration", envs[-1].event_id)
    assert path.endswith(".seg.json")
    body = json.loads(await storage.get(path))
    assert body["segment_version"] == SEGMENT_VERSION
    assert [e["event_id"] for e in body["events"]] == [e.event_id for e in envs]
    assert await storage.get(path) == canonical_bytes(body)  # canonical bytes on disk
    # Replaying the same set is a no-op; reading gives every event once, in id order.
    assert await writer.append_segment(envs) == path
    reader = LedgerReader(backend.storage(Role.COMPACTOR), "orchestration")
    assert await reader.read([path, path]) == envs
    batch = await reader.read_batch([path])
    assert batch.event_ids == {path: tuple(e.event_id for e in envs)}
    # One distinct event is written as a plain event object.
    single = _envelope(backend.scope, ids.new())
    assert await writer.append_segment([single, single]) == ledger_event_path(
        "orchestration", single.event_id
    )


async def test_segment_conflict_on_different_bytes(backend: Backend, ids: UlidGenerator) -> None:
    storage = backend.storage(Role.DISPATCHER)
    writer = LedgerWriter(storage, "orchestration", FakeClock(NOW_MS))
    envs = [_envelope(backend.scope, ids.new()) for _ in range(3)]
    path = await writer.append_segment(envs)
    # Another set ending at the same id claims the same key: refused, nothing changes.
    other = [*envs[:1], _envelope(backend.scope, envs[1].event_id, source="elsewhere"), envs[2]]
    with pytest.raises(Conflict) as info:
        await writer.append_segment(other)
    assert info.value.reason == "ledger_segment_conflict"
    assert json.loads(await storage.get(path))["events"][1]["source"] != "elsewhere"
    # Two different events with one id in a single segment are refused before I/O.
    with pytest.raises(InvalidArgument) as dup:
        await writer.append_segment(
            [envs[0], _envelope(backend.scope, envs[0].event_id, source="x")]
        )
    assert dup.value.reason == "duplicate_event_id"


async def test_segment_validates_everything_first(backend: Backend, ids: UlidGenerator) -> None:
    writer = LedgerWriter(backend.storage(Role.API), "orchestration", FakeClock(NOW_MS))
    good = [_envelope(backend.scope, ids.new()) for _ in range(3)]
    foreign = _envelope(Scope("someone-else", backend.scope.workspace_id), ids.new())
    with pytest.raises(ScopeViolation):
        await writer.append_segment([*good, foreign])
    with pytest.raises(InvalidArgument):
        await writer.append_segment([])
    assert await backend.storage(Role.SWEEPER).list("ledger/") == []
    with pytest.raises(RoleWriteDenied):
        await LedgerWriter(
            backend.storage(Role.COMPACTOR), "orchestration", FakeClock(NOW_MS)
        ).append_segment(good)


async def test_reader_refuses_bad_segments(backend: Backend, ids: UlidGenerator) -> None:
    storage = backend.storage(Role.API)
    reader = LedgerReader(backend.storage(Role.COMPACTOR), "orchestration")
    envs = [_envelope(backend.scope, ids.new()) for _ in range(3)]

    def body(events: list[EventEnvelope], **extra: Any) -> bytes:
        doc = {"events": [e.to_json_dict() for e in events], "segment_version": 1, **extra}
        return canonical_bytes(doc)

    async def plant(events: list[EventEnvelope], name_id: str, **extra: Any) -> str:
        path = ledger_segment_path("orchestration", name_id)
        await storage.create(path, body(events, **extra))
        return path

    # Named after an id that is not its highest event.
    misnamed = await plant(envs[:2], envs[2].event_id)
    with pytest.raises(InvalidArgument) as info:
        await reader.read([misnamed])
    assert info.value.reason == "non_canonical_event_path"
    # Not sorted strictly by id (a repeat included).
    more = [_envelope(backend.scope, ids.new()) for _ in range(3)]
    unsorted = await plant([more[1], more[0], more[2]], more[2].event_id)
    with pytest.raises(InvalidArgument):
        await reader.read([unsorted])
    repeated = [_envelope(backend.scope, ids.new()) for _ in range(2)]
    twice = await plant([repeated[0], repeated[0], repeated[1]], repeated[1].event_id)
    with pytest.raises(InvalidArgument):
        await reader.read([twice])
    # A planted event of another tenant inside an otherwise good segment.
    a, b = ids.new(), ids.new()
    intruder = await plant([_envelope(backend.scope, a), _envelope(Scope("intruder", "ws"), b)], b)
    with pytest.raises(ScopeViolation):
        await reader.read([intruder])
    # Unknown format version, and an empty segment.
    c = ids.new()
    future = await plant([_envelope(backend.scope, c)], c, segment_version=2)
    with pytest.raises(InvalidArgument) as version:
        await reader.read([future])
    assert version.value.reason == "invalid_ledger_segment"
    d = ids.new()
    empty = ledger_segment_path("orchestration", d)
    await storage.create(empty, canonical_bytes({"events": [], "segment_version": 1}))
    with pytest.raises(InvalidArgument):
        await reader.read([empty])
    # Non-canonical segment keys are refused before any I/O.
    stats_before = reader._storage.stats["get"]
    e = ids.new()
    for bad in (
        f"ledger/orchestration/2020-01-01/{e}.seg.json",  # wrong day
        f"ledger/orchestration/{e}.seg.json",
        f"ledger/orchestration/2026-01-01/{e}.segment.json",
        f"ledger/catalog/{ledger_segment_path('catalog', e).split('/', 2)[2]}",
        f"ledger/orchestration/2026-01-01/{e.lower()}.seg.json",
    ):
        with pytest.raises(InvalidArgument):
            await reader.read([bad])
    assert reader._storage.stats["get"] == stats_before


async def test_mixed_event_and_segment_paths(backend: Backend, ids: UlidGenerator) -> None:
    writer = LedgerWriter(backend.storage(Role.API), "orchestration", FakeClock(NOW_MS))
    envs = [_envelope(backend.scope, ids.new()) for _ in range(6)]
    singles = await writer.append_all([envs[0], envs[3], envs[5]])
    segment = await writer.append_segment(envs[1:5])  # overlaps envs[3]
    reader = LedgerReader(backend.storage(Role.COMPACTOR), "orchestration")
    assert await reader.read([segment, *singles]) == envs
    # The same id with different content in two objects is a conflict, not a silent pick.
    twin = _envelope(backend.scope, envs[5].event_id, source="a-different-writer")
    other = await writer.append_segment([envs[4], twin])
    with pytest.raises(Conflict) as info:
        await reader.read([singles[2], other])
    assert info.value.reason == "ledger_event_conflict"


async def test_scan_sees_segments(backend: Backend, ids: UlidGenerator) -> None:
    writer = LedgerWriter(backend.storage(Role.API), "orchestration", FakeClock(NOW_MS))
    envs = [_envelope(backend.scope, ids.new()) for _ in range(8)]
    await writer.append_all(envs[:2])
    segment = await writer.append_segment(envs[2:6])
    await writer.append_all(envs[6:])
    sweeper = LedgerReader(backend.storage(Role.SWEEPER), "orchestration")
    assert segment in await sweeper.scan_paths_after(None)
    assert [e.event_id for e in await sweeper.scan_after(None)] == [e.event_id for e in envs]
    # A scan from inside the segment still finds it and returns only the later events.
    after = await sweeper.scan_after(envs[3].event_id)
    assert [e.event_id for e in after] == [e.event_id for e in envs[4:]]
    assert segment in await sweeper.scan_paths_after(envs[5].event_id)
    assert segment not in await sweeper.scan_paths_after(envs[6].event_id)


async def test_batching_writer_shares_segments(backend: Backend, ids: UlidGenerator) -> None:
    storage = backend.storage(Role.API)
    batching = BatchingLedgerWriter(
        LedgerWriter(storage, "orchestration", FakeClock(NOW_MS)), max_in_flight=1
    )
    groups = [[_envelope(backend.scope, ids.new()) for _ in range(3)] for _ in range(20)]
    results = await asyncio.gather(*(batching.append(g) for g in groups))
    assert batching.puts < len(groups)  # callers shared puts
    reader = LedgerReader(backend.storage(Role.COMPACTOR), "orchestration")
    for group, paths in zip(groups, results, strict=True):
        assert all(p.endswith(".seg.json") for p in paths)
        held = {i for p in paths for i in (await reader.read_batch([p])).event_ids[p]}
        assert {e.event_id for e in group} <= held
    everything = sorted(e.event_id for g in groups for e in g)
    all_paths = {p for paths in results for p in paths}
    assert [e.event_id for e in await reader.read(all_paths)] == everything
    # A lone event becomes a plain event object; an empty append writes nothing.
    lone = _envelope(backend.scope, ids.new())
    assert await batching.append([lone]) == [ledger_event_path("orchestration", lone.event_id)]
    assert await batching.append([]) == []
    await batching.aclose()


async def test_batching_writer_isolates_bad_callers(backend: Backend, ids: UlidGenerator) -> None:
    storage = backend.storage(Role.API)
    writer = LedgerWriter(storage, "orchestration", FakeClock(NOW_MS))
    batching = BatchingLedgerWriter(writer)
    good = [_envelope(backend.scope, ids.new()) for _ in range(2)]
    invalid = [_envelope(backend.scope, ids.new(), event_type="bad-type")]
    ok, bad = await asyncio.gather(
        batching.append(good), batching.append(invalid), return_exceptions=True
    )
    assert isinstance(bad, InvalidArgument)  # refused before queueing, alone
    assert isinstance(ok, list)
    reader = LedgerReader(backend.storage(Role.COMPACTOR), "orchestration")
    assert [e.event_id for e in await reader.read(ok)] == [e.event_id for e in good]

    # The group's segment key is taken by other bytes: each caller is written on its own.
    a, b, c = ids.new(), ids.new(), ids.new()
    taken = await writer.append_segment([_envelope(backend.scope, a), _envelope(backend.scope, c)])
    mine = _envelope(backend.scope, b)
    theirs = _envelope(backend.scope, c, source="a-buggy-writer")  # reuses an id
    first, second = await asyncio.gather(batching.append([mine]), batching.append([theirs]))
    assert first == [ledger_event_path("orchestration", b)]
    assert second == [ledger_event_path("orchestration", c)]
    assert await reader.read(first) == [mine]
    # Reading both versions of one id together is refused rather than silently picking one.
    with pytest.raises(Conflict):
        await reader.read([taken, *second])

    # Two callers sending different events under one id in the same group: one wins.
    twin_id = ids.new()
    results = await asyncio.gather(
        batching.append([_envelope(backend.scope, twin_id)]),
        batching.append([_envelope(backend.scope, twin_id, source="other")]),
        return_exceptions=True,
    )
    assert sorted(isinstance(r, Conflict) for r in results) == [False, True]
    await batching.aclose()


@given(st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999))
def test_fast_timestamp_parse_matches_the_general_parser(epoch_ms: int) -> None:
    text = rfc3339_ms(epoch_ms)
    assert _timestamp_ms(text) == parse_rfc3339_ms(text) == epoch_ms


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-01T00:00:00.123+00:00",
        "2026-01-01T00:00:00Z",
        "2026-01-01t00:00:00.123z",
        "2026-01-01T00:00:00.123456789Z",
    ],
)
def test_other_timestamp_forms_take_the_general_parser(text: str) -> None:
    assert _timestamp_ms(text) == parse_rfc3339_ms(text)


@pytest.mark.parametrize(
    "text", ["2026-02-30T00:00:00.000Z", "2026-01-01T24:00:00.000Z", "2026-01-01T00:60:00.000Z"]
)
def test_out_of_range_timestamps_are_refused(text: str) -> None:
    with pytest.raises(InvalidArgument):
        _timestamp_ms(text)
