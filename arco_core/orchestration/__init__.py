"""Event-sourced orchestration domain: ledger event payloads, the fold, projections.

Pure domain code: no grpc, no I/O. The compactor persists what :class:`FoldState` returns;
Arrow conversion lives in :mod:`arco_core.orchestration.projection`.
"""

from __future__ import annotations

from arco_core.folding import EventOutcome, TableDelta
from arco_core.orchestration.events import (
    DispatchEnqueued,
    DispatchRequested,
    EventPayload,
    PlanCreated,
    RunCancelRequested,
    RunTriggered,
    TaskCompletionRecorded,
    TaskFinished,
    TaskHeartbeat,
    TaskOutcome,
    TaskOutputVisibilityChanged,
    TaskStarted,
    TimerEnqueued,
    TimerFired,
    TimerRequested,
    TimerType,
    UnknownEvent,
    make_event,
    parse_payload,
)
from arco_core.orchestration.fold import FoldResult, FoldState
from arco_core.orchestration.retry import retry_backoff_ms, retry_deadline_ms
from arco_core.orchestration.state import (
    DepRow,
    IdempotencyKeyRow,
    OutboxRow,
    RunRow,
    RunState,
    TaskRow,
    TaskState,
    TimerRow,
)
from arco_core.orchestration.tables import FoldDelta
from arco_core.orchestration.values import OutputVisibility, TaskDef, TaskError, TriggerInfo

__all__ = [
    "DepRow",
    "DispatchEnqueued",
    "DispatchRequested",
    "EventOutcome",
    "EventPayload",
    "FoldDelta",
    "FoldResult",
    "FoldState",
    "IdempotencyKeyRow",
    "OutboxRow",
    "OutputVisibility",
    "PlanCreated",
    "RunCancelRequested",
    "RunRow",
    "RunState",
    "RunTriggered",
    "TableDelta",
    "TaskCompletionRecorded",
    "TaskDef",
    "TaskError",
    "TaskFinished",
    "TaskHeartbeat",
    "TaskOutcome",
    "TaskOutputVisibilityChanged",
    "TaskRow",
    "TaskStarted",
    "TaskState",
    "TimerEnqueued",
    "TimerFired",
    "TimerRequested",
    "TimerRow",
    "TimerType",
    "TriggerInfo",
    "UnknownEvent",
    "make_event",
    "parse_payload",
    "retry_backoff_ms",
    "retry_deadline_ms",
]
