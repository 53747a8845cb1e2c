"""The backfill RPCs of OrchestrationService: create (explicit list, range, or range
filtered by partition status), list, get, chunks, and the state moves pause, resume,
cancel and retry-failed. Writes are ledger events; answers come from the published state
that contains them. The automation service plans the chunks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb
from google.protobuf import json_format, struct_pb2

from arco_core.automation.backfill_runs import (
    STATUS_FILTERS,
    request_fingerprint,
    resolve_backfill_partitions,
)
from arco_core.automation.backfills import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_CONCURRENT_RUNS,
    BackfillState,
    ChunkState,
    parse_selector,
    retry_failed_selector,
    selector_to_json,
    transition,
)
from arco_core.errors import Conflict, InvalidArgument
from arco_core.ids import new_ulid
from arco_core.orchestration import backfills_fold as bf
from arco_core.orchestration import deployments
from arco_core.orchestration.events import BackfillCreated, BackfillStateChanged, make_event
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.state import BackfillRow
from services.api.auth import caller
from services.api.deps import ApiDeps
from services.api.idempotency import IDEMPOTENCY_KEY
from services.common import rpc_context
from services.common.rpc_context import timestamp_from_ms
from services.common.server import RpcContext as Context

_STATE_PB = {s: f"BACKFILL_STATE_{s.value}" for s in BackfillState}
_CHUNK_PB = {s: f"CHUNK_STATE_{s.value}" for s in ChunkState}
_CANONICAL = {"sort_keys": True, "separators": (",", ":")}


def _selector_struct(selector_json: str) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(json.loads(selector_json))
    return out


def _backfill_pb(view: bf.BackfillView) -> orch_pb.Backfill:
    row, counts = view.row, view.progress
    out = orch_pb.Backfill(
        backfill_id=row.backfill_id,
        asset_selection=view.asset_selection,
        partition_selector=_selector_struct(row.selector_json),
        chunk_size=row.chunk_size,
        max_concurrent_runs=row.max_concurrent_runs,
        state=_STATE_PB[view.state],
        state_version=row.state_version,
        created_at=timestamp_from_ms(row.created_at),
        chunk_counts=orch_pb.ChunkCounts(
            total=counts.total,
            pending=counts.pending,
            running=counts.running,
            succeeded=counts.succeeded,
            failed=counts.failed,
        ),
        total_partitions=row.total_partitions,
    )
    if row.parent_backfill_id:
        out.parent_backfill_id = row.parent_backfill_id
    return out


def _parse_request_selector(raw: Mapping[str, Any]) -> tuple[dict[str, Any], str | None, Any]:
    """(normalised selector JSON as stored, status filter, parsed selector)."""
    status = None
    if raw.get("type") == "filter" and isinstance(raw.get("filters"), Mapping):
        filters = dict(raw["filters"])
        status = filters.pop("status", None)
        if status is not None and status not in STATUS_FILTERS:
            raise InvalidArgument(
                f"filter status must be one of {', '.join(STATUS_FILTERS)}",
                reason="invalid_partition_selector",
            )
        raw = {**raw, "filters": filters}
    selector = parse_selector(raw)
    stored = selector_to_json(selector)
    if status is not None:
        stored = {"type": "filter", "filters": {"start": stored["start"], "end": stored["end"]}}
        stored["filters"]["status"] = status
    return stored, status, selector


def _by_client_request(state: FoldState, key: str) -> BackfillRow | None:
    return next((r for r in state.backfill_table.rows.values() if r.client_request_id == key), None)


class BackfillRpcs:
    """Mixed into the OrchestrationServicer (which owns ``_deps``)."""

    _deps: ApiDeps

    async def _backfill_state(self) -> FoldState:
        return (await self._deps.orchestration_heads.snapshot()).state

    async def _create(
        self,
        state: FoldState,
        *,
        client_request_id: str,
        assets: list[str],
        stored_selector: dict[str, Any],
        keys: tuple[str, ...],
        chunk_size: int,
        max_runs: int,
        parent: str | None = None,
    ) -> tuple[BackfillRow, bool]:
        """The backfill of ``client_request_id``, created unless it exists (True if new)."""
        fingerprint = request_fingerprint(assets, stored_selector, chunk_size, max_runs)
        existing = _by_client_request(state, client_request_id)
        backfill_id = new_ulid()
        if existing is None:
            latest = state.latest_code_manifest()
            payload = BackfillCreated(
                backfill_id=backfill_id,
                client_request_id=client_request_id,
                asset_selection=tuple(assets),
                selector_json=json.dumps(stored_selector, **_CANONICAL),  # type: ignore[arg-type]
                partition_keys=keys,
                chunk_size=chunk_size,
                max_concurrent_runs=max_runs,
                fingerprint=fingerprint,
                created_by=caller().user or "unknown",
                code_version=None if latest is None else latest.code_version_id,
                parent_backfill_id=parent,
            )
            scope = self._deps.scope
            event = make_event(
                payload,
                tenant_id=scope.tenant_id,
                workspace_id=scope.workspace_id,
                timestamp_ms=self._deps.clock.now_ms(),
            )
            state = (await self._deps.orchestration.commit([event])).state
            existing = _by_client_request(state, client_request_id)
            if existing is None:
                raise Conflict("backfill not visible after create; retry", reason="conflict")
        if existing.fingerprint != fingerprint:
            raise Conflict(
                f"client request id {client_request_id!r} was used for another backfill",
                reason="idempotency_conflict",
            )
        return existing, existing.backfill_id == backfill_id

    async def CreateBackfill(
        self, request: orch_pb.CreateBackfillRequest, context: Context
    ) -> orch_pb.CreateBackfillResponse:
        key = request.client_request_id if request.HasField("client_request_id") else ""
        key = key or rpc_context.metadata(context, IDEMPOTENCY_KEY) or ""
        if not key:
            raise InvalidArgument("clientRequestId or an Idempotency-Key header is required")
        if len(request.asset_selection) != 1:
            raise InvalidArgument(
                "a backfill needs exactly one asset (multi-asset backfills are not supported yet)"
            )
        if not request.HasField("partition_selector"):
            raise InvalidArgument("partitionSelector is required")
        stored, status, selector = _parse_request_selector(
            json_format.MessageToDict(request.partition_selector)
        )
        state = await self._backfill_state()
        latest = state.latest_code_manifest()
        if latest is None:
            raise InvalidArgument("no manifest deployed for workspace", reason="no_manifest")
        asset = request.asset_selection[0]
        keys = resolve_backfill_partitions(
            state, deployments.stored_manifest(latest), asset, selector, status
        )
        row, created = await self._create(
            state,
            client_request_id=key,
            assets=[asset],
            stored_selector=stored,
            keys=keys,
            chunk_size=request.chunk_size or DEFAULT_CHUNK_SIZE,
            max_runs=request.max_concurrent_runs or DEFAULT_MAX_CONCURRENT_RUNS,
        )
        return orch_pb.CreateBackfillResponse(
            backfill_id=row.backfill_id,
            accepted_event_id=row.created_event_id,
            accepted_at=timestamp_from_ms(row.created_at),
            created=created,
        )

    async def ListBackfills(
        self, request: orch_pb.ListBackfillsRequest, context: Context
    ) -> orch_pb.ListBackfillsResponse:
        views = bf.backfill_views(await self._backfill_state())
        if request.state:
            wanted = orch_pb.BackfillState.Name(request.state)
            views = [v for v in views if _STATE_PB[v.state] == wanted]
        page, cursor = bf.list_page(
            views, lambda v: v.row.backfill_id, request.limit, request.cursor
        )
        response = orch_pb.ListBackfillsResponse(backfills=[_backfill_pb(v) for v in page])
        if cursor:
            response.next_cursor = cursor
        return response

    async def GetBackfill(
        self, request: orch_pb.GetBackfillRequest, context: Context
    ) -> orch_pb.GetBackfillResponse:
        view = bf.backfill_view(await self._backfill_state(), request.backfill_id)
        return orch_pb.GetBackfillResponse(backfill=_backfill_pb(view))

    async def ListBackfillChunks(
        self, request: orch_pb.ListBackfillChunksRequest, context: Context
    ) -> orch_pb.ListBackfillChunksResponse:
        chunks = bf.chunk_views(await self._backfill_state(), request.backfill_id)
        if request.state:
            wanted = orch_pb.ChunkState.Name(request.state)
            chunks = [c for c in chunks if _CHUNK_PB[c.state] == wanted]
        page, cursor = bf.list_page(chunks, lambda c: c.row.chunk_id, request.limit, request.cursor)
        response = orch_pb.ListBackfillChunksResponse(
            chunks=[
                orch_pb.BackfillChunk(
                    chunk_id=c.row.chunk_id,
                    backfill_id=c.row.backfill_id,
                    chunk_index=c.row.chunk_index,
                    partition_keys=c.partition_keys,
                    run_id=c.row.run_id,
                    run_key=c.row.run_key,
                    state=_CHUNK_PB[c.state],
                )
                for c in page
            ]
        )
        if cursor:
            response.next_cursor = cursor
        return response

    async def _move(
        self, backfill_id: str, to: BackfillState, expected: int | None
    ) -> orch_pb.Backfill:
        view = bf.backfill_view(await self._backfill_state(), backfill_id)
        version = transition(view.state, view.row.state_version, to, expected)
        payload = BackfillStateChanged(
            backfill_id=backfill_id,
            from_state=view.state.value,
            to_state=to.value,
            state_version=version,
            changed_by=caller().user or "unknown",
        )
        scope = self._deps.scope
        event = make_event(
            payload,
            tenant_id=scope.tenant_id,
            workspace_id=scope.workspace_id,
            timestamp_ms=self._deps.clock.now_ms(),
        )
        state = (await self._deps.orchestration.commit([event])).state
        after = bf.backfill_view(state, backfill_id)
        if (after.state, after.row.state_version) != (to, version):
            raise Conflict(
                f"backfill {backfill_id} changed concurrently (now {after.state.value} at "
                f"version {after.row.state_version})",
                reason="backfill_version_conflict",
            )
        return _backfill_pb(after)

    async def PauseBackfill(
        self, request: orch_pb.PauseBackfillRequest, context: Context
    ) -> orch_pb.PauseBackfillResponse:
        expected = (
            request.expected_state_version if request.HasField("expected_state_version") else None
        )
        backfill = await self._move(request.backfill_id, BackfillState.PAUSED, expected)
        return orch_pb.PauseBackfillResponse(backfill=backfill)

    async def ResumeBackfill(
        self, request: orch_pb.ResumeBackfillRequest, context: Context
    ) -> orch_pb.ResumeBackfillResponse:
        expected = (
            request.expected_state_version if request.HasField("expected_state_version") else None
        )
        backfill = await self._move(request.backfill_id, BackfillState.RUNNING, expected)
        return orch_pb.ResumeBackfillResponse(backfill=backfill)

    async def CancelBackfill(
        self, request: orch_pb.CancelBackfillRequest, context: Context
    ) -> orch_pb.CancelBackfillResponse:
        expected = (
            request.expected_state_version if request.HasField("expected_state_version") else None
        )
        backfill = await self._move(request.backfill_id, BackfillState.CANCELLED, expected)
        return orch_pb.CancelBackfillResponse(backfill=backfill)

    async def RetryFailedBackfill(
        self, request: orch_pb.RetryFailedBackfillRequest, context: Context
    ) -> orch_pb.RetryFailedBackfillResponse:
        state = await self._backfill_state()
        parent = bf.backfill_view(state, request.backfill_id)
        if parent.state not in (BackfillState.FAILED, BackfillState.CANCELLED) or (
            parent.active_runs
        ):
            raise Conflict(
                f"backfill {request.backfill_id} is {parent.state.value}; retry-failed needs a "
                "FAILED or CANCELLED backfill whose runs all ended",
                reason="backfill_not_finished",
            )
        selector = retry_failed_selector(
            parent.partition_keys, parent.row.chunk_size, parent.chunks
        )
        retry_id = request.client_request_id if request.HasField("client_request_id") else ""
        retry_id = retry_id or rpc_context.metadata(context, IDEMPOTENCY_KEY) or "1"
        row, created = await self._create(
            state,
            client_request_id=f"retry:{parent.row.backfill_id}:{retry_id}",
            assets=parent.asset_selection,
            stored_selector=selector_to_json(selector),
            keys=selector.partitions,
            chunk_size=parent.row.chunk_size,
            max_runs=parent.row.max_concurrent_runs,
            parent=parent.row.backfill_id,
        )
        return orch_pb.RetryFailedBackfillResponse(
            backfill_id=row.backfill_id,
            accepted_event_id=row.created_event_id,
            accepted_at=timestamp_from_ms(row.created_at),
            created=created,
        )
