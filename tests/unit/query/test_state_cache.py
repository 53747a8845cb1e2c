"""The provider's LRU of loaded states: shared, coalesced, bounded, never a stale alias.

State is published by the real compactor on LocalStore; the counters are the provider's
(``loads``: states read from storage, ``conversions``: cache entries built).
"""

from __future__ import annotations

import asyncio
import json

import pytest

from arco_core.errors import InvalidArgument
from arco_core.projections import CatalogAdapter, OrchestrationAdapter
from arco_core.published import ProjectionReader
from arco_core.query import ReaderSnapshotProvider, ResultFormat
from arco_core.storage import Role
from tests.unit.orchestration.orch_support import Events
from tests.unit.query.conftest import SALES_PATH, World
from tests.unit.query.query_support import (
    catalog_events_for_table,
    publish_catalog,
    publish_orchestration,
    run_history,
)

JSON = ResultFormat.JSON
TASKS = "SELECT count(*) AS n FROM system.orchestration.tasks"


def rows(data: bytes) -> list[dict[str, object]]:
    return json.loads(data)  # type: ignore[no-any-return]


def provider(world: World, **bounds: int) -> ReaderSnapshotProvider:
    """A provider with fresh readers of the world's scope."""
    return ReaderSnapshotProvider(
        {
            "orchestration": ProjectionReader(world.reader, OrchestrationAdapter(), world.scope),
            "catalog": ProjectionReader(world.reader, CatalogAdapter(), world.scope),
        },
        **bounds,
    )


async def publish_run(world: World, run: str) -> int:
    api = world.backend.storage(Role.API, scope=world.scope)
    comp = world.backend.storage(Role.COMPACTOR, scope=world.scope)
    ev = Events(start_ms=1_767_225_700_000)
    return await publish_orchestration(api, comp, run_history(ev, run, ["p", "q"]))


async def register_table(world: World, name: str) -> int:
    api = world.backend.storage(Role.API, scope=world.scope)
    comp = world.backend.storage(Role.COMPACTOR, scope=world.scope)
    events = await catalog_events_for_table(
        world.reader, world.scope, "lake", "sales", name, SALES_PATH, [("id", "long")]
    )
    return await publish_catalog(api, comp, events)


async def test_concurrent_as_of_queries_on_one_version_do_one_load(world: World) -> None:
    """Both engines, eight queries at once, on a catalog version behind the head."""
    (old,) = world.catalog_seqs
    await register_table(world, "later")
    engine, data = world.engine(), world.data()
    answers = await asyncio.gather(
        *(
            engine.query("SELECT count(*) AS n FROM catalog.tables", JSON, as_of=old)
            for _ in "1234"
        ),
        *(
            data.query("SELECT count(*) AS n FROM lake.sales.orders", JSON, as_of=old)
            for _ in "1234"
        ),
    )
    assert [rows(a.data) for a in answers[:4]] == [[{"n": 1}]] * 4
    assert [rows(a.data) for a in answers[4:]] == [[{"n": 1000}]] * 4
    assert world.provider.stats["loads"] == 1
    assert world.provider.stats["conversions"] == 1
    # the later registration is not in that version
    with pytest.raises(InvalidArgument, match=r"lake\.sales\.later"):
        await data.query("SELECT count(*) FROM lake.sales.later", JSON, as_of=old)
    assert world.provider.stats["loads"] == 1
    engine.close()
    data.close()


async def test_the_head_is_converted_from_the_readers_state_once_for_both_engines(
    world: World,
) -> None:
    engine, data = world.engine(), world.data()
    await engine.query("SELECT count(*) FROM catalog.tables", JSON)
    await data.query("SELECT count(*) FROM lake.sales.orders", JSON)
    await engine.query("SELECT count(*) FROM system.catalog.columns", JSON)
    assert world.provider.stats["loads"] == 0
    assert world.provider.stats["conversions"] == 1
    assert world.provider.cached() == [("catalog", world.catalog_seqs[-1])]
    engine.close()
    data.close()


async def test_a_cached_head_is_not_an_alias_of_the_state_the_reader_advances(
    world: World,
) -> None:
    """The head entry must keep its version's rows after the reader applies new deltas
    to its own state in place; a query on the new head sees the new rows."""
    engine = world.engine()
    head = world.orch_seqs[-1]
    # only runs is referenced: a lazily converted entry would still hold the live state
    assert (
        len(rows((await engine.query("SELECT * FROM system.orchestration.runs", JSON)).data)) == 2
    )
    seq = await publish_run(world, "r3")
    moved = await engine.query(TASKS, JSON)
    assert rows(moved.data) == [{"n": 7}]
    assert moved.state_versions == {"orchestration": seq}
    then = await engine.query(TASKS, JSON, as_of=head)
    assert rows(then.data) == [{"n": 5}]
    assert then.state_versions == {"orchestration": head}
    # both heads were the reader's own state: nothing was read back from storage
    assert world.provider.stats["loads"] == 0
    engine.close()


async def test_query_data_sees_a_table_registered_after_the_head_was_cached(
    world: World,
) -> None:
    data = world.data()
    await data.query("SELECT count(*) FROM lake.sales.orders", JSON)
    await register_table(world, "fresh")
    answer = await data.query("SELECT count(*) AS n FROM lake.sales.fresh", JSON)
    assert rows(answer.data) == [{"n": 1000}]
    data.close()


async def test_the_lru_evicts_past_its_entry_bound(world: World) -> None:
    cache = provider(world, max_entries=2)
    first, head = world.orch_seqs
    (catalog,) = world.catalog_seqs
    await cache.head("orchestration")
    await cache.head("catalog")
    await cache.load("orchestration", first)
    await cache.load("orchestration", head)
    await cache.load("orchestration", first)  # a hit: first is now the most recent
    await cache.load("catalog", catalog)
    assert cache.cached() == [("orchestration", first), ("catalog", catalog)]
    assert cache.stats["evictions"] == 1 and cache.stats["hits"] == 1
    assert cache.stats["loads"] == 1  # the catalog head is the reader's, never read
    await cache.load("orchestration", head)  # evicted: converted again
    assert cache.stats["conversions"] == 4
    assert cache.cached() == [("catalog", catalog), ("orchestration", head)]


async def test_the_lru_evicts_past_its_row_bound_but_keeps_the_newest(world: World) -> None:
    first, head = world.orch_seqs
    sizes = provider(world)
    small = (await sizes.load("orchestration", first)).rows
    large = (await sizes.load("orchestration", head)).rows
    assert small < large
    cache = provider(world, max_rows=large)
    await cache.load("orchestration", first)
    await cache.load("orchestration", head)
    assert cache.cached() == [("orchestration", head)]
    tiny = provider(world, max_rows=1)
    await tiny.load("orchestration", head)
    assert tiny.cached() == [("orchestration", head)]
    await tiny.load("orchestration", first)
    assert tiny.cached() == [("orchestration", first)]


async def test_a_failed_load_is_shared_and_not_cached(world: World) -> None:
    cache = provider(world)
    outcomes = await asyncio.gather(
        *(cache.load("orchestration", 99) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(o, Exception) for o in outcomes)
    assert len({id(o) for o in outcomes}) == 1  # one attempt, its error given to each
    assert cache.cached() == []
    with pytest.raises(type(outcomes[0])):
        await cache.load("orchestration", 99)


async def test_a_cancelled_caller_does_not_cancel_the_load_others_wait_for(
    world: World,
) -> None:
    cache = provider(world)
    first = world.orch_seqs[0]
    leaving = asyncio.create_task(cache.load("orchestration", first))
    staying = asyncio.create_task(cache.load("orchestration", first))
    await asyncio.sleep(0)
    leaving.cancel()
    tables = await staying
    assert tables.seq == first and tables.table("runs").num_rows == 1
    assert cache.stats["loads"] == 1
