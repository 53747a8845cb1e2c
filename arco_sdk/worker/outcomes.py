"""What a task's execution comes to: the :class:`Completion` the completed callback
reports, built from an asset's return value, from the exception it raised, or from the
runtime's own verdict (timeout, shutdown, a configuration problem)."""

from __future__ import annotations

import inspect
import traceback
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from arco_sdk.assets import AssetContext, AssetResult
from arco_sdk.errors import TaskCancelled, TaskFailure

__all__ = [
    "Completion",
    "error_body",
    "exception_completion",
    "failed",
    "format_exc",
    "normalize_result",
]


@dataclass
class Completion:
    outcome: Literal["SUCCEEDED", "FAILED", "CANCELLED"]
    output: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    cancelled_during_phase: str | None = None
    cpu_time_ms: int | None = None


def error_body(
    category: str, message: str, *, retryable: bool, trace: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": category,
        "message": message or category,
        "retryable": retryable,
    }
    if trace:
        body["stackTrace"] = trace
    return body


def failed(category: str, message: str, *, retryable: bool, trace: str | None = None) -> Completion:
    """A FAILED completion carrying one error."""
    return Completion(
        "FAILED", error=error_body(category, message, retryable=retryable, trace=trace)
    )


def format_exc(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def exception_completion(exc: BaseException) -> Completion:
    trace = format_exc(exc)
    if isinstance(exc, TaskCancelled):
        return Completion("CANCELLED", cancelled_during_phase="execute")
    if isinstance(exc, TaskFailure):
        return failed(exc.category, exc.message, retryable=exc.retryable, trace=trace)
    if isinstance(exc, TimeoutError):
        return failed("TIMEOUT", str(exc) or "timed out", retryable=True, trace=trace)
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return failed("USER_CODE", message, retryable=True, trace=trace)


def normalize_result(
    context: AssetContext, value: Any
) -> tuple[AssetResult | None, pa.Table | None]:
    """An asset's return value as (result, table); a table is written as its output."""
    if value is None:
        return None, None
    if isinstance(value, AssetResult):
        return value, None
    if isinstance(value, pa.Table):
        return context.write_parquet(value), value
    if isinstance(value, pa.RecordBatch):
        table = pa.Table.from_batches([value])
        return context.write_parquet(table), table
    if inspect.isawaitable(value):
        raise TypeError("asset returned an awaitable: declare it with 'async def'")
    raise TypeError(
        f"asset returned {type(value).__name__}; return a pyarrow.Table, an AssetResult or None"
    )
