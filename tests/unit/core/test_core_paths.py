from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arco_core.clock import FakeClock
from arco_core.errors import InvalidArgument, InvalidPath
from arco_core.ids import UlidGenerator
from arco_core.paths import (
    Scope,
    idempotency_path,
    ledger_event_path,
    lock_epoch_path,
    lock_head_hint_path,
    lock_release_path,
    manifest_head_hint_path,
    manifest_path,
    parse_ledger_event_path,
    parse_manifest_path,
    run_key_reservation_path,
    snapshot_path,
    state_path,
    task_log_path,
    validate_domain,
    validate_prefix,
    validate_relative_path,
)


def test_scope_prefix() -> None:
    assert Scope("acme", "prod-1").prefix == "tenant=acme/workspace=prod-1/"
    assert Scope.normalized(" ACME ", "Prod_1") == Scope("acme", "prod_1")


@pytest.mark.parametrize(
    ("tenant", "workspace"),
    [("", "w"), ("t", ""), ("Acme", "w"), ("a/b", "w"), ("t", "w\\x"), ("t", "w\n"), ("t.x", "w")],
)
def test_scope_rejects(tenant: str, workspace: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        Scope(tenant, workspace)
    assert info.value.reason == "invalid_scope"


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/abs",
        "\\abs",
        "a\\b",
        "a%2e%2e/b",
        "a/../b",
        "../x",
        "a/./b",
        ".",
        "a//b",
        "a/",
        "a\rb",
        "a\nb",
        "a\0b",
        "a\tb",
        "a\x7fb",
        "a\x85b",
    ],
)
def test_relative_path_rejects(path: str) -> None:
    with pytest.raises(InvalidPath):
        validate_relative_path(path)


def test_relative_path_accepts() -> None:
    for ok in ("a", "ledger/orchestration/2026-01-01/X.json", "a/..b/c..", "a/b=c/d"):
        assert validate_relative_path(ok) == ok
    assert validate_prefix("") == ""
    assert validate_prefix("ledger/") == "ledger/"
    for bad in ("/", "a//", "../", "%"):
        with pytest.raises(InvalidPath):
            validate_prefix(bad)


@given(st.text())
def test_validated_paths_have_no_traversal(path: str) -> None:
    try:
        validate_relative_path(path)
    except InvalidPath:
        return
    segments = path.split("/")
    assert ".." not in segments and "." not in segments and "" not in segments
    assert not any(ord(c) < 0x20 for c in path)


def test_ledger_event_path_roundtrip() -> None:
    ulid = UlidGenerator(FakeClock(1_767_225_599_999)).new()  # 2025-12-31T23:59:59.999Z
    path = ledger_event_path("orchestration", ulid)
    assert path == f"ledger/orchestration/2025-12-31/{ulid}.json"
    parsed = parse_ledger_event_path(path)
    assert (parsed.domain, parsed.date, parsed.event_id) == ("orchestration", "2025-12-31", ulid)
    wrong_day = f"ledger/orchestration/2026-01-01/{ulid}.json"
    for bad in (wrong_day, f"ledger/other/2025-12-31/{ulid}.json", "ledger/catalog/x.json"):
        with pytest.raises(InvalidArgument):
            parse_ledger_event_path(bad)
    with pytest.raises(InvalidArgument):
        ledger_event_path("orchestration", "not-a-ulid")


def test_layout_builders() -> None:
    assert manifest_path("catalog", 42) == "manifests/catalog/00000000000000000042.json"
    assert parse_manifest_path(manifest_path("catalog", 42)) == ("catalog", 42)
    assert manifest_head_hint_path("orchestration") == "manifests/orchestration/_head.json"
    assert state_path("orchestration", "l0", "d1", "runs.parquet") == (
        "state/orchestration/l0/d1/runs.parquet"
    )
    assert snapshot_path("catalog", "s1", "tables.parquet") == "snapshots/catalog/s1/tables.parquet"
    assert lock_epoch_path("catalog", 3) == "locks/catalog/00000000000000000003.json"
    assert lock_release_path("catalog", 3) == "locks/catalog/00000000000000000003.released"
    assert lock_head_hint_path("orchestration/compaction") == (
        "locks/orchestration/compaction/_head.json"
    )
    assert task_log_path("run1", "raw.events", 2) == "logs/run1/raw.events/attempt-2.log"
    assert idempotency_path("api", "k").startswith("idempotency/api/")
    assert run_key_reservation_path("rk").startswith("run_keys/")
    with pytest.raises(InvalidArgument):
        manifest_path("catalog", -1)
    with pytest.raises(InvalidArgument):
        manifest_path("other", 1)
    with pytest.raises(InvalidPath):
        state_path("catalog", "..", "x")
    with pytest.raises(InvalidPath):
        task_log_path("../r", "t", 1)
    with pytest.raises(InvalidPath):
        lock_epoch_path("a/../b", 1)
    with pytest.raises(InvalidArgument):
        validate_domain("Catalog")


@given(st.integers(0, 253_402_300_799_999))
def test_ledger_date_is_the_ulid_utc_day(ms: int) -> None:
    from datetime import UTC, datetime, timedelta

    ulid = UlidGenerator(FakeClock(ms)).new()
    expected = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)).date()
    assert ledger_event_path("catalog", ulid).split("/")[2] == expected.isoformat()


def test_ledger_path_rejects_ulids_beyond_year_9999() -> None:
    with pytest.raises(InvalidArgument):
        ledger_event_path("catalog", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ")
