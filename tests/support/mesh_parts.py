"""Start the api with its compactors as real processes for service-level tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import ServiceProcess, start_service

TENANT = "acme"
WORKSPACE = "prod"
SCOPE_ENV = {"ARCO_TENANT_ID": TENANT, "ARCO_WORKSPACE_ID": WORKSPACE}


@contextmanager
def api_with_compactors(
    tmp_path: Path, extra_env: dict[str, str] | None = None
) -> Iterator[dict[str, ServiceProcess]]:
    """Orchestration and catalog compactors plus the api, stopped by PID at exit."""
    started: dict[str, ServiceProcess] = {}
    try:
        for domain in ("orchestration", "catalog"):
            proc = start_service(
                "services.compactor",
                tmp_path,
                {**SCOPE_ENV, "ARCO_COMPACTOR_DOMAIN": domain},
                name=f"compactor-{domain}",
            )
            started[domain] = proc
        for proc in started.values():
            proc.wait_ready(15)
        api = start_service(
            "services.api",
            tmp_path,
            {
                **SCOPE_ENV,
                "ARCO_ORCH_COMPACTOR_ADDRESS": started["orchestration"].grpc_address,
                "ARCO_CATALOG_COMPACTOR_ADDRESS": started["catalog"].grpc_address,
                **(extra_env or {}),
            },
            name="api",
        )
        started["api"] = api
        api.wait_ready(15)
        yield started
    finally:
        for proc in reversed(list(started.values())):
            proc.terminate()
