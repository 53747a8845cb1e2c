"""The run request a due schedule tick makes through the existing trigger path."""

from __future__ import annotations

from arco_core.automation.schedules import ScheduleSpec, Tick
from arco_core.orchestration.runs import TriggerRequest

__all__ = ["tick_trigger_request"]


def tick_trigger_request(spec: ScheduleSpec, tick: Tick) -> TriggerRequest:
    """The run request for a due tick. Its run key makes the existing trigger path idempotent:
    a second trigger of the same tick, from any process, returns the first run."""
    return TriggerRequest(
        selection=spec.assets,
        run_key=tick.run_key,
        labels={"arco.schedule_id": spec.schedule_id, "arco.tick_id": tick.tick_id},
        user_id=f"schedule:{spec.schedule_id}",
    )
