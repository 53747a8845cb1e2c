"""Asset definitions: the ``@asset`` decorator, keys, partitions, policies, checks, and
what an asset function receives (:class:`AssetContext`, :class:`AssetInput`) and returns
(:class:`AssetResult`, a ``pyarrow.Table`` or ``None``).

An asset is a function. Its first parameter may be the context (named ``ctx`` or
``context``, or annotated :class:`AssetContext`); every other parameter is an upstream
input, named after the upstream asset (``def cleaned(ctx, raw_events)``) or bound
explicitly with ``deps={"events": "raw.events"}``. At run time each input parameter gets
an :class:`AssetInput` that reads what the upstream wrote.

Definitions are plain values: ``@asset`` registers nothing globally. Discovery
(:mod:`arco_sdk.manifest`) finds them as module attributes.

The pieces live in submodules (``keys``, ``partitions``, ``policies``, ``checks``,
``context``, ``definition``); this package re-exports the public ones.
"""

from __future__ import annotations

from arco_sdk.assets.checks import Check, NotNullCheck, RowCountCheck
from arco_sdk.assets.context import AssetContext, AssetInput, AssetResult, TaskLogger
from arco_sdk.assets.definition import AssetDefinition, asset
from arco_sdk.assets.keys import AssetKey
from arco_sdk.assets.partitions import (
    DailyPartition,
    HourlyPartition,
    PartitionDimension,
    StaticPartition,
)
from arco_sdk.assets.policies import ExecutionPolicy, IoConfig, Resources

__all__ = [
    "AssetContext",
    "AssetDefinition",
    "AssetInput",
    "AssetKey",
    "AssetResult",
    "Check",
    "DailyPartition",
    "ExecutionPolicy",
    "HourlyPartition",
    "IoConfig",
    "NotNullCheck",
    "PartitionDimension",
    "Resources",
    "RowCountCheck",
    "StaticPartition",
    "TaskLogger",
    "asset",
]
