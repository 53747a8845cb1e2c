"""Delta commit coordination for real: a catalog compactor and two api processes over gRPC,
and the resulting tables read back with delta-rs (the ``deltalake`` package)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from arco.catalog.v1 import catalog_service_pb2 as pb
from arco.catalog.v1 import catalog_service_pb2_grpc as catalog_grpc

from arco_core.canonical_json import canonical_bytes
from arco_core.delta import CommitRequest, reservation_record
from arco_core.paths import Scope, delta_reservation_path
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_runtime.rpc_errors import parse_rpc_error
from tests.support.delta import create_actions, payload, write_parquet
from tests.support.processes import ServiceProcess, start_service
from tests.support.tls import mesh_channel

deltalake = pytest.importorskip("deltalake")

TENANT, WORKSPACE = "acme", "prod"
SCOPE_ENV = {"ARCO_TENANT_ID": TENANT, "ARCO_WORKSPACE_ID": WORKSPACE}
Code = grpc.StatusCode


@dataclass
class Stack:
    root: Path
    apis: list[ServiceProcess]

    @property
    def scope_dir(self) -> Path:
        return self.root / "data" / f"tenant={TENANT}" / f"workspace={WORKSPACE}"

    def storage(self, role: Role) -> ScopedStorage:
        store = open_object_store((self.root / "data").as_uri(), {})
        return ScopedStorage(store, Scope(TENANT, WORKSPACE), role)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("api-delta")
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
        yield Stack(root, apis)
    finally:
        codes = {proc.module + str(i): proc.terminate() for i, proc in enumerate(started)}
    assert set(codes.values()) == {0}, [proc.log() for proc in started]


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[catalog_grpc.CatalogServiceStub]:
    async with mesh_channel(stack.apis[0].grpc_address) as channel:
        yield catalog_grpc.CatalogServiceStub(channel)


def _uuid7() -> str:
    ms = time.time_ns() // 1_000_000
    value = (ms << 80) | (0x7 << 76) | (uuid.uuid4().int & ((1 << 76) - 1))
    value = (value & ~(0b11 << 62)) | (0b10 << 62)
    return str(uuid.UUID(int=value))


def _key(key: str | None = None) -> tuple[tuple[str, str], ...]:
    return (("idempotency-key", key or _uuid7()),)


async def _fails(call: object, code: grpc.StatusCode, reason: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call  # type: ignore[misc]
    assert info.value.code() == code, info.value.details()
    assert parse_rpc_error(info.value).reason == reason, info.value.details()


async def _table(client: catalog_grpc.CatalogServiceStub, fmt: str = "delta") -> str:
    namespace = f"ns_{uuid.uuid4().hex[:8]}"
    await client.CreateNamespace(pb.CreateNamespaceRequest(name=namespace))
    registered = await client.RegisterTable(
        pb.RegisterTableRequest(
            namespace=namespace,
            name="events",
            format=fmt,
            columns=[pb.ColumnDefinition(name="id", data_type="bigint")],
        )
    )
    return registered.table.id


async def _stage(
    client: catalog_grpc.CatalogServiceStub, table_id: str, text: str
) -> pb.StageCommitPayloadResponse:
    return await client.StageCommitPayload(
        pb.StageCommitPayloadRequest(table_id=table_id, payload=text)
    )


def _commit(
    staged: pb.StageCommitPayloadResponse, table_id: str, read_version: int
) -> pb.CommitStagedRequest:
    return pb.CommitStagedRequest(
        table_id=table_id,
        read_version=read_version,
        staged_path=staged.staged_path,
        staged_version=staged.staged_version,
    )


async def _first_commit(
    stack: Stack, client: catalog_grpc.CatalogServiceStub, table_id: str
) -> pb.CommitStagedResponse:
    add = write_parquet(
        stack.scope_dir / "tables" / table_id, "part-0.parquet", [(1, "a"), (2, "b")]
    )
    staged = await _stage(client, table_id, payload([*create_actions(table_id), add]))
    return await client.CommitStaged(_commit(staged, table_id, -1), metadata=_key())


async def test_commits_build_a_delta_table_that_deltalake_reads(
    stack: Stack, client: catalog_grpc.CatalogServiceStub
) -> None:
    table_id = await _table(client)
    table_dir = stack.scope_dir / "tables" / table_id
    first = await _first_commit(stack, client, table_id)
    assert (first.version, first.delta_log_path) == (
        0,
        f"tables/{table_id}/_delta_log/{0:020d}.json",
    )
    table = deltalake.DeltaTable(str(table_dir))
    assert table.version() == 0
    assert sorted(table.to_pyarrow_table().to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "name": "a"},
        {"id": 2, "name": "b"},
    ]

    add = write_parquet(table_dir, "part-1.parquet", [(3, "c")])
    staged = await _stage(client, table_id, payload([add]))
    # Committed through the other api process: the coordinator state is in storage.
    async with mesh_channel(stack.apis[1].grpc_address) as channel:
        other = catalog_grpc.CatalogServiceStub(channel)
        second = await other.CommitStaged(_commit(staged, table_id, 0), metadata=_key())
    assert second.version == 1
    table = deltalake.DeltaTable(str(table_dir))
    assert table.version() == 1
    assert sorted(r["id"] for r in table.to_pyarrow_table().to_pylist()) == [1, 2, 3]


async def test_stale_read_version_is_a_conflict_and_writes_nothing(
    stack: Stack, client: catalog_grpc.CatalogServiceStub
) -> None:
    table_id = await _table(client)
    await _first_commit(stack, client, table_id)
    staged = await _stage(client, table_id, payload([{"commitInfo": {"operation": "WRITE"}}]))
    for read_version in (-1, 1, 7):
        await _fails(
            client.CommitStaged(_commit(staged, table_id, read_version), metadata=_key()),
            Code.ABORTED,
            "stale_read_version",
        )
    log_dir = stack.scope_dir / "tables" / table_id / "_delta_log"
    assert sorted(p.name for p in log_dir.iterdir()) == [f"{0:020d}.json"]
    assert deltalake.DeltaTable(str(log_dir.parent)).version() == 0


async def test_concurrent_commits_of_one_version_let_exactly_one_win(
    stack: Stack, client: catalog_grpc.CatalogServiceStub
) -> None:
    table_id = await _table(client)
    await _first_commit(stack, client, table_id)
    async with contextlib.AsyncExitStack() as channels:
        stubs = [
            catalog_grpc.CatalogServiceStub(
                await channels.enter_async_context(mesh_channel(api.grpc_address))
            )
            for api in stack.apis
            for _ in range(3)
        ]
        staged = [
            await _stage(client, table_id, payload([{"commitInfo": {"writer": i}}]))
            for i in range(len(stubs))
        ]
        results = await asyncio.gather(
            *(
                stub.CommitStaged(_commit(s, table_id, 0), metadata=_key())
                for stub, s in zip(stubs, staged, strict=True)
            ),
            return_exceptions=True,
        )
    wins = [r for r in results if isinstance(r, pb.CommitStagedResponse)]
    losses = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert [w.version for w in wins] == [1], results
    assert len(losses) == len(stubs) - 1
    assert {parse_rpc_error(e).reason for e in losses} == {"stale_read_version"}
    assert deltalake.DeltaTable(str(stack.scope_dir / "tables" / table_id)).version() == 1


async def test_replays_answer_once_and_a_reused_key_is_a_conflict(
    stack: Stack, client: catalog_grpc.CatalogServiceStub
) -> None:
    table_id = await _table(client)
    await _first_commit(stack, client, table_id)
    staged = await _stage(client, table_id, payload([{"commitInfo": {"n": 1}}]))
    key = _key()
    first = await client.CommitStaged(_commit(staged, table_id, 0), metadata=key)
    again = await client.CommitStaged(_commit(staged, table_id, 0), metadata=key)
    assert first == again and first.version == 1
    other = await _stage(client, table_id, payload([{"commitInfo": {"n": 2}}]))
    await _fails(
        client.CommitStaged(_commit(other, table_id, 1), metadata=key),
        Code.ABORTED,
        "idempotency_key_conflict",
    )
    assert deltalake.DeltaTable(str(stack.scope_dir / "tables" / table_id)).version() == 1


async def test_a_reservation_left_by_a_dead_writer_is_rolled_forward(
    stack: Stack, client: catalog_grpc.CatalogServiceStub
) -> None:
    """A writer that reserved version 1 and died before writing its log entry: the next
    commit completes it from the recorded payload, and the dead writer's retry replays."""
    table_id = await _table(client)
    await _first_commit(stack, client, table_id)
    table_dir = stack.scope_dir / "tables" / table_id
    add = write_parquet(table_dir, "part-1.parquet", [(9, "z")])
    staged = await _stage(client, table_id, payload([add]))
    dead_key = _uuid7()
    # What the dead writer had reserved (the coordinator's record layout).
    request = CommitRequest(table_id, dead_key, 0, staged.staged_path, staged.staged_version)
    record = reservation_record(request, int(time.time() * 1000))
    await stack.storage(Role.DELTA).create(
        delta_reservation_path(table_id, 1), canonical_bytes(record)
    )
    assert deltalake.DeltaTable(str(table_dir)).version() == 0

    late = await _stage(client, table_id, payload([{"commitInfo": {"late": True}}]))
    await _fails(
        client.CommitStaged(_commit(late, table_id, 0), metadata=_key()),
        Code.ABORTED,
        "stale_read_version",
    )
    table = deltalake.DeltaTable(str(table_dir))
    assert table.version() == 1  # rolled forward
    assert sorted(r["id"] for r in table.to_pyarrow_table().to_pylist()) == [1, 2, 9]
    retried = await client.CommitStaged(_commit(staged, table_id, 0), metadata=_key(dead_key))
    assert retried.version == 1
    assert (await client.CommitStaged(_commit(late, table_id, 1), metadata=_key())).version == 2


async def test_bad_input_is_a_clear_client_error_and_changes_nothing(
    stack: Stack, client: catalog_grpc.CatalogServiceStub
) -> None:
    table_id = await _table(client)
    parquet_id = await _table(client, "parquet")
    good = payload([{"commitInfo": {}}])
    bad = Code.INVALID_ARGUMENT
    await _fails(_stage(client, "not-a-uuid", good), bad, "invalid_table_id")
    await _fails(_stage(client, table_id, ""), bad, "invalid_delta_payload")
    await _fails(_stage(client, table_id, "{}\nnot json\n"), bad, "invalid_delta_payload")
    await _fails(_stage(client, table_id, "[1]\n"), bad, "invalid_delta_payload")
    await _fails(_stage(client, str(uuid.uuid4()), good), Code.NOT_FOUND, "table_not_found")
    await _fails(_stage(client, parquet_id, good), Code.ABORTED, "table_not_delta")

    staged = await _stage(client, table_id, good)
    commit = _commit(staged, table_id, -1)
    await _fails(client.CommitStaged(commit), bad, "missing_idempotency_key")
    await _fails(
        client.CommitStaged(commit, metadata=_key(str(uuid.uuid4()))),
        bad,
        "invalid_idempotency_key",
    )
    await _fails(
        client.CommitStaged(commit, metadata=_key(_uuid7().upper())),
        bad,
        "invalid_idempotency_key",
    )
    no_version = pb.CommitStagedRequest(
        table_id=table_id, staged_path=staged.staged_path, staged_version=staged.staged_version
    )
    await _fails(client.CommitStaged(no_version, metadata=_key()), bad, "missing_field")
    outside = pb.CommitStagedRequest()
    outside.CopyFrom(commit)
    outside.staged_path = f"delta/staging/{parquet_id}/x.json"
    await _fails(client.CommitStaged(outside, metadata=_key()), bad, "invalid_staged_path")
    outside.staged_path = f"delta/staging/{table_id}/../../ledger/x.json"
    await _fails(client.CommitStaged(outside, metadata=_key()), bad, "invalid_staged_path")
    outside.staged_path = f"delta/staging/{table_id}/01ARZ3NDEKTSV4RRFFQ69G5FAV.json"
    await _fails(
        client.CommitStaged(outside, metadata=_key()), Code.NOT_FOUND, "staged_payload_not_found"
    )
    wrong = pb.CommitStagedRequest()
    wrong.CopyFrom(commit)
    wrong.staged_version = "0" * 64
    await _fails(
        client.CommitStaged(wrong, metadata=_key()), Code.ABORTED, "staged_version_mismatch"
    )
    assert not (stack.scope_dir / "tables" / table_id).exists()
    # Nothing was reserved: the table's first commit is still version 0.
    assert (await client.CommitStaged(commit, metadata=_key())).version == 0
