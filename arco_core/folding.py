"""The vocabulary both folds share: what happened to each event, and what changed per table.

The catalog fold and the orchestration fold differ in state and invariants, but the compactor,
the readers and the tests speak about them in the same terms, declared here once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["EventOutcome", "RetentionCutoffs", "TableDelta"]

RowT = TypeVar("RowT")
KeyT = TypeVar("KeyT")


class EventOutcome(enum.StrEnum):
    """What folding did with one event (plain strings, so they log and serialise as is)."""

    APPLIED = "applied"
    # Folded before: its idempotency key (or event id) is already consumed.
    DUPLICATE = "duplicate"
    # Well formed, but it would break an invariant of the state; skipped with a warning.
    REJECTED = "rejected"
    # A type this reader does not know (a newer writer): a no-op, left for an upgraded reader.
    UNKNOWN = "unknown"
    # A payload that does not parse, or an event of another scope.
    INVALID = "invalid"
    # At or below the state's watermark: an earlier batch already examined it.
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class TableDelta(Generic[RowT, KeyT]):
    """Net change of one projection table: final versions of changed rows, removed keys."""

    upserts: tuple[RowT, ...] = ()
    deletes: tuple[KeyT, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.upserts and not self.deletes


@dataclass(frozen=True, slots=True)
class RetentionCutoffs:
    """What retention removed from a projection: rows whose time is before these (epoch ms).

    Published in the manifest, so a verification or a ``Rebuild`` applies the same cutoffs
    to its replay of the ledger and does not bring the removed rows back.
    """

    terminal_runs_before_ms: int = 0
    idempotency_keys_before_ms: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "terminal_runs_before_ms": self.terminal_runs_before_ms,
            "idempotency_keys_before_ms": self.idempotency_keys_before_ms,
        }

    @classmethod
    def from_json(cls, data: object) -> RetentionCutoffs:
        if not isinstance(data, dict):
            return cls()
        return cls(
            terminal_runs_before_ms=int(data.get("terminal_runs_before_ms", 0)),
            idempotency_keys_before_ms=int(data.get("idempotency_keys_before_ms", 0)),
        )

    def raised_to(self, other: RetentionCutoffs) -> RetentionCutoffs:
        """Each cutoff at least ``other``'s: what retention removed stays removed."""
        return RetentionCutoffs(
            max(self.terminal_runs_before_ms, other.terminal_runs_before_ms),
            max(self.idempotency_keys_before_ms, other.idempotency_keys_before_ms),
        )
