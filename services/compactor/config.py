"""The compactor's configuration: one process per domain (and shard) for many scopes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from arco_core.compaction.retention import RetentionPolicy
from arco_core.registry import ShardSpec
from arco_runtime.settings import ConfigError, integer, text
from services.common.config import CommonConfig
from services.common.scopes import LRU_SETTINGS, SHARD, ScopeLimits, read_shard

DOMAINS = ("orchestration", "catalog")
_DEFAULT_PORTS = {"orchestration": 50061, "catalog": 50062}

DOMAIN = text("ARCO_COMPACTOR_DOMAIN", "orchestration or catalog", required="always")
MAX_BATCH_EVENTS = integer(
    "ARCO_COMPACTOR_MAX_BATCH_EVENTS", "events folded into one publish at most", 5000, minimum=1
)
L0_MAX_DELTAS = integer(
    "ARCO_COMPACTOR_L0_MAX_DELTAS", "deltas before they are merged into a new base", 10, minimum=1
)

_DAY = 86_400
RETAIN_TERMINAL_RUNS = integer(
    "ARCO_RETAIN_TERMINAL_RUNS_SEC",
    "seconds a finished run (its tasks, edges, outbox rows, timers) stays in the projection",
    90 * _DAY,
    minimum=1,
)
RETAIN_IDEMPOTENCY_KEYS = integer(
    "ARCO_RETAIN_IDEMPOTENCY_KEYS_SEC",
    "seconds an idempotency record (projection row or api marker) is kept",
    30 * _DAY,
    minimum=1,
)
RETAIN_TASK_LOGS = integer(
    "ARCO_RETAIN_TASK_LOGS_SEC",
    "seconds an attempt's stored log is kept once its run has finished",
    90 * _DAY,
    minimum=1,
)
RETAIN_MANIFESTS = integer(
    "ARCO_RETAIN_MANIFESTS_SEC",
    "the asOf window: seconds a superseded manifest and its state stay readable",
    _DAY,
    minimum=0,
)
RETAIN_FOLD_RECORDS = integer(
    "ARCO_RETAIN_FOLD_RECORDS_SEC",
    "seconds fold records are kept (longer than the sweeper's ARCO_SWEEP_LOOKBACK_SEC)",
    7 * _DAY,
    minimum=1,
)
RETENTION_GRACE = integer(
    "ARCO_RETENTION_GRACE_SEC",
    "an unreferenced state object younger than this is kept (a publish may be on its way)",
    3600,
    minimum=1,
)
RETENTION_INTERVAL = integer(
    "ARCO_RETENTION_INTERVAL_SEC",
    "seconds between retention passes (the first one an interval after start, when idle)",
    3600,
    minimum=1,
)

SERVICE_SETTINGS = (
    DOMAIN,
    SHARD,
    *LRU_SETTINGS,
    MAX_BATCH_EVENTS,
    L0_MAX_DELTAS,
    RETAIN_TERMINAL_RUNS,
    RETAIN_IDEMPOTENCY_KEYS,
    RETAIN_TASK_LOGS,
    RETAIN_MANIFESTS,
    RETAIN_FOLD_RECORDS,
    RETENTION_GRACE,
    RETENTION_INTERVAL,
)


@dataclasses.dataclass(frozen=True)
class CompactorConfig:
    common: CommonConfig
    domain: str
    max_batch_events: int
    l0_max_deltas: int
    retention: RetentionPolicy
    retention_interval_sec: int
    # Scopes outside this shard are refused; open ones are an LRU.
    shard: ShardSpec
    scope_limits: ScopeLimits

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CompactorConfig:
        domain = DOMAIN.read(env)
        if domain not in DOMAINS:
            raise ConfigError(
                f"ARCO_COMPACTOR_DOMAIN must be one of {', '.join(DOMAINS)}, got {domain!r}"
            )
        return cls(
            common=CommonConfig.from_env(
                env,
                service=f"compactor-{domain}",
                default_listen=f"127.0.0.1:{_DEFAULT_PORTS[domain]}",
            ),
            domain=domain,
            max_batch_events=MAX_BATCH_EVENTS.read(env),
            l0_max_deltas=L0_MAX_DELTAS.read(env),
            retention=RetentionPolicy(
                terminal_runs_sec=RETAIN_TERMINAL_RUNS.read(env),
                idempotency_keys_sec=RETAIN_IDEMPOTENCY_KEYS.read(env),
                task_logs_sec=RETAIN_TASK_LOGS.read(env),
                manifests_sec=RETAIN_MANIFESTS.read(env),
                fold_records_sec=RETAIN_FOLD_RECORDS.read(env),
                grace_sec=RETENTION_GRACE.read(env),
            ),
            retention_interval_sec=RETENTION_INTERVAL.read(env),
            shard=read_shard(env),
            scope_limits=ScopeLimits.from_env(env),
        )
