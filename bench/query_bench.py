"""Query benchmark: latency of the read paths over a 1M-row registered Parquet table.

Run: ``.venv/bin/python bench/query_bench.py [--rows 1000000] [--iterations 30] [--browser]``

Starts real processes on loopback (orchestration + catalog compactors, api, gateway) on a
LocalStore in a temp dir, writes a 1M-row Parquet table under the scope and registers it
in the catalog (ledger events folded by the catalog compactor), then prints:

  * p50/p99 of a point lookup and a grouped aggregate through gRPC ``QueryData`` and
    through the gateway's REST ``/api/v1/query-data``, each as a ratio to the same path's
    ``SELECT 1`` (the transport floor) and to DataFusion on the same in-memory table
    in this process (the engine floor), all measured in this run;
  * first vs repeated query on the same manifest: the first ``QueryData`` on the table
    (reads and decodes the Parquet file) against the median repeated one (target: repeated
    <= 0.5x first); the same for ``Query`` over ``system.orchestration.tasks`` with a fresh
    engine in-process (domain load + session creation vs cached session);
  * with ``--browser``: the DuckDB-WASM time of a catalog query in the console (headless
    Chromium), next to the api's time for the same SQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path[:0] = [
    str(Path(__file__).resolve().parent.parent / "gen"),
    str(Path(__file__).resolve().parent.parent),
]

import pyarrow as pa  # noqa: E402
from arco.query.v1 import query_service_pb2 as query_pb  # noqa: E402
from arco.query.v1 import query_service_pb2_grpc as query_grpc  # noqa: E402

from tests.support.tls import mesh_channel  # noqa: E402

POINT = "SELECT * FROM lake.sales.big WHERE id = 987654"
GROUP = "SELECT region, count(*) AS n, avg(amount) AS a FROM lake.sales.big GROUP BY region"
FLOOR = "SELECT 1 AS one"


def big_table(rows: int) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "region": pa.array([f"region_{i % 500:03d}" for i in range(rows)]),
            "amount": pa.array([(i * 7919 % 1000) / 10 for i in range(rows)], pa.float64()),
            "ts": pa.array([1_767_225_600_000 + i for i in range(rows)], pa.int64()),
        }
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def timed(fn: Callable[[], Awaitable[object]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def rest(gateway: str, sql: str, route: str = "query-data") -> bytes:
    from tests.unit.orchestration.orch_support import TENANT, WORKSPACE

    request = urllib.request.Request(
        f"http://{gateway}/api/v1/{route}?format=json",
        data=json.dumps({"sql": sql}).encode(),
        headers={
            "content-type": "application/json",
            "x-tenant-id": TENANT,
            "x-workspace-id": WORKSPACE,
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return bytes(response.read())


def line(label: str, values: list[float], floor: float, engine: float | None) -> None:
    p50, p99 = pct(values, 0.5), pct(values, 0.99)
    engine_part = f"  {p50 / engine:6.1f}x engine floor" if engine else ""
    print(
        f"  {label:<34} p50 {p50:8.1f} ms  p99 {p99:8.1f} ms  "
        f"{p50 / floor:6.1f}x transport floor{engine_part}"
    )


async def main(rows: int, iterations: int, browser: bool) -> int:
    from datafusion import SessionContext

    from arco_core.paths import Scope
    from arco_core.projections import OrchestrationAdapter
    from arco_core.published import ProjectionReader
    from arco_core.query import QueryEngine, ReaderSnapshotProvider, ResultFormat
    from arco_core.storage import Role, ScopedStorage, open_object_store
    from tests.service.test_api_query import start_stack
    from tests.unit.orchestration.orch_support import TENANT, WORKSPACE
    from tests.unit.query.query_support import parquet_bytes, put_user_file

    tmp = Path(tempfile.mkdtemp(prefix="arco-query-bench-"))
    url = (tmp / "data").as_uri()
    print(f"query bench: {rows:,} rows, {iterations} iterations per figure, store {tmp}")
    stack = await start_stack(tmp, url, {}, gateway_env={"ARCO_GATEWAY_RATE_LIMIT_PER_MIN": "0"})
    try:
        table = big_table(rows)
        data = parquet_bytes(table)
        store = open_object_store(url, {})
        await put_user_file(store, Scope(TENANT, WORKSPACE), "data/big.parquet", data)
        await stack.register("big", "data/big.parquet")
        print(
            f"  table: {len(data) / 1e6:.1f} MB parquet, registered at catalog seq "
            f"{stack.catalog_seqs[-1]}"
        )
        gateway = stack.procs["gateway"].ready["http_address"]

        # Engine floor: DataFusion over the same in-memory table in this process.
        ctx = SessionContext()
        ctx.register_record_batches("big", [table.to_batches()])
        engine_floor = {}
        for name, sql in (("point", POINT), ("group", GROUP)):
            local = sql.replace("lake.sales.big", "big")
            ctx.sql(local).collect()
            values = []
            for _ in range(iterations):
                started = time.perf_counter()
                ctx.sql(local).collect()
                values.append((time.perf_counter() - started) * 1000)
            engine_floor[name] = pct(values, 0.5)

        async with mesh_channel(stack.api) as channel:
            stub = query_grpc.QueryServiceStub(channel)
            fmt = query_pb.RESULT_FORMAT_JSON

            async def grpc_data(sql: str) -> object:
                return await stub.QueryData(query_pb.QueryDataRequest(sql=sql, format=fmt))

            # First vs repeated (gRPC): the first QueryData decodes the file.
            started = time.perf_counter()
            await grpc_data(POINT)
            first = (time.perf_counter() - started) * 1000
            repeated = await timed(lambda: grpc_data(POINT), iterations)

            grpc_floor = pct(await timed(lambda: grpc_data(FLOOR), iterations), 0.5)
            grpc_point = await timed(lambda: grpc_data(POINT), iterations)
            grpc_group = await timed(lambda: grpc_data(GROUP), iterations)

        loop = asyncio.get_running_loop()

        async def rest_call(sql: str) -> object:
            return await loop.run_in_executor(None, rest, gateway, sql)

        rest_floor = pct(await timed(lambda: rest_call(FLOOR), iterations), 0.5)
        rest_point = await timed(lambda: rest_call(POINT), iterations)
        rest_group = await timed(lambda: rest_call(GROUP), iterations)

        print(
            f"\nfloors (p50): gRPC SELECT 1 {grpc_floor:.1f} ms, REST SELECT 1 "
            f"{rest_floor:.1f} ms, DataFusion in-process point "
            f"{engine_floor['point']:.1f} ms / group {engine_floor['group']:.1f} ms"
        )
        print("latency over the 1M-row table")
        line("gRPC QueryData point lookup", grpc_point, grpc_floor, engine_floor["point"])
        line("gRPC QueryData grouped aggregate", grpc_group, grpc_floor, engine_floor["group"])
        line("REST query-data point lookup", rest_point, rest_floor, engine_floor["point"])
        line("REST query-data grouped aggregate", rest_group, rest_floor, engine_floor["group"])

        median_repeated = statistics.median(repeated)
        ratio = median_repeated / first
        print("\nfirst vs repeated on the same manifest")
        print(
            f"  gRPC QueryData: first {first:.1f} ms, repeated p50 {median_repeated:.1f} ms "
            f"-> repeated/first = {ratio:.3f} (target <= 0.5: "
            f"{'PASS' if ratio <= 0.5 else 'FAIL'})"
        )

        # In-process Query over system tables: fresh engine, then the cached session.
        reader = ScopedStorage(store, Scope(TENANT, WORKSPACE), Role.READER)
        provider = ReaderSnapshotProvider(
            {"orchestration": ProjectionReader(reader, OrchestrationAdapter(), reader.scope)}
        )
        engine = QueryEngine(provider)
        sql = "SELECT state, count(*) AS n FROM system.orchestration.tasks GROUP BY state"
        first_q = (await engine.query(sql, ResultFormat.JSON)).elapsed_ms
        rep_q = statistics.median(
            [(await engine.query(sql, ResultFormat.JSON)).elapsed_ms for _ in range(iterations)]
        )
        engine.close()
        q_ratio = rep_q / first_q
        print(
            f"  Query system.orchestration.tasks (in-process): first {first_q:.1f} ms, "
            f"repeated p50 {rep_q:.1f} ms -> repeated/first = {q_ratio:.3f} "
            f"({'PASS' if q_ratio <= 0.5 else 'FAIL'})"
        )

        if browser:
            from tests.browser.test_console import PARITY, run_in_console

            browser_sql, server_sql = PARITY[1]
            _, _, wasm_ms = await run_in_console(gateway, browser_sql)
            api_ms = pct(
                await timed(
                    lambda: loop.run_in_executor(None, rest, gateway, server_sql, "query"),
                    iterations,
                ),
                0.5,
            )
            print("\nbrowser (catalog join, same snapshot)")
            print(
                f"  DuckDB-WASM in Chromium {wasm_ms:.1f} ms vs REST /query p50 "
                f"{api_ms:.1f} ms -> {wasm_ms / api_ms:.2f}x"
            )
        return 0 if ratio <= 0.5 and q_ratio <= 0.5 else 1
    finally:
        stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--browser", action="store_true", help="also time DuckDB-WASM")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.rows, args.iterations, args.browser)))
