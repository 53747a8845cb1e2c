"""Data checks an asset declares; the worker evaluates them on the asset's output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from arco_sdk.errors import AssetDefinitionError

__all__ = ["Check", "NotNullCheck", "RowCountCheck", "Severity"]

Severity = Literal["info", "warning", "error", "critical"]


class Check:
    """A data check run by the worker after the asset produced its output."""

    name: str
    severity: Severity
    phase: Literal["pre", "post"] = "post"

    def to_wire(self) -> dict[str, Any]:
        raise NotImplementedError

    def evaluate(self, row_count: int | None, table: pa.Table | None) -> str | None:
        """A failure message, or None when the check passes (or cannot be evaluated)."""
        raise NotImplementedError


@dataclass(frozen=True)
class RowCountCheck(Check):
    min_rows: int | None = None
    max_rows: int | None = None
    name: str = "row_count"
    severity: Severity = "error"

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "checkType": "row_count",
            "severity": self.severity,
            "phase": self.phase,
        }
        if self.min_rows is not None:
            body["minRows"] = self.min_rows
        if self.max_rows is not None:
            body["maxRows"] = self.max_rows
        return body

    def evaluate(self, row_count: int | None, table: pa.Table | None) -> str | None:
        if row_count is None:
            return None
        if self.min_rows is not None and row_count < self.min_rows:
            return f"check {self.name}: {row_count} rows, expected at least {self.min_rows}"
        if self.max_rows is not None and row_count > self.max_rows:
            return f"check {self.name}: {row_count} rows, expected at most {self.max_rows}"
        return None


@dataclass(frozen=True)
class NotNullCheck(Check):
    columns: tuple[str, ...] = ()
    name: str = ""
    severity: Severity = "error"

    def __post_init__(self) -> None:
        if not self.columns:
            raise AssetDefinitionError("NotNullCheck needs at least one column")
        if not self.name:
            object.__setattr__(self, "name", "not_null_" + "-".join(self.columns))

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "checkType": "not_null",
            "severity": self.severity,
            "phase": self.phase,
            "columns": list(self.columns),
        }

    def evaluate(self, row_count: int | None, table: pa.Table | None) -> str | None:
        if table is None:
            return None
        for column in self.columns:
            if column not in table.column_names:
                return f"check {self.name}: column {column!r} is missing"
            nulls = table.column(column).null_count
            if nulls:
                return f"check {self.name}: column {column!r} has {nulls} null values"
        return None
