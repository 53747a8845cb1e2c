"""The compactor's configuration: one process per domain of one tenant/workspace."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from arco_runtime.settings import ConfigError, integer, text
from services.common.config import CommonConfig

DOMAINS = ("orchestration", "catalog")
_DEFAULT_PORTS = {"orchestration": 50061, "catalog": 50062}

DOMAIN = text("ARCO_COMPACTOR_DOMAIN", "orchestration or catalog", required="always")
MAX_BATCH_EVENTS = integer(
    "ARCO_COMPACTOR_MAX_BATCH_EVENTS", "events folded into one publish at most", 5000, minimum=1
)
L0_MAX_DELTAS = integer(
    "ARCO_COMPACTOR_L0_MAX_DELTAS", "deltas before they are merged into a new base", 10, minimum=1
)

SERVICE_SETTINGS = (DOMAIN, MAX_BATCH_EVENTS, L0_MAX_DELTAS)


@dataclasses.dataclass(frozen=True)
class CompactorConfig:
    common: CommonConfig
    domain: str
    max_batch_events: int
    l0_max_deltas: int

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
        )
