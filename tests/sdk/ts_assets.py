"""Two assets for the TypeScript SDK test (tests/sdk/test_typescript_sdk.py): ``ts.source``
prints a line its log upload must carry, ``ts.doubled`` reads it."""

from __future__ import annotations

import pyarrow as pa

from arco_sdk import AssetContext, AssetInput, asset

LOG_LINE = "ts-sdk-source-says-hello"


@asset(namespace="ts")
def source(ctx: AssetContext) -> pa.Table:
    print(LOG_LINE, flush=True)
    return pa.table({"value": pa.array([21], pa.int64())})


@asset(namespace="ts")
def doubled(ctx: AssetContext, source: AssetInput) -> pa.Table:
    return pa.table({"value": pa.array([source.read()["value"][0].as_py() * 2], pa.int64())})
