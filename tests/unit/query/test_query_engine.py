"""The read-only engine: attacks, limits, per-version caching and time travel."""

from __future__ import annotations

import asyncio
import json

import pyarrow as pa
import pytest

from arco_core.errors import InvalidArgument
from arco_core.paths import Scope
from arco_core.query import QueryLimits, ResultFormat, check_select_only
from arco_core.storage import Role
from tests.unit.orchestration.orch_support import Events
from tests.unit.query.conftest import SALES_PATH, World, sales_table
from tests.unit.query.query_support import (
    catalog_events_for_table,
    hash_store,
    parquet_bytes,
    publish_catalog,
    publish_orchestration,
    put_user_file,
    run_history,
)

JSON = ResultFormat.JSON


def rows(data: bytes) -> list[dict[str, object]]:
    return json.loads(data)  # type: ignore[no-any-return]


ATTACKS: list[tuple[str, str]] = [
    # DDL / DML / statements
    ("CREATE TABLE evil AS SELECT 1", "SELECT/CTE"),
    ("CREATE TABLE evil2 (x INT)", "SELECT/CTE"),
    ("CREATE VIEW v AS SELECT * FROM system.orchestration.runs", "SELECT/CTE"),
    ("DROP TABLE system.orchestration.runs", "SELECT/CTE"),
    ("INSERT INTO system.orchestration.runs SELECT * FROM system.orchestration.runs", "SELECT/CTE"),
    ("DELETE FROM system.orchestration.runs", "SELECT/CTE"),
    ("UPDATE system.orchestration.runs SET state = 'X'", "SELECT/CTE"),
    ("COPY (SELECT 1) TO '/tmp/arco_copy_attack.parquet' STORED AS PARQUET", "SELECT/CTE"),
    ("EXPLAIN ANALYZE COPY (SELECT 1) TO '/tmp/arco_copy_attack2.parquet'", "SELECT/CTE"),
    ("CREATE EXTERNAL TABLE pw (a VARCHAR) STORED AS CSV LOCATION '/etc/passwd'", "SELECT/CTE"),
    ("SET datafusion.execution.batch_size = 1", "SELECT/CTE"),
    ("PREPARE p(INT) AS SELECT $1", "SELECT/CTE"),
    ("EXPLAIN SELECT 1", "SELECT/CTE"),
    ("DESCRIBE system.orchestration.runs", "SELECT/CTE"),
    ("SHOW TABLES", "SELECT/CTE"),
    ("VALUES (1)", "SELECT/CTE"),
    # multiple statements, including hidden behind comments and quoting
    ("SELECT 1; DROP TABLE system.orchestration.runs", "single-statement"),
    ("SELECT 1; SELECT 2;", "single-statement"),
    ("SELECT 1 -- harmless\n; CREATE TABLE x AS SELECT 1", "single-statement"),
    ("SELECT 1 /* ; */ ; COPY (SELECT 1) TO '/tmp/x.csv'", "single-statement"),
    ("/* SELECT */ CREATE TABLE x AS SELECT 1", "SELECT/CTE"),
    ("-- SELECT\nCREATE TABLE x AS SELECT 1", "SELECT/CTE"),
    ("SELECT 'it''s'; DROP TABLE t", "single-statement"),
    ('SELECT 1 AS ";"; DROP TABLE t', "single-statement"),
    ("SELECT 'unterminated", "unterminated"),
    ("SELECT 1 /* never closed", "unterminated"),
    ('SELECT "open', "unterminated"),
    # SELECT INTO creates a table
    ("SELECT * INTO evil FROM system.orchestration.runs", "INTO"),
    ("WITH x AS (SELECT 1 a) SELECT a INTO evil FROM x", "INTO"),
    # file / URL tables and table functions
    ("SELECT * FROM '/etc/passwd'", "not available"),
    ("SELECT * FROM 'file:///etc/hostname'", "not available"),
    ("SELECT * FROM 'http://127.0.0.1:9/x.parquet'", "not available"),
    ("SELECT * FROM read_parquet('/etc/passwd')", "table function"),
    ("SELECT * FROM read_csv('/etc/passwd')", "table function"),
    ("SELECT * FROM parquet_metadata('/etc/passwd')", "table function"),
    ("SELECT * FROM generate_series(1, 3)", "table function"),
    ("SELECT * FROM range(3)", "table function"),
    # non-allowlisted and internal tables
    ("SELECT * FROM system.orchestration.idempotency_keys", "idempotency_keys"),
    ("SELECT * FROM system.catalog.snapshots", "system.catalog.snapshots"),
    ("SELECT * FROM runs", "'runs' is not available"),
    ("SELECT * FROM ledger", "'ledger' is not available"),
    ("SELECT * FROM information_schema.tables", "information_schema.tables"),
    ("SELECT * FROM datafusion.public.x", "datafusion.public.x"),
    ('SELECT * FROM "system.orchestration.runs"', "system.orchestration.runs"),
    # another tenant's data cannot even be named
    ('SELECT * FROM "tenant=other"."workspace=ws".runs', "tenant=other"),
    # the redacted columns do not exist
    ("SELECT manifest_id FROM system.catalog.commits", "manifest_id"),
    ("SELECT event_witnesses_json FROM system.catalog.commits", "event_witnesses_json"),
    ("", "empty"),
    ("   ;  ", "empty"),
]


@pytest.mark.parametrize(("sql", "needle"), ATTACKS)
async def test_attack_is_invalid_argument_with_a_clear_message(
    world: World, sql: str, needle: str
) -> None:
    engine = world.engine()
    with pytest.raises(InvalidArgument) as info:
        await engine.query(sql, JSON)
    assert needle.lower() in info.value.message.lower(), info.value.message
    engine.close()


async def test_attacks_leave_every_stored_byte_identical(any_world: World) -> None:
    """Every attack on every backend; the store is hashed before and after."""
    before = await hash_store(any_world.backend.store)
    engine = any_world.engine()
    data = any_world.data()
    for sql, _ in ATTACKS:
        with pytest.raises(InvalidArgument):
            await engine.query(sql, JSON)
        with pytest.raises(InvalidArgument):
            await data.query(sql, JSON)
    # and a few valid queries for good measure
    await engine.query("SELECT * FROM system.orchestration.tasks", JSON)
    await data.query("SELECT count(*) FROM lake.sales.orders", JSON)
    assert await hash_store(any_world.backend.store) == before
    engine.close()
    data.close()


async def test_copy_never_writes_a_file(world: World, tmp_path: object) -> None:
    import pathlib

    target = pathlib.Path(str(tmp_path)) / "copied.parquet"
    engine = world.engine()
    for sql in (
        f"COPY (SELECT 1) TO '{target}' STORED AS PARQUET",
        f"SELECT 1 UNION ALL SELECT 2; COPY (SELECT 1) TO '{target}'",
    ):
        with pytest.raises(InvalidArgument):
            await engine.query(sql, JSON)
    assert not target.exists()


async def test_system_tables_answer_with_the_published_state(world: World) -> None:
    engine = world.engine()
    runs = rows(
        (
            await engine.query(
                "SELECT run_id, state FROM system.orchestration.runs ORDER BY run_id", JSON
            )
        ).data
    )
    assert runs == [{"run_id": "r1", "state": "SUCCEEDED"}, {"run_id": "r2", "state": "SUCCEEDED"}]
    result = await engine.query(
        "WITH t AS (SELECT run_id, count(*) n FROM system.orchestration.tasks GROUP BY run_id) "
        "SELECT * FROM t ORDER BY run_id",
        JSON,
    )
    assert rows(result.data) == [{"run_id": "r1", "n": 3}, {"run_id": "r2", "n": 2}]
    assert result.state_versions == {"orchestration": world.orch_seqs[-1]}
    assert result.tables == ("system.orchestration.tasks",)
    tables = rows((await engine.query("SELECT name, format FROM catalog.tables", JSON)).data)
    assert tables == [{"name": "orders", "format": "parquet"}]
    commits = rows((await engine.query("SELECT * FROM system.catalog.commits", JSON)).data)
    assert commits and "manifest_id" not in commits[0]
    assert "event_witnesses_json" not in commits[0]


async def test_arrow_ipc_stream_is_the_default(world: World) -> None:
    result = await world.engine().query("SELECT run_id FROM system.orchestration.runs")
    assert result.content_type == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(result.data).read_all()
    assert sorted(table.column("run_id").to_pylist()) == ["r1", "r2"]


async def test_only_referenced_tables_are_registered(world: World) -> None:
    engine = world.engine()
    await engine.query("SELECT count(*) FROM system.orchestration.runs", JSON)
    (session,) = engine._sessions.values()
    assert session.registered == {("system", "orchestration", "runs")}
    # the catalog domain was not even loaded
    assert world.provider.cached() == [("orchestration", world.orch_seqs[-1])]


async def test_row_limit_truncates_and_flags(world: World) -> None:
    engine = world.engine(QueryLimits(max_rows=3))
    result = await engine.query("SELECT * FROM system.orchestration.tasks", JSON)
    assert result.row_count == 3 and result.truncated
    assert len(rows(result.data)) == 3
    exact = await world.engine(QueryLimits(max_rows=5)).query(
        "SELECT * FROM system.orchestration.tasks", JSON
    )
    assert exact.row_count == 5 and not exact.truncated


async def test_result_byte_limit(world: World) -> None:
    engine = world.engine(QueryLimits(max_result_bytes=200))
    with pytest.raises(InvalidArgument, match="exceeds max size"):
        await engine.query("SELECT * FROM system.orchestration.tasks", JSON)


def test_sql_length_limit() -> None:
    long_sql = "SELECT 1" + " " * 10_000
    with pytest.raises(InvalidArgument, match="10000 bytes"):
        check_select_only(long_sql)
    check_select_only("SELECT 1" + " " * 9_000)


async def test_timeout(world: World) -> None:
    engine = world.engine(QueryLimits(timeout_s=0.2))
    started = asyncio.get_running_loop().time()
    with pytest.raises(InvalidArgument, match="timed out"):
        # 5 rows joined 10 times, every combination materialised: ~2 s of work
        n = 10
        joins = ", ".join(f"system.orchestration.tasks t{i}" for i in range(n))
        key = ", ".join(f"t{i}.task_key" for i in range(n))
        await engine.query(f"SELECT count(DISTINCT concat({key})) FROM {joins}", JSON)
    assert asyncio.get_running_loop().time() - started < 2.0


async def test_comments_and_quoting_in_valid_queries(world: World) -> None:
    engine = world.engine()
    sql = (
        "/* leading comment; with a semicolon */ -- and a line comment; too\n"
        'SELECT \'a;b\' AS "semi;colon", run_id FROM "system"."orchestration"."runs" '
        "WHERE run_id = 'r1';  -- trailing\n"
    )
    assert rows((await engine.query(sql, JSON)).data) == [{"semi;colon": "a;b", "run_id": "r1"}]


async def test_sessions_are_cached_per_manifest_version(world: World) -> None:
    engine = world.engine()
    sql = "SELECT count(*) AS n FROM system.orchestration.tasks"
    first = await engine.query(sql, JSON)
    second = await engine.query(sql, JSON)
    assert not first.cached and second.cached
    assert world.provider.stats["conversions"] == 1 and engine.stats["sessions_created"] == 1
    # a new publish is a new version: loaded once, then cached again
    api = world.backend.storage(Role.API, scope=world.scope)
    comp = world.backend.storage(Role.COMPACTOR, scope=world.scope)
    ev = Events(start_ms=1_767_225_700_000)
    seq = await publish_orchestration(api, comp, run_history(ev, "r3", ["p", "q"]))
    third = await engine.query(sql, JSON)
    assert not third.cached and rows(third.data) == [{"n": 7}]
    assert third.state_versions == {"orchestration": seq}
    assert (await engine.query(sql, JSON)).cached
    assert world.provider.stats["conversions"] == 2


async def test_time_travel_reads_an_earlier_manifest(world: World) -> None:
    engine = world.engine()
    sql = "SELECT run_id FROM system.orchestration.runs ORDER BY run_id"
    first_seq, head_seq = world.orch_seqs
    then = await engine.query(sql, JSON, as_of=first_seq)
    assert rows(then.data) == [{"run_id": "r1"}]
    assert then.state_versions == {"orchestration": first_seq}
    now = await engine.query(sql, JSON)
    assert rows(now.data) == [{"run_id": "r1"}, {"run_id": "r2"}]
    assert now.state_versions == {"orchestration": head_seq}
    with pytest.raises(InvalidArgument, match="as_of 99"):
        await engine.query(sql, JSON, as_of=99)


async def test_query_data_reads_registered_parquet(world: World) -> None:
    data = world.data()
    result = await data.query(
        "SELECT region, count(*) AS n FROM lake.sales.orders GROUP BY region ORDER BY region",
        JSON,
    )
    assert [r["n"] for r in rows(result.data)] == [143, 143, 143, 143, 143, 143, 142]
    assert result.tables == ("lake.sales.orders",)
    assert not result.cached
    again = await data.query("SELECT max(id) AS m FROM lake.sales.orders", JSON)
    assert again.cached and rows(again.data) == [{"m": 999}]
    assert data.stats["file_reads"] == 1


@pytest.mark.parametrize(
    ("sql", "needle"),
    [
        ("SELECT * FROM orders", "fully qualified"),
        ("SELECT * FROM sales.orders", "fully qualified"),
        ("SELECT * FROM lake.sales.missing", "lake.sales.missing"),
        ("SELECT * FROM system.orchestration.runs", "system.orchestration.runs"),
        ("SELECT * FROM read_parquet('data/sales/q1.parquet')", "table function"),
        ("SELECT * FROM 'data/sales/q1.parquet'", "data/sales/q1.parquet"),
    ],
)
async def test_query_data_refuses_unregistered_references(
    world: World, sql: str, needle: str
) -> None:
    with pytest.raises(InvalidArgument) as info:
        await world.data().query(sql, JSON)
    assert needle in info.value.message


@pytest.mark.parametrize(
    ("location", "needle"),
    [
        ("s3://bucket/x.parquet", "URIs"),
        ("file:///etc/passwd.parquet", "URIs"),
        ("tenant=other/workspace=ws/data/x.parquet", "outside this workspace"),
        ("../tenant=other/workspace=ws/x.parquet", "invalid location"),
        ("data/dir/", "invalid location"),
        ("data/sales/q1.csv", "single .parquet file"),
        ("ledger/orchestration/x.parquet", "internal state"),
        ("state/orchestration/x.parquet", "internal state"),
    ],
)
async def test_query_data_refuses_bad_locations(world: World, location: str, needle: str) -> None:
    api = world.backend.storage(Role.API, scope=world.scope)
    comp = world.backend.storage(Role.COMPACTOR, scope=world.scope)
    events = await catalog_events_for_table(
        world.reader, world.scope, "lake", "sales", "bad", location, [("id", "long")]
    )
    await publish_catalog(api, comp, events)
    with pytest.raises(InvalidArgument) as info:
        await world.data().query("SELECT * FROM lake.sales.bad", JSON)
    assert needle in info.value.message


async def test_query_data_size_and_count_limits(world: World) -> None:
    limits = QueryLimits(max_table_bytes=100)
    with pytest.raises(InvalidArgument, match="limit is 100 bytes"):
        await world.data(limits).query("SELECT * FROM lake.sales.orders", JSON)
    size = (await world.reader.head(SALES_PATH)).size  # type: ignore[union-attr]
    limits = QueryLimits(max_total_bytes=size + 1)
    # two distinct tables over the total limit
    api = world.backend.storage(Role.API, scope=world.scope)
    comp = world.backend.storage(Role.COMPACTOR, scope=world.scope)
    await put_user_file(
        world.backend.store, world.scope, "data/sales/q2.parquet", parquet_bytes(sales_table())
    )
    events = await catalog_events_for_table(
        world.reader,
        world.scope,
        "lake",
        "sales",
        "orders2",
        "data/sales/q2.parquet",
        [("id", "long")],
    )
    await publish_catalog(api, comp, events)
    with pytest.raises(InvalidArgument, match="exceed"):
        await world.data(limits).query(
            "SELECT count(*) FROM lake.sales.orders a JOIN lake.sales.orders2 b ON a.id = b.id",
            JSON,
        )
    with pytest.raises(InvalidArgument, match="at most 1 tables"):
        await world.data(QueryLimits(max_data_tables=1)).query(
            "SELECT count(*) FROM lake.sales.orders a JOIN lake.sales.orders2 b ON a.id = b.id",
            JSON,
        )


async def test_query_data_time_travel(world: World) -> None:
    data = world.data()
    # the second registration is not visible as of the first catalog manifest
    api = world.backend.storage(Role.API, scope=world.scope)
    comp = world.backend.storage(Role.COMPACTOR, scope=world.scope)
    events = await catalog_events_for_table(
        world.reader, world.scope, "lake", "sales", "again", SALES_PATH, [("id", "long")]
    )
    await publish_catalog(api, comp, events)
    assert rows((await data.query("SELECT count(*) AS n FROM lake.sales.again", JSON)).data)
    with pytest.raises(InvalidArgument, match=r"lake\.sales\.again"):
        await data.query(
            "SELECT count(*) AS n FROM lake.sales.again", JSON, as_of=world.catalog_seqs[0]
        )


async def test_another_tenants_table_cannot_be_read(world: World) -> None:
    """A location naming another tenant's prefix is refused; its data is never read."""
    other = Scope("other", "ws")
    await put_user_file(world.backend.store, other, SALES_PATH, parquet_bytes(sales_table(5)))
    api = world.backend.storage(Role.API, scope=world.scope)
    comp = world.backend.storage(Role.COMPACTOR, scope=world.scope)
    events = await catalog_events_for_table(
        world.reader,
        world.scope,
        "lake",
        "sales",
        "stolen",
        f"{other.prefix}{SALES_PATH}",
        [("id", "long")],
    )
    await publish_catalog(api, comp, events)
    with pytest.raises(InvalidArgument, match="outside this workspace"):
        await world.data().query("SELECT * FROM lake.sales.stolen", JSON)
