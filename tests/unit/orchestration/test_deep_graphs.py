"""A deep asset graph is validated without recursion (a 1,000+ chain was a 500)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from arco_core.errors import InvalidArgument
from arco_core.orchestration.deployments import validate_manifest
from arco_sdk import asset
from arco_sdk.manifest import AssetGraph, GraphError, build_manifest

DEPTH = 3_000


def _chain_manifest(depth: int) -> dict[str, Any]:
    definitions = []
    for i in range(depth):

        def fn(ctx: Any) -> None:
            return None

        deps = [f"deep.link_{i - 1:04d}"] if i else []
        definitions.append(asset(namespace="deep", name=f"link_{i:04d}", deps=deps)(fn))
    manifest: dict[str, Any] = build_manifest(AssetGraph(definitions), code_version_id="deep")
    return manifest


def test_a_deep_chain_is_a_valid_manifest() -> None:
    manifest = _chain_manifest(DEPTH)
    assert len(manifest["assets"]) == DEPTH
    validate_manifest(manifest)


def test_a_deep_cycle_is_refused_with_a_short_message() -> None:
    manifest = copy.deepcopy(_chain_manifest(DEPTH))
    # close the chain: its first link now depends on its last.
    roots = [a for a in manifest["assets"] if not a.get("dependencies")]
    leaves = {a["key"]["name"] for a in manifest["assets"]} - {
        d["upstreamKey"]["name"] for a in manifest["assets"] for d in a.get("dependencies") or []
    }
    (root,) = roots
    (leaf_name,) = leaves
    leaf = next(a for a in manifest["assets"] if a["key"]["name"] == leaf_name)
    root["dependencies"] = [{**leaf["dependencies"][0], "upstreamKey": leaf["key"]}]
    with pytest.raises(
        InvalidArgument, match=rf"form a cycle: .* -> \.\.\. -> .*\({DEPTH} assets\)"
    ):
        validate_manifest(manifest)


def test_the_sdk_reports_a_deep_cycle() -> None:
    definitions = []
    for i in range(DEPTH):

        def fn(ctx: Any) -> None:
            return None

        upstream = f"deep.link_{(i - 1) % DEPTH:04d}"
        definitions.append(asset(namespace="deep", name=f"link_{i:04d}", deps=[upstream])(fn))
    with pytest.raises(GraphError, match="dependency cycle"):
        AssetGraph(definitions)
