"""Domain adapters: how each domain's fold state maps to published Parquet tables.

The compactor and every reader work through one adapter per domain, so the commit and
load logic is written once. Orchestration publishes small L0 deltas (changed rows and
tombstones) merged into a base periodically; the catalog is small and strongly
consistent, so every publish writes a full snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import pyarrow as pa

from arco_core.catalog import projection as catalog_projection
from arco_core.catalog.fold import CatalogFoldResult, make_commit_row
from arco_core.catalog.fold import fold as fold_catalog
from arco_core.catalog.model import CatalogState
from arco_core.envelope import EventEnvelope
from arco_core.folding import RetentionCutoffs
from arco_core.ids import new_ulid
from arco_core.orchestration import projection as orch_projection
from arco_core.orchestration.fold import FoldResult, FoldState
from arco_core.orchestration.tables import TABLE_NAMES as ORCH_TABLES
from arco_core.paths import Scope

# A domain's in-memory state (FoldState, CatalogState); every adapter is typed by its own.
S = TypeVar("S")


@dataclass
class FoldOutcome(Generic[S]):
    """What one batch did to a state, ready to publish or to roll back."""

    upserts: dict[str, pa.Table]
    tombstones: dict[str, pa.Table]
    applied: int
    skipped: int
    changed: bool
    rollback: Callable[[], None]
    # The state after the fold (adapters that fold by copy return a new object).
    state: S
    applied_ids: frozenset[str] = frozenset()
    # What the adapter's stamp_commit needs to describe the commit (the catalog's result).
    commit_detail: object = None


class DomainAdapter(Protocol[S]):
    domain: str
    # True: every publish writes the whole state as a new base (no L0 deltas).
    full_snapshots: bool

    def empty_state(self, scope: Scope) -> S: ...

    def load(self, scope: Scope, base: Mapping[str, pa.Table]) -> S: ...

    def apply_delta(
        self, state: S, upserts: Mapping[str, pa.Table], tombstones: Mapping[str, pa.Table]
    ) -> S: ...

    def fold(self, state: S, events: Sequence[EventEnvelope], scope: Scope) -> FoldOutcome[S]: ...

    def expire(self, state: S, cutoffs: RetentionCutoffs) -> FoldOutcome[S] | None:
        """Remove the rows retention no longer keeps; None if the domain keeps everything."""

    def tables(self, state: S) -> dict[str, pa.Table]: ...

    def row_count(self, state: S) -> int: ...

    def stamp_commit(self, outcome: FoldOutcome[S], *, seq: int, epoch: int, now_ms: int) -> None:
        """Record the commit in the state being published (the catalog keeps a log)."""

    def table_key(self, table: str) -> tuple[str, ...]:
        """The columns identifying a row of ``table``."""

    def publish_log_tables(self) -> frozenset[str]:
        """Tables that record publishes rather than events: a replay cannot reproduce
        them, so verification leaves them out."""


class OrchestrationAdapter:
    domain = "orchestration"
    full_snapshots = False

    def empty_state(self, scope: Scope) -> FoldState:
        return FoldState(tenant_id=scope.tenant_id, workspace_id=scope.workspace_id)

    def load(self, scope: Scope, base: Mapping[str, pa.Table]) -> FoldState:
        return orch_projection.state_from_tables(
            base, tenant_id=scope.tenant_id, workspace_id=scope.workspace_id
        )

    def apply_delta(
        self,
        state: FoldState,
        upserts: Mapping[str, pa.Table],
        tombstones: Mapping[str, pa.Table],
    ) -> FoldState:
        state.apply_delta(orch_projection.tables_to_delta(upserts, tombstones))
        return state

    def fold(
        self, state: FoldState, events: Sequence[EventEnvelope], scope: Scope
    ) -> FoldOutcome[FoldState]:
        return _outcome(state, state.fold(events), len(events))

    def expire(self, state: FoldState, cutoffs: RetentionCutoffs) -> FoldOutcome[FoldState] | None:
        return _outcome(state, state.expire(cutoffs), 0)

    def tables(self, state: FoldState) -> dict[str, pa.Table]:
        return orch_projection.state_to_tables(state)

    def row_count(self, state: FoldState) -> int:
        return sum(state.row_count(name) for name in ORCH_TABLES)

    def stamp_commit(
        self, outcome: FoldOutcome[FoldState], *, seq: int, epoch: int, now_ms: int
    ) -> None:
        return None

    def table_key(self, table: str) -> tuple[str, ...]:
        return orch_projection.PRIMARY_KEYS[table]

    def publish_log_tables(self) -> frozenset[str]:
        return frozenset()


def _outcome(state: FoldState, result: FoldResult, events: int) -> FoldOutcome[FoldState]:
    tables = orch_projection.delta_to_tables(result.delta)
    return FoldOutcome(
        upserts={name: pair[0] for name, pair in tables.items() if pair[0].num_rows},
        tombstones={name: pair[1] for name, pair in tables.items() if pair[1].num_rows},
        applied=result.applied,
        skipped=events - result.applied,
        changed=not result.delta.is_empty,
        rollback=lambda: state.rollback(result),
        state=state,
        applied_ids=frozenset(
            event_id for event_id, label in result.outcomes.items() if label == "applied"
        ),
    )


class CatalogAdapter:
    domain = "catalog"
    full_snapshots = True

    def empty_state(self, scope: Scope) -> CatalogState:
        return CatalogState()

    def load(self, scope: Scope, base: Mapping[str, pa.Table]) -> CatalogState:
        return catalog_projection.state_from_tables(base)

    def apply_delta(
        self,
        state: CatalogState,
        upserts: Mapping[str, pa.Table],
        tombstones: Mapping[str, pa.Table],
    ) -> CatalogState:
        raise NotImplementedError("catalog manifests carry full snapshots, never deltas")

    def fold(
        self, state: CatalogState, events: Sequence[EventEnvelope], scope: Scope
    ) -> FoldOutcome[CatalogState]:
        # Folding a copy keeps the published state intact until the commit wins.
        result = fold_catalog(
            events, state, tenant_id=scope.tenant_id, workspace_id=scope.workspace_id
        )
        applied = len(result.applied_event_ids)
        return FoldOutcome(
            upserts={},
            tombstones={},
            applied=applied,
            skipped=len(result.outcomes) - applied,
            changed=result.changed,
            rollback=lambda: None,
            state=result.state,
            applied_ids=frozenset(result.applied_event_ids),
            commit_detail=result,
        )

    def expire(
        self, state: CatalogState, cutoffs: RetentionCutoffs
    ) -> FoldOutcome[CatalogState] | None:
        return None  # the catalog is small; its history is the ledger

    def tables(self, state: CatalogState) -> dict[str, pa.Table]:
        return catalog_projection.state_to_tables(state)

    def row_count(self, state: CatalogState) -> int:
        return sum(table.num_rows for table in self.tables(state).values())

    def stamp_commit(
        self, outcome: FoldOutcome[CatalogState], *, seq: int, epoch: int, now_ms: int
    ) -> None:
        result = outcome.commit_detail
        assert isinstance(result, CatalogFoldResult), "the catalog fold sets its result"
        row = make_commit_row(
            result,
            commit_ulid=new_ulid(),
            snapshot_version=seq,
            published_at=now_ms,
            fencing_token=epoch,
            manifest_id=f"{seq:020d}",
        )
        outcome.state.commits.append(row)

    def table_key(self, table: str) -> tuple[str, ...]:
        return ("commit_ulid",) if table == "commits" else ("id",)

    def publish_log_tables(self) -> frozenset[str]:
        return frozenset({"commits"})


def adapter_for(domain: str) -> DomainAdapter[Any]:
    """The adapter of ``domain``, for the domain-agnostic compactor process."""
    adapters: dict[str, DomainAdapter[Any]] = {
        "orchestration": OrchestrationAdapter(),
        "catalog": CatalogAdapter(),
    }
    try:
        return adapters[domain]
    except KeyError:
        raise ValueError(f"unknown domain {domain!r}") from None
