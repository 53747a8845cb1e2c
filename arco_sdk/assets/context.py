"""What an asset function receives at run time (:class:`AssetContext`, an
:class:`AssetInput` per upstream, a :class:`TaskLogger`) and may return
(:class:`AssetResult`)."""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from arco_core.partition import PartitionKey
from arco_sdk.assets.keys import AssetKey
from arco_sdk.errors import TaskCancelled
from arco_sdk.io import ParquetStore

__all__ = ["AssetContext", "AssetInput", "AssetResult", "TaskLogger"]


@dataclass(frozen=True, slots=True)
class AssetResult:
    """What an asset produced; becomes the ``output`` of the completed callback."""

    row_count: int | None = None
    output_path: str | None = None
    byte_size: int | None = None
    materialization_id: str | None = None
    output_visibility_state: Literal["PENDING", "VISIBLE", "FAILED"] | None = None

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.materialization_id is not None:
            body["materializationId"] = self.materialization_id
        if self.row_count is not None:
            body["rowCount"] = self.row_count
        if self.byte_size is not None:
            body["byteSize"] = self.byte_size
        if self.output_path is not None:
            body["outputPath"] = self.output_path
        if self.output_visibility_state is not None:
            body["outputVisibilityState"] = self.output_visibility_state
        return body


class TaskLogger:
    """The asset's logger. Lines go to ``sink`` (the worker captures them per task and
    uploads them with the task's logs); ``key=value`` pairs are appended."""

    def __init__(self, sink: Callable[[str], None], task_key: str = "") -> None:
        self._sink = sink
        self._task_key = task_key

    def _emit(self, level: str, message: str, fields: Mapping[str, Any]) -> None:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        extra = "".join(f" {key}={value!r}" for key, value in fields.items())
        self._sink(f"{now} {level:<7} {message}{extra}\n")

    def debug(self, message: str, **fields: Any) -> None:
        self._emit("DEBUG", message, fields)

    def info(self, message: str, **fields: Any) -> None:
        self._emit("INFO", message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._emit("WARNING", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._emit("ERROR", message, fields)

    def exception(self, message: str, **fields: Any) -> None:
        self._emit("ERROR", message, fields)
        self._sink(traceback.format_exc())


@dataclass(frozen=True)
class AssetInput:
    """An upstream asset's output, handed to a downstream parameter."""

    key: AssetKey
    partition: PartitionKey
    store: ParquetStore

    @property
    def path(self) -> Path:
        return self.store.path_for(self.key, self.partition)

    def exists(self) -> bool:
        return self.store.exists(self.key, self.partition)

    def read(self) -> pa.Table:
        return self.store.read(self.key, self.partition)

    @property
    def row_count(self) -> int:
        return self.store.row_count(self.key, self.partition)


def _stderr_sink(line: str) -> None:
    sys.stderr.write(line)


class AssetContext:
    """Everything an asset function may ask about its execution."""

    def __init__(
        self,
        *,
        asset_key: AssetKey,
        store: ParquetStore,
        run_id: str = "local",
        task_key: str | None = None,
        partition_key: PartitionKey | None = None,
        attempt: int = 1,
        attempt_id: str = "",
        tenant_id: str = "local",
        workspace_id: str = "default",
        payload: Mapping[str, Any] | None = None,
        log_sink: Callable[[str], None] | None = None,
        cancel_event: threading.Event | None = None,
    ) -> None:
        self.asset_key = asset_key
        self.store = store
        self.run_id = run_id
        self.task_key = task_key or str(asset_key)
        self.partition_key = partition_key or PartitionKey()
        self.attempt = attempt
        self.attempt_id = attempt_id
        self.tenant_id = tenant_id
        self.workspace_id = workspace_id
        self.payload: dict[str, Any] = dict(payload or {})
        self.log = TaskLogger(log_sink or _stderr_sink, self.task_key)
        self.cancel_event = cancel_event or threading.Event()
        self._progress_lock = threading.Lock()
        self._progress: tuple[int, str | None] | None = None

    # cancellation
    def should_cancel(self) -> bool:
        """True once the control plane (or a timeout, or shutdown) asked this task to stop."""
        return self.cancel_event.is_set()

    def raise_if_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise TaskCancelled("cancellation requested")

    # progress
    def report_progress(self, pct: int, message: str | None = None) -> None:
        """Record progress (0..100); the worker sends the latest value with the next
        heartbeat."""
        if isinstance(pct, bool) or not isinstance(pct, int) or not 0 <= pct <= 100:
            raise ValueError(f"progress must be an integer between 0 and 100, got {pct!r}")
        with self._progress_lock:
            self._progress = (pct, message)

    def progress(self) -> tuple[int, str | None] | None:
        with self._progress_lock:
            return self._progress

    # outputs
    @property
    def output_path(self) -> Path:
        """Where this asset's output for this partition lives."""
        return self.store.path_for(self.asset_key, self.partition_key)

    def write_parquet(self, table: pa.Table) -> AssetResult:
        """Write ``table`` as this asset's output (atomically) and describe it."""
        info = self.store.write(self.asset_key, table, self.partition_key)
        return AssetResult(
            row_count=info.row_count,
            output_path=str(info.path),
            byte_size=info.byte_size,
            materialization_id=info.materialization_id,
        )

    def input(self, key: str | AssetKey, partition: PartitionKey | None = None) -> AssetInput:
        """Any asset's output (defaults to this task's partition)."""
        return AssetInput(AssetKey.parse(key), partition or self.partition_key, self.store)
