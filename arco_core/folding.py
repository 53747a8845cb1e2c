"""The vocabulary both folds share: what happened to each event, and what changed per table.

The catalog fold and the orchestration fold differ in state and invariants, but the compactor,
the readers and the tests speak about them in the same terms, declared here once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["EventOutcome", "TableDelta"]

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
