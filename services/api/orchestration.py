"""OrchestrationService of the api: deployments, runs and logs.

Every write is ledger events plus a compaction request; answers come from the published
projection that contains those events. Nothing here writes Parquet state.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import structlog
from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb
from arco.orchestration.v1 import orchestration_service_pb2_grpc as orch_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from arco_core.canonical_json import parse_json_object
from arco_core.clock import rfc3339_ms
from arco_core.cursors import decode_cursor, encode_cursor
from arco_core.envelope import EventEnvelope
from arco_core.errors import (
    AlreadyExists,
    AttemptNotStarted,
    Conflict,
    InternalError,
    InvalidArgument,
    NotFound,
    ObjectAlreadyExists,
    ObjectNotFound,
)
from arco_core.ids import new_ulid
from arco_core.orchestration import deployments, partitions, runs
from arco_core.orchestration.callbacks import AttemptClaim, CallbackHandler, resolve_task
from arco_core.orchestration.events import KnownPayload, make_event
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.task_logs import task_log_bytes
from arco_core.partition import PartitionKey
from arco_core.paths import run_key_fingerprint_path, run_key_reservation_path, task_log_path
from arco_core.tokens import TaskClaims
from services.api import orchestration_convert as convert
from services.api.auth import caller
from services.api.backfills import BackfillRpcs
from services.api.callbacks import StartedFolds, attempt_key, task_claims
from services.api.deps import ApiDeps
from services.api.idempotency import IDEMPOTENCY_KEY, IdempotencyMarkers, reserve_record
from services.api.schedules import ScheduleRpcs
from services.api.sensors import SensorRpcs
from services.common import rpc_context
from services.common.rpc_context import timestamp_from_ms
from services.common.server import RpcContext as Context

log = structlog.get_logger(__name__)

MAX_LOG_PAGE = 200
DEFAULT_LOG_PAGE = 50
MAX_LOG_RESPONSE_BYTES = 8 * 1024 * 1024


def _tenant_level(rpc: str) -> InternalError:
    # The router runs tenant-level RPCs on services.api.workspaces, never on a scope.
    return InternalError(f"{rpc} reached a scope's servicer", reason="tenant_rpc_misrouted")


class OrchestrationServicer(BackfillRpcs, ScheduleRpcs, orch_grpc.OrchestrationServiceServicer):
    def __init__(self, deps: ApiDeps, started_folds: StartedFolds) -> None:
        self._deps = deps
        self._markers = IdempotencyMarkers(deps.storage, deps.clock)
        self._callbacks = CallbackHandler(deps.scope.tenant_id, deps.scope.workspace_id)
        self._started_folds = started_folds
        self._sensors = SensorRpcs(deps, _SensorHelpers(self))

    # -- helpers ------------------------------------------------------------------------

    def _event(self, payload: KnownPayload, *, event_id: str | None = None) -> EventEnvelope:
        scope = self._deps.scope
        return make_event(
            payload,
            tenant_id=scope.tenant_id,
            workspace_id=scope.workspace_id,
            event_id=event_id or new_ulid(),
            timestamp_ms=self._deps.clock.now_ms(),
        )

    async def _state(self) -> tuple[FoldState, int]:
        # This api's own commits load their state into the shared reader before they
        # answer, so the head the stream announced is enough for read-your-writes.
        snapshot = await self._deps.orchestration_heads.snapshot()
        return snapshot.state, snapshot.seq or 0

    def _run_ids(self, run_id: str) -> dict[str, Any]:
        """Everything a run's two events depend on, fixed up front: replays of a run key
        after a crash or from a concurrent caller then write byte-identical events."""
        return {
            "run_id": run_id,
            "trigger_id": new_ulid(),
            "plan_id": new_ulid(),
            "at": rfc3339_ms(self._deps.clock.now_ms()),
        }

    def _run_events(self, plan: runs.RunPlan, ids: dict[str, Any]) -> list[EventEnvelope]:
        return [
            dataclasses.replace(self._event(payload, event_id=event_id), timestamp=ids["at"])
            for payload, event_id in (
                (plan.run_triggered, ids["trigger_id"]),
                (plan.plan_created, ids["plan_id"]),
            )
        ]

    async def _reserved_fingerprint(self, run_key: str, held: dict[str, Any]) -> str | None:
        """The request fingerprint a run key's reservation stands for: its own, else the
        one an operator backfilled; None for a legacy reservation that has neither."""
        own = held.get(runs.REQUEST_FINGERPRINT)
        if own is not None:
            return str(own)
        try:
            raw = await self._deps.storage.get(run_key_fingerprint_path(run_key))
        except ObjectNotFound:
            return None
        return str(parse_json_object(raw)[runs.REQUEST_FINGERPRINT])

    # -- deployments --------------------------------------------------------------------

    async def DeployManifest(
        self, request: orch_pb.DeployManifestRequest, context: Context
    ) -> orch_pb.DeployManifestResponse:
        identity = caller()
        manifest = convert.manifest_request_json(request)
        now = self._deps.clock.now_ms()
        fresh = {"manifest_id": new_ulid(), "event_id": new_ulid(), "deployed_at": rfc3339_ms(now)}
        limits = self._deps.config.manifest_limits
        deployments.validate_manifest(manifest, limits)  # before anything is reserved or hashed
        marker = IdempotencyMarkers.key(
            "manifests",
            "deploy_manifest",
            rpc_context.metadata(context, IDEMPOTENCY_KEY),
            deployments.manifest_fingerprint(manifest),
        )
        ids = fresh if marker is None else await self._markers.reserve(marker, fresh)
        plan = deployments.plan_deploy(
            manifest,
            manifest_id=ids["manifest_id"],
            tenant_id=identity.tenant,
            workspace_id=identity.workspace,
            deployed_by=request.deployed_by if request.HasField("deployed_by") else identity.user,
            deployed_at=ids["deployed_at"],
            limits=limits,
        )
        state, _ = await self._state()
        created = state.get_code_manifest(ids["manifest_id"]) is None
        if created:
            # The reservation's time, so a replay after a crash writes identical bytes.
            event = dataclasses.replace(
                self._event(plan.event, event_id=ids["event_id"]), timestamp=ids["deployed_at"]
            )
            state = (await self._deps.orchestration.commit([event])).state
        row = state.get_code_manifest(ids["manifest_id"])
        if row is None:
            raise NotFound("manifest not visible after deploy", reason="manifest_not_visible")
        return orch_pb.DeployManifestResponse(
            manifest_id=row.manifest_id,
            workspace_id=identity.workspace,
            code_version_id=row.code_version_id,
            fingerprint=row.fingerprint,
            asset_count=row.asset_count,
            deployed_at=timestamp_from_ms(row.deployed_at),
            created=created and ids["manifest_id"] == fresh["manifest_id"],
        )

    async def ListManifests(
        self, request: orch_pb.ListManifestsRequest, context: Context
    ) -> orch_pb.ListManifestsResponse:
        state, _ = await self._state()
        return orch_pb.ListManifestsResponse(
            manifests=[convert.manifest_item(row) for row in state.code_manifests()]
        )

    async def GetManifest(
        self, request: orch_pb.GetManifestRequest, context: Context
    ) -> orch_pb.GetManifestResponse:
        state, _ = await self._state()
        row = state.get_code_manifest(request.manifest_id)
        if row is None:
            raise NotFound(
                f"manifest not found: {request.manifest_id}", reason="manifest_not_found"
            )
        return orch_pb.GetManifestResponse(manifest=convert.stored_manifest_pb(row))

    # -- runs ---------------------------------------------------------------------------

    async def TriggerRun(
        self, request: orch_pb.TriggerRunRequest, context: Context
    ) -> orch_pb.TriggerRunResponse:
        run_key = request.run_key if request.HasField("run_key") else None
        run_key = run_key or rpc_context.metadata(context, IDEMPOTENCY_KEY) or None
        trigger = _trigger_request(request, run_key, context)
        state, _ = await self._state()
        latest = state.latest_code_manifest()
        if latest is None:
            raise InvalidArgument("no manifest deployed for workspace", reason="no_manifest")
        manifest = deployments.stored_manifest(latest)
        run_id, created = new_ulid(), True
        ids = self._run_ids(run_id)
        if run_key:
            fingerprint = runs.request_fingerprint(trigger)
            held = await reserve_record(
                self._deps.storage,
                run_key_reservation_path(run_key),
                {**ids, runs.REQUEST_FINGERPRINT: fingerprint, "run_key": run_key},
            )
            stored = await self._reserved_fingerprint(run_key, held)
            if stored is None:
                same = runs.legacy_reservation_matches(held, trigger, _manifest_ids(state))
            else:
                same = stored == fingerprint
            if not same:
                raise _run_key_conflict(run_key)
            created = held["run_id"] == run_id
            ids = held
        if state.get_run(ids["run_id"]) is None:
            plan = runs.plan_run(
                manifest, trigger, run_id=ids["run_id"], code_version=latest.code_version_id
            )
            events = self._run_events(plan, ids)
            state = (await self._deps.orchestration.commit(events)).state
        run = runs.require_run(state, ids["run_id"])
        public = runs.public_run_status(run, state.list_tasks(run.run_id))
        return orch_pb.TriggerRunResponse(
            run_id=run.run_id,
            plan_id=run.plan_id,
            state=convert.run_status(public),
            created=created,
            created_at=timestamp_from_ms(run.triggered_at),
        )

    async def GetRun(
        self, request: orch_pb.GetRunRequest, context: Context
    ) -> orch_pb.GetRunResponse:
        identity = caller()
        state, seq = await self._state()
        run = runs.require_run(state, request.run_id)
        public = runs.public_run_status(run, state.list_tasks(run.run_id))
        return convert.run_response(state, run, public, identity.workspace, seq)

    async def ListRuns(
        self, request: orch_pb.ListRunsRequest, context: Context
    ) -> orch_pb.ListRunsResponse:
        state, _ = await self._state()
        listed, cursor = runs.list_runs(
            state,
            limit=request.limit,
            cursor=request.cursor,
            status=convert.status_filter(request.state),
        )
        response = orch_pb.ListRunsResponse(
            runs=[convert.run_list_item(run, public) for run, public in listed]
        )
        if cursor:
            response.next_cursor = cursor
        return response

    async def ListPartitions(
        self, request: orch_pb.ListPartitionsRequest, context: Context
    ) -> orch_pb.ListPartitionsResponse:
        state, _ = await self._state()
        page, cursor = partitions.list_partitions(
            state,
            limit=request.limit,
            cursor=request.cursor,
            asset_key=request.asset_key if request.HasField("asset_key") else None,
            stale_only=request.stale_only,
        )
        response = orch_pb.ListPartitionsResponse(
            partitions=[convert.partition_status(row) for row in page]
        )
        if cursor:
            response.next_cursor = cursor
        return response

    async def GetAssetPartitionSummary(
        self, request: orch_pb.GetAssetPartitionSummaryRequest, context: Context
    ) -> orch_pb.GetAssetPartitionSummaryResponse:
        state, _ = await self._state()
        return convert.partition_summary(partitions.summarize(state, request.asset_key))

    async def CancelRun(
        self, request: orch_pb.CancelRunRequest, context: Context
    ) -> orch_pb.CancelRunResponse:
        identity = caller()
        state, _ = await self._state()
        payload = runs.plan_cancel(
            state,
            request.run_id,
            reason=request.reason if request.HasField("reason") else None,
            requested_by=identity.user or "unknown",
        )
        if payload is not None:
            state = (await self._deps.orchestration.commit([self._event(payload)])).state
        run = runs.require_run(state, request.run_id)
        public = runs.public_run_status(run, state.list_tasks(run.run_id))
        return orch_pb.CancelRunResponse(
            run_id=run.run_id,
            state=convert.run_status("CANCELLED" if public == "CANCELLED" else "CANCELLING"),
            cancelled_at=timestamp_from_ms(self._deps.clock.now_ms()),
        )

    async def RerunRun(
        self, request: orch_pb.RerunRunRequest, context: Context
    ) -> orch_pb.RerunRunResponse:
        identity = caller()
        mode = convert.RERUN_MODES.get(request.mode)
        if mode is None:
            raise InvalidArgument("mode must be fromFailure or subset")
        state, _ = await self._state()
        parent = runs.require_run(state, request.run_id)
        chosen, reason = runs.rerun_selection(
            state,
            parent,
            mode=mode,
            selection=list(request.selection),
            include_upstream=request.include_upstream,
            include_downstream=request.include_downstream,
        )
        run_key = request.run_key if request.HasField("run_key") else None
        ids = self._run_ids(new_ulid())
        created = True
        if run_key:
            fingerprint = json.dumps([request.run_id, mode, sorted(chosen)])
            held = await reserve_record(
                self._deps.storage,
                run_key_reservation_path(run_key),
                {**ids, "fingerprint": fingerprint},
            )
            if held.get("fingerprint") != fingerprint:
                raise _run_key_conflict(run_key)
            created = held["run_id"] == ids["run_id"]
            ids = held
        if state.get_run(ids["run_id"]) is None:
            plan = runs.plan_rerun(
                state,
                parent,
                chosen,
                run_id=ids["run_id"],
                kind=mode,
                reason=reason,
                run_key=run_key,
                labels=dict(request.labels),
                user_id=identity.user,
            )
            events = self._run_events(plan, ids)
            state = (await self._deps.orchestration.commit(events)).state
        run = runs.require_run(state, ids["run_id"])
        public = runs.public_run_status(run, state.list_tasks(run.run_id))
        return orch_pb.RerunRunResponse(
            run_id=run.run_id,
            plan_id=run.plan_id,
            state=convert.run_status(public),
            created=created,
            created_at=timestamp_from_ms(run.triggered_at),
            parent_run_id=parent.run_id,
            rerun_kind=convert.RERUN_KINDS[mode],
            rerun_reason=run.rerun_reason or reason,
        )

    # -- run-key backfill ---------------------------------------------------------------

    async def BackfillRunKey(
        self, request: orch_pb.BackfillRunKeyRequest, context: Context
    ) -> orch_pb.BackfillRunKeyResponse:
        if not request.run_key:
            raise InvalidArgument("runKey is required")
        trigger = _trigger_request(request, request.run_key, context)
        fingerprint = runs.request_fingerprint(trigger)
        try:
            raw = await self._deps.storage.get(run_key_reservation_path(request.run_key))
        except ObjectNotFound:
            raise NotFound(
                f"runKey {request.run_key!r} is not reserved", reason="run_key_not_found"
            ) from None
        held = parse_json_object(raw)
        stored = await self._reserved_fingerprint(request.run_key, held)
        updated = False
        if stored is None:
            state, _ = await self._state()
            if not runs.legacy_reservation_matches(held, trigger, _manifest_ids(state)):
                raise _run_key_conflict(request.run_key)
            record = {"run_key": request.run_key, runs.REQUEST_FINGERPRINT: fingerprint}
            # Create-if-absent: of two concurrent backfills the first one's fingerprint wins.
            kept = await reserve_record(
                self._deps.storage, run_key_fingerprint_path(request.run_key), record
            )
            stored, updated = str(kept[runs.REQUEST_FINGERPRINT]), kept is record
            log.info("run_key_fingerprint_backfilled", run_key=request.run_key, updated=updated)
        if stored != fingerprint:
            raise _run_key_conflict(request.run_key)
        created_at = Timestamp()
        created_at.FromJsonString(held["at"])
        return orch_pb.BackfillRunKeyResponse(
            run_key=request.run_key,
            run_id=held["run_id"],
            request_fingerprint=stored,
            updated=updated,
            created_at=created_at,
        )

    # -- SENSORS (services/api/sensors.py) ----------------------------------------------

    async def ListSensors(
        self, request: orch_pb.ListSensorsRequest, context: Context
    ) -> orch_pb.ListSensorsResponse:
        return await self._sensors.ListSensors(request, context)

    async def GetSensor(
        self, request: orch_pb.GetSensorRequest, context: Context
    ) -> orch_pb.GetSensorResponse:
        return await self._sensors.GetSensor(request, context)

    async def ListSensorEvals(
        self, request: orch_pb.ListSensorEvalsRequest, context: Context
    ) -> orch_pb.ListSensorEvalsResponse:
        return await self._sensors.ListSensorEvals(request, context)

    async def ManualEvaluateSensor(
        self, request: orch_pb.ManualEvaluateSensorRequest, context: Context
    ) -> orch_pb.ManualEvaluateSensorResponse:
        return await self._sensors.ManualEvaluateSensor(request, context)

    # -- workspaces ---------------------------------------------------------------------

    async def CreateWorkspace(
        self, request: orch_pb.CreateWorkspaceRequest, context: Context
    ) -> orch_pb.CreateWorkspaceResponse:
        raise _tenant_level("CreateWorkspace")

    async def ListWorkspaces(
        self, request: orch_pb.ListWorkspacesRequest, context: Context
    ) -> orch_pb.ListWorkspacesResponse:
        raise _tenant_level("ListWorkspaces")

    # -- logs ---------------------------------------------------------------------------

    async def _start_claimed(self, state: FoldState, claims: TaskClaims, task_key: str) -> bool:
        """Whether the token's attempt holds its claim: a claim is taken only once the
        attempt's TaskStarted is durable, by whichever api replica took the start."""
        if claims.run_id is None or claims.attempt is None or not claims.attempt_id:
            return False
        claim = AttemptClaim(
            run_id=claims.run_id,
            task_key=resolve_task(state, task_key, claims.run_id).task_key,
            attempt=claims.attempt,
            attempt_id=claims.attempt_id,
            worker_id="",  # only the claim's existence is asked
        )
        try:
            await self._deps.storage.get(claim.path)
        except ObjectNotFound:
            return False
        return True

    async def UploadTaskLogs(
        self, request: orch_pb.UploadTaskLogsRequest, context: Context
    ) -> orch_pb.UploadTaskLogsResponse:
        if not request.task_key:
            raise InvalidArgument("taskKey is required")
        if request.attempt < 1:
            raise InvalidArgument("attempt must be >= 1")
        if request.workspace_id != self._deps.scope.workspace_id:
            raise NotFound("workspace not found")
        # The worker running the attempt uploads with that attempt's task token.
        claims = task_claims(self._deps, context)
        state, _ = await self._state()
        runs.require_run(state, request.run_id)
        started_here = bool(self._started_folds.unfolded(attempt_key(claims)))

        def judge(started_unfolded: bool) -> None:
            self._callbacks.log_upload(
                state,
                claims,
                run_id=request.run_id,
                task_key=request.task_key,
                attempt=request.attempt,
                started_unfolded=started_unfolded,
            )

        try:
            judge(started_here)
        except AttemptNotStarted:
            # Another api replica may have taken the start, its fold not landed yet.
            if started_here or not await self._start_claimed(state, claims, request.task_key):
                raise
            judge(True)
        data = task_log_bytes(request.stdout, request.stderr, self._deps.config.log_max_bytes)
        if len(data) > self._deps.config.log_max_bytes:
            raise InvalidArgument(
                f"logs exceed {self._deps.config.log_max_bytes} bytes", reason="logs_too_large"
            )
        path = task_log_path(request.run_id, request.task_key, request.attempt)
        try:
            await self._deps.storage.create(path, data)
        except ObjectAlreadyExists:
            raise AlreadyExists(
                f"logs for {request.task_key} attempt {request.attempt} were already uploaded",
                reason="logs_already_uploaded",
            ) from None
        return orch_pb.UploadTaskLogsResponse(path=path, size_bytes=len(data))

    async def GetRunLogs(
        self, request: orch_pb.GetRunLogsRequest, context: Context
    ) -> orch_pb.GetRunLogsResponse:
        if request.limit > MAX_LOG_PAGE:
            raise InvalidArgument(f"limit must be at most {MAX_LOG_PAGE}")
        limit = request.limit or DEFAULT_LOG_PAGE
        state, _ = await self._state()
        objects = runs.log_objects(
            state, request.run_id, request.task_key if request.HasField("task_key") else None
        )
        start = 0
        if request.cursor:
            try:
                start = int(decode_cursor(request.cursor))
            except ValueError:
                raise InvalidArgument("invalid cursor") from None
        chunks: list[str] = []
        size = 0
        end = min(len(objects), start + limit)
        position = start
        while position < end:
            task_key, attempt = objects[position]
            try:
                body = await self._deps.reader_storage.get(
                    task_log_path(request.run_id, task_key, attempt)
                )
            except ObjectNotFound:
                position += 1
                continue
            text = f"=== {task_key} attempt {attempt} ===\n{body.decode(errors='replace')}\n"
            if chunks and size + len(text) > MAX_LOG_RESPONSE_BYTES:
                break  # this object starts the next page
            chunks.append(text)
            size += len(text)
            position += 1
        response = orch_pb.GetRunLogsResponse(text="".join(chunks))
        if position < len(objects):
            response.next_cursor = encode_cursor(str(position))
        return response


def _trigger_request(
    request: orch_pb.TriggerRunRequest | orch_pb.BackfillRunKeyRequest,
    run_key: str | None,
    context: Context,
) -> runs.TriggerRequest:
    """The trigger a request (or the backfill of its run key) stands for, validated."""
    if request.HasField("partition_key") and request.partitions:
        raise InvalidArgument("partitionKey and partitions are mutually exclusive")
    partition_key = request.partition_key if request.HasField("partition_key") else None
    if request.partitions:
        partition_key = PartitionKey.of({p.key: p.value for p in request.partitions}).canonical()
    trigger = runs.TriggerRequest(
        selection=tuple(request.selection),
        include_upstream=request.include_upstream,
        include_downstream=request.include_downstream,
        run_key=run_key,
        labels=dict(request.labels),
        partition_key=partition_key,
        user_id=caller().user,
        traceparent=rpc_context.metadata(context, "traceparent") or None,
    )
    runs.validate_trigger(trigger)
    return trigger


def _manifest_ids(state: FoldState) -> list[str]:
    return [row.manifest_id for row in state.code_manifests()]


def _run_key_conflict(run_key: str) -> Conflict:
    return Conflict(
        f"runKey {run_key!r} was already used with a different request",
        reason="run_key_conflict",
    )


class _SensorHelpers:
    """The servicer's state and event builders, as the sensor RPCs use them."""

    def __init__(self, servicer: OrchestrationServicer) -> None:
        self._servicer = servicer

    async def state(self) -> tuple[FoldState, int]:
        return await self._servicer._state()

    def event(self, payload: KnownPayload) -> EventEnvelope:
        return self._servicer._event(payload)

    def run_events(self, plan: runs.RunPlan) -> list[EventEnvelope]:
        return self._servicer._run_events(plan, self._servicer._run_ids(plan.run_triggered.run_id))
