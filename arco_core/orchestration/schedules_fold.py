"""Fold handlers of schedules: definitions (from api upserts and from manifest deploys) and
tick records, into the ``schedules`` and ``schedule_ticks`` tables.

A manifest deploy defines its schedules through its own ``ManifestDeployed`` event rather
than through separate definition events: the definitions then cannot disagree with the
manifest, an Idempotency-Key replay of the deploy changes nothing, and ledgers written
before schedules were stored gain their definitions on replay.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from arco_core.canonical_json import canonical_dumps
from arco_core.orchestration.events import (
    ManifestDeployed,
    RunTriggered,
    ScheduleDefinitionUpserted,
    ScheduleTicked,
    TickStatus,
)
from arco_core.orchestration.state import ScheduleRow, ScheduleTickRow
from arco_core.orchestration.tables import FoldEvent, ProjectionTables, stamp

__all__ = [
    "MANIFEST_DEFAULT_MAX_CATCHUP_TICKS",
    "TICK_ID_LABEL",
    "asset_selection",
    "definition_upserted",
    "expired_ticks",
    "manifest_deployed",
    "run_triggered",
    "schedule_ticked",
]

# A schedule a manifest creates: the 24-hour window (0) and one catch-up tick.
MANIFEST_DEFAULT_MAX_CATCHUP_TICKS = 1
# The label a tick's RunTriggered carries (see arco_core.automation.triggers).
TICK_ID_LABEL = "arco.tick_id"


def _selection_json(assets: Sequence[str]) -> str:
    return canonical_dumps(sorted(set(assets)))


def asset_selection(row: ScheduleRow | ScheduleTickRow) -> list[str]:
    selection: list[str] = json.loads(row.asset_selection)
    return selection


def _upsert(
    s: ProjectionTables,
    ev: FoldEvent,
    schedule_id: str,
    fields: dict[str, Any],
) -> bool:
    current = s.schedule_table.rows.get((schedule_id,))
    if current is None:
        s.insert(
            s.schedule_table,
            ScheduleRow(
                schedule_id=schedule_id,
                created_at=ev.ts,
                definition_version=ev.event_id,
                # A new schedule owes nothing from before it existed.
                evaluated_through=ev.ts,
                last_scheduled_for=None,
                last_tick_id=None,
                last_run_key=None,
                row_version=ev.event_id,
                **fields,
            ),
        )
        return True
    if ev.event_id <= current.definition_version:
        return False  # an older definition than the one applied
    row = s.writable(s.schedule_table, (schedule_id,))
    assert row is not None
    if fields["enabled"] and not row.enabled:
        # Enabling starts from now: the disabled stretch is never caught up.
        row.evaluated_through = max(row.evaluated_through, ev.ts)
    for name, value in fields.items():
        setattr(row, name, value)
    row.definition_version = ev.event_id
    stamp(row, ev)
    return True


def definition_upserted(s: ProjectionTables, p: ScheduleDefinitionUpserted, ev: FoldEvent) -> bool:
    return _upsert(
        s,
        ev,
        p.schedule_id,
        {
            "cron_expression": p.cron_expression,
            "timezone": p.timezone,
            "catchup_window_minutes": p.catchup_window_minutes,
            "max_catchup_ticks": p.max_catchup_ticks,
            "asset_selection": _selection_json(p.asset_selection),
            "enabled": p.enabled,
            "code_version": p.code_version,
        },
    )


def _schedule_entries(manifest_json: str) -> list[dict[str, Any]]:
    """The manifest's schedule entries that name an id, a cron and assets. Deploy validates
    them; a fold handler still must not fail a batch over a malformed document."""
    try:
        document = json.loads(manifest_json)
    except ValueError:
        return []
    entries = document.get("schedules") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        return []
    return [
        entry
        for entry in entries
        if isinstance(entry, dict)
        and entry.get("id")
        and entry.get("cron")
        and isinstance(entry.get("assets"), list)
        and entry["assets"]
    ]


def manifest_deployed(s: ProjectionTables, p: ManifestDeployed, ev: FoldEvent) -> None:
    """The manifest's schedules: new ones are created enabled; existing ones take the new
    cron, zone and assets and keep what operators set (enabled, catch-up). A schedule the
    manifest leaves out is left as it is."""
    for entry in _schedule_entries(p.manifest_json):
        schedule_id = str(entry["id"])
        current = s.schedule_table.rows.get((schedule_id,))
        fields: dict[str, Any] = {
            "cron_expression": " ".join(str(entry["cron"]).split()),
            "timezone": str(entry.get("timezone") or "UTC"),
            "asset_selection": _selection_json([str(a) for a in entry["assets"]]),
            "code_version": p.code_version_id,
        }
        if current is None:
            fields |= {
                "catchup_window_minutes": 0,
                "max_catchup_ticks": MANIFEST_DEFAULT_MAX_CATCHUP_TICKS,
                "enabled": True,
            }
        elif all(getattr(current, k) == v for k, v in fields.items() if k != "code_version"):
            continue  # unchanged: a redeploy does not touch the definition
        else:
            fields |= {
                "catchup_window_minutes": current.catchup_window_minutes,
                "max_catchup_ticks": current.max_catchup_ticks,
                "enabled": current.enabled,
            }
        _upsert(s, ev, schedule_id, fields)


def schedule_ticked(s: ProjectionTables, p: ScheduleTicked, ev: FoldEvent) -> bool:
    if (p.tick_id,) in s.schedule_tick_table.rows:
        return False
    triggered = p.status is TickStatus.TRIGGERED
    s.insert(
        s.schedule_tick_table,
        ScheduleTickRow(
            tick_id=p.tick_id,
            schedule_id=p.schedule_id,
            scheduled_for=p.scheduled_for,
            definition_version=p.definition_version,
            asset_selection=_selection_json(p.asset_selection),
            status=p.status.value.upper(),
            skip_reason=p.skip_reason,
            error_message=p.error_message,
            run_key=p.run_key if triggered else None,
            run_id=p.run_id if triggered else None,
            skipped_through=p.skipped_through,
            recorded_at=ev.ts,
            row_version=ev.event_id,
        ),
    )
    row = s.writable(s.schedule_table, (p.schedule_id,))
    if row is None:
        return True
    row.evaluated_through = max(row.evaluated_through, p.skipped_through or p.scheduled_for)
    if row.last_scheduled_for is None or p.scheduled_for >= row.last_scheduled_for:
        row.last_scheduled_for = p.scheduled_for
        row.last_tick_id = p.tick_id
        row.last_run_key = p.run_key if triggered else None
    stamp(row, ev)
    return True


def run_triggered(s: ProjectionTables, p: RunTriggered, ev: FoldEvent) -> None:
    """A tick's run was created: its record says so. Two racing evaluations at different
    times may disagree about a tick (one skipped it, the other ran it); the run exists
    either way, so the record follows the run."""
    tick_id = p.labels.get(TICK_ID_LABEL)
    if tick_id is None:
        return
    tick = s.schedule_tick_table.rows.get((tick_id,))
    if tick is None or tick.status == TickStatus.TRIGGERED.value.upper():
        return
    tick = s.writable(s.schedule_tick_table, (tick_id,))
    assert tick is not None
    tick.status = TickStatus.TRIGGERED.value.upper()
    tick.skip_reason = None
    tick.error_message = None
    tick.run_key = p.run_key
    tick.run_id = p.run_id
    stamp(tick, ev)
    schedule = s.schedule_table.rows.get((tick.schedule_id,))
    if schedule is not None and schedule.last_tick_id == tick_id:
        row = s.writable(s.schedule_table, (tick.schedule_id,))
        assert row is not None
        row.last_run_key = p.run_key
        stamp(row, ev)


def expired_ticks(
    s: ProjectionTables, before_ms: int, removed_runs: Collection[str]
) -> Iterator[tuple[str, ...]]:
    """Tick records retention removes: recorded before ``before_ms``, with no run or a run
    that is removed too (a schedule's own progress is on its row, not in its ticks)."""
    for pk, row in s.schedule_tick_table.rows.items():
        if row.recorded_at >= before_ms:
            continue
        if row.run_id is None or row.run_id in removed_runs or s.get_run(row.run_id) is None:
            yield pk
