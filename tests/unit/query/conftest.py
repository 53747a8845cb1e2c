"""A workspace with published orchestration and catalog state, plus a user parquet table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest

from arco_core.paths import Scope
from arco_core.projections import CatalogAdapter, OrchestrationAdapter
from arco_core.published import ProjectionReader
from arco_core.query import QueryData, QueryEngine, QueryLimits, ReaderSnapshotProvider
from arco_core.storage import Role, ScopedStorage
from tests.support.backends import Backend, make_backend
from tests.unit.orchestration.orch_support import TENANT, WORKSPACE, Events
from tests.unit.query.query_support import (
    catalog_events_for_table,
    parquet_bytes,
    publish_catalog,
    publish_orchestration,
    put_user_file,
    run_history,
)

SALES_PATH = "data/sales/q1.parquet"


@dataclass
class World:
    backend: Backend
    scope: Scope
    reader: ScopedStorage
    provider: ReaderSnapshotProvider
    orch_seqs: list[int]
    catalog_seqs: list[int]

    def engine(self, limits: QueryLimits | None = None) -> QueryEngine:
        return QueryEngine(self.provider, limits)

    def data(self, limits: QueryLimits | None = None) -> QueryData:
        return QueryData(self.provider, self.reader, limits)


def sales_table(rows: int = 1000) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "region": pa.array([f"r{i % 7}" for i in range(rows)]),
            "amount": pa.array([float(i % 100) for i in range(rows)]),
        }
    )


async def build_world(backend: Backend) -> World:
    scope = Scope(TENANT, WORKSPACE)
    api = backend.storage(Role.API, scope=scope)
    comp = backend.storage(Role.COMPACTOR, scope=scope)
    reader = backend.storage(Role.READER, scope=scope)
    ev = Events()
    orch_seqs = [
        await publish_orchestration(api, comp, run_history(ev, "r1", ["a", "b", "c"])),
    ]
    orch_seqs.append(await publish_orchestration(api, comp, run_history(ev, "r2", ["x", "y"])))
    await put_user_file(backend.store, scope, SALES_PATH, parquet_bytes(sales_table()))
    events = await catalog_events_for_table(
        reader,
        scope,
        "lake",
        "sales",
        "orders",
        SALES_PATH,
        [("id", "long"), ("region", "string"), ("amount", "double")],
    )
    catalog_seqs = [await publish_catalog(api, comp, events)]
    provider = ReaderSnapshotProvider(
        {
            "orchestration": ProjectionReader(reader, OrchestrationAdapter(), scope),
            "catalog": ProjectionReader(reader, CatalogAdapter(), scope),
        }
    )
    return World(backend, scope, reader, provider, orch_seqs, catalog_seqs)


@pytest.fixture
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> World:
    return await build_world(make_backend("local", request, tmp_path))


@pytest.fixture
async def any_world(backend: Backend) -> World:
    return await build_world(backend)
