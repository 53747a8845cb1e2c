"""Run an asset graph in-process, in dependency order, without a mesh.

Meant for development and tests: the same functions, inputs, Parquet store and checks
the worker uses, but no callbacks, heartbeats or retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa

from arco_core.partition import PartitionKey
from arco_sdk.assets import (
    AssetContext,
    AssetDefinition,
    AssetInput,
    AssetKey,
    AssetResult,
)
from arco_sdk.assets.definition import run_checks
from arco_sdk.io import ParquetStore
from arco_sdk.manifest import AssetGraph

__all__ = ["materialize"]


def materialize(
    assets: AssetGraph | Iterable[AssetDefinition],
    output_dir: Path | str,
    *,
    selection: Sequence[str | AssetKey] | None = None,
    partition_key: PartitionKey | None = None,
    run_id: str = "local",
) -> dict[AssetKey, AssetResult | None]:
    """Materialize ``selection`` (default: everything) in topological order.

    Upstreams outside the selection must already have outputs in ``output_dir``.
    Exceptions propagate: the first failing asset stops the run.
    """
    graph = assets if isinstance(assets, AssetGraph) else AssetGraph(assets)
    store = ParquetStore(output_dir)
    wanted = {AssetKey.parse(k) for k in selection} if selection else set(graph.asset_keys())
    partition = partition_key or PartitionKey()
    results: dict[AssetKey, AssetResult | None] = {}
    for key in graph.topological_order():
        if key not in wanted:
            continue
        definition = graph.assets[key]
        names = {dim.name for dim in definition.partitions}
        own = PartitionKey(tuple((n, v) for n, v in partition if n in names))
        definition.validate_partition(own)
        context = AssetContext(asset_key=key, store=store, run_id=run_id, partition_key=own)
        kwargs: dict[str, object] = {}
        for dep in graph.upstream(key):
            if dep.parameter_name:
                up_names = {dim.name for dim in graph.assets[dep.upstream].partitions}
                up_key = PartitionKey(tuple((n, v) for n, v in own if n in up_names))
                kwargs[dep.parameter_name] = AssetInput(dep.upstream, up_key, store)
        if definition.context_parameter:
            kwargs[definition.context_parameter] = context
        value = definition.fn(**kwargs)
        if definition.is_async:
            value = asyncio.run(value)
        table: pa.Table | None = None
        result: AssetResult | None
        if isinstance(value, pa.Table):
            table = value
            result = context.write_parquet(value)
        elif value is None or isinstance(value, AssetResult):
            result = value
        else:
            raise TypeError(f"asset {key} returned {type(value).__name__}")
        run_checks(definition, result, table)
        results[key] = result
    return results
