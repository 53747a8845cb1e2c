"""The workspace registry and shard assignment, on LocalStore, MemoryStore and S3."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from arco_core.clock import FakeClock
from arco_core.errors import InvalidArgument, NotFound, RoleWriteDenied
from arco_core.paths import Scope
from arco_core.registry import ShardSpec, WorkspaceRegistry, parse_scope, shard_of
from arco_core.storage import Role, ScopedStorage
from tests.support.backends import Backend

A = Scope("acme", "prod")
B = Scope("acme", "staging")


async def test_racing_creates_give_one_entry(backend: Backend) -> None:
    # Two writers on their own clients and clocks: exactly one creates, both answer it.
    first = WorkspaceRegistry(backend.store, FakeClock(1_000))
    second = WorkspaceRegistry(backend.reopen(), FakeClock(2_000))
    results = await asyncio.gather(first.create(A), second.create(A))
    assert sorted(created for _, created in results) == [False, True]
    assert results[0][0] == results[1][0]
    assert await first.list() == [A]


async def test_create_of_an_existing_workspace_is_idempotent(backend: Backend) -> None:
    registry = WorkspaceRegistry(backend.store, FakeClock(1_000))
    entry, created = await registry.create(A)
    later = WorkspaceRegistry(backend.store, FakeClock(9_000))
    again, created_again = await later.create(A)
    assert (created, created_again) == (True, False)
    assert again == entry and again.created_at_ms == 1_000


async def test_list_and_lookup(backend: Backend) -> None:
    registry = WorkspaceRegistry(backend.store, FakeClock(1_000))
    assert await registry.list() == []
    assert await registry.get(A) is None
    with pytest.raises(NotFound) as info:
        await registry.require(A)
    assert info.value.reason == "workspace_not_found"
    for scope in (B, A, Scope("other", "prod")):
        await registry.create(scope)
    assert await registry.list() == [A, B, Scope("other", "prod")]
    assert await registry.list(tenant_id="acme") == [A, B]
    assert (await registry.require(B)).scope == B


async def test_registry_objects_sit_outside_every_scope(backend: Backend) -> None:
    await WorkspaceRegistry(backend.store, FakeClock(1)).create(A)
    # A scope's sweeper lists everything it may see: nothing of the registry.
    assert await ScopedStorage(backend.store, A, Role.SWEEPER).list("") == []
    registry = ScopedStorage.registry(backend.store)
    with pytest.raises(RoleWriteDenied):
        await registry.create("ledger/x.json", b"1")
    with pytest.raises(InvalidArgument):
        ScopedStorage(backend.store, None, Role.API)
    with pytest.raises(InvalidArgument):
        ScopedStorage(backend.store, A, Role.REGISTRY)


def test_parse_scope_lowercases_and_validates() -> None:
    assert parse_scope(" Acme ", "Prod") == A
    for bad in ("", "a/b", "a b", "x" * 129, "../x"):
        with pytest.raises(InvalidArgument):
            parse_scope("acme", bad)


def test_shard_spec_parsing() -> None:
    assert ShardSpec.parse("") == ShardSpec(0, 1)
    assert ShardSpec.parse("2/3") == ShardSpec(2, 3)
    assert str(ShardSpec.parse(" 1/4 ")) == "1/4"
    for bad in ("3/3", "-1/3", "0/0", "1", "a/b", "1/2/3", "1 / 2"):
        with pytest.raises(InvalidArgument) as info:
            ShardSpec.parse(bad)
        assert info.value.reason == "invalid_shard"


def test_shards_split_scopes_stably() -> None:
    scopes = [Scope(f"t{i % 7}", f"w{i}") for i in range(300)]
    shards = [ShardSpec(i, 3) for i in range(3)]
    owners = [[spec.owns(scope) for spec in shards].count(True) for scope in scopes]
    assert owners == [1] * len(scopes)  # every scope has exactly one owner
    spread = Counter(shard_of(scope, 3) for scope in scopes)
    assert set(spread) == {0, 1, 2} and min(spread.values()) > 50
    # Pinned values: a replica restarted (another process, another version) takes the same.
    assert [shard_of(Scope("local", "default"), 3), shard_of(A, 3), shard_of(B, 3)] == [2, 0, 2]
    assert all(ShardSpec().owns(scope) for scope in scopes)
