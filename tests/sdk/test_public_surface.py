"""The SDK's public face: what ``arco_sdk`` exports, and that each export says what it is."""

from __future__ import annotations

import inspect

import arco_sdk

EXPORTED = [
    "ArcoApiError",
    "ArcoClient",
    "ArcoConnectionError",
    "AssetContext",
    "AssetDefinition",
    "AssetDefinitionError",
    "AssetGraph",
    "AssetInput",
    "AssetKey",
    "AssetResult",
    "CallbackClient",
    "CallbackRejected",
    "CancelledRun",
    "Check",
    "Column",
    "ConfigurationError",
    "DailyPartition",
    "DataQualityError",
    "DeployedManifest",
    "DiscoveryError",
    "ExecutionPolicy",
    "GraphError",
    "HourlyPartition",
    "InfrastructureError",
    "IoConfig",
    "LogPage",
    "Manifest",
    "ManifestSummary",
    "Namespace",
    "NonRetryableError",
    "NotNullCheck",
    "ParquetStore",
    "PartitionDimension",
    "Resources",
    "RetryAttribution",
    "RetryableError",
    "RowCountCheck",
    "Run",
    "RunPage",
    "RunRequest",
    "RunSummary",
    "Schedule",
    "SensorContext",
    "SensorDefinition",
    "SensorResult",
    "SkipAttribution",
    "StaticPartition",
    "StoredLogs",
    "Table",
    "TaskCancelled",
    "TaskCounts",
    "TaskFailure",
    "TaskSummary",
    "TriggeredRun",
    "asset",
    "build_manifest",
    "discover",
    "manifest_fingerprint",
    "sensor",
]


def test_all_is_pinned() -> None:
    # A change here is a change of the public SDK: review it as one.
    assert sorted(arco_sdk.__all__) == EXPORTED
    assert len(set(arco_sdk.__all__)) == len(arco_sdk.__all__)


def test_every_export_resolves_and_has_a_docstring() -> None:
    undocumented = [
        name
        for name in arco_sdk.__all__
        if not (inspect.getdoc(getattr(arco_sdk, name)) or "").strip()
    ]
    assert undocumented == []


def test_every_public_client_method_is_documented_and_annotated() -> None:
    problems = []
    for name, method in inspect.getmembers(arco_sdk.ArcoClient, inspect.isfunction):
        if name.startswith("_"):
            continue
        if not (inspect.getdoc(method) or "").strip():
            problems.append(f"{name}: no docstring")
        if inspect.signature(method).return_annotation is inspect.Signature.empty:
            problems.append(f"{name}: no return annotation")
    assert problems == []
