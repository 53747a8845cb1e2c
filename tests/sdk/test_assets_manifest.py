"""@asset, discovery, graph validation and the deploy manifest."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from arco_core.canonical_json import canonical_dumps
from arco_sdk import (
    AssetContext,
    AssetDefinitionError,
    AssetGraph,
    AssetKey,
    DailyPartition,
    GraphError,
    NotNullCheck,
    RowCountCheck,
    StaticPartition,
    asset,
    build_manifest,
    discover,
    manifest_fingerprint,
)
from arco_sdk.errors import DiscoveryError
from arco_sdk.local import materialize
from arco_sdk.manifest import asset_id


def test_bare_decorator_infers_key_description_and_location() -> None:
    @asset
    def orders(ctx: AssetContext) -> None:
        """Raw orders.

        More text."""

    assert orders.key == AssetKey("test_assets_manifest", "orders")
    assert orders.description == "Raw orders."
    assert orders.context_parameter == "ctx"
    assert orders.inputs == ()
    assert orders.file_path.endswith("test_assets_manifest.py") and orders.line_number > 0
    assert len(orders.transform_fingerprint) == 16
    assert orders.execution.to_wire() == {
        "maxRetries": 3,
        "retryDelaySeconds": 60,
        "timeoutSeconds": 3600,
        "heartbeatTimeoutSeconds": 300,
        "workerQueue": "default-queue",
    }


def test_options_and_explicit_deps() -> None:
    @asset(
        key="sales.daily",
        deps={"src": "raw.orders"},
        partitions=[DailyPartition(), StaticPartition("region", ["eu", "us"])],
        owners=["a@x.io"],
        tags={"tier": "gold"},
        checks=[RowCountCheck(min_rows=1), NotNullCheck(("id",))],
        max_retries=5,
        retry_delay_seconds=10,
        timeout_seconds=60,
        heartbeat_timeout_seconds=30,
        worker_queue="gpu",
    )
    def fn(context: AssetContext, src: object) -> None:
        pass

    assert fn.key == AssetKey("sales", "daily")
    assert fn.context_parameter == "context"
    assert [(s.parameter_name, str(s.key)) for s in fn.inputs] == [("src", "raw.orders")]
    assert fn.execution.worker_queue == "gpu" and fn.execution.max_retries == 5
    assert [c.name for c in fn.checks] == ["row_count", "not_null_id"]
    key = fn.partition_key(date="2026-01-02", region="eu")
    assert key.canonical() == "date=d:2026-01-02,region=s:ZXU"


def test_deps_bind_matching_parameters_and_keep_the_rest_ordering_only() -> None:
    @asset(namespace="m", deps=["raw.a", "raw.b"])
    def b(a: object) -> None:
        pass

    assert [(s.parameter_name, str(s.key)) for s in b.inputs] == [("a", "raw.a"), (None, "raw.b")]
    assert b.context_parameter is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": "Bad.Key"}, "invalid asset key"),
        ({"key": "nodot"}, "expected 'namespace.name'"),
        ({"deps": {"missing": "raw.x"}}, "does not have"),
        ({"max_retries": -1}, "max_retries"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"partitions": [DailyPartition(), DailyPartition()]}, "duplicate partition"),
    ],
)
def test_invalid_definitions(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(AssetDefinitionError, match=message):

        @asset(**kwargs)  # type: ignore[call-overload]
        def x(ctx: AssetContext) -> None:
            pass


def test_context_must_come_first() -> None:
    with pytest.raises(AssetDefinitionError, match="must come first"):

        @asset
        def x(a: object, ctx: AssetContext) -> None:
            pass


def test_calling_the_definition_calls_the_function() -> None:
    @asset
    def plus_one() -> int:
        return 42

    assert plus_one() == 42


# -- graph ----------------------------------------------------------------------------------------


def _defs() -> list[object]:
    @asset(namespace="raw")
    def events(ctx: AssetContext) -> None: ...

    @asset(namespace="staging")
    def cleaned(ctx: AssetContext, events: object) -> None: ...

    @asset(namespace="mart")
    def report(ctx: AssetContext, cleaned: object, events: object) -> None: ...

    return [report, cleaned, events]


def test_graph_resolves_parameters_and_orders_topologically() -> None:
    graph = AssetGraph(_defs())  # type: ignore[arg-type]
    assert [str(k) for k in graph.topological_order()] == [
        "raw.events",
        "staging.cleaned",
        "mart.report",
    ]
    deps = graph.upstream(AssetKey("mart", "report"))
    assert [(str(d.upstream), d.parameter_name) for d in deps] == [
        ("raw.events", "events"),
        ("staging.cleaned", "cleaned"),
    ]


def test_graph_reports_every_problem_naming_assets() -> None:
    @asset(namespace="a")
    def x(ctx: AssetContext, y: object) -> None: ...

    @asset(namespace="a")
    def y(ctx: AssetContext, x: object) -> None: ...

    @asset(namespace="a")
    def z(ctx: AssetContext, ghost: object) -> None: ...

    @asset(namespace="a", deps=["b.missing"])
    def w(ctx: AssetContext) -> None: ...

    with pytest.raises(GraphError) as info:
        AssetGraph([x, y, z, w])
    problems = info.value.problems
    assert any("a.z" in p and "'ghost'" in p for p in problems)
    assert any("a.w depends on unknown asset b.missing" in p for p in problems)
    with pytest.raises(GraphError, match=r"dependency cycle: a\.(x|y) -> a\.(x|y) -> a\.(x|y)"):
        AssetGraph([x, y])


def test_graph_duplicate_and_ambiguous_keys() -> None:
    @asset(key="a.same")
    def one(ctx: AssetContext) -> None: ...

    @asset(key="a.same")
    def two(ctx: AssetContext) -> None: ...

    with pytest.raises(GraphError, match=r"duplicate asset key a\.same"):
        AssetGraph([one, two])

    @asset(key="p.thing")
    def t1(ctx: AssetContext) -> None: ...

    @asset(key="q.thing")
    def t2(ctx: AssetContext) -> None: ...

    @asset(key="r.user")
    def user(ctx: AssetContext, thing: object) -> None: ...

    with pytest.raises(GraphError, match="ambiguous"):
        AssetGraph([t1, t2, user])
    # The namespace_name spelling disambiguates.

    @asset(key="r.user2")
    def user2(ctx: AssetContext, p_thing: object) -> None: ...

    assert AssetGraph([t1, t2, user2]).upstream(user2.key)[0].upstream == t1.key


def test_partition_compatibility_is_checked() -> None:
    @asset(key="a.daily", partitions=DailyPartition())
    def daily(ctx: AssetContext) -> None: ...

    @asset(key="a.total")
    def total(ctx: AssetContext, daily: object) -> None: ...

    with pytest.raises(GraphError, match=r"a\.total reads a\.daily"):
        AssetGraph([daily, total])


# -- discovery ---------------------------------------------------------------------------------------


def _write_pkg(root: Path, name: str, files: dict[str, str]) -> Path:
    pkg = root / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for filename, source in files.items():
        (pkg / filename).write_text(textwrap.dedent(source))
    return pkg


def test_discover_by_path_and_module(tmp_path: Path) -> None:
    pkg = _write_pkg(
        tmp_path,
        "disc_pkg_a",
        {
            "raw.py": """
                from arco_sdk import asset
                @asset
                def events(ctx): ...
            """,
            "staging.py": """
                from arco_sdk import asset
                from disc_pkg_a.raw import events as imported_again
                @asset
                def cleaned(ctx, events): ...
            """,
            "test_ignored.py": "raise RuntimeError('tests are not imported')\n",
        },
    )
    definitions, _ = discover(pkg)
    assert [str(d.key) for d in definitions] == ["raw.events", "staging.cleaned"]
    again, _ = discover("disc_pkg_a")
    assert [str(d.key) for d in again] == ["raw.events", "staging.cleaned"]


def test_discover_reports_import_failures(tmp_path: Path) -> None:
    pkg = _write_pkg(tmp_path, "disc_pkg_b", {"bad.py": "import no_such_module_xyz\n"})
    with pytest.raises(DiscoveryError, match=r"disc_pkg_b\.bad: ModuleNotFoundError"):
        discover(pkg)


def test_discover_duplicate_keys_name_both_locations(tmp_path: Path) -> None:
    pkg = _write_pkg(
        tmp_path,
        "disc_pkg_c",
        {
            "one.py": "from arco_sdk import asset\n@asset(key='x.same')\ndef a(ctx): ...\n",
            "two.py": "from arco_sdk import asset\n@asset(key='x.same')\ndef b(ctx): ...\n",
        },
    )
    with pytest.raises(GraphError) as info:
        discover(pkg)
    message = str(info.value)
    assert "one.py:2" in message and "two.py:2" in message


# -- manifest -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_graph() -> AssetGraph:
    definitions, _ = discover(Path(__file__).resolve().parents[2] / "examples" / "lakehouse_demo")
    return AssetGraph(definitions)


def test_manifest_shape(example_graph: AssetGraph, repo_root: Path) -> None:
    manifest = build_manifest(example_graph, base_dir=repo_root, deployed_by="ci")
    assert manifest["manifestVersion"] == "1.0"
    assert manifest["codeVersionId"].startswith("cv_")
    assert (
        manifest["deployedBy"] == "ci"
        and manifest["schedules"] == []
        and manifest["metadata"] == {}
    )
    assert "git" not in manifest and "deployedAt" not in manifest
    keys = [f"{a['key']['namespace']}.{a['key']['name']}" for a in manifest["assets"]]
    assert keys == sorted(keys) and len(keys) == 6
    cleaned = next(a for a in manifest["assets"] if a["key"]["name"] == "cleaned_events")
    assert set(cleaned) == {
        "key", "id", "description", "owners", "tags", "partitioning", "code", "execution",
        "io", "resources", "transformFingerprint", "checks", "dependencies",
    }  # fmt: skip
    assert cleaned["id"] == asset_id(AssetKey("staging", "cleaned_events"))
    assert cleaned["code"] == {
        "module": "lakehouse_demo.staging",
        "function": "cleaned_events",
        "filePath": "examples/lakehouse_demo/staging.py",
        "lineNumber": cleaned["code"]["lineNumber"],
    }
    assert cleaned["dependencies"] == [
        {"upstreamKey": {"namespace": "raw", "name": "events"}, "parameterName": "events", "mapping": "identity"},
        {"upstreamKey": {"namespace": "raw", "name": "users"}, "parameterName": "users", "mapping": "identity"},
    ]  # fmt: skip
    assert cleaned["checks"][0] == {"name": "row_count", "checkType": "row_count", "severity": "error", "phase": "post", "minRows": 1}  # fmt: skip
    assert cleaned["partitioning"] == {"isPartitioned": False, "dimensions": []}
    assert cleaned["execution"]["timeoutSeconds"] == 300


def test_manifest_is_deterministic_and_fingerprint_stable(
    example_graph: AssetGraph, repo_root: Path
) -> None:
    one = build_manifest(example_graph, base_dir=repo_root, deployed_by="ci")
    two = build_manifest(
        AssetGraph(reversed(list(example_graph.assets.values()))),
        base_dir=repo_root,
        deployed_by="ci",
    )
    assert canonical_dumps(one) == canonical_dumps(two)
    assert manifest_fingerprint(one) == manifest_fingerprint(two)
    changed = build_manifest(
        example_graph, base_dir=repo_root, deployed_by="ci", metadata={"k": "v"}
    )
    assert manifest_fingerprint(changed) != manifest_fingerprint(one)
    json.dumps(one)  # plain JSON


def test_fingerprint_follows_the_source(tmp_path: Path) -> None:
    source = "from arco_sdk import asset\n@asset(key='f.x')\ndef x(ctx):\n    return None\n"
    pkg = _write_pkg(tmp_path, "disc_pkg_fp", {"m.py": source})
    first, _ = discover(pkg)
    fp = first[0].transform_fingerprint
    (pkg / "m.py").write_text(source.replace("None", "1"))
    sys.modules.pop("disc_pkg_fp.m", None)
    second, _ = discover(pkg)
    assert second[0].transform_fingerprint != fp
    (pkg / "m.py").write_text(source)
    sys.modules.pop("disc_pkg_fp.m", None)
    third, _ = discover(pkg)
    assert third[0].transform_fingerprint == fp


def test_partitioned_manifest_entry() -> None:
    @asset(key="p.daily", partitions=[DailyPartition(), StaticPartition("region", ["us", "eu"])])
    def daily(ctx: AssetContext) -> None: ...

    entry = build_manifest(AssetGraph([daily]), deployed_by="x")["assets"][0]
    assert entry["partitioning"] == {
        "isPartitioned": True,
        "dimensions": [
            {"name": "date", "kind": "time", "granularity": "day"},
            {"name": "region", "kind": "static", "values": ["us", "eu"]},
        ],
    }


# -- the example pipeline, in process -------------------------------------------------------------------


def test_example_pipeline_materializes(example_graph: AssetGraph, tmp_path: Path) -> None:
    results = materialize(example_graph, tmp_path)
    counts = {str(k): r.row_count for k, r in results.items() if r}
    assert counts == {
        "raw.events": 5000,
        "raw.users": 200,
        "staging.cleaned_events": 4926,
        "marts.daily_metrics": 7,
        "marts.country_metrics": 5,
        "marts.report": 1,
    }
    report = pq.read_table(results[AssetKey("marts", "report")].output_path).to_pylist()[0]  # type: ignore[union-attr,arg-type]
    assert report["days"] == 7 and report["events"] == 4926
    # Deterministic: a second run produces identical numbers.
    again = materialize(example_graph, tmp_path / "again")
    assert pq.read_table(again[AssetKey("marts", "report")].output_path).to_pylist()[0] == report  # type: ignore[union-attr,arg-type]
