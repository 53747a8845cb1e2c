"""Frozen service configuration read from ARCO_* environment variables.

Each service defines one frozen dataclass built by ``from_env``; secrets are declared with
``secret_field`` so ``redacted`` can log the effective configuration once at start-up
without leaking them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_SECRET = "secret"


class ConfigError(ValueError):
    """An invalid setting: the process refuses to start with one clear line."""


REDACTED = "***"
DEFAULT_DATA_DIR = Path(".arco") / "data"


def secret_field(default: str = "") -> Any:
    """A string field whose value must never be logged."""
    return dataclasses.field(default=default, metadata={_SECRET: True})


def redacted(config: Any) -> dict[str, Any]:
    """The config as a dict with secret fields masked (empty secrets stay visibly empty)."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if field.metadata.get(_SECRET) and value:
            value = REDACTED
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = redacted(value)
        out[field.name] = value
    return out


def env_str(env: Mapping[str, str], name: str, default: str = "") -> str:
    return env.get(name, default).strip()


def env_int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def env_float(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be a boolean (true/false), got {raw!r}")


def default_storage_url() -> str:
    """The embedded default: a LocalStore under the project's data directory."""
    return (Path.cwd() / DEFAULT_DATA_DIR).resolve().as_uri()


@dataclasses.dataclass(frozen=True)
class CommonConfig:
    """Settings every service process shares."""

    service: str
    tenant_id: str
    workspace_id: str
    storage_url: str
    listen_address: str
    metrics_address: str
    log_level: str
    log_format: str
    # When set, the service writes its bound addresses here as JSON once it is SERVING.
    ready_file: str
    shutdown_grace_sec: float

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, service: str, default_listen: str) -> CommonConfig:
        log_format = env_str(env, "ARCO_LOG_FORMAT", "json")
        if log_format not in {"json", "console"}:
            raise ConfigError(f"ARCO_LOG_FORMAT must be json or console, got {log_format!r}")
        return cls(
            service=service,
            tenant_id=env_str(env, "ARCO_TENANT_ID", "local"),
            workspace_id=env_str(env, "ARCO_WORKSPACE_ID", "default"),
            storage_url=env_str(env, "ARCO_STORAGE_URL") or default_storage_url(),
            listen_address=env_str(env, "ARCO_LISTEN_ADDRESS", default_listen),
            metrics_address=env_str(env, "ARCO_METRICS_ADDRESS", "127.0.0.1:0"),
            log_level=env_str(env, "ARCO_LOG_LEVEL", "INFO"),
            log_format=log_format,
            ready_file=env_str(env, "ARCO_READY_FILE"),
            shutdown_grace_sec=env_float(env, "ARCO_SHUTDOWN_GRACE_SEC", 5.0),
        )
