from __future__ import annotations

import json
from typing import Any

import pytest

from arco_core.canonical_json import canonical_bytes
from arco_core.clock import FakeClock, rfc3339_ms
from arco_core.errors import (
    Conflict,
    InvalidArgument,
    PermissionDenied,
    RoleWriteDenied,
    ScopeViolation,
)
from arco_core.ids import UlidGenerator
from arco_core.ledger import EventEnvelope, LedgerReader, LedgerWriter
from arco_core.paths import Scope, ledger_event_path
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


async def test_scan_after_is_sweeper_only(backend: Backend, ids: UlidGenerator) -> None:
    writer = LedgerWriter(backend.storage(Role.API), "orchestration", FakeClock(NOW_MS))
    envs = [_envelope(backend.scope, ids.new()) for _ in range(6)]
    await writer.append_all(envs)
    await backend.storage(Role.API).create("ledger/orchestration/stray.txt", b"junk")
    for role in (Role.API, Role.COMPACTOR, Role.DISPATCHER, Role.READER):
        with pytest.raises(PermissionDenied):
            await LedgerReader(backend.storage(role), "orchestration").scan_after(None)
    sweeper = LedgerReader(backend.storage(Role.SWEEPER), "orchestration")
    assert [e.event_id for e in await sweeper.scan_after(None)] == [e.event_id for e in envs]
    after = await sweeper.scan_after(envs[2].event_id)
    assert [e.event_id for e in after] == [e.event_id for e in envs[3:]]
    assert len(await sweeper.scan_paths_after(None, limit=2)) == 2
