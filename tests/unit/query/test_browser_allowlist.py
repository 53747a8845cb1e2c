"""What the browser may read: current-manifest files only, checked before any I/O."""

from __future__ import annotations

import time

import pytest

from arco_core.browser import (
    LocalUrlSigner,
    browsable_files,
    check_path_before_io,
    effective_ttl,
    parse_domain,
)
from arco_core.errors import InvalidArgument, PermissionDenied
from arco_core.paths import Scope
from gateway.signed_files import verify
from tests.unit.query.conftest import World

# Only these orchestration tables are ever browsable (idempotency keys and anything added
# later stay private until listed in arco_core.browser).
BROWSABLE_ORCH = {"runs", "tasks", "dep_satisfaction", "dispatch_outbox", "timers"}


async def test_catalog_files_exclude_commits_and_orchestration_needs_no_pending_deltas(
    world: World,
) -> None:
    catalog = await world.provider._readers["catalog"].refresh()
    files = browsable_files("catalog", catalog.manifest)
    assert sorted(f.table for f in files) == [
        "catalog.catalogs",
        "catalog.columns",
        "catalog.namespaces",
        "catalog.tables",
    ]
    assert all("commits" not in f.path for f in files)
    assert [f.table for f in browsable_files("lineage", catalog.manifest)] == [
        "lineage.lineage_edges"
    ]
    orch = await world.provider._readers["orchestration"].refresh()
    assert orch.manifest is not None and orch.manifest.deltas
    pending = {name for d in orch.manifest.deltas for name in (*d.tables, *d.tombstones)}
    listed = browsable_files("executions", orch.manifest)
    assert orch.manifest.base is not None
    # a table with a pending L0 delta is not listed: its base is not the current state
    assert {f.table.split(".")[1] for f in listed} == (
        set(orch.manifest.base.tables) & BROWSABLE_ORCH - pending
    )
    assert pending and not any(f.table.split(".")[1] in pending for f in listed)


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("../x.parquet", InvalidArgument),
        ("state/%2e%2e/x.parquet", InvalidArgument),
        ("state\\x.parquet", InvalidArgument),
        ("/state/x.parquet", InvalidArgument),
        ("state/a/\nx.parquet", InvalidArgument),
        ("ledger/catalog/x.json", PermissionDenied),
        ("locks/catalog/x.json", PermissionDenied),
        ("manifests/catalog/_head.json", PermissionDenied),
        ("state/catalog/_hint.parquet", PermissionDenied),
        ("state/catalog/commits.abc.parquet", PermissionDenied),
        ("state/orchestration/idempotency_keys.abc.parquet", PermissionDenied),
        ("state/catalog/x.json", PermissionDenied),
        ("tenant=other/workspace=ws/state/x.parquet", PermissionDenied),
    ],
)
def test_paths_refused_before_io(path: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_path_before_io(path)


def test_ttl_and_domain_rules() -> None:
    assert effective_ttl(None) == 900
    assert effective_ttl(3600) == 3600
    for bad in (0, 3601):
        with pytest.raises(InvalidArgument):
            effective_ttl(bad)
    assert parse_domain("Executions") == parse_domain("orchestration") == "executions"
    with pytest.raises(InvalidArgument, match="Unknown domain"):
        parse_domain("search")


def test_gateway_verifies_exactly_what_the_api_signs() -> None:
    scope = Scope("acme", "prod")
    exp = int(time.time()) + 60
    url = LocalUrlSigner("s3cret").url(scope, "state/catalog/t.abc.parquet", exp)
    path, query = url.split("?")
    key = path.removeprefix("/files/")
    params = dict(item.split("=", 1) for item in query.split("&"))
    assert key == "tenant=acme/workspace=prod/state/catalog/t.abc.parquet"
    assert verify("s3cret", key, params["exp"], params["sig"], time.time())
    assert not verify("other", key, params["exp"], params["sig"], time.time())
    assert not verify("s3cret", key.replace("acme", "evil"), params["exp"], params["sig"], 0)
    assert not verify("s3cret", key, str(exp + 1), params["sig"], time.time())
    assert not verify("s3cret", key, params["exp"], params["sig"], exp + 1)
