"""Event-sourced orchestration domain: ledger event payloads, the fold, projections.

Pure domain code: no grpc, no I/O. The compactor persists what :class:`FoldState` returns.
"""

from __future__ import annotations

from arco_core.orchestration.fold import FoldDelta, FoldResult, FoldState, TableDelta

__all__ = ["FoldDelta", "FoldResult", "FoldState", "TableDelta"]
