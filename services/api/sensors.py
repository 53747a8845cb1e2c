"""The sensor RPCs of the api: reads of the sensor projections, pushed messages
(``ManualEvaluateSensor``) and workers' poll answers (``TaskCallbackService.SensorEvaluated``).

A pushed message is one ``SensorEvaluated`` keyed by its message id; once the compactor
has folded it, the runs of the applied evaluation follow (a replayed message folds as a
duplicate, so it has no record of its own and requests nothing).
"""

from __future__ import annotations

import json
from typing import Protocol

import structlog
from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb
from arco.orchestration.v1 import task_callback_service_pb2 as callback_pb

from arco_core.automation import sensor_polls, sensor_runs
from arco_core.automation.sensors import EvaluationStatus, SensorRunRequest
from arco_core.envelope import EventEnvelope
from arco_core.errors import InvalidArgument, InvalidToken, NotFound
from arco_core.ids import new_ulid, parse_callback_task_id
from arco_core.orchestration.events import KnownPayload, make_event
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.runs import RunPlan
from arco_core.orchestration.state import SensorEvalRow, SensorStateRow
from arco_core.tokens import TaskClaims
from services.api.deps import ApiDeps
from services.api.idempotency import IDEMPOTENCY_KEY
from services.common import rpc_context
from services.common.rpc_context import timestamp_from_ms
from services.common.server import RpcContext as Context

log = structlog.get_logger(__name__)

_SENSOR_STATUS = {
    "ACTIVE": orch_pb.SENSOR_STATUS_ACTIVE,
    "PAUSED": orch_pb.SENSOR_STATUS_PAUSED,
    "ERROR": orch_pb.SENSOR_STATUS_ERROR,
}


def sensor_pb(row: SensorStateRow) -> orch_pb.Sensor:
    sensor = orch_pb.Sensor(
        sensor_id=row.sensor_id,
        last_evaluation_at=timestamp_from_ms(row.last_evaluation_at),
        status=_SENSOR_STATUS[row.status],
        state_version=row.state_version,
    )
    if row.cursor is not None:
        sensor.cursor = row.cursor
    return sensor


def eval_status_pb(row: SensorEvalRow) -> orch_pb.SensorEvalStatus:
    status = orch_pb.SensorEvalStatus(status=row.status.lower())
    if row.status == EvaluationStatus.ERROR:
        status.message = row.error_message or ""
    return status


def sensor_eval_pb(row: SensorEvalRow) -> orch_pb.SensorEval:
    item = orch_pb.SensorEval(
        eval_id=row.eval_id,
        sensor_id=row.sensor_id,
        evaluated_at=timestamp_from_ms(row.evaluated_at),
        status=eval_status_pb(row),
        run_requests_count=sensor_runs.run_request_count(row),
    )
    for name, value in (("cursor_before", row.cursor_before), ("cursor_after", row.cursor_after)):
        if value is not None:
            setattr(item, name, value)
    return item


def run_request_pb(row: SensorEvalRow, code_version: str | None) -> list[orch_pb.RunRequest]:
    out = []
    for request in sensor_runs.run_requests(row):
        core = SensorRunRequest(
            request.run_key, request.assets, request.partition_keys, request.labels
        )
        item = orch_pb.RunRequest(
            run_key=core.scoped_run_key(row.sensor_id),
            request_fingerprint=core.fingerprint,
            asset_selection=list(request.assets),
            partition_selection=list(request.partition_keys),
        )
        if code_version is not None:
            item.code_version = code_version
        out.append(item)
    return out


def _eval_filter(request: orch_pb.ListSensorEvalsRequest) -> sensor_runs.EvalFilter:
    status = None
    if request.HasField("status"):
        try:
            status = EvaluationStatus(request.status)
        except ValueError:
            allowed = ", ".join(s.value for s in EvaluationStatus)
            raise InvalidArgument(f"status must be one of: {allowed}") from None
    return sensor_runs.EvalFilter(
        since_ms=request.since.ToMilliseconds() if request.HasField("since") else None,
        until_ms=request.until.ToMilliseconds() if request.HasField("until") else None,
        status=status,
    )


class ServicerHelpers(Protocol):
    """What OrchestrationServicer lends the sensor RPCs: its state and event builders."""

    async def state(self) -> tuple[FoldState, int]: ...

    def event(self, payload: KnownPayload) -> EventEnvelope: ...

    def run_events(self, plan: RunPlan) -> list[EventEnvelope]: ...


class SensorRpcs:
    """The sensor RPCs; OrchestrationServicer delegates to them."""

    def __init__(self, deps: ApiDeps, helpers: ServicerHelpers) -> None:
        self._deps = deps
        self._helpers = helpers

    async def _state(self) -> tuple[FoldState, int]:
        return await self._helpers.state()

    async def ListSensors(
        self, request: orch_pb.ListSensorsRequest, context: Context
    ) -> orch_pb.ListSensorsResponse:
        state, _ = await self._state()
        page, cursor = sensor_runs.list_sensors(state, limit=request.limit, cursor=request.cursor)
        response = orch_pb.ListSensorsResponse(sensors=[sensor_pb(row) for row in page])
        if cursor:
            response.next_cursor = cursor
        return response

    async def GetSensor(
        self, request: orch_pb.GetSensorRequest, context: Context
    ) -> orch_pb.GetSensorResponse:
        state, _ = await self._state()
        scope = self._deps.scope
        row = state.sensor_state_table.rows.get(
            (scope.tenant_id, scope.workspace_id, request.sensor_id)
        )
        if row is None:
            raise NotFound(f"sensor not found: {request.sensor_id}", reason="sensor_not_found")
        return orch_pb.GetSensorResponse(sensor=sensor_pb(row))

    async def ListSensorEvals(
        self, request: orch_pb.ListSensorEvalsRequest, context: Context
    ) -> orch_pb.ListSensorEvalsResponse:
        where = _eval_filter(request)
        state, _ = await self._state()
        page, cursor = sensor_runs.list_sensor_evals(
            state, request.sensor_id, limit=request.limit, cursor=request.cursor, where=where
        )
        response = orch_pb.ListSensorEvalsResponse(evals=[sensor_eval_pb(row) for row in page])
        if cursor:
            response.next_cursor = cursor
        return response

    async def ManualEvaluateSensor(
        self, request: orch_pb.ManualEvaluateSensorRequest, context: Context
    ) -> orch_pb.ManualEvaluateSensorResponse:
        if not request.HasField("payload"):
            raise InvalidArgument("payload is required")
        message_id = request.message_id if request.HasField("message_id") else ""
        message_id = (
            message_id or rpc_context.metadata(context, IDEMPOTENCY_KEY) or f"manual_{new_ulid()}"
        )
        sensor_id = request.sensor_id
        state, _ = await self._state()
        latest = state.latest_code_manifest()
        manifest = json.loads(latest.manifest_json) if latest is not None else None
        deployed = sensor_runs.deployed_sensors(manifest).get(sensor_id)
        eval_id = f"eval_{sensor_id}_{new_ulid()}"
        payload = sensor_runs.push_evaluation(
            sensor_id,
            message_id,
            eval_id=eval_id,
            deployed=deployed,
            attributes=dict(request.attributes),
        )
        state = (await self._deps.orchestration.commit([self._helpers.event(payload)])).state
        written = 1
        scope = self._deps.scope
        row = state.sensor_eval_table.rows.get((scope.tenant_id, scope.workspace_id, eval_id))
        if row is None:  # a replayed message: the first delivery's record answers
            row = _first_delivery(state, sensor_id, message_id)
            written = 0
        if row is None:
            raise NotFound("sensor evaluation not visible", reason="sensor_eval_not_visible")
        code_version = latest.code_version_id if latest is not None else None
        events: list[EventEnvelope] = []
        if written:
            for plan in sensor_runs.eval_run_plans(state, row, manifest, code_version):
                events += self._helpers.run_events(plan)
        if events:
            await self._deps.orchestration.commit(events)
        status = eval_status_pb(row)
        response = orch_pb.ManualEvaluateSensorResponse(
            eval_id=eval_id,
            message_id=message_id,
            run_requests=run_request_pb(row, code_version),
            events_written=written + len(events),
            status=status.status,
        )
        if status.HasField("message"):
            response.message = status.message
        return response


def _first_delivery(state: FoldState, sensor_id: str, message_id: str) -> SensorEvalRow | None:
    for row in state.sensor_eval_table.rows.values():
        if row.sensor_id == sensor_id and row.message_id == message_id:
            return row
    return None


# -- a worker's poll answer (TaskCallbackService.SensorEvaluated) --------------------------


def _answer_scope(claims: TaskClaims, request: callback_pb.SensorEvaluatedRequest) -> str:
    """The sensor the evaluation's token was minted for, the answer matched against it."""
    run_scope, eval_id = parse_callback_task_id(request.task_id)
    sensor_id = run_scope.removeprefix("sensor:")
    if (
        not run_scope.startswith("sensor:")
        or claims.task_id != request.task_id
        or claims.run_id != run_scope
        or claims.attempt_id != eval_id
        or eval_id != request.eval_id
        or claims.attempt != request.expected_state_version + 1
    ):
        raise InvalidToken("the task token does not name this sensor evaluation")
    return sensor_id


async def record_poll_answer(
    deps: ApiDeps, claims: TaskClaims, request: callback_pb.SensorEvaluatedRequest
) -> callback_pb.SensorEvaluatedResponse:
    """Record the answer, then request the runs of an applied one (a stale answer is
    recorded as skipped and requests none)."""
    scope = deps.scope
    if (claims.tenant_id, claims.workspace_id) != (scope.tenant_id, scope.workspace_id):
        raise InvalidToken("the task token is for another workspace")
    sensor_id = _answer_scope(claims, request)
    payload = sensor_polls.poll_answer(
        sensor_id,
        request.eval_id,
        request.expected_state_version,
        cursor=request.cursor if request.HasField("cursor") else None,
        run_requests=[
            {
                "runKey": r.run_key,
                "assets": list(r.assets),
                "partitions": list(r.partitions),
                "labels": dict(r.labels),
            }
            for r in request.run_requests
        ],
        error=request.error if request.HasField("error") else None,
    )
    now = deps.clock.now_ms()

    def event(p: KnownPayload) -> EventEnvelope:
        return make_event(
            p,
            tenant_id=scope.tenant_id,
            workspace_id=scope.workspace_id,
            event_id=new_ulid(),
            timestamp_ms=now,
        )

    state = (await deps.orchestration.commit([event(payload)])).state
    row = state.sensor_eval_table.rows.get((scope.tenant_id, scope.workspace_id, request.eval_id))
    if row is None:
        raise NotFound("sensor evaluation not visible", reason="sensor_eval_not_visible")
    latest = state.latest_code_manifest()
    manifest = json.loads(latest.manifest_json) if latest is not None else None
    code_version = latest.code_version_id if latest is not None else None
    plans = sensor_runs.eval_run_plans(state, row, manifest, code_version)
    events = [event(p) for plan in plans for p in (plan.run_triggered, plan.plan_created)]
    if events:
        await deps.orchestration.commit(events)
    log.info(
        "sensor_poll_answered",
        sensor_id=sensor_id,
        eval_id=request.eval_id,
        status=row.status,
        runs_requested=len(plans),
    )
    return callback_pb.SensorEvaluatedResponse(
        acknowledged=True,
        status=row.status,
        runs_requested=len(plans),
        server_time=timestamp_from_ms(now),
    )
