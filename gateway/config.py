"""The gateway's configuration."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from services.common.config import env_float, env_str

SERVICE_ENV = (
    (
        "ARCO_GATEWAY_LISTEN_ADDRESS",
        "HTTP listen host:port (default 127.0.0.1:8080; port 0 picks one)",
    ),
    ("ARCO_API_ADDRESS", "api gRPC host:port (default 127.0.0.1:50051)"),
    ("ARCO_LOG_LEVEL", "DEBUG, INFO (default), WARNING, ERROR"),
    ("ARCO_LOG_FORMAT", "json (default) or console"),
    ("ARCO_READY_FILE", "write the bound address here as JSON once listening"),
    ("ARCO_SHUTDOWN_GRACE_SEC", "seconds in-flight requests get on SIGTERM (default 5)"),
)


@dataclasses.dataclass(frozen=True)
class GatewayConfig:
    listen_address: str
    api_address: str
    log_level: str
    log_format: str
    ready_file: str
    shutdown_grace_sec: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GatewayConfig:
        return cls(
            listen_address=env_str(env, "ARCO_GATEWAY_LISTEN_ADDRESS", "127.0.0.1:8080"),
            api_address=env_str(env, "ARCO_API_ADDRESS", "127.0.0.1:50051"),
            log_level=env_str(env, "ARCO_LOG_LEVEL", "INFO"),
            log_format=env_str(env, "ARCO_LOG_FORMAT", "json"),
            ready_file=env_str(env, "ARCO_READY_FILE"),
            shutdown_grace_sec=env_float(env, "ARCO_SHUTDOWN_GRACE_SEC", 5.0),
        )
