"""What an asset declares about how it runs and stores: retries and timeouts, resources,
and its output format."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arco_core.orchestration.state import DEFAULT_WORKER_QUEUE
from arco_sdk.errors import AssetDefinitionError

__all__ = ["ExecutionPolicy", "IoConfig", "Resources"]


@dataclass(frozen=True, slots=True)
class ExecutionPolicy:
    max_retries: int = 3
    retry_delay_seconds: int = 60
    timeout_seconds: int = 3600
    heartbeat_timeout_seconds: int = 300
    worker_queue: str = DEFAULT_WORKER_QUEUE

    def __post_init__(self) -> None:
        for label in ("max_retries", "retry_delay_seconds"):
            value = getattr(self, label)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise AssetDefinitionError(f"{label} must be a non-negative integer, got {value!r}")
        for label in ("timeout_seconds", "heartbeat_timeout_seconds"):
            value = getattr(self, label)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise AssetDefinitionError(f"{label} must be a positive integer, got {value!r}")
        if not self.worker_queue:
            raise AssetDefinitionError("worker_queue must not be empty")

    def to_wire(self) -> dict[str, Any]:
        return {
            "maxRetries": self.max_retries,
            "retryDelaySeconds": self.retry_delay_seconds,
            "timeoutSeconds": self.timeout_seconds,
            "heartbeatTimeoutSeconds": self.heartbeat_timeout_seconds,
            "workerQueue": self.worker_queue,
        }


@dataclass(frozen=True, slots=True)
class Resources:
    cpu_millicores: int = 1000
    memory_mib: int = 1024

    def to_wire(self) -> dict[str, Any]:
        return {"cpuMillicores": self.cpu_millicores, "memoryMib": self.memory_mib}


@dataclass(frozen=True, slots=True)
class IoConfig:
    format: str = "parquet"
    compression: str = "snappy"
    partition_by: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "compression": self.compression,
            "partitionBy": list(self.partition_by),
        }
