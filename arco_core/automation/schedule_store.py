"""The api's side of stored schedules, as pure functions: validating a definition, the
event that stores it, and the sorted, paginated lists of schedules and of ticks.

Lists share the automation list conventions: ``limit`` 1..200 (0 means 50); ``cursor`` is
base64url (no padding) of ``{"keys": [...]}``, the sort key of the last item of the
previous page (an all-digit cursor is an offset); ``next_cursor`` only while more remain.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from arco_core.automation.schedules import DEFAULT_CATCHUP_WINDOW_SECONDS, ScheduleSpec
from arco_core.errors import InvalidArgument
from arco_core.orchestration.events import ScheduleDefinitionUpserted
from arco_core.orchestration.schedules_fold import asset_selection
from arco_core.orchestration.state import ScheduleRow, ScheduleTickRow
from arco_core.orchestration.tables import ProjectionTables

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "ScheduleDefinition",
    "definition_of",
    "list_schedules",
    "list_ticks",
    "validate_definition",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class ScheduleDefinition:
    """What an api request sets: compared whole to tell a no-op from a change."""

    schedule_id: str
    cron_expression: str
    timezone: str
    catchup_window_minutes: int
    max_catchup_ticks: int
    asset_selection: tuple[str, ...]  # sorted, unique
    enabled: bool

    def with_enabled(self, enabled: bool) -> ScheduleDefinition:
        return ScheduleDefinition(
            self.schedule_id,
            self.cron_expression,
            self.timezone,
            self.catchup_window_minutes,
            self.max_catchup_ticks,
            self.asset_selection,
            enabled,
        )

    def event(self, *, request_id: str, code_version: str | None) -> ScheduleDefinitionUpserted:
        return ScheduleDefinitionUpserted(
            schedule_id=self.schedule_id,
            cron_expression=self.cron_expression,
            timezone=self.timezone,
            catchup_window_minutes=self.catchup_window_minutes,
            max_catchup_ticks=self.max_catchup_ticks,
            asset_selection=self.asset_selection,
            enabled=self.enabled,
            request_id=request_id,
            code_version=code_version,
        )


def validate_definition(
    schedule_id: str,
    *,
    cron_expression: str,
    timezone: str,
    catchup_window_minutes: int,
    max_catchup_ticks: int,
    assets: Sequence[str],
    enabled: bool,
) -> ScheduleDefinition:
    """A normalised definition; raises InvalidArgument (a bad cron, zone, asset list or
    max catch-up ticks) as the spec does."""
    spec = ScheduleSpec(
        schedule_id,
        cron_expression,
        tuple(assets),
        timezone,
        catchup_window_minutes * 60 or DEFAULT_CATCHUP_WINDOW_SECONDS,
        max_catchup_ticks,
    )
    return ScheduleDefinition(
        spec.schedule_id,
        spec.cron,
        spec.timezone,
        catchup_window_minutes,
        max_catchup_ticks,
        spec.assets,
        enabled,
    )


def definition_of(row: ScheduleRow) -> ScheduleDefinition:
    return ScheduleDefinition(
        row.schedule_id,
        row.cron_expression,
        row.timezone,
        row.catchup_window_minutes,
        row.max_catchup_ticks,
        tuple(asset_selection(row)),
        row.enabled,
    )


# -- lists -------------------------------------------------------------------------------


def _limit(limit: int) -> int:
    if limit < 0 or limit > MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}")
    return limit or DEFAULT_LIMIT


def _encode(keys: Sequence[str]) -> str:
    raw = json.dumps({"keys": list(keys)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, arity: int) -> tuple[str, ...]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        keys = json.loads(base64.urlsafe_b64decode(padded.encode()))["keys"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidArgument("invalid cursor") from None
    if not (
        isinstance(keys, list) and len(keys) == arity and all(isinstance(k, str) for k in keys)
    ):
        raise InvalidArgument("invalid cursor")
    return tuple(keys)


def _time_key(epoch_ms: int) -> str:
    """RFC 3339 with nanoseconds, so keys sort as the instants do."""
    at = datetime.fromtimestamp(epoch_ms // 1000, UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000 * 1_000_000:09d}Z"


def list_schedules(
    state: ProjectionTables, *, limit: int, cursor: str
) -> tuple[list[ScheduleRow], str | None]:
    """One page of schedules by schedule id, and the next page's cursor."""
    rows = state.schedules()
    size = _limit(limit)
    if cursor.isdigit():
        start = int(cursor)
    elif cursor:
        (after,) = _decode(cursor, 1)
        start = next((i for i, r in enumerate(rows) if r.schedule_id > after), len(rows))
    else:
        start = 0
    page = rows[start : start + size]
    more = start + size < len(rows)
    return page, _encode([page[-1].schedule_id]) if more and page else None


def list_ticks(
    state: ProjectionTables,
    schedule_id: str,
    *,
    limit: int,
    cursor: str,
    status: str | None,
) -> tuple[list[ScheduleTickRow], str | None]:
    """One page of a schedule's ticks, newest first (scheduled time, then tick id, both
    descending), optionally of one status; an unknown schedule has none."""
    rows = [r for r in state.schedule_ticks(schedule_id) if status is None or r.status == status]
    size = _limit(limit)
    if cursor.isdigit():
        start = int(cursor)
    elif cursor:
        after = _decode(cursor, 2)
        start = next(
            (i for i, r in enumerate(rows) if (_time_key(r.scheduled_for), r.tick_id) < after),
            len(rows),
        )
    else:
        start = 0
    page = rows[start : start + size]
    more = start + size < len(rows)
    if not (more and page):
        return page, None
    last = page[-1]
    return page, _encode([_time_key(last.scheduled_for), last.tick_id])
