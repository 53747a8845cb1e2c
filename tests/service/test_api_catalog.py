"""The api's CatalogService for real: api + catalog compactor processes over gRPC.

Every write goes through the Tier-1 path (lease lock, ledger append, fenced SyncCompact,
read-your-writes), so each assertion here is about published state on disk.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from arco.catalog.v1 import catalog_service_pb2 as pb
from arco.catalog.v1 import catalog_service_pb2_grpc as catalog_grpc

from arco_core.clock import SystemClock
from arco_core.commit import ManifestStore
from arco_core.ids import new_ulid
from arco_core.locks import LeaseLock
from arco_core.paths import Scope
from arco_core.published import ManifestBody
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_runtime.rpc_errors import parse_rpc_error
from tests.support.processes import ServiceProcess, start_service
from tests.support.tls import mesh_channel

TENANT, WORKSPACE = "acme", "prod"
SCOPE_ENV = {"ARCO_TENANT_ID": TENANT, "ARCO_WORKSPACE_ID": WORKSPACE}
Code = grpc.StatusCode


@dataclass
class Stack:
    root: Path
    compactor: ServiceProcess
    apis: list[ServiceProcess]

    @property
    def address(self) -> str:
        return self.apis[0].grpc_address

    def storage(self, role: Role = Role.API) -> ScopedStorage:
        store = open_object_store((self.root / "data").as_uri(), {})
        return ScopedStorage(store, Scope(TENANT, WORKSPACE), role)

    @property
    def scope_dir(self) -> Path:
        return self.root / "data" / f"tenant={TENANT}" / f"workspace={WORKSPACE}"

    async def head_seq(self) -> int | None:
        return await ManifestStore(self.storage(Role.READER), "catalog").head_seq()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One catalog compactor and two api processes sharing one local object store."""
    root = tmp_path_factory.mktemp("api-catalog")
    compactor = start_service(
        "services.compactor",
        root,
        {**SCOPE_ENV, "ARCO_COMPACTOR_DOMAIN": "catalog"},
        name="compactor-catalog",
    )
    started = [compactor]
    try:
        compactor.wait_ready(15)
        env = {**SCOPE_ENV, "ARCO_CATALOG_COMPACTOR_ADDRESS": compactor.grpc_address}
        apis = [start_service("services.api", root, env, name=f"api-{i}") for i in range(2)]
        started += apis
        for api in apis:
            api.wait_ready(15)
        yield Stack(root, compactor, apis)
    finally:
        codes = {proc.module + str(i): proc.terminate() for i, proc in enumerate(started)}
    assert set(codes.values()) == {0}, [proc.log() for proc in started]


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[catalog_grpc.CatalogServiceStub]:
    async with mesh_channel(stack.address) as channel:
        yield catalog_grpc.CatalogServiceStub(channel)


def _name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _uuid7() -> str:
    ms = time.time_ns() // 1_000_000
    value = (ms << 80) | (0x7 << 76) | (uuid.uuid4().int & ((1 << 76) - 1))
    value = (value & ~(0b11 << 62)) | (0b10 << 62)
    return str(uuid.UUID(int=value))


def _columns() -> list[pb.ColumnDefinition]:
    return [
        pb.ColumnDefinition(name="id", data_type="bigint", nullable=False),
        pb.ColumnDefinition(name="amount", data_type="decimal(10,2)", description="EUR"),
        pb.ColumnDefinition(name="note", data_type="string"),
    ]


async def _fails(call: object, code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call  # type: ignore[misc]
    assert info.value.code() == code, info.value.details()
    return info.value


# Namespaces ------------------------------------------------------------------------------------


async def test_namespace_lifecycle_with_pagination(
    stack: Stack, client: catalog_grpc.CatalogServiceStub
) -> None:
    prefix = _name("ns")
    names = [f"{prefix}_{i}" for i in range(5)]
    created = [
        (
            await client.CreateNamespace(pb.CreateNamespaceRequest(name=n, description=f"d {n}"))
        ).namespace
        for n in names
    ]
    first = created[0]
    assert first.name == names[0] and first.description == f"d {names[0]}"
    assert first.id and first.created_at.ToMilliseconds() > 0
    assert first.created_at == first.updated_at

    # Read-your-writes on the other api process too (it reads the published head).
    async with mesh_channel(stack.apis[1].grpc_address) as channel:
        other = catalog_grpc.CatalogServiceStub(channel)
        got = await other.GetNamespace(pb.GetNamespaceRequest(name=names[2]))
        assert got.namespace == created[2]

    seen: list[str] = []
    cursor = ""
    while True:
        page = await client.ListNamespaces(pb.ListNamespacesRequest(limit=2, cursor=cursor))
        assert len(page.namespaces) <= 2
        seen += [n.name for n in page.namespaces]
        if not page.HasField("next_cursor"):
            break
        cursor = page.next_cursor
    assert [n for n in seen if n.startswith(prefix)] == names
    assert seen == sorted(seen)

    await _fails(
        client.ListNamespaces(pb.ListNamespacesRequest(cursor="not*a*cursor")),
        Code.INVALID_ARGUMENT,
    )
    await _fails(client.ListNamespaces(pb.ListNamespacesRequest(limit=501)), Code.INVALID_ARGUMENT)

    await client.DeleteNamespace(pb.DeleteNamespaceRequest(name=names[0]))
    await _fails(client.GetNamespace(pb.GetNamespaceRequest(name=names[0])), Code.NOT_FOUND)
    await _fails(client.DeleteNamespace(pb.DeleteNamespaceRequest(name=names[0])), Code.NOT_FOUND)
    # The name is free again after the delete.
    again = await client.CreateNamespace(pb.CreateNamespaceRequest(name=names[0]))
    assert again.namespace.id != first.id and not again.namespace.HasField("description")


async def test_duplicates_missing_and_non_empty_delete(
    client: catalog_grpc.CatalogServiceStub,
) -> None:
    ns = _name("dup")
    await client.CreateNamespace(pb.CreateNamespaceRequest(name=ns))
    err = await _fails(
        client.CreateNamespace(pb.CreateNamespaceRequest(name=ns)), Code.ALREADY_EXISTS
    )
    assert parse_rpc_error(err).reason == "namespace_exists"
    await _fails(client.GetNamespace(pb.GetNamespaceRequest(name=_name("nope"))), Code.NOT_FOUND)
    await _fails(client.ListTables(pb.ListTablesRequest(namespace=_name("nope"))), Code.NOT_FOUND)
    await _fails(
        client.RegisterTable(
            pb.RegisterTableRequest(namespace=_name("nope"), name="t", columns=_columns())
        ),
        Code.NOT_FOUND,
    )

    await client.RegisterTable(pb.RegisterTableRequest(namespace=ns, name="t", columns=_columns()))
    await _fails(
        client.RegisterTable(pb.RegisterTableRequest(namespace=ns, name="t", columns=_columns())),
        Code.ALREADY_EXISTS,
    )
    err = await _fails(
        client.DeleteNamespace(pb.DeleteNamespaceRequest(name=ns)), Code.INVALID_ARGUMENT
    )
    assert err.details() == f"namespace '{ns}' contains tables, cannot delete"
    await client.DropTable(pb.DropTableRequest(namespace=ns, name="t"))
    await client.DeleteNamespace(pb.DeleteNamespaceRequest(name=ns))


async def test_bad_requests_are_invalid_and_write_nothing(
    stack: Stack, client: catalog_grpc.CatalogServiceStub
) -> None:
    ns = _name("bad")
    await client.CreateNamespace(pb.CreateNamespaceRequest(name=ns))
    before = await stack.head_seq()
    bad_calls = [
        client.CreateNamespace(pb.CreateNamespaceRequest(name="has space")),
        client.CreateNamespace(pb.CreateNamespaceRequest(name="")),
        client.CreateNamespace(pb.CreateNamespaceRequest(name="a.b")),
        client.CreateNamespace(pb.CreateNamespaceRequest(name="x" * 256)),
        client.CreateCatalog(pb.CreateCatalogRequest(name="../etc")),
        client.CreateSchema(pb.CreateSchemaRequest(catalog="default", name="-lead")),
        client.RegisterTable(
            pb.RegisterTableRequest(namespace=ns, name="bad/name", columns=_columns())
        ),
        client.RegisterTable(pb.RegisterTableRequest(namespace=ns, name="nocols")),
        client.RegisterTable(
            pb.RegisterTableRequest(namespace=ns, name="fmt", format="csv", columns=_columns())
        ),
        client.RegisterTable(
            pb.RegisterTableRequest(
                namespace=ns,
                name="dupcol",
                columns=[pb.ColumnDefinition(name="a", data_type="int")] * 2,
            )
        ),
        client.AddLineageEdges(pb.AddLineageEdgesRequest()),
        client.AddLineageEdges(
            pb.AddLineageEdgesRequest(edges=[pb.EdgeDefinition(source_id="", target_id="b")])
        ),
        client.GetLineage(pb.GetLineageRequest()),
        client.CreateNamespace(
            pb.CreateNamespaceRequest(name=_name("idem")),
            metadata=(("idempotency-key", str(uuid.uuid4())),),  # v4, not v7
        ),
    ]
    for call in bad_calls:
        await _fails(call, Code.INVALID_ARGUMENT)
    assert await stack.head_seq() == before
    listed = await client.ListTables(pb.ListTablesRequest(namespace=ns))
    assert list(listed.tables) == []


async def test_unauthenticated_caller_is_refused(client: catalog_grpc.CatalogServiceStub) -> None:
    bad = (("x-arco-identity", "e30"), ("x-arco-identity-sig", "AAAA"))
    await _fails(
        client.ListNamespaces(pb.ListNamespacesRequest(), metadata=bad), Code.UNAUTHENTICATED
    )
    await _fails(
        client.CreateNamespace(pb.CreateNamespaceRequest(name=_name("x")), metadata=bad),
        Code.UNAUTHENTICATED,
    )


# Tables ----------------------------------------------------------------------------------------


async def test_table_register_get_update_drop(
    stack: Stack, client: catalog_grpc.CatalogServiceStub
) -> None:
    ns = _name("tbl")
    await client.CreateNamespace(pb.CreateNamespaceRequest(name=ns))
    registered = (
        await client.RegisterTable(
            pb.RegisterTableRequest(
                namespace=ns, name="orders", format="ICEBERG", columns=_columns()
            )
        )
    ).table
    assert (registered.namespace, registered.name, registered.format) == (ns, "orders", "iceberg")
    assert not registered.HasField("description")
    assert [(c.name, c.data_type, c.nullable, c.position) for c in registered.columns] == [
        ("id", "bigint", False, 0),
        ("amount", "decimal(10,2)", True, 1),
        ("note", "string", True, 2),
    ]
    assert registered.columns[1].description == "EUR"
    assert len({c.id for c in registered.columns}) == 3

    await client.RegisterTable(
        pb.RegisterTableRequest(namespace=ns, name="events", columns=_columns())
    )
    got = (await client.GetTable(pb.GetTableRequest(namespace=ns, name="orders"))).table
    assert got == registered
    listed = await client.ListTables(pb.ListTablesRequest(namespace=ns, limit=1))
    assert [t.name for t in listed.tables] == ["events"] and listed.HasField("next_cursor")
    rest = await client.ListTables(pb.ListTablesRequest(namespace=ns, cursor=listed.next_cursor))
    assert [t.name for t in rest.tables] == ["orders"] and not rest.HasField("next_cursor")
    assert rest.tables[0].format == "iceberg"
    events = (await client.GetTable(pb.GetTableRequest(namespace=ns, name="events"))).table
    assert events.format == "delta"  # the default

    updated = (
        await client.UpdateTable(
            pb.UpdateTableRequest(namespace=ns, name="orders", description="all orders")
        )
    ).table
    assert updated.description == "all orders" and updated.id == registered.id
    assert updated.updated_at.ToMilliseconds() >= registered.updated_at.ToMilliseconds()
    assert updated.created_at == registered.created_at

    # A no-op update writes nothing and returns the current table.
    before = await stack.head_seq()
    same = await client.UpdateTable(
        pb.UpdateTableRequest(namespace=ns, name="orders", description="all orders")
    )
    omitted = await client.UpdateTable(pb.UpdateTableRequest(namespace=ns, name="orders"))
    assert same.table == updated == omitted.table
    assert await stack.head_seq() == before

    await _fails(
        client.UpdateTable(pb.UpdateTableRequest(namespace=ns, name="ghost", description="x")),
        Code.NOT_FOUND,
    )
    await client.DropTable(pb.DropTableRequest(namespace=ns, name="orders"))
    await _fails(client.GetTable(pb.GetTableRequest(namespace=ns, name="orders")), Code.NOT_FOUND)
    await _fails(client.DropTable(pb.DropTableRequest(namespace=ns, name="orders")), Code.NOT_FOUND)


# Catalogs, schemas, schema tables ----------------------------------------------------------------


async def test_catalogs_schemas_and_schema_tables(
    client: catalog_grpc.CatalogServiceStub,
) -> None:
    catalog = _name("lake")
    made = (
        await client.CreateCatalog(pb.CreateCatalogRequest(name=catalog, description="the lake"))
    ).catalog
    assert made.name == catalog and made.description == "the lake"
    assert (await client.GetCatalog(pb.GetCatalogRequest(name=catalog))).catalog == made
    await _fails(client.CreateCatalog(pb.CreateCatalogRequest(name=catalog)), Code.ALREADY_EXISTS)
    await _fails(client.GetCatalog(pb.GetCatalogRequest(name=_name("none"))), Code.NOT_FOUND)
    all_catalogs = await client.ListCatalogs(pb.ListCatalogsRequest(limit=500))
    assert catalog in [c.name for c in all_catalogs.catalogs]

    schema = (
        await client.CreateSchema(pb.CreateSchemaRequest(catalog=catalog, name="sales"))
    ).schema
    assert (schema.catalog, schema.name) == (catalog, "sales")
    await client.CreateSchema(pb.CreateSchemaRequest(catalog=catalog, name="hr"))
    await _fails(
        client.CreateSchema(pb.CreateSchemaRequest(catalog=catalog, name="sales")),
        Code.ALREADY_EXISTS,
    )
    await _fails(
        client.CreateSchema(pb.CreateSchemaRequest(catalog=_name("none"), name="s")),
        Code.NOT_FOUND,
    )
    schemas = await client.ListSchemas(pb.ListSchemasRequest(catalog=catalog))
    assert [s.name for s in schemas.schemas] == ["hr", "sales"]
    await _fails(client.ListSchemas(pb.ListSchemasRequest(catalog=_name("none"))), Code.NOT_FOUND)

    location = "data/sales/orders.parquet"
    table = (
        await client.RegisterSchemaTable(
            pb.RegisterSchemaTableRequest(
                catalog=catalog,
                schema="sales",
                name="orders",
                format="parquet",
                location=location,
                description="orders",
                columns=_columns(),
            )
        )
    ).table
    assert (table.catalog, table.schema, table.name) == (catalog, "sales", "orders")
    assert (table.format, table.location, table.description) == ("parquet", location, "orders")
    assert [c.position for c in table.columns] == [0, 1, 2]
    got = await client.GetSchemaTable(
        pb.GetSchemaTableRequest(catalog=catalog, schema="sales", name="orders")
    )
    assert got.table == table
    listed = await client.ListSchemaTables(
        pb.ListSchemaTablesRequest(catalog=catalog, schema="sales")
    )
    assert list(listed.tables) == [table]
    await _fails(
        client.RegisterSchemaTable(
            pb.RegisterSchemaTableRequest(
                catalog=catalog, schema="sales", name="orders", columns=_columns()
            )
        ),
        Code.ALREADY_EXISTS,
    )
    await _fails(
        client.GetSchemaTable(pb.GetSchemaTableRequest(catalog=catalog, schema="hr", name="x")),
        Code.NOT_FOUND,
    )
    await _fails(
        client.ListSchemaTables(pb.ListSchemaTablesRequest(catalog=catalog, schema="nope")),
        Code.NOT_FOUND,
    )

    # Namespaces are the schemas of catalog "default".
    ns = _name("via_ns")
    await client.CreateNamespace(pb.CreateNamespaceRequest(name=ns))
    default_schema = await client.ListSchemas(pb.ListSchemasRequest(catalog="default", limit=500))
    assert ns in [s.name for s in default_schema.schemas]


# Lineage ---------------------------------------------------------------------------------------


async def test_lineage_add_dedupes_and_reads_both_directions(
    stack: Stack, client: catalog_grpc.CatalogServiceStub
) -> None:
    a, b, c = _name("src"), _name("mid"), _name("dst")
    edges = [
        pb.EdgeDefinition(source_id=a, target_id=b),
        pb.EdgeDefinition(source_id=a, target_id=b),  # duplicate in the request
        pb.EdgeDefinition(source_id=b, target_id=c, edge_type="copies", run_id="run-1"),
    ]
    added = await client.AddLineageEdges(pb.AddLineageEdgesRequest(edges=edges))
    assert added.added == 2

    lineage = await client.GetLineage(pb.GetLineageRequest(table_id=b))
    assert lineage.table_id == b
    assert [(e.source_id, e.target_id, e.edge_type) for e in lineage.upstream] == [
        (a, b, "derives_from")
    ]
    assert [(e.source_id, e.target_id, e.edge_type, e.run_id) for e in lineage.downstream] == [
        (b, c, "copies", "run-1")
    ]
    assert not lineage.upstream[0].HasField("run_id")
    assert len(lineage.upstream[0].id) == 64 and lineage.upstream[0].created_at.seconds > 0

    # Re-adding known edges converges on the same ids and publishes nothing.
    before = await stack.head_seq()
    again = await client.AddLineageEdges(pb.AddLineageEdgesRequest(edges=edges[:1]))
    assert again.added == 1
    assert await stack.head_seq() == before
    assert (await client.GetLineage(pb.GetLineageRequest(table_id=b))) == lineage

    empty = await client.GetLineage(pb.GetLineageRequest(table_id=_name("unknown")))
    assert list(empty.upstream) == [] and list(empty.downstream) == []


# Idempotency -----------------------------------------------------------------------------------


async def test_idempotency_key_replays_and_conflicts(
    stack: Stack, client: catalog_grpc.CatalogServiceStub
) -> None:
    ns = _name("idem")
    key = (("idempotency-key", _uuid7()),)
    first = await client.CreateNamespace(
        pb.CreateNamespaceRequest(name=ns, description="x"), metadata=key
    )
    seq = await stack.head_seq()
    replay = await client.CreateNamespace(
        pb.CreateNamespaceRequest(name=ns, description="x"), metadata=key
    )
    assert replay == first  # same entity, no second event
    assert await stack.head_seq() == seq
    # The marker is visible to the other api process as well.
    async with mesh_channel(stack.apis[1].grpc_address) as channel:
        other = catalog_grpc.CatalogServiceStub(channel)
        assert (
            await other.CreateNamespace(
                pb.CreateNamespaceRequest(name=ns, description="x"), metadata=key
            )
        ) == first
        err = await _fails(
            other.CreateNamespace(
                pb.CreateNamespaceRequest(name=ns, description="y"), metadata=key
            ),
            Code.ABORTED,
        )
    assert err.details() == "Idempotency-Key already used with different request body"
    assert await stack.head_seq() == seq
    markers = list((stack.scope_dir / "idempotency").rglob("*.json"))
    assert markers

    # Without a key the same create is a plain duplicate.
    await _fails(client.CreateNamespace(pb.CreateNamespaceRequest(name=ns)), Code.ALREADY_EXISTS)

    # Keys are per operation and cover the table routes too.
    table_key = (("idempotency-key", _uuid7()),)
    request = pb.RegisterTableRequest(namespace=ns, name="t", columns=_columns())
    table = await client.RegisterTable(request, metadata=table_key)
    assert (await client.RegisterTable(request, metadata=table_key)) == table
    changed = pb.RegisterTableRequest(namespace=ns, name="t", format="parquet", columns=_columns())
    await _fails(client.RegisterTable(changed, metadata=table_key), Code.ABORTED)


# Concurrency and locking -----------------------------------------------------------------------


async def test_concurrent_creates_of_one_namespace_from_two_apis(stack: Stack) -> None:
    ns = _name("race")
    channels = [mesh_channel(api.grpc_address) for api in stack.apis for _ in range(3)]
    try:
        stubs = [catalog_grpc.CatalogServiceStub(ch) for ch in channels]
        results = await asyncio.gather(
            *(s.CreateNamespace(pb.CreateNamespaceRequest(name=ns)) for s in stubs),
            return_exceptions=True,
        )
        ok = [r for r in results if isinstance(r, pb.CreateNamespaceResponse)]
        errors = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
        assert len(ok) == 1, results
        assert [e.code() for e in errors] == [Code.ALREADY_EXISTS] * (len(stubs) - 1)

        # Different names from both processes all land (the lock serialises, loses nothing).
        names = [_name("par") for _ in stubs]
        created = await asyncio.gather(
            *(
                s.CreateNamespace(pb.CreateNamespaceRequest(name=n))
                for s, n in zip(stubs, names, strict=True)
            )
        )
        assert sorted(c.namespace.name for c in created) == sorted(names)
        listed = await stubs[-1].ListNamespaces(pb.ListNamespacesRequest(limit=500))
        assert set(names) <= {n.name for n in listed.namespaces}
    finally:
        for channel in channels:
            await channel.close()


async def test_held_lock_makes_writes_wait_then_fail_cleanly(
    stack: Stack, client: catalog_grpc.CatalogServiceStub
) -> None:
    lock = LeaseLock(stack.storage(Role.API), "catalog", SystemClock())
    lease = await lock.acquire(f"test-{new_ulid()}", ttl_ms=60_000)
    ns = _name("locked")
    before = await stack.head_seq()
    try:
        started = time.monotonic()
        err = await _fails(
            client.CreateNamespace(pb.CreateNamespaceRequest(name=ns)), Code.FAILED_PRECONDITION
        )
        waited = time.monotonic() - started
        assert "catalog lock still held" in (err.details() or "")
        assert parse_rpc_error(err).reason == "catalog_lock_held"
        assert 4.0 <= waited < 15.0
        # Reads never wait for the lock.
        await client.ListNamespaces(pb.ListNamespacesRequest())
    finally:
        await lock.release(lease)
    assert await stack.head_seq() == before
    await _fails(client.GetNamespace(pb.GetNamespaceRequest(name=ns)), Code.NOT_FOUND)
    ledger = list((stack.scope_dir / "ledger" / "catalog").rglob("*.json"))
    assert all(ns not in path.read_text() for path in ledger)

    # A lease that expires while the write waits: the write proceeds once it lapses.
    short = await lock.acquire(f"test-{new_ulid()}", ttl_ms=1_500)
    started = time.monotonic()
    created = await client.CreateNamespace(pb.CreateNamespaceRequest(name=ns))
    assert created.namespace.name == ns
    assert time.monotonic() - started >= 0.5
    assert short.token < (await lock.current_epoch())


# Published files -------------------------------------------------------------------------------


async def test_published_snapshot_files_exist(
    stack: Stack, client: catalog_grpc.CatalogServiceStub
) -> None:
    ns = _name("files")
    await client.CreateNamespace(pb.CreateNamespaceRequest(name=ns))
    store = ManifestStore(stack.storage(Role.READER), "catalog")
    head = await store.head()
    assert head is not None and head.epoch >= 1
    body = ManifestBody.from_head(head)
    assert body.fencing_token is not None and body.base is not None
    paths = [art.path for _, art in body.files()]
    assert {"catalogs", "namespaces", "tables", "columns", "lineage_edges", "commits"} <= set(
        body.base.tables
    )
    for path in paths:
        assert path.startswith("snapshots/catalog/")
        assert (stack.scope_dir / path).is_file()
    assert list((stack.scope_dir / "snapshots" / "catalog").rglob("*.parquet"))
    # Events are on the catalog ledger, and the api wrote nothing under state/ or manifests/
    # itself (the compactor is the sole writer there; checked by role at write time).
    assert list((stack.scope_dir / "ledger" / "catalog").rglob("*.json"))
