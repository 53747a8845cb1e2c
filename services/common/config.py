"""The settings every service process shares, and the rows more than one service reads.

Each service defines one frozen config dataclass built by ``from_env`` from ``Setting`` rows
(``arco_runtime.settings``); its ``SERVICE_SETTINGS`` tuple lists the rows for ``--help``
and the docs. ``redacted`` logs the effective configuration once at start-up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from arco_core.errors import InvalidArgument
from arco_core.paths import Scope
from arco_core.storage_faults import FaultSpec, parse_fault_spec
from arco_runtime.posture import check_binds, check_environment, check_secrets
from arco_runtime.process import LIFELINE_FD
from arco_runtime.settings import (
    ENVIRONMENT,
    LOG_FORMAT,
    LOG_LEVEL,
    READY_FILE,
    SHUTDOWN_GRACE_SEC,
    ConfigError,
    Setting,
    flag,
    integer,
    read_log_format,
    text,
)
from arco_runtime.tls import TLS_SETTINGS, TlsConfig

DEFAULT_DATA_DIR = Path(".arco") / "data"

# Services serve every registered scope; this pair only names the dev default one.
TENANT_ID = text(
    "ARCO_TENANT_ID",
    "tenant of the dev default scope (registered at start in dev; a dev call without "
    "credentials, or a compactor request naming no scope, acts in it)",
    "local",
)
WORKSPACE_ID = text("ARCO_WORKSPACE_ID", "workspace of the dev default scope", "default")
STORAGE_URL = text(
    "ARCO_STORAGE_URL",
    "object store URL: file:///abs/dir, memory:// or s3://bucket/prefix",
    default_doc="file://$PWD/.arco/data",
)
# open_object_store takes them from the environment it is given (with the AWS_* credentials);
# the config reads them too, so a bad value fails at start-up and the config line shows them.
S3_ENDPOINT = text(
    "ARCO_S3_ENDPOINT",
    "endpoint of an S3-compatible store for s3:// URLs (path-style requests); empty: AWS",
)
S3_ALLOW_HTTP = flag(
    "ARCO_S3_ALLOW_HTTP", "permit a plain-HTTP ARCO_S3_ENDPOINT (an in-cluster test store)", False
)
LISTEN_ADDRESS = text(
    "ARCO_LISTEN_ADDRESS",
    "gRPC listen host:port (port 0 picks a free port)",
    default_doc="per service",
)
METRICS_ADDRESS = text(
    "ARCO_METRICS_ADDRESS",
    "HTTP side port host:port: Prometheus /metrics, and /healthz and /readyz for probes",
    "127.0.0.1:0",
)
STORAGE_FAULTS = text(
    "ARCO_STORAGE_FAULTS",
    "dev only: inject storage faults, e.g. put=0.05,get=0.05,list=0.05,latency_ms=5,seed=1 "
    "(fractions of puts/gets/lists that fail as network errors, added latency per call)",
    "",
)

COMMON_SETTINGS = (
    ENVIRONMENT,
    *TLS_SETTINGS,
    TENANT_ID,
    WORKSPACE_ID,
    STORAGE_URL,
    S3_ENDPOINT,
    S3_ALLOW_HTTP,
    STORAGE_FAULTS,
    LISTEN_ADDRESS,
    METRICS_ADDRESS,
    LOG_LEVEL,
    LOG_FORMAT,
    READY_FILE,
    SHUTDOWN_GRACE_SEC,
    LIFELINE_FD,
)

# Rows several services read (declared once, listed by each service that reads them).
ORCH_COMPACTOR_ADDRESS = text(
    "ARCO_ORCH_COMPACTOR_ADDRESS",
    "orchestration compactor gRPC host:port; comma-separated: one per shard, in shard order",
    "127.0.0.1:50061",
)
CATALOG_COMPACTOR_ADDRESS = text(
    "ARCO_CATALOG_COMPACTOR_ADDRESS",
    "catalog compactor gRPC host:port; comma-separated: one per shard, in shard order",
    "127.0.0.1:50062",
)
TASK_TOKEN_SECRET = text(
    "ARCO_TASK_TOKEN_SECRET",
    "HS256 key of worker task tokens (the dispatcher and sweeper mint them, the api verifies)",
    secret=True,
    required="always",
)
TASK_TOKEN_ISSUER = text("ARCO_TASK_TOKEN_ISSUER", "task-token iss claim", "arco")
TASK_TOKEN_AUDIENCE = text(
    "ARCO_TASK_TOKEN_AUDIENCE", "task-token aud claim", "arco-worker-callbacks"
)
TASK_TOKEN_TTL_SEC = integer(
    "ARCO_TASK_TOKEN_TTL_SEC",
    "task-token lifetime in seconds (the dispatcher and sweeper mint with it; the api renews "
    "a token in the heartbeat answer once it is past half this life)",
    3600,
    minimum=1,
)
TASK_TOKEN_LEEWAY_SEC = integer(
    "ARCO_TASK_TOKEN_LEEWAY_SEC",
    "clock skew tolerated on a task token's exp and nbf, seconds",
    60,
)


def _read_storage_faults(env: Mapping[str, str], environment: str) -> FaultSpec | None:
    try:
        spec = parse_fault_spec(STORAGE_FAULTS.read(env))
    except InvalidArgument as exc:
        raise ConfigError(f"{STORAGE_FAULTS.name}: {exc.message}") from None
    if spec is not None and environment != "dev":
        raise ConfigError(
            f"{STORAGE_FAULTS.name} is refused outside ARCO_ENVIRONMENT=dev (got {environment})"
        )
    return spec


def default_storage_url() -> str:
    """The embedded default: a LocalStore under the project's data directory."""
    return (Path.cwd() / DEFAULT_DATA_DIR).resolve().as_uri()


@dataclasses.dataclass(frozen=True)
class CommonConfig:
    """Settings every service process shares."""

    service: str
    # dev, staging or prod (default prod); see arco_runtime.posture
    environment: str
    tls: TlsConfig
    tenant_id: str
    workspace_id: str
    storage_url: str
    s3_endpoint: str
    s3_allow_http: bool
    listen_address: str
    metrics_address: str
    log_level: str
    log_format: str
    # When set, the service writes its bound addresses here as JSON once it is SERVING.
    ready_file: str
    shutdown_grace_sec: float
    # The launcher's pipe (ARCO_LIFELINE_FD): the process stops when the launcher dies.
    lifeline_fd: str = ""
    # ARCO_STORAGE_FAULTS parsed (dev only); None: the real store, untouched.
    storage_faults: FaultSpec | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, service: str, default_listen: str) -> CommonConfig:
        log_format = read_log_format(env)
        storage_faults = _read_storage_faults(env, check_environment(ENVIRONMENT.read(env)))
        config = cls(
            service=service,
            environment=check_environment(ENVIRONMENT.read(env)),
            tls=TlsConfig.from_env(env),
            tenant_id=TENANT_ID.read(env),
            workspace_id=WORKSPACE_ID.read(env),
            storage_url=STORAGE_URL.read(env) or default_storage_url(),
            s3_endpoint=S3_ENDPOINT.read(env),
            s3_allow_http=S3_ALLOW_HTTP.read(env),
            listen_address=LISTEN_ADDRESS.read(env, default=default_listen),
            metrics_address=METRICS_ADDRESS.read(env),
            log_level=LOG_LEVEL.read(env),
            log_format=log_format,
            ready_file=READY_FILE.read(env),
            shutdown_grace_sec=SHUTDOWN_GRACE_SEC.read(env),
            lifeline_fd=LIFELINE_FD.read(env),
            storage_faults=storage_faults,
        )
        check_binds(
            config.environment,
            config.tls,
            (
                (LISTEN_ADDRESS.name, config.listen_address),
                (METRICS_ADDRESS.name, config.metrics_address),
            ),
        )
        return config

    @property
    def dev(self) -> bool:
        return self.environment == "dev"

    @property
    def default_scope(self) -> Scope:
        """The dev default scope (ARCO_TENANT_ID/ARCO_WORKSPACE_ID)."""
        return Scope(self.tenant_id, self.workspace_id)

    def require_secrets(self, *secrets: tuple[Setting[Any], str]) -> None:
        """Outside dev every secret this service holds is set and long enough."""
        check_secrets(self.environment, secrets)
