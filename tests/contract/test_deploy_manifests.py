"""The Kubernetes manifests (deploy/k8s): both overlays render with the real kustomize (the
venv's kubectl), validate against the Kubernetes 1.37 schemas, set exactly the settings of
deploy/contract.json, and open exactly the network paths of the authorization matrix; and
each of these checks fails when the manifests break it."""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from arco_runtime.authz import MATRIX, Grant
from arco_runtime.tls import Role
from tests.conftest import REPO_ROOT


def _load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_deploy", REPO_ROOT / "scripts" / "check_deploy.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_deploy"] = module
    spec.loader.exec_module(module)
    return module


checker = _load_checker()
CONTRACT = json.loads((REPO_ROOT / "deploy" / "contract.json").read_text())
OVERLAYS = [p.name for p in checker.overlays()]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {
        name: checker.render(REPO_ROOT / "deploy" / "k8s" / "overlays" / name) for name in OVERLAYS
    }


def _find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _container(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    container: dict[str, Any] = _find(docs, kind, name)["spec"]["template"]["spec"]["containers"][0]
    return container


def test_the_overlays_are_local_and_prod() -> None:
    assert OVERLAYS == ["local", "prod"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_an_overlay_is_valid_and_keeps_the_contract_and_the_matrix(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    assert checker.check(docs) == []
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for workload in (
        "arco-api",
        "arco-gateway",
        "arco-dispatcher",
        "arco-sweeper",
        "arco-automation",
    ):
        assert ("Deployment", workload) in kinds
    # The compactors are StatefulSets, one per domain.
    for domain in ("orchestration", "catalog"):
        compactor = _find(docs, "StatefulSet", f"arco-compactor-{domain}")
        env = _container(docs, "StatefulSet", f"arco-compactor-{domain}")["env"]
        assert {"name": "ARCO_COMPACTOR_DOMAIN", "value": domain} in env
        assert compactor["metadata"]["namespace"] == f"arco{'-local' if overlay == 'local' else ''}"
    # Every Arco process is probed on its readiness and runs in production posture.
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                assert "readinessProbe" in container and "resources" in container
    assert _find(docs, "ConfigMap", "arco-mesh")["data"]["ARCO_ENVIRONMENT"] == "prod"


def test_the_schema_check_rejects_invalid_objects(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = copy.deepcopy(rendered["prod"])
    _find(docs, "Deployment", "arco-api")["spec"]["replicas"] = "two"
    _container(docs, "Deployment", "arco-gateway")["readinessProbe"]["httpGet"]["pathh"] = "/x"
    errors = checker.schema_errors(docs)
    assert any("Deployment/arco-api" in e and "replicas" in e for e in errors), errors
    assert any("Deployment/arco-gateway" in e for e in errors), errors


@pytest.fixture
def k8s_copy(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "k8s"
    shutil.copytree(REPO_ROOT / "deploy" / "k8s", root)
    yield root


def test_removing_a_required_setting_from_a_manifest_fails_the_check(k8s_copy: Path) -> None:
    workers = k8s_copy / "base" / "workers.yaml"
    text = workers.read_text()
    line = '        - {name: ARCO_WORKER_API_URL, value: "http://arco-gateway:8080"}\n'
    assert line in text
    workers.write_text(text.replace(line, ""))
    errors = checker.check(checker.render(k8s_copy / "overlays" / "prod"))
    assert errors == [
        "Deployment/arco-worker (arco_sdk.worker): required setting ARCO_WORKER_API_URL "
        "(always) is not set"
    ]


def test_a_setting_required_in_production_posture_is_judged_by_the_posture(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = copy.deepcopy(rendered["prod"])
    gateway = _container(docs, "Deployment", "arco-gateway")
    gateway["env"] = [e for e in gateway["env"] if e["name"] != "ARCO_IDENTITY_SECRET"]
    assert checker.contract_errors(docs, CONTRACT) == [
        "Deployment/arco-gateway (gateway): required setting ARCO_IDENTITY_SECRET "
        "(outside dev) is not set"
    ]
    _find(docs, "ConfigMap", "arco-mesh")["data"]["ARCO_ENVIRONMENT"] = "dev"
    assert checker.contract_errors(docs, CONTRACT) == []


def test_unknown_settings_literal_secrets_and_wrong_identities_fail_the_check(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = copy.deepcopy(rendered["prod"])
    api = _container(docs, "Deployment", "arco-api")
    api["env"].append({"name": "ARCO_SHARD", "value": "0/2"})
    api["env"] = [
        {"name": e["name"], "value": "hunter2"} if e["name"] == "ARCO_TASK_TOKEN_SECRET" else e
        for e in api["env"]
    ]
    sweeper = _find(docs, "Deployment", "arco-sweeper")["spec"]["template"]["spec"]
    sweeper["volumes"][0]["secret"]["secretName"] = "arco-mesh-dispatcher"
    assert checker.contract_errors(docs, CONTRACT) == [
        "Deployment/arco-api (services.api): sets ARCO_SHARD, which it does not read",
        "Deployment/arco-api (services.api): secret ARCO_TASK_TOKEN_SECRET is not taken from a Secret",
        "Deployment/arco-sweeper (services.sweeper): mesh certificate arco-mesh-dispatcher for role "
        "'sweeper'",
    ]


def test_every_condition_of_the_contract_is_one_the_check_can_judge() -> None:
    conditions = {
        (process, row["required"])
        for process, rows in CONTRACT["processes"].items()
        for row in rows
        if row["required"]
    }
    assert len(conditions) >= 5
    for process, condition in conditions:
        checker.required_in(condition, process, {}, {}, "")
    with pytest.raises(ValueError, match="cannot judge"):
        checker.required_in("on Tuesdays", "services.api", {}, {}, "")


def test_the_network_policies_open_exactly_the_matrix(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = copy.deepcopy(rendered["prod"])
    allowed, default_deny = checker.allowed_paths(docs)
    assert default_deny
    assert ("worker", "api", "grpc") in allowed  # task callbacks
    assert ("dispatcher", "worker", "grpc") in allowed
    assert ("gateway", "compactor", "grpc") not in allowed
    policy = _find(docs, "NetworkPolicy", "arco-api-ingress")
    values = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][0]["values"]
    values.remove("worker")
    values.append("dispatcher")
    assert checker.network_errors(docs, MATRIX) == [
        "opens dispatcher -> api (grpc), which the matrix does not grant",
        "closes worker -> api (grpc), which the matrix grants",
    ]


def test_a_service_the_matrix_gains_must_be_placed_on_a_role() -> None:
    matrix = {**MATRIX, "arco.new.v1.NewService": {"Do": Grant(frozenset({Role.API}))}}
    with pytest.raises(ValueError, match=r"arco\.new\.v1\.NewService"):
        checker.expected_paths(matrix)


def _shard_count(docs: list[dict[str, Any]], name: str) -> tuple[int, str]:
    """(replicas, the ARCO_SHARD value) of a compactor StatefulSet."""
    env = {e["name"]: e for e in _container(docs, "StatefulSet", name)["env"]}
    assert env["POD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == checker.POD_INDEX_FIELD
    return _find(docs, "StatefulSet", name)["spec"]["replicas"], env["ARCO_SHARD"]["value"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_compactor_pod_serves_the_shard_of_its_ordinal_and_callers_list_them_in_order(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    assert checker.shard_errors(docs) == []
    callers = {
        "ARCO_ORCH_COMPACTOR_ADDRESS": {
            "services.api",
            "services.dispatcher",
            "services.sweeper",
            "services.automation",
        },
        "ARCO_CATALOG_COMPACTOR_ADDRESS": {"services.api"},
    }
    boxes = checker.containers(docs)
    for domain, setting in checker.DOMAIN_ADDRESS.items():
        name = f"arco-compactor-{domain}"
        replicas, shard = _shard_count(docs, name)
        env = _container(docs, "StatefulSet", name)["env"]
        names = [e["name"] for e in env]
        # Kubernetes expands $(POD_INDEX) only when it is set earlier in the list.
        assert names.index("POD_INDEX") < names.index("ARCO_SHARD")
        assert shard == f"$(POD_INDEX)/{replicas}"
        pods = [f"{name}-{i}.{name}:50051" for i in range(replicas)]
        listing = {b.process: b.env[setting].split(",") for b in boxes if setting in b.env}
        assert listing == dict.fromkeys(callers[setting], pods)
    # Production splits the orchestration scopes over two compactor pods.
    expected = 2 if overlay == "prod" else 1
    assert _shard_count(docs, "arco-compactor-orchestration")[0] == expected
    assert _shard_count(docs, "arco-compactor-catalog")[0] == 1


def test_a_shard_count_replicas_or_address_list_out_of_step_fails_the_check(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = copy.deepcopy(rendered["prod"])
    _find(docs, "StatefulSet", "arco-compactor-orchestration")["spec"]["replicas"] = 3
    pods = ",".join(
        f"arco-compactor-orchestration-{i}.arco-compactor-orchestration:50051" for i in range(3)
    )
    assert sorted(checker.shard_errors(docs)) == [
        *(
            f"Deployment/arco-{name} (services.{name}): ARCO_ORCH_COMPACTOR_ADDRESS "
            "'arco-compactor-orchestration-0.arco-compactor-orchestration:50051,"
            "arco-compactor-orchestration-1.arco-compactor-orchestration:50051' is not the 3 "
            f"pod(s) of StatefulSet/arco-compactor-orchestration in shard order ({pods!r})"
            for name in ("api", "automation", "dispatcher", "sweeper")
        ),
        "StatefulSet/arco-compactor-orchestration (services.compactor): ARCO_SHARD "
        "'$(POD_INDEX)/2' counts 2 shards for 3 replicas",
    ]
    # Pods listed out of ordinal order send each scope to a compactor that refuses it.
    docs = copy.deepcopy(rendered["prod"])
    data = _find(docs, "ConfigMap", "arco-compactors")["data"]
    data["orchestration"] = ",".join(reversed(data["orchestration"].split(",")))
    errors = checker.shard_errors(docs)
    assert len(errors) == 4 and all("ARCO_ORCH_COMPACTOR_ADDRESS" in e for e in errors), errors
    # A fixed shard on a StatefulSet of several pods gives every pod the same one.
    docs = copy.deepcopy(rendered["prod"])
    compactor = _container(docs, "StatefulSet", "arco-compactor-orchestration")
    compactor["env"] = [
        {"name": "ARCO_SHARD", "value": "0/2"} if e["name"] == "ARCO_SHARD" else e
        for e in compactor["env"]
    ]
    assert checker.shard_errors(docs) == [
        "StatefulSet/arco-compactor-orchestration (services.compactor): ARCO_SHARD '0/2' does "
        f"not take the shard from the pod ordinal ({checker.POD_INDEX_FIELD})"
    ]


def test_a_value_from_the_pod_counts_as_set_and_a_reference_must_come_after_its_variable(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = copy.deepcopy(rendered["prod"])
    compactor = _container(docs, "StatefulSet", "arco-compactor-catalog")
    domain = next(e for e in compactor["env"] if e["name"] == "ARCO_COMPACTOR_DOMAIN")
    # A required setting from a fieldRef is set; the check cannot know its value.
    domain.pop("value")
    domain["valueFrom"] = {"fieldRef": {"fieldPath": "metadata.labels['arco.dev/domain']"}}
    assert checker.contract_errors(docs, CONTRACT) == []
    # ARCO_SHARD before the POD_INDEX it expands: Kubernetes would pass "$(POD_INDEX)/1".
    compactor["env"] = sorted(compactor["env"], key=lambda e: e["name"] != "ARCO_SHARD")
    assert checker.contract_errors(docs, CONTRACT) == [
        "StatefulSet/arco-compactor-catalog (services.compactor): ARCO_SHARD refers to "
        "$(POD_INDEX), which is not set before it"
    ]
    # An unknown setting fails whatever its source.
    compactor["env"].append(
        {"name": "ARCO_POD_INDEX", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    )
    assert checker.contract_errors(docs, CONTRACT)[-1] == (
        "StatefulSet/arco-compactor-catalog (services.compactor): sets ARCO_POD_INDEX, "
        "which it does not read"
    )
