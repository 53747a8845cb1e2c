"""A poll sensor and the asset it runs (namespace ``sensed``), for the sensor e2e test.

``file-counter`` sees one new "file" per evaluation until three: each evaluation advances
the cursor and asks for one run; from then on it reports no new data.
"""

from __future__ import annotations

import pyarrow as pa

from arco_sdk import AssetContext, RunRequest, SensorContext, SensorResult, asset, sensor

FILES = 3


@asset(namespace="sensed")
def files(ctx: AssetContext) -> pa.Table:
    return pa.table({"run": pa.array([ctx.run_id])})


@sensor("file-counter", minimum_interval_seconds=1, assets=["sensed.files"])
def file_counter(context: SensorContext) -> SensorResult:
    seen = int(context.cursor or 0)
    if seen >= FILES:
        return SensorResult(cursor=context.cursor)
    return SensorResult(cursor=str(seen + 1), run_requests=[RunRequest(f"file-{seen + 1}")])
