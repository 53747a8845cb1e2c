from __future__ import annotations

import urllib.request
from datetime import timedelta

import pytest
from structlog.testing import capture_logs

from arco_core.errors import (
    Conflict,
    InvalidArgument,
    InvalidPath,
    ObjectAlreadyExists,
    ObjectNotFound,
    PermissionDenied,
    RoleWriteDenied,
    Unimplemented,
)
from arco_core.paths import Scope
from arco_core.storage import ROLE_WRITE_PREFIXES, Role, open_object_store
from tests.unit.core.conftest import Backend

ALL_PREFIXES = (
    "ledger/",
    "locks/",
    "idempotency/",
    "logs/",
    "run_keys/",
    "state/",
    "snapshots/",
    "manifests/",
    "delta/",
    "tables/",
    "other/",
)
EXPECTED = {
    Role.API: {"ledger/", "locks/", "idempotency/", "logs/", "run_keys/"},
    Role.COMPACTOR: {"state/", "snapshots/", "manifests/"},
    Role.DISPATCHER: {"ledger/"},
    Role.SWEEPER: {"ledger/"},
    Role.AUTOMATION: {"ledger/"},
    Role.READER: set(),
    Role.DELTA: {"delta/", "tables/"},
    Role.REGISTRY: {"workspaces/"},
}
SCOPED_ROLES = [role for role in Role if role is not Role.REGISTRY]


def test_role_table_matches_architecture() -> None:
    assert {role: set(p) for role, p in ROLE_WRITE_PREFIXES.items()} == EXPECTED


@pytest.mark.parametrize("role", SCOPED_ROLES, ids=lambda r: r.value)
async def test_role_write_prefixes(backend: Backend, role: Role) -> None:
    audit: list[tuple[Role, str, str]] = []
    storage = backend.storage(role, audit=lambda *a: audit.append(a))
    observer = backend.storage(Role.SWEEPER)
    for prefix in ALL_PREFIXES:
        path = f"{prefix}x/obj.json"
        hint = f"{prefix}x/_hint.json"
        if prefix in EXPECTED[role]:
            await storage.create(path, b"1")
            await storage.overwrite(hint, b"2")
            assert await observer.get(path) == b"1"
            assert (role, "create", backend.scope.prefix + path) in audit
            assert (role, "overwrite", backend.scope.prefix + hint) in audit
            continue
        before = dict(storage.stats)
        with capture_logs() as logs:
            with pytest.raises(RoleWriteDenied):
                await storage.create(path, b"1")
            with pytest.raises(RoleWriteDenied):
                await storage.create_or_verify(path, b"1")
            with pytest.raises(RoleWriteDenied):
                await storage.overwrite(hint, b"1")
        assert storage.stats == before, "a denied write must not reach the store"
        denied = [e for e in logs if e["event"] == "storage_write_denied"]
        assert len(denied) == 3 and denied[0]["role"] == role.value
        assert denied[0]["log_level"] == "warning"
        assert not await observer.exists(path)
        assert not await observer.exists(hint)
    assert all(entry[0] is role for entry in audit)
    assert len(audit) == 2 * len(EXPECTED[role])


@pytest.mark.parametrize(
    "path",
    ["/ledger/x", "ledger/../state/x", "ledger/./x", "ledger\\x", "ledger/%2e", "ledger/a\nb"],
)
async def test_invalid_paths_rejected_before_io(backend: Backend, path: str) -> None:
    storage = backend.storage(Role.API)
    with pytest.raises(InvalidPath):
        await storage.create(path, b"x")
    with pytest.raises(InvalidPath):
        await storage.get(path)
    with pytest.raises(InvalidPath):
        await storage.head(path)
    assert sum(storage.stats.values()) == 0


async def test_overwrite_only_for_hints(backend: Backend) -> None:
    storage = backend.storage(Role.API)
    with pytest.raises(PermissionDenied) as info:
        await storage.overwrite("ledger/orchestration/x.json", b"x")
    assert info.value.reason == "overwrite_denied"
    await storage.overwrite("ledger/_hint.json", b"a")
    await storage.overwrite("ledger/_hint.json", b"b")
    assert await storage.get("ledger/_hint.json") == b"b"


async def test_create_get_head_range(backend: Backend) -> None:
    storage = backend.storage(Role.API)
    await storage.create("ledger/a/b.json", b"0123456789")
    assert await storage.get("ledger/a/b.json") == b"0123456789"
    assert await storage.get_range("ledger/a/b.json", 2, 3) == b"234"
    assert await storage.get_range("ledger/a/b.json", 2, 0) == b""
    meta = await storage.head("ledger/a/b.json")
    assert meta is not None and meta.size == 10 and meta.path == "ledger/a/b.json"
    assert await storage.head("ledger/a/missing.json") is None
    assert not await storage.exists("ledger/a/missing.json")
    with pytest.raises(ObjectNotFound):
        await storage.get("ledger/a/missing.json")
    with pytest.raises(ObjectAlreadyExists):
        await storage.create("ledger/a/b.json", b"other")
    assert await storage.get("ledger/a/b.json") == b"0123456789"


async def test_create_or_verify(backend: Backend) -> None:
    storage = backend.storage(Role.API)
    assert await storage.create_or_verify("ledger/c.json", b"same") is True
    assert await storage.create_or_verify("ledger/c.json", b"same") is False
    with pytest.raises(Conflict) as info:
        await storage.create_or_verify("ledger/c.json", b"different")
    assert info.value.reason == "object_content_conflict"


async def test_scopes_are_isolated(backend: Backend) -> None:
    mine = backend.storage(Role.API)
    theirs = backend.storage(Role.API, scope=Scope("other-tenant", "ws"))
    await mine.create("ledger/x.json", b"mine")
    assert not await theirs.exists("ledger/x.json")
    await theirs.create("ledger/x.json", b"theirs")
    assert await mine.get("ledger/x.json") == b"mine"
    assert mine.full_key("ledger/x.json") == f"{backend.scope.prefix}ledger/x.json"


async def test_only_the_compactor_deletes_and_only_what_retention_removes(
    backend: Backend,
) -> None:
    api, compactor = backend.storage(Role.API), backend.storage(Role.COMPACTOR)
    await api.create("logs/r1/t/attempt-1.log", b"out")
    await api.create("ledger/x.json", b"{}")
    with pytest.raises(RoleWriteDenied):
        await api.delete("logs/r1/t/attempt-1.log")
    with pytest.raises(RoleWriteDenied):
        await compactor.delete("ledger/x.json")  # the ledger is the source of truth
    assert await api.exists("ledger/x.json")
    await compactor.delete("logs/r1/t/attempt-1.log")
    assert not await api.exists("logs/r1/t/attempt-1.log")
    await compactor.delete("logs/r1/t/attempt-1.log")  # already gone: no error
    assert [m.path for m in await compactor.list("logs/")] == []


@pytest.mark.parametrize(
    ("role", "prefix"),
    [
        *((r, "ledger/") for r in SCOPED_ROLES if r not in {Role.SWEEPER, Role.COMPACTOR}),
        (Role.COMPACTOR, ""),
        (Role.COMPACTOR, "locks/"),
        (Role.COMPACTOR, "run_keys/"),
    ],
    ids=lambda v: getattr(v, "value", v) or "root",
)
async def test_list_refused_outside_the_role_prefixes(
    backend: Backend, role: Role, prefix: str
) -> None:
    storage = backend.storage(role)
    with pytest.raises(PermissionDenied) as info:
        await storage.list(prefix)
    assert info.value.reason == "list_denied"
    assert storage.stats["list"] == 0


async def test_compactor_lists_the_ledger(backend: Backend) -> None:
    await backend.storage(Role.API).create("ledger/x.json", b"one")
    assert [m.path for m in await backend.storage(Role.COMPACTOR).list("ledger/")] == [
        "ledger/x.json"
    ]


async def test_sweeper_list_sorted_with_offset(backend: Backend) -> None:
    writer = backend.storage(Role.API)
    names = ["ledger/d/3.json", "ledger/d/1.json", "ledger/e/2.json", "ledger/dd/x.json"]
    for name in names:
        await writer.create(name, b"x")
    await backend.storage(Role.API, scope=Scope("zz", "ws")).create("ledger/d/0.json", b"x")
    sweeper = backend.storage(Role.SWEEPER)
    listed = [m.path for m in await sweeper.list("ledger/")]
    assert listed == sorted(names)
    assert [m.path for m in await sweeper.list("ledger/d/")] == [
        "ledger/d/1.json",
        "ledger/d/3.json",
    ]
    after = [m.path for m in await sweeper.list("ledger/", offset="ledger/d/3.json")]
    assert after == ["ledger/dd/x.json", "ledger/e/2.json"]
    assert await sweeper.list("nothing/") == []
    assert sweeper.stats["list"] == 4


async def test_sign_get_url(backend: Backend) -> None:
    storage = backend.storage(Role.API)
    await storage.create("logs/r/t/attempt-1.log", b"hello log")
    if backend.kind != "s3":
        assert not storage.can_sign
        with pytest.raises(Unimplemented):
            await storage.sign_get_url("logs/r/t/attempt-1.log", timedelta(minutes=5))
        return
    url = await storage.sign_get_url("logs/r/t/attempt-1.log", timedelta(minutes=5))
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=5) as response:  # loopback only
        assert response.read() == b"hello log"
    with pytest.raises(InvalidArgument):
        await storage.sign_get_url("logs/r/t/attempt-1.log", timedelta(days=8))


def test_open_object_store_rejects_bad_urls() -> None:
    for url in ("file://relative/dir", "ftp://x/y", "s3://", "nonsense"):
        with pytest.raises(InvalidArgument):
            open_object_store(url, {})


async def test_reopened_local_store_sees_data(backend: Backend) -> None:
    await backend.storage(Role.API).create("ledger/p.json", b"persisted")
    again = Backend(backend.kind, backend.url, backend.env, backend.reopen(), backend.scope)
    assert await again.storage(Role.READER).get("ledger/p.json") == b"persisted"
