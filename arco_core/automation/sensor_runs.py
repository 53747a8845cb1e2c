"""Sensors over the published orchestration state: the deployed definitions, the
evaluation a pushed message makes, the runs an applied evaluation requests, and the
paginated reads of ``sensor_state`` and ``sensor_evals``.

A pushed message runs no user code: it asks for one run of the sensor's declared
assets, keyed by the message id, so a redelivered message yields one run. Poll sensors
are evaluated on workers; their answers arrive through the evaluation callback.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from arco_core.automation.sensors import (
    DEFAULT_MINIMUM_INTERVAL_SECONDS,
    EvaluationStatus,
    SensorKind,
    SensorSpec,
)
from arco_core.cursors import decode_keys_cursor, encode_keys_cursor
from arco_core.errors import ArcoError, InvalidArgument
from arco_core.ids import run_id_from_run_key
from arco_core.orchestration.events import SensorEvaluated, SensorRunRequestRecord
from arco_core.orchestration.runs import RunPlan, TriggerRequest, plan_run
from arco_core.orchestration.state import SensorEvalRow, SensorStateRow
from arco_core.orchestration.tables import ProjectionTables
from arco_core.orchestration.values import TriggerInfo

__all__ = [
    "DeployedSensor",
    "EvalFilter",
    "deployed_sensors",
    "eval_run_plans",
    "list_sensor_evals",
    "list_sensors",
    "missing_sensor_runs",
    "push_evaluation",
    "sensor_run_id",
]

log = structlog.get_logger(__name__)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# Run ids of sensor runs derive from public run keys: there is nothing to keep secret.
_SENSOR_RUN_ID_KEY = b""


@dataclass(frozen=True, slots=True)
class DeployedSensor:
    """A sensor of the latest manifest and the assets its pushed messages run."""

    spec: SensorSpec
    assets: tuple[str, ...]


def deployed_sensors(manifest: Mapping[str, Any] | None) -> dict[str, DeployedSensor]:
    """The sensors a stored manifest declares, by id."""
    out: dict[str, DeployedSensor] = {}
    for entry in (manifest or {}).get("sensors") or []:
        spec = SensorSpec(
            str(entry["id"]),
            SensorKind(str(entry.get("kind") or SensorKind.POLL)),
            int(entry.get("minimumIntervalSeconds") or DEFAULT_MINIMUM_INTERVAL_SECONDS),
        )
        out[spec.sensor_id] = DeployedSensor(spec, tuple(entry.get("assets") or ()))
    return out


def push_evaluation(
    sensor_id: str,
    message_id: str,
    *,
    eval_id: str,
    deployed: DeployedSensor | None,
    attributes: Mapping[str, str],
) -> SensorEvaluated:
    """The evaluation of one pushed message: one run of the declared assets (none for a
    sensor the latest manifest does not declare, or one without assets). A declared poll
    sensor takes no messages."""
    SensorSpec(sensor_id)  # the id rules apply to pushed ids too
    if deployed is not None and deployed.spec.kind is SensorKind.POLL:
        # Its cursor is the user's function's; a message id there would corrupt it.
        raise InvalidArgument(
            f"sensor {sensor_id} is a poll sensor: workers evaluate it, messages cannot",
            reason="not_a_push_sensor",
        )
    if not message_id:
        raise InvalidArgument("a pushed message needs a message id", reason="invalid_message_id")
    requests: tuple[SensorRunRequestRecord, ...] = ()
    if deployed is not None and deployed.assets:
        labels = {f"arco.message.{k}": v for k, v in sorted(attributes.items())}
        requests = (SensorRunRequestRecord(message_id, deployed.assets, (), labels),)
    return SensorEvaluated(
        sensor_id=sensor_id,
        eval_id=eval_id,
        trigger_source="push",
        message_id=message_id,
        cursor_after=message_id,
        run_requests=requests,
    )


def sensor_run_id(tenant_id: str, workspace_id: str, sensor_id: str, run_key: str) -> str:
    return run_id_from_run_key(
        _SENSOR_RUN_ID_KEY, tenant_id, workspace_id, f"sensor:{sensor_id}:{run_key}"
    )


def _requests_of(row: SensorEvalRow) -> list[SensorRunRequestRecord]:
    return [
        SensorRunRequestRecord(
            item["run_key"],
            tuple(item["assets"]),
            tuple(item.get("partition_keys") or ()),
            item.get("labels") or {},
        )
        for item in (json.loads(row.run_requests) if row.run_requests else [])
    ]


def eval_run_plans(
    state: ProjectionTables,
    row: SensorEvalRow,
    manifest: Mapping[str, Any] | None,
    code_version: str | None,
) -> list[RunPlan]:
    """The runs an applied evaluation requested that do not exist yet. A request the
    latest manifest cannot plan (an unknown asset) is logged and left out."""
    if row.status != EvaluationStatus.TRIGGERED or manifest is None:
        return []
    plans = []
    for request in _requests_of(row):
        run_key = f"sensor:{row.sensor_id}:{request.run_key}"
        run_id = sensor_run_id(row.tenant_id, row.workspace_id, row.sensor_id, request.run_key)
        if state.get_run(run_id) is not None:
            continue
        partitions = request.partition_keys
        trigger = TriggerRequest(
            selection=request.assets,
            run_key=run_key,
            labels={
                **request.labels,
                "arco.sensor_id": row.sensor_id,
                "arco.sensor_eval_id": row.eval_id,
            },
            partition_key=partitions[0] if len(partitions) == 1 else None,
            user_id=f"sensor:{row.sensor_id}",
        )
        try:
            plan = plan_run(manifest, trigger, run_id=run_id, code_version=code_version)
        except ArcoError as exc:
            log.warning(
                "sensor_run_request_unplannable",
                sensor_id=row.sensor_id,
                eval_id=row.eval_id,
                run_key=request.run_key,
                error=exc.message,
            )
            continue
        sensor_trigger = TriggerInfo(
            "sensor", {"sensor_id": row.sensor_id, "cursor": row.cursor_after}
        )
        plans.append(
            dataclasses.replace(
                plan,
                run_triggered=dataclasses.replace(plan.run_triggered, trigger=sensor_trigger),
            )
        )
    return plans


def missing_sensor_runs(
    state: ProjectionTables, manifest: Mapping[str, Any] | None, code_version: str | None
) -> list[RunPlan]:
    """The runs of every applied evaluation that do not exist yet: what the writer of an
    evaluation did not get to write (it crashed in between)."""
    return [
        plan
        for row in state.sensor_eval_table.rows.values()
        if row.status == EvaluationStatus.TRIGGERED
        for plan in eval_run_plans(state, row, manifest, code_version)
    ]


# -- reads -----------------------------------------------------------------------------------


def _limit(limit: int) -> int:
    if limit < 0 or limit > MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}")
    return limit or DEFAULT_LIMIT


def list_sensors(
    state: ProjectionTables, *, limit: int, cursor: str
) -> tuple[list[SensorStateRow], str | None]:
    """One page of sensor states by sensor id, and the next page's cursor."""
    size = _limit(limit)
    after = decode_keys_cursor(cursor, 1)[0] if cursor else None
    rows = sorted(state.sensor_state_table.rows.values(), key=lambda r: r.sensor_id)
    if after is not None:
        rows = [r for r in rows if r.sensor_id > after]
    if len(rows) > size:
        return rows[:size], encode_keys_cursor([rows[size - 1].sensor_id])
    return rows, None


@dataclass(frozen=True, slots=True)
class EvalFilter:
    since_ms: int | None = None  # inclusive
    until_ms: int | None = None  # inclusive
    status: EvaluationStatus | None = None


def _eval_sort_key(row: SensorEvalRow) -> tuple[int, str]:
    return (-row.evaluated_at, row.eval_id)


def list_sensor_evals(
    state: ProjectionTables,
    sensor_id: str,
    *,
    limit: int,
    cursor: str,
    where: EvalFilter,
) -> tuple[list[SensorEvalRow], str | None]:
    """One page of a sensor's evaluations, newest first (then by eval id)."""
    size = _limit(limit)
    after: tuple[int, str] | None = None
    if cursor:
        at, eval_id = decode_keys_cursor(cursor, 2)
        if not at.isdigit():
            raise InvalidArgument("invalid cursor")
        after = (-int(at), eval_id)
    rows = sorted(
        (
            r
            for r in state.sensor_eval_table.rows.values()
            if r.sensor_id == sensor_id
            and (where.since_ms is None or r.evaluated_at >= where.since_ms)
            and (where.until_ms is None or r.evaluated_at <= where.until_ms)
            and (where.status is None or r.status == where.status)
        ),
        key=_eval_sort_key,
    )
    if after is not None:
        rows = [r for r in rows if _eval_sort_key(r) > after]
    if len(rows) > size:
        last = rows[size - 1]
        return rows[:size], encode_keys_cursor([f"{last.evaluated_at:020d}", last.eval_id])
    return rows, None


def run_request_count(row: SensorEvalRow) -> int:
    return len(json.loads(row.run_requests)) if row.run_requests else 0


def run_requests(row: SensorEvalRow) -> list[SensorRunRequestRecord]:
    return _requests_of(row)
