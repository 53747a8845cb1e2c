"""``@sensor``: discovery, the manifest entry deploy validates, and the answer a worker
sends for one evaluation (a sync or async function, a cursor that stays on None)."""

from __future__ import annotations

import pytest

from arco_core.orchestration.deployments import validate_manifest
from arco_sdk import RunRequest, SensorContext, SensorResult, sensor
from arco_sdk.errors import GraphError
from arco_sdk.manifest import AssetGraph, build_manifest, discover
from arco_sdk.sensors import SensorDefinition, discover_sensors

MODULE = "tests.integration.e2e_assets.sensed"


def test_discovered_sensors_deploy_with_the_manifest() -> None:
    (found,) = discover_sensors(MODULE)
    assert (found.id, found.minimum_interval_seconds, found.assets) == (
        "file-counter",
        1,
        ("sensed.files",),
    )
    definitions, _ = discover(MODULE)
    manifest = build_manifest(AssetGraph(definitions), sensors=[found], code_version_id="v1")
    assert manifest["sensors"] == [
        {
            "id": "file-counter",
            "kind": "poll",
            "minimumIntervalSeconds": 1,
            "assets": ["sensed.files"],
        }
    ]
    validate_manifest(manifest)  # what the api checks on deploy
    stray = SensorDefinition("stray", None, assets=("nowhere.x",), kind="push")
    with pytest.raises(GraphError):
        build_manifest(AssetGraph(definitions), sensors=[stray])


async def test_an_evaluation_answers_with_the_cursor_and_run_requests() -> None:
    @sensor("counter", assets=["raw.events"])
    def counter(context: SensorContext) -> SensorResult:
        n = int(context.cursor or 0) + 1
        return SensorResult(cursor=str(n), run_requests=[RunRequest(f"n-{n}", labels={"k": "v"})])

    @sensor()
    async def quiet_one(context: SensorContext) -> None:
        return None

    assert await counter.evaluate("4") == {
        "cursor": "5",
        "runRequests": [
            {"runKey": "n-5", "assets": ["raw.events"], "partitions": [], "labels": {"k": "v"}}
        ],
    }
    assert quiet_one.id == "quiet-one"
    assert await quiet_one.evaluate("c") == {"cursor": "c", "runRequests": []}
    with pytest.raises(ValueError):
        sensor("bad", minimum_interval_seconds=0)(lambda context: None)
