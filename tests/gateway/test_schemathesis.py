"""Schemathesis against the OpenAPI document the real gateway serves, through the real mesh.

One mesh (compactors, api, gateway, dispatcher, sweeper as processes on loopback, no
workers) is seeded with real data (a namespace with a table and a Delta table with staged
payloads, a catalog with a schema, a deployed manifest with a daily-partitioned asset, a
run and task tokens for its tasks, a backfill of three days) and then fuzzed per operation family with the dev headers. Every generated request must get a response that is not a
5xx and that the document describes: a documented status code, the documented content
type and headers, a body valid against the response schema.

Cases mix positive and negative generation, with path parameters either pinned to the
seeded resources (to get past 404 into the real logic) or generated freely. The seed is
fixed, shrinking is off (a failure reports the raw case with its curl line), and each
family runs at least ``MIN_CASES_PER_FAMILY`` cases.

Not checked, on purpose: ``positive_data_acceptance`` (the document does not encode
every server-side validation, such as non-empty names or valid SQL, so schema-valid
requests may rightly get 400) and ``ignored_auth`` (in the dev posture the dev headers
authenticate whatever bearer token schemathesis makes up). Everything found so far is
pinned by tests/gateway/test_fuzz_regressions.py.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from arco_core.canonical_json import canonical_bytes
from arco_core.ids import callback_task_id, new_ulid
from arco_core.paths import Scope, run_key_reservation_path
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_core.tokens import TaskTokenSigner
from arco_sdk.manifest import AssetGraph, build_manifest, discover
from gateway.routes import Family, RouteSpec, route_table
from services.mesh import Mesh

SEED = 20261127
MIN_CASES_PER_FAMILY = 100
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
FAMILIES: dict[str, tuple[Family | str, ...]] = {
    "catalog": (Family.CATALOG, Family.LINEAGE),
    "orchestration": (Family.ORCHESTRATION, Family.MANIFESTS),
    "callbacks": (Family.CALLBACKS,),
    "query": (Family.QUERY,),
    "browser": (Family.BROWSER,),
    "delta": (Family.DELTA,),
    # An operation id: that operation alone, taken out of its Family's run.
    "run_key": ("backfill_run_key",),
    "backfills": (Family.ORCHESTRATION,),
    "schedules": (Family.ORCHESTRATION,),
    "sensors": (Family.ORCHESTRATION,),
}
# Families cut out of another by path: the backfill, schedule and sensor routes are
# orchestration routes, fuzzed on their own so each gets its own quota of cases.
PATH_FAMILIES = {"backfills": "/backfills", "schedules": "/schedules", "sensors": "/sensors"}
BACKFILL_ASSET = "sales.daily_orders"
# Fixed UUIDv7 Idempotency-Keys: commits get past the header check, and reuse them.
DELTA_KEYS = (
    "01890a5d-ac96-774b-bcce-b302099a8057",
    "01890a5d-ac96-774b-bcce-b302099a8058",
    "01890a5d-ac96-774b-bcce-b302099a8059",
)
# Run keys the seed reserves: by a trigger, and as a reservation with no fingerprint yet.
SEEDED_RUN_KEYS = ("fuzz-rk", "fuzz-legacy")
# Each operation runs a share of the family's quota, with headroom for hypothesis
# stopping early on small input spaces; the family total is asserted.
HEADROOM = 1.5
MIN_PER_OPERATION = 25

pytestmark = pytest.mark.timeout(240)


@dataclass
class Target:
    mesh: Mesh
    schema: Any
    dev_headers: dict[str, str]
    pins: dict[str, str]
    asset_keys: list[str]
    files: list[str]
    task_ids: list[str] = field(default_factory=list)
    task_tokens: dict[str, str] = field(default_factory=dict)
    staged: list[dict[str, str]] = field(default_factory=list)


def _seed(
    mesh: Mesh, base: str, dev_headers: dict[str, str]
) -> tuple[dict[str, str], list[str], list[str], list[str], list[dict[str, str]]]:
    """Real resources to pin path parameters and bodies to: (pins, asset keys, browsable
    files, callback task ids, staged Delta payloads)."""
    ws = f"{base}/api/v1/workspaces/{mesh.workspace_id}"
    with httpx.Client(headers=dev_headers, timeout=30) as http:

        def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
            response = http.post(url, json=body)
            assert response.status_code in {200, 201, 202}, (url, response.text)
            return dict(response.json())

        post(f"{base}/api/v1/namespaces", {"name": "fuzz"})
        post(
            f"{base}/api/v1/namespaces/fuzz/tables",
            {"name": "events", "columns": [{"name": "id", "data_type": "int64"}]},
        )
        deltas = post(
            f"{base}/api/v1/namespaces/fuzz/tables",
            {
                "name": "deltas",
                "format": "delta",
                "columns": [{"name": "id", "data_type": "int64"}],
            },
        )
        stage = f"{base}/api/v1/delta/tables/{deltas['id']}/commits/stage"
        staged = [post(stage, {"payload": f'{{"commitInfo": {{"n": {i}}}}}\n'}) for i in range(3)]
        post(f"{base}/api/v1/catalogs", {"name": "fuzzcat"})
        post(f"{base}/api/v1/catalogs/fuzzcat/schemas", {"name": "raw"})
        post(
            f"{base}/api/v1/catalogs/fuzzcat/schemas/raw/tables",
            {"name": "orders", "columns": [{"name": "id", "data_type": "int64"}]},
        )
        definitions, schedules = discover(["examples.lakehouse_demo", "examples.daily_sales"])
        graph = AssetGraph(definitions)
        manifest = build_manifest(graph, schedules=schedules, deployed_by="schemathesis")
        deployed = post(f"{ws}/manifests", manifest)
        keys = [str(key) for key in graph.asset_keys() if str(key) != BACKFILL_ASSET]
        run = post(f"{ws}/runs", {"selection": keys})
        post(f"{ws}/runs", {"selection": keys[:1], "runKey": SEEDED_RUN_KEYS[0]})
        backfill = post(
            f"{ws}/backfills",
            {
                "assetSelection": [BACKFILL_ASSET],
                "partitionSelector": {"type": "range", "start": "2026-01-01", "end": "2026-01-03"},
                "chunkSize": 1,
                "clientRequestId": "schemathesis-seed",
            },
        )
        schedule = {
            "cronExpression": "0 7 * * *",
            "timezone": "Europe/Paris",
            "catchupWindowMinutes": 60,
            "maxCatchupTicks": 2,
            "assetSelection": keys[:1],
            "enabled": False,
        }
        response = http.put(f"{ws}/schedules/fuzz-schedule", json=schedule)
        assert response.status_code == 201, response.text
        post(f"{ws}/sensors/fuzz-sensor/evaluate", {"payload": {"n": 1}, "messageId": "m1"})
        detail = http.get(f"{ws}/runs/{run['runId']}").json()
        listed = http.get(f"{base}/api/v1/browser/files").json()
    files = [str(f.get("path", "")) for f in listed.get("files", []) if f.get("path")]
    task_ids = [callback_task_id(run["runId"], str(t["taskKey"])) for t in detail["tasks"]]
    pins = {
        "workspace_id": mesh.workspace_id,
        "manifest_id": str(deployed["manifestId"]),
        "run_id": str(run["runId"]),
        "namespace": "fuzz",
        "catalog": "fuzzcat",
        "schema": "raw",
        "table_id": "fuzz.events",
        "delta_table_id": str(deltas["id"]),
        "backfill_id": str(backfill["backfillId"]),
        # Deployed with the demo manifest; PUT below as well.
        "schedule_id": "nightly-report",
        "sensor_id": "fuzz-sensor",
    }
    return pins, keys, files, task_ids, staged


async def _reserve_without_fingerprint(mesh: Mesh, run_key: str, run_id: str) -> None:
    """A run key reserved as before request fingerprints, for backfill_run_key to repair."""
    storage = ScopedStorage(
        open_object_store(mesh.storage_url, {}), Scope(mesh.tenant_id, mesh.workspace_id), Role.API
    )
    record = {"run_id": run_id, "plan_id": new_ulid(), "trigger_id": new_ulid(),
              "at": "2025-06-01T00:00:00.000Z", "run_key": run_key}  # fmt: skip
    await storage.create(run_key_reservation_path(run_key), canonical_bytes(record))


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    home: Path = tmp_path_factory.mktemp("schemathesis-mesh")
    mesh = Mesh(home, extra_env={"ARCO_GATEWAY_RATE_LIMIT_PER_MIN": "0"})
    mesh.start()
    try:
        base = f"http://{mesh.address('gateway')}"
        dev_headers = {"X-Tenant-Id": mesh.tenant_id, "X-Workspace-Id": mesh.workspace_id}
        pins, keys, files, task_ids, staged = _seed(mesh, base, dev_headers)
        asyncio.run(_reserve_without_fingerprint(mesh, SEEDED_RUN_KEYS[1], pins["run_id"]))
        schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json", timeout=10)
        signer = TaskTokenSigner(
            mesh.secrets["ARCO_TASK_TOKEN_SECRET"], "arco", "arco-worker-callbacks"
        )
        tokens = {
            task_id: signer.mint(
                mesh.tenant_id, mesh.workspace_id, task_id, pins["run_id"], 1, "fuzz-attempt"
            )[0]
            for task_id in task_ids
        }
        yield Target(mesh, schema, dev_headers, pins, keys, files, task_ids, tokens, staged)
    finally:
        codes = mesh.stop()
    assert all(code == 0 for code in codes.values()), codes


def _pinned(spec: RouteSpec, pins: dict[str, str]) -> dict[str, str]:
    values = {}
    for name in spec.path_params:
        if name == "name":  # the leaf resource of its collection
            if "/catalogs/{name}" in spec.path:
                values[name] = pins["catalog"]
            elif "/tables/" in spec.path:
                values[name] = "orders" if "/catalogs/" in spec.path else "events"
            else:
                values[name] = pins["namespace"]
        elif name == "table_id" and "/delta/" in spec.path:
            values[name] = pins["delta_table_id"]
        elif name in pins:
            values[name] = pins[name]
    return values


NAME = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
SQL = st.sampled_from(
    [
        "SELECT 1 AS one",
        "SELECT * FROM system.catalog.tables",
        "SELECT name FROM system.catalog.namespaces ORDER BY name LIMIT 5",
        "SELECT count(*) AS n FROM system.orchestration.runs",
        "SELECT * FROM fuzz.events",
        "SELECT * FROM nowhere.missing",
        "DROP TABLE fuzz.events",
        "SELECT read_text('/etc/passwd')",
    ]
)


DAY = st.sampled_from(["2026-01-01"] * 4 + ["2026-01-02", "2025-12-31", "01/02/2026"])
SELECTOR = st.one_of(
    st.fixed_dictionaries({"type": st.just("range"), "start": DAY, "end": DAY}),
    st.fixed_dictionaries(
        {"type": st.just("explicit"), "partitions": st.lists(DAY, min_size=0, max_size=3)}
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("filter"),
            "filters": st.fixed_dictionaries(
                {"start": DAY, "end": DAY},
                optional={"status": st.sampled_from(["missing", "failed", "stale"])},
            ),
        }
    ),
    st.fixed_dictionaries({"type": st.sampled_from(["range", "sideways", ""])}),
)
MOVE = st.fixed_dictionaries({}, optional={"expectedStateVersion": st.integers(0, 4)})


def _bodies(target: Target) -> dict[str, st.SearchStrategy[dict[str, Any]]]:
    """Bodies that pass validation, so the fuzzing reaches the api's real logic."""
    named = st.fixed_dictionaries({"name": NAME}, optional={"description": st.text(max_size=20)})
    column = st.fixed_dictionaries(
        {"name": NAME, "data_type": st.sampled_from(["int64", "string", "double", "boolean"])},
        optional={"nullable": st.booleans()},
    )
    table = st.fixed_dictionaries(
        {"name": NAME, "columns": st.lists(column, min_size=1, max_size=3)}
    )
    keys = st.lists(st.sampled_from(target.asset_keys), min_size=1, max_size=3, unique=True)
    query = st.fixed_dictionaries({"sql": SQL})
    edge = st.fixed_dictionaries({"source_id": NAME, "target_id": NAME})
    paths = st.sampled_from(target.files) if target.files else st.text(max_size=30)
    domains = st.sampled_from(["catalog", "lineage", "executions", "search"])
    return {
        "create_namespace": named,
        "create_catalog": named,
        "create_schema": named,
        "register_table": table,
        "register_table_in_schema": table,
        "update_table": st.fixed_dictionaries({"description": st.text(max_size=20)}),
        "add_edges": st.fixed_dictionaries({"edges": st.lists(edge, min_size=1, max_size=3)}),
        "query": query,
        "query_data": query,
        "mint_urls": st.fixed_dictionaries(
            {"domain": domains, "paths": st.lists(paths | st.text(max_size=30), max_size=3)},
            optional={"ttl_seconds": st.integers(-10, 5000)},
        ),
        "trigger_run": st.fixed_dictionaries(
            {"selection": keys},
            optional={"includeUpstream": st.booleans(), "runKey": NAME},
        ),
        "rerun_run": st.fixed_dictionaries(
            {"mode": st.sampled_from(["fromFailure", "subset"])}, optional={"selection": keys}
        ),
        "cancel_run": st.fixed_dictionaries({}, optional={"reason": st.text(max_size=20)}),
        "backfill_run_key": st.fixed_dictionaries(
            {"runKey": st.sampled_from(SEEDED_RUN_KEYS) | NAME, "selection": keys},
            optional={
                "includeUpstream": st.booleans(),
                "labels": st.dictionaries(NAME, st.text(max_size=5), max_size=2),
            },
        ),
        "manual_evaluate_sensor": st.fixed_dictionaries(
            {"payload": st.none() | st.text(max_size=10) | st.dictionaries(NAME, st.integers())},
            optional={
                "messageId": st.sampled_from(["m1", "m2"]) | NAME,
                "attributes": st.dictionaries(NAME, st.text(max_size=10), max_size=2),
            },
        ),
        "stage_commit_payload": st.fixed_dictionaries(
            {"payload": st.sampled_from(['{"commitInfo": {}}\n', "{}\n{}", "[1]", ""])}
        ),
        "create_backfill": st.fixed_dictionaries(
            {
                # Mostly the one partitioned asset, so creates get past the selection check.
                "assetSelection": st.sampled_from(
                    [[BACKFILL_ASSET]] * 4
                    + [[], [target.asset_keys[0]], [BACKFILL_ASSET, target.asset_keys[0]]]
                ),
                "partitionSelector": SELECTOR,
                "clientRequestId": NAME,
            },
            optional={"chunkSize": st.integers(0, 3), "maxConcurrentRuns": st.integers(0, 3)},
        ),
        "pause_backfill": MOVE,
        "resume_backfill": MOVE,
        "cancel_backfill": MOVE,
        "retry_failed_backfill": st.fixed_dictionaries({}, optional={"clientRequestId": NAME}),
        "upsert_schedule": st.fixed_dictionaries(
            {
                "cronExpression": st.sampled_from(
                    ["0 * * * *", "*/5 * * * *", "30 6 * * mon-fri", "0 0 1 1 *", "61 * * * *"]
                ),
                "timezone": st.sampled_from(["UTC", "America/New_York", "Europe/Paris", "Nope"]),
                "catchupWindowMinutes": st.integers(0, 2000),
                "maxCatchupTicks": st.integers(0, 5),
                "enabled": st.booleans(),
                "assetSelection": keys,
            },
        ),
        "enable_schedule": st.just({}),
        "disable_schedule": st.just({}),
        "commit_staged": st.sampled_from(target.staged).flatmap(
            lambda staged: st.fixed_dictionaries(
                {
                    "read_version": st.sampled_from([-1, 0, 1]) | st.integers(-2, 3),
                    "staged_path": st.just(staged["staged_path"]),
                    "staged_version": st.sampled_from([staged["staged_version"]] * 3 + ["x"]),
                }
            )
        ),
    }


def _strategy(target: Target, spec: RouteSpec) -> st.SearchStrategy[Any]:
    operation = target.schema[spec.path][spec.method]
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    pinned = _pinned(spec, target.pins)
    body = _bodies(target).get(spec.operation_id)
    if body is not None:
        strategies.append(
            body.flatmap(
                lambda b: operation.as_strategy(
                    GenerationMode.POSITIVE, body=b, path_parameters=pinned or None
                )
            )
        )
    if body is not None and spec.idempotency_key_required:
        strategies.append(
            st.tuples(body, st.sampled_from(DELTA_KEYS)).flatmap(
                lambda bk: operation.as_strategy(
                    GenerationMode.POSITIVE,
                    body=bk[0],
                    path_parameters=pinned or None,
                    headers={"Idempotency-Key": bk[1]},
                )
            )
        )
    if spec.family is Family.CALLBACKS:
        for task_id in target.task_ids[:2]:
            auth = {"Authorization": f"Bearer {target.task_tokens[task_id]}"}
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                strategies.append(
                    operation.as_strategy(mode, path_parameters={"task_id": task_id}, headers=auth)
                )
    elif pinned:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategies.append(operation.as_strategy(mode, path_parameters=pinned))
    return st.one_of(strategies)


@dataclass
class FamilyRun:
    cases: dict[str, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)


def _fuzz(target: Target, spec: RouteSpec, examples: int, run: FamilyRun) -> None:
    session = requests.Session()
    run.cases[spec.operation_id] = 0

    @hypothesis_seed(SEED)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=_strategy(target, spec))
    def fuzz(case: Any) -> None:
        run.cases[spec.operation_id] += 1
        # Dev headers go last: a generated Authorization/X-Tenant-Id must not replace them.
        headers = {**(case.headers or {}), **target.dev_headers}
        response = case.call_and_validate(
            session=session, headers=headers, checks=CHECKS, timeout=30
        )
        run.statuses[spec.operation_id, response.status_code] += 1

    try:
        fuzz()
    except Exception as exc:
        run.failures[spec.operation_id] = f"{type(exc).__name__}: {exc}"[:4000]
    finally:
        session.close()


def _family_specs(family: str) -> list[RouteSpec]:
    """A family's routes: those of its Family members and the operations it names by id.
    An operation named by some family's id is in that family only, and a path another
    family cuts out (PATH_FAMILIES) is in that family only."""
    members = FAMILIES[family]
    named = {m for ms in FAMILIES.values() for m in ms if isinstance(m, str)}
    specs = [
        spec
        for spec in route_table()
        if spec.operation_id in members
        or (spec.family in members and spec.operation_id not in named)
    ]
    for name, marker in PATH_FAMILIES.items():
        if name == family:
            specs = [spec for spec in specs if marker in spec.path]
        else:
            specs = [spec for spec in specs if marker not in spec.path]
    return specs


@pytest.mark.parametrize("family", list(FAMILIES))
def test_served_openapi_holds_under_fuzzing(target: Target, family: str) -> None:
    specs = _family_specs(family)
    per_operation = max(MIN_PER_OPERATION, math.ceil(MIN_CASES_PER_FAMILY * HEADROOM / len(specs)))
    run = FamilyRun()
    for spec in specs:
        _fuzz(target, spec, per_operation, run)
    report = "\n\n".join(f"== {op}\n{text}" for op, text in run.failures.items())
    assert not run.failures, f"{len(run.failures)} operation(s) failed:\n{report}"
    total = sum(run.cases.values())
    print(f"{family}: {total} cases, statuses {sorted(run.statuses.items())}")
    assert total >= MIN_CASES_PER_FAMILY, run.cases


def test_every_served_operation_is_fuzzed(target: Target) -> None:
    """The document and the route table agree, so no operation escapes the families."""
    served = {
        (operation.method.upper(), operation.path)
        for result in target.schema.get_all_operations()
        for operation in [result.ok()]
    }
    covered = {(spec.method, spec.path) for family in FAMILIES for spec in _family_specs(family)}
    assert served == covered
