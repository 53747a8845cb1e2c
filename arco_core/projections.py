"""Domain adapters: how each domain's fold state maps to published Parquet tables.

The compactor and every reader work through one adapter per domain, so the commit and
load logic is written once. Orchestration publishes small L0 deltas (changed rows and
tombstones) merged into a base periodically; the catalog is small and strongly
consistent, so every publish writes a full snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from arco_core.catalog import projection as catalog_projection
from arco_core.catalog.fold import fold as fold_catalog
from arco_core.catalog.fold import make_commit_row
from arco_core.catalog.model import CatalogState
from arco_core.envelope import EventEnvelope
from arco_core.ids import new_ulid
from arco_core.orchestration import projection as orch_projection
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.tables import TABLE_NAMES as ORCH_TABLES
from arco_core.paths import Scope


@dataclass
class FoldOutcome:
    """What one batch did to a state, ready to publish or to roll back."""

    upserts: dict[str, pa.Table]
    tombstones: dict[str, pa.Table]
    applied: int
    skipped: int
    changed: bool
    rollback: Callable[[], None]
    # The state after the fold (adapters that fold by copy return a new object).
    state: Any = None
    applied_ids: frozenset[str] = frozenset()
    extra: dict[str, Any] = field(default_factory=dict)


class DomainAdapter(Protocol):
    domain: str
    # True: every publish writes the whole state as a new base (no L0 deltas).
    full_snapshots: bool

    def empty_state(self, scope: Scope) -> Any: ...

    def load(self, scope: Scope, base: Mapping[str, pa.Table]) -> Any: ...

    def apply_delta(
        self, state: Any, upserts: Mapping[str, pa.Table], tombstones: Mapping[str, pa.Table]
    ) -> Any: ...

    def fold(self, state: Any, events: Sequence[EventEnvelope], scope: Scope) -> FoldOutcome: ...

    def tables(self, state: Any) -> dict[str, pa.Table]: ...

    def row_count(self, state: Any) -> int: ...

    def stamp_commit(self, outcome: FoldOutcome, *, seq: int, epoch: int, now_ms: int) -> None:
        """Record the commit in the state being published (the catalog keeps a log)."""


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

    def fold(self, state: FoldState, events: Sequence[EventEnvelope], scope: Scope) -> FoldOutcome:
        result = state.fold(events)
        tables = orch_projection.delta_to_tables(result.delta)
        return FoldOutcome(
            upserts={name: pair[0] for name, pair in tables.items() if pair[0].num_rows},
            tombstones={name: pair[1] for name, pair in tables.items() if pair[1].num_rows},
            applied=result.applied,
            skipped=len(events) - result.applied,
            changed=not result.delta.is_empty,
            rollback=lambda: state.rollback(result),
            state=state,
            applied_ids=frozenset(
                event_id for event_id, label in result.outcomes.items() if label == "applied"
            ),
        )

    def tables(self, state: FoldState) -> dict[str, pa.Table]:
        return orch_projection.state_to_tables(state)

    def row_count(self, state: FoldState) -> int:
        return sum(state.row_count(name) for name in ORCH_TABLES)

    def stamp_commit(self, outcome: FoldOutcome, *, seq: int, epoch: int, now_ms: int) -> None:
        return None


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
    ) -> FoldOutcome:
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
            extra={"result": result},
        )

    def tables(self, state: CatalogState) -> dict[str, pa.Table]:
        return catalog_projection.state_to_tables(state)

    def row_count(self, state: CatalogState) -> int:
        return sum(table.num_rows for table in self.tables(state).values())

    def stamp_commit(self, outcome: FoldOutcome, *, seq: int, epoch: int, now_ms: int) -> None:
        result = outcome.extra["result"]
        row = make_commit_row(
            result,
            commit_ulid=new_ulid(),
            snapshot_version=seq,
            published_at=now_ms,
            fencing_token=epoch,
            manifest_id=f"{seq:020d}",
        )
        outcome.state.commits.append(row)


def adapter_for(domain: str) -> DomainAdapter:
    adapters: dict[str, DomainAdapter] = {
        "orchestration": OrchestrationAdapter(),
        "catalog": CatalogAdapter(),
    }
    try:
        return adapters[domain]
    except KeyError:
        raise ValueError(f"unknown domain {domain!r}") from None
