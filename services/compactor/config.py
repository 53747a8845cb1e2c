"""The compactor's configuration: one process per domain of one tenant/workspace."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from services.common.config import CommonConfig, ConfigError, env_int, env_str

DOMAINS = ("orchestration", "catalog")
_DEFAULT_PORTS = {"orchestration": 50061, "catalog": 50062}

SERVICE_ENV = (
    ("ARCO_COMPACTOR_DOMAIN", "required: orchestration or catalog"),
    ("ARCO_COMPACTOR_MAX_BATCH_EVENTS", "events folded into one publish at most (default 5000)"),
    ("ARCO_COMPACTOR_L0_MAX_DELTAS", "deltas before merging into a new base (default 10)"),
)


@dataclasses.dataclass(frozen=True)
class CompactorConfig:
    common: CommonConfig
    domain: str
    max_batch_events: int
    l0_max_deltas: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CompactorConfig:
        domain = env_str(env, "ARCO_COMPACTOR_DOMAIN")
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
            max_batch_events=env_int(env, "ARCO_COMPACTOR_MAX_BATCH_EVENTS", 5000, minimum=1),
            l0_max_deltas=env_int(env, "ARCO_COMPACTOR_L0_MAX_DELTAS", 10, minimum=1),
        )
