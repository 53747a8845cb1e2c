"""Publishing real state for query tests: ledger events folded by the real compactor."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from arco_core.catalog.events import make_event as make_catalog_event
from arco_core.catalog.planning import (
    plan_create_catalog,
    plan_create_schema,
    plan_register_schema_table,
)
from arco_core.catalog.validation import (
    validate_create_catalog,
    validate_create_schema,
    validate_register_table,
)
from arco_core.clock import FakeClock, SystemClock
from arco_core.compaction.engine import Compactor
from arco_core.envelope import EventEnvelope
from arco_core.ledger import LedgerWriter
from arco_core.paths import Scope
from arco_core.projections import CatalogAdapter, OrchestrationAdapter
from arco_core.published import ProjectionReader
from arco_core.storage import ScopedStorage
from tests.unit.orchestration.orch_support import Events


def run_history(ev: Events, run: str, keys: Sequence[str]) -> list[EventEnvelope]:
    *roots, sink = keys
    out = [ev.trigger(run), ev.plan(run, {**{k: [] for k in roots}, sink: roots})]
    for key in keys:
        out += [ev.dispatch(run, key), ev.enqueued(run, key), ev.started(run, key)]
        out += [ev.finished(run, key)]
    return out


async def append_orchestration(api: ScopedStorage, events: list[EventEnvelope]) -> list[str]:
    writer = LedgerWriter(api, "orchestration", FakeClock(events[-1].timestamp_ms))
    return await writer.append_all(events)


async def publish_orchestration(
    api: ScopedStorage, compactor: ScopedStorage, events: list[EventEnvelope]
) -> int:
    paths = await append_orchestration(api, events)
    engine = Compactor(compactor, OrchestrationAdapter())
    await engine.open()
    result = await engine.compact(paths)
    assert result.seq is not None
    return result.seq


async def catalog_events_for_table(  # noqa: PLR0917
    reader: ScopedStorage,
    scope: Scope,
    catalog: str,
    schema: str,
    table: str,
    location: str,
    columns: Sequence[tuple[str, str]],
    *,
    fmt: str = "parquet",
) -> list[EventEnvelope]:
    """Plan catalog + schema (when missing) + table registration against the head state."""
    state = (await ProjectionReader(reader, CatalogAdapter(), scope).refresh()).state
    now = SystemClock().now_ms()
    payloads: list[Any] = []
    if not any(c.name == catalog for c in state.catalogs.values()):
        payloads += plan_create_catalog(state, validate_create_catalog(catalog), now_ms=now)
        state = _fold(state, payloads, scope)
    if not any(n.name == schema for n in state.namespaces.values()):
        extra = plan_create_schema(state, catalog, validate_create_schema(schema), now_ms=now)
        payloads += extra
        state = _fold(state, extra, scope)
    request = validate_register_table(
        table,
        [{"name": n, "data_type": t} for n, t in columns],
        format=fmt,
        location=location,
        allow_location=True,
    )
    payloads += plan_register_schema_table(state, catalog, schema, request, now_ms=now)
    return [
        make_catalog_event(p, tenant_id=scope.tenant_id, workspace_id=scope.workspace_id)
        for p in payloads
    ]


def _fold(state: Any, payloads: list[Any], scope: Scope) -> Any:
    from arco_core.catalog.fold import fold

    envelopes = [
        make_catalog_event(p, tenant_id=scope.tenant_id, workspace_id=scope.workspace_id)
        for p in payloads
    ]
    return fold(envelopes, state, tenant_id=scope.tenant_id, workspace_id=scope.workspace_id).state


async def publish_catalog(
    api: ScopedStorage, compactor: ScopedStorage, events: list[EventEnvelope]
) -> int:
    writer = LedgerWriter(api, "catalog", SystemClock())
    paths = [await writer.append(e) for e in events]
    engine = Compactor(compactor, CatalogAdapter())
    await engine.open()
    result = await engine.compact(paths)
    assert result.seq is not None
    return result.seq


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


async def put_user_file(store: Any, scope: Scope, path: str, data: bytes) -> None:
    """User data is written by workers, not by the api's roles: straight to the store."""
    import obstore

    await obstore.put_async(store, scope.prefix + path, data)


async def hash_store(store: Any) -> dict[str, str]:
    """sha256 of every object in the store (the byte-identical check)."""
    import obstore

    out: dict[str, str] = {}
    async for chunk in obstore.list(store):
        for meta in chunk:
            data = await obstore.get_async(store, meta["path"])
            out[meta["path"]] = hashlib.sha256(bytes(await data.bytes_async())).hexdigest()
    return out
