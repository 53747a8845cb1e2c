from __future__ import annotations

import asyncio

import pytest

from arco_core.canonical_json import canonical_bytes
from arco_core.clock import FakeClock
from arco_core.errors import InvalidPath, RoleWriteDenied, StaleFencingToken, Unavailable
from arco_core.locks import LeaseLock, LockRecord
from arco_core.paths import lock_epoch_path, lock_head_hint_path
from arco_core.storage import Role
from tests.unit.core.conftest import Backend


def _lock(
    backend: Backend, clock: FakeClock, role: Role = Role.API, ttl_ms: int = 30_000
) -> LeaseLock:
    return LeaseLock(backend.storage(role), "catalog/ddl", clock, ttl_ms=ttl_ms)


async def test_acquire_validate_release(backend: Backend) -> None:
    clock = FakeClock()
    lock = _lock(backend, clock)
    lease = await lock.acquire("api-1")
    assert lease.token == 1 and lease.holder_id == "api-1"
    record = await lock.validate(lease)
    assert record == LockRecord(1, "api-1", clock.now_ms(), clock.now_ms() + 30_000)
    raw = await backend.storage(Role.READER).get(lock_epoch_path("catalog/ddl", 1))
    assert set(record.to_json_dict()) == {"holderId", "acquiredAt", "expiresAt", "epoch"}
    assert LockRecord.from_bytes(raw) == record

    assert await _lock(backend, clock).try_acquire("api-2") is None
    with pytest.raises(Unavailable) as info:
        await _lock(backend, clock).acquire("api-2", timeout_s=0.05)
    assert info.value.reason == "lock_unavailable"

    await lock.release(lease)
    await lock.release(lease)  # idempotent
    with pytest.raises(StaleFencingToken):
        await lock.validate(lease)
    second = await _lock(backend, clock).acquire("api-2")
    assert second.token == 2
    with pytest.raises(StaleFencingToken):
        await lock.validate(1)
    reader_view = _lock(backend, clock, Role.READER)
    assert (await reader_view.validate(2)).holder_id == "api-2"
    for bad in (0, 3, -1):
        with pytest.raises(StaleFencingToken):
            await reader_view.validate(bad)


async def test_expiry_takeover_rejects_stale_token(backend: Backend) -> None:
    clock = FakeClock()
    old = await _lock(backend, clock, ttl_ms=1_000).acquire("slow-holder")
    clock.advance(999)
    await _lock(backend, clock).validate(old)
    clock.advance(1)
    with pytest.raises(StaleFencingToken):
        await _lock(backend, clock).validate(old)
    new = await _lock(backend, clock).acquire("fast-holder")
    assert new.token == old.token + 1
    with pytest.raises(StaleFencingToken):
        await _lock(backend, clock).validate(old.token)
    await _lock(backend, clock).validate(new.token)
    # The stale holder releasing its old epoch does not disturb the new holder.
    await _lock(backend, clock).release(old)
    await _lock(backend, clock).validate(new)


async def test_acquire_waits_for_expiry(backend: Backend) -> None:
    clock = FakeClock()
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(max(1, int(seconds * 1000)))
        await asyncio.sleep(0)

    await _lock(backend, clock, ttl_ms=2_000).acquire("holder")
    waiter = LeaseLock(backend.storage(Role.API), "catalog/ddl", clock, sleep=fake_sleep)
    lease = await waiter.acquire("waiter", timeout_s=30)
    assert lease.token == 2
    assert sleeps and all(0 < s <= 1.0 for s in sleeps)


async def test_concurrent_acquirers_one_winner(backend: Backend) -> None:
    clock = FakeClock()
    results = await asyncio.gather(*(_lock(backend, clock).try_acquire(f"h{i}") for i in range(8)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1 and winners[0].token == 1


async def test_epoch_probe_ignores_stale_hint(backend: Backend) -> None:
    clock = FakeClock()
    lock = _lock(backend, clock)
    for _ in range(6):
        await lock.release(await lock.acquire("h"))
    storage = backend.storage(Role.API)
    await storage.overwrite(lock_head_hint_path("catalog/ddl"), canonical_bytes({"seq": 2}))
    assert await lock.current_epoch() == 6
    assert (await lock.acquire("h")).token == 7


async def test_only_api_role_takes_locks(backend: Backend) -> None:
    clock = FakeClock()
    for role in (Role.COMPACTOR, Role.DISPATCHER, Role.SWEEPER, Role.READER):
        with pytest.raises(RoleWriteDenied):
            await _lock(backend, clock, role).acquire("x", timeout_s=0.1)
    with pytest.raises(InvalidPath):
        LeaseLock(backend.storage(Role.API), "../escape", clock)
