"""The schedule RPCs of the api's OrchestrationService (a mixin of its servicer).

Writes are one ``ScheduleDefinitionUpserted`` with the whole definition, committed before
the answer; a request that changes nothing writes nothing. The event's key is
``sched_def:{id}:{operation}:{Idempotency-Key}`` when the caller sends one, so a retried
request applies once, and a key reused for a different change is a conflict.
"""

from __future__ import annotations

from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb
from arco.orchestration.v1 import types_pb2

from arco_core.automation import schedule_store
from arco_core.automation.schedule_store import ScheduleDefinition
from arco_core.errors import Conflict, InvalidArgument, NotFound
from arco_core.ids import new_ulid, ulid_floor, ulid_timestamp_ms
from arco_core.orchestration.events import make_event
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.schedules_fold import asset_selection
from arco_core.orchestration.state import ScheduleRow, ScheduleTickRow
from services.api.deps import ApiDeps
from services.api.idempotency import IDEMPOTENCY_KEY
from services.common import rpc_context
from services.common.rpc_context import timestamp_from_ms
from services.common.server import RpcContext as Context

_TICK_PREFIX = "TICK_STATUS_"
_TICK_STATUS = {
    "TRIGGERED": types_pb2.TICK_STATUS_TRIGGERED,
    "SKIPPED": types_pb2.TICK_STATUS_SKIPPED,
    "FAILED": types_pb2.TICK_STATUS_FAILED,
}


def schedule_pb(row: ScheduleRow) -> orch_pb.Schedule:
    message = orch_pb.Schedule(
        schedule_id=row.schedule_id,
        cron_expression=row.cron_expression,
        timezone=row.timezone,
        catchup_window_minutes=row.catchup_window_minutes,
        max_catchup_ticks=row.max_catchup_ticks,
        asset_selection=asset_selection(row),
        enabled=row.enabled,
        definition_version=row.definition_version,
    )
    if row.last_scheduled_for is not None:
        message.last_scheduled_for.CopyFrom(timestamp_from_ms(row.last_scheduled_for))
    if row.last_tick_id is not None:
        message.last_tick_id = row.last_tick_id
    if row.last_run_key is not None:
        message.last_run_key = row.last_run_key
    return message


def tick_pb(row: ScheduleTickRow) -> orch_pb.ScheduleTick:
    message = orch_pb.ScheduleTick(
        tick_id=row.tick_id,
        schedule_id=row.schedule_id,
        scheduled_for=timestamp_from_ms(row.scheduled_for),
        asset_selection=asset_selection(row),
        status=_TICK_STATUS[row.status],
    )
    for name in ("skip_reason", "error_message", "run_key", "run_id"):
        value = getattr(row, name)
        if value is not None:
            setattr(message, name, value)
    return message


class ScheduleRpcs:
    """ListSchedules, GetSchedule, UpsertSchedule, EnableSchedule, DisableSchedule and
    ListScheduleTicks; the servicer that mixes it in provides ``_deps``."""

    _deps: ApiDeps

    async def _schedule_state(self) -> FoldState:
        return (await self._deps.orchestration_heads.snapshot()).state

    def _require(self, state: FoldState, schedule_id: str) -> ScheduleRow:
        row = state.get_schedule(schedule_id)
        if row is None:
            raise NotFound(f"schedule not found: {schedule_id}", reason="schedule_not_found")
        return row

    async def _write(
        self,
        state: FoldState,
        wanted: ScheduleDefinition,
        operation: str,
        context: Context,
    ) -> ScheduleRow | None:
        """Store ``wanted`` unless it is already the definition; the row after. A reused
        Idempotency-Key is a replay when the definition is what it asked for."""
        scope = self._deps.scope
        current = state.get_schedule(wanted.schedule_id)
        unchanged = current is not None and schedule_store.definition_of(current) == wanted
        key = rpc_context.metadata(context, IDEMPOTENCY_KEY)
        request_id = f"{operation}:{key or new_ulid()}"
        payload = wanted.event(
            request_id=request_id,
            code_version=(
                latest.code_version_id if (latest := state.latest_code_manifest()) else None
            ),
        )
        if key and state.has_idempotency_key(
            scope.tenant_id, scope.workspace_id, payload.idempotency_key()
        ):
            if unchanged:
                return current
            raise Conflict(
                "idempotency key already used for a different schedule mutation",
                reason="idempotency_key_conflict",
            )
        if unchanged:
            return current
        event_id = new_ulid()
        if current is not None and event_id <= current.definition_version:
            # Another writer's clock is ahead; the fold applies only a newer definition.
            event_id = ulid_floor(ulid_timestamp_ms(current.definition_version) + 1)
        event = make_event(
            payload,
            tenant_id=scope.tenant_id,
            workspace_id=scope.workspace_id,
            event_id=event_id,
            timestamp_ms=self._deps.clock.now_ms(),
        )
        state = (await self._deps.orchestration.commit([event])).state
        row = state.get_schedule(wanted.schedule_id)
        if row is None or schedule_store.definition_of(row) != wanted:
            raise Conflict(
                f"schedule {wanted.schedule_id} was changed concurrently",
                reason="schedule_conflict",
            )
        return row

    async def ListSchedules(
        self, request: orch_pb.ListSchedulesRequest, context: Context
    ) -> orch_pb.ListSchedulesResponse:
        state = await self._schedule_state()
        page, cursor = schedule_store.list_schedules(
            state, limit=request.limit, cursor=request.cursor
        )
        response = orch_pb.ListSchedulesResponse(schedules=[schedule_pb(r) for r in page])
        if cursor:
            response.next_cursor = cursor
        return response

    async def GetSchedule(
        self, request: orch_pb.GetScheduleRequest, context: Context
    ) -> orch_pb.GetScheduleResponse:
        state = await self._schedule_state()
        return orch_pb.GetScheduleResponse(
            schedule=schedule_pb(self._require(state, request.schedule_id))
        )

    async def UpsertSchedule(
        self, request: orch_pb.UpsertScheduleRequest, context: Context
    ) -> orch_pb.UpsertScheduleResponse:
        wanted = schedule_store.validate_definition(
            request.schedule_id,
            cron_expression=request.cron_expression,
            timezone=request.timezone,
            catchup_window_minutes=request.catchup_window_minutes,
            max_catchup_ticks=request.max_catchup_ticks,
            assets=list(request.asset_selection),
            enabled=request.enabled,
        )
        state = await self._schedule_state()
        created = state.get_schedule(wanted.schedule_id) is None
        row = await self._write(state, wanted, "put", context)
        assert row is not None
        return orch_pb.UpsertScheduleResponse(schedule=schedule_pb(row), created=created)

    async def _set_enabled(
        self, schedule_id: str, enabled: bool, context: Context
    ) -> orch_pb.Schedule:
        state = await self._schedule_state()
        current = self._require(state, schedule_id)
        wanted = schedule_store.definition_of(current).with_enabled(enabled)
        row = await self._write(state, wanted, "enable" if enabled else "disable", context)
        assert row is not None
        return schedule_pb(row)

    async def EnableSchedule(
        self, request: orch_pb.EnableScheduleRequest, context: Context
    ) -> orch_pb.EnableScheduleResponse:
        schedule = await self._set_enabled(request.schedule_id, True, context)
        return orch_pb.EnableScheduleResponse(schedule=schedule)

    async def DisableSchedule(
        self, request: orch_pb.DisableScheduleRequest, context: Context
    ) -> orch_pb.DisableScheduleResponse:
        schedule = await self._set_enabled(request.schedule_id, False, context)
        return orch_pb.DisableScheduleResponse(schedule=schedule)

    async def ListScheduleTicks(
        self, request: orch_pb.ListScheduleTicksRequest, context: Context
    ) -> orch_pb.ListScheduleTicksResponse:
        status = None
        if request.status:
            try:
                status = types_pb2.TickStatus.Name(request.status).removeprefix(_TICK_PREFIX)
            except ValueError:
                raise InvalidArgument("status must be TRIGGERED, SKIPPED or FAILED") from None
        state = await self._schedule_state()
        page, cursor = schedule_store.list_ticks(
            state, request.schedule_id, limit=request.limit, cursor=request.cursor, status=status
        )
        response = orch_pb.ListScheduleTicksResponse(ticks=[tick_pb(r) for r in page])
        if cursor:
            response.next_cursor = cursor
        return response
