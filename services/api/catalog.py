"""CatalogService of the api: Tier-1 (strongly consistent) catalog and lineage DDL.

Reads answer from the published catalog state (``deps.catalog.reader``). Every write:

1. authenticates, validates the request (nothing is written for a bad request) and, on
   the create calls, resolves the ``idempotency-key`` marker (replay or conflict);
2. runs the domain planner against the current state without the lock, so requests that
   cannot succeed (exists, not found, non-empty namespace) or change nothing fail or
   answer fast;
3. takes the catalog lease lock (queueing in-process first, bounded overall wait),
   refreshes the state, plans again, appends the events with ids after the published
   watermark and has the catalog compactor publish them fenced by the lease's token;
4. answers from the state that publish produced (read-your-writes), records the
   idempotency marker, and releases the lock.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from collections.abc import Callable
from typing import Any, Final, TypeVar

import structlog
from arco.catalog.v1 import catalog_service_pb2 as pb
from arco.catalog.v1 import catalog_service_pb2_grpc as catalog_grpc
from google.protobuf.message import Message

from arco_core.canonical_json import canonical_bytes, parse_json_object
from arco_core.catalog import (
    CatalogCreated,
    CatalogEventPayload,
    CatalogState,
    LineageEdgesAdded,
    SchemaCreated,
    TableRegistered,
    event_ids_after,
    get_catalog,
    get_lineage,
    get_namespace,
    get_schema,
    get_schema_table,
    get_table,
    list_catalogs,
    list_namespaces,
    list_schema_tables,
    list_schemas,
    list_tables,
    make_event,
    plan_add_edges,
    plan_create_catalog,
    plan_create_namespace,
    plan_create_schema,
    plan_delete_namespace,
    plan_drop_table,
    plan_register_schema_table,
    plan_register_table,
    plan_update_table,
    validate_idempotency_key,
)
from arco_core.errors import (
    ArcoError,
    Conflict,
    FailedPrecondition,
    InternalError,
    InvalidArgument,
    ObjectAlreadyExists,
    ObjectNotFound,
    Unavailable,
)
from arco_core.ids import UlidGenerator, new_ulid
from arco_core.locks import Lease
from arco_core.paths import idempotency_path
from arco_core.published import Snapshot
from services.api import catalog_convert as convert
from services.api.deps import ApiDeps
from services.common import rpc_context
from services.common.server import RpcContext as Context

log = structlog.get_logger(__name__)

LOCK_NAME: Final = "catalog"
# How long a write waits for the catalog lock (in-process queue included) before giving up.
LOCK_WAIT_SEC: Final = 5.0
IDEMPOTENCY_KEY: Final = "idempotency-key"
_MARKER_VERSION: Final = 1

Plan = Callable[[CatalogState, int], list[CatalogEventPayload]]


_M = TypeVar("_M", bound=Message)


@dataclasses.dataclass(frozen=True, slots=True)
class _Idempotency:
    """A create call's ``idempotency-key``: where its marker lives and what it must match."""

    op: str
    path: str
    digest: str


@dataclasses.dataclass(frozen=True, slots=True)
class _Answer:
    """A write's response and the id of the entity it created (for the marker)."""

    response: Any
    entity_id: str = ""


def _watermark(snapshot: Snapshot) -> str | None:
    """The highest event id the published catalog has folded (events at or below it are
    skipped as stale, so new ids must sort after it)."""
    candidates = [
        snapshot.state.watermark_event_id,
        snapshot.manifest.last_event_id if snapshot.manifest else None,
    ]
    present = [c for c in candidates if c]
    return max(present) if present else None


def _not_applied(what: str) -> InternalError:
    return InternalError(
        f"the {what} was published but is not in the catalog state", reason="write_not_applied"
    )


def _created_id(payloads: list[CatalogEventPayload], kind: type[Any]) -> str | None:
    for payload in reversed(payloads):
        if isinstance(payload, kind):
            return str(payload.object_id)
    return None


class CatalogServicer(catalog_grpc.CatalogServiceServicer):
    def __init__(self, deps: ApiDeps, *, lock_wait_sec: float = LOCK_WAIT_SEC) -> None:
        self._deps = deps
        self._lock_wait_sec = lock_wait_sec
        self._instance_id = new_ulid()
        self._ids = UlidGenerator(deps.clock)
        # Writes of this process queue here, so only one of them polls the storage lock.
        self._local = asyncio.Lock()

    # -- plumbing ---------------------------------------------------------------------------

    async def _state(self) -> CatalogState:
        snapshot = await self._deps.catalog.reader.refresh()
        state: CatalogState = snapshot.state
        return state

    def _idempotency(
        self, context: Context, op: str, path: dict[str, str], body: object
    ) -> _Idempotency | None:
        key = validate_idempotency_key(rpc_context.metadata(context, IDEMPOTENCY_KEY))
        if key is None:
            return None
        return _Idempotency(
            op=op,
            path=idempotency_path(f"catalog.{op}", key),
            digest=convert.request_digest(op, path, body),
        )

    async def _replay(self, idem: _Idempotency | None, parse: Callable[[bytes], _M]) -> _M | None:
        """The stored response of an earlier call with this key, or None if there is none.

        Raises Conflict when the key was used with a different request.
        """
        if idem is None:
            return None
        try:
            raw = await self._deps.storage.get(idem.path)
        except ObjectNotFound:
            return None
        marker = parse_json_object(raw)
        if marker.get("op") != idem.op or marker.get("request_sha256") != idem.digest:
            raise Conflict(
                "Idempotency-Key already used with different request body",
                reason="idempotency_key_reused",
            )
        response = marker.get("response")
        if not isinstance(response, str):
            raise InternalError("idempotency marker is corrupt", reason="idempotency_corrupt")
        log.info("catalog_idempotent_replay", op=idem.op, entity_id=marker.get("entity_id"))
        return parse(base64.b64decode(response))

    async def _remember(self, idem: _Idempotency, answer: _Answer) -> None:
        message: Message = answer.response
        marker = {
            "version": _MARKER_VERSION,
            "op": idem.op,
            "request_sha256": idem.digest,
            "entity_id": answer.entity_id,
            "response": base64.b64encode(message.SerializeToString(deterministic=True)).decode(),
            "created_at_ms": self._deps.clock.now_ms(),
        }
        try:
            await self._deps.storage.create(idem.path, canonical_bytes(marker))
        except ObjectAlreadyExists:
            # Only possible if the lock was lost mid-write; the first marker stays.
            log.warning("catalog_idempotency_marker_exists", op=idem.op)
        except ArcoError as exc:
            # The write is published: report it as done. A retry with this key then sees
            # the entity as existing (ALREADY_EXISTS) instead of a replay, never a second write.
            log.warning("catalog_idempotency_marker_failed", op=idem.op, error=repr(exc))

    def _lock_held(self, metadata: dict[str, str] | None = None) -> FailedPrecondition:
        return FailedPrecondition(
            f"catalog lock still held after {self._lock_wait_sec:g}s; retry later",
            reason="catalog_lock_held",
            metadata=metadata,
        )

    async def _acquire(self, holder_id: str) -> Lease:
        """Queue behind this process's other writes, then take the storage lock; the whole
        wait is bounded by ``lock_wait_sec``. The caller must release ``self._local``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lock_wait_sec
        try:
            await asyncio.wait_for(self._local.acquire(), self._lock_wait_sec)
        except TimeoutError:
            raise self._lock_held() from None
        try:
            return await self._deps.catalog_lock.acquire(
                holder_id, timeout_s=max(deadline - loop.time(), 0.0)
            )
        except BaseException as exc:
            self._local.release()
            if isinstance(exc, Unavailable) and exc.reason == "lock_unavailable":
                raise self._lock_held(exc.metadata) from None
            raise

    async def _release(self, lease: Lease) -> None:
        try:
            await self._deps.catalog_lock.release(lease)
        except ArcoError as exc:
            # The lease ends by itself at its expiry; never mask the write's own outcome.
            log.warning("catalog_lock_release_failed", epoch=lease.token, error=repr(exc))

    async def _write(
        self,
        context: Context,
        plan: Plan,
        answer: Callable[[CatalogState, list[CatalogEventPayload]], _Answer],
        idem: _Idempotency | None = None,
        parse: Callable[[bytes], Any] | None = None,
    ) -> Any:
        """The Tier-1 write path (see the module docstring); returns the response."""
        # Fast path without the lock: client errors and no-ops need no lock.
        state = await self._state()
        if not plan(state, self._deps.clock.now_ms()):
            return answer(state, []).response
        request_id = rpc_context.request_id(context)
        holder_id = f"api-{self._instance_id}/{request_id}"
        lease = await self._acquire(holder_id)
        try:
            try:
                snapshot = await self._deps.catalog.reader.refresh()
                if idem is not None and parse is not None:
                    replayed = await self._replay(idem, parse)
                    if replayed is not None:
                        return replayed
                payloads = plan(snapshot.state, self._deps.clock.now_ms())
                if not payloads:
                    return answer(snapshot.state, []).response
                ids = event_ids_after(_watermark(snapshot), len(payloads), new_id=self._ids.new)
                scope = self._deps.scope
                events = [
                    make_event(
                        payload,
                        tenant_id=scope.tenant_id,
                        workspace_id=scope.workspace_id,
                        event_id=event_id,
                        correlation_id=request_id,
                    )
                    for payload, event_id in zip(payloads, ids, strict=True)
                ]
                published = await self._deps.catalog.commit_fenced(
                    events, token=lease.token, lock_name=LOCK_NAME, request_id=request_id
                )
                result = answer(published.state, payloads)
                if idem is not None:
                    await self._remember(idem, result)
                log.info(
                    "catalog_write_committed",
                    types=[p.TYPE for p in payloads],
                    manifest_seq=published.seq,
                    fencing_token=lease.token,
                )
                return result.response
            finally:
                await self._release(lease)
        finally:
            self._local.release()

    # -- namespaces ---------------------------------------------------------------------

    async def ListNamespaces(
        self, request: pb.ListNamespacesRequest, context: Context
    ) -> pb.ListNamespacesResponse:
        limit, cursor = convert.page_args(request.limit, request.cursor)
        page = list_namespaces(await self._state(), limit=limit, cursor=cursor)
        return pb.ListNamespacesResponse(
            namespaces=[convert.namespace_to_proto(v) for v in page.items],
            next_cursor=page.next_cursor,
        )

    async def CreateNamespace(
        self, request: pb.CreateNamespaceRequest, context: Context
    ) -> pb.CreateNamespaceResponse:
        body = convert.create_namespace_request(request)
        idem = self._idempotency(context, "create_namespace", {}, body)
        parse = pb.CreateNamespaceResponse.FromString
        if (replayed := await self._replay(idem, parse)) is not None:
            return replayed

        def answer(state: CatalogState, payloads: list[CatalogEventPayload]) -> _Answer:
            view = get_namespace(state, body.name)
            created = _created_id(payloads, SchemaCreated)
            if created is not None and view.id != created:
                raise _not_applied("namespace")
            response = pb.CreateNamespaceResponse(namespace=convert.namespace_to_proto(view))
            return _Answer(response, view.id)

        response: pb.CreateNamespaceResponse = await self._write(
            context,
            lambda state, now: plan_create_namespace(state, body, now_ms=now),
            answer,
            idem,
            parse,
        )
        return response

    async def GetNamespace(
        self, request: pb.GetNamespaceRequest, context: Context
    ) -> pb.GetNamespaceResponse:
        view = get_namespace(await self._state(), request.name)
        return pb.GetNamespaceResponse(namespace=convert.namespace_to_proto(view))

    async def DeleteNamespace(
        self, request: pb.DeleteNamespaceRequest, context: Context
    ) -> pb.DeleteNamespaceResponse:
        def answer(state: CatalogState, payloads: list[CatalogEventPayload]) -> _Answer:
            for payload in payloads:
                if payload.object_id in state.namespaces:
                    raise _not_applied("namespace deletion")
            return _Answer(pb.DeleteNamespaceResponse())

        response: pb.DeleteNamespaceResponse = await self._write(
            context,
            lambda state, now: plan_delete_namespace(state, request.name, now_ms=now),
            answer,
        )
        return response

    # -- tables of a namespace ----------------------------------------------------------

    async def ListTables(
        self, request: pb.ListTablesRequest, context: Context
    ) -> pb.ListTablesResponse:
        limit, cursor = convert.page_args(request.limit, request.cursor)
        page = list_tables(await self._state(), request.namespace, limit=limit, cursor=cursor)
        return pb.ListTablesResponse(
            tables=[convert.table_to_proto(v) for v in page.items],
            next_cursor=page.next_cursor,
        )

    async def RegisterTable(
        self, request: pb.RegisterTableRequest, context: Context
    ) -> pb.RegisterTableResponse:
        body = convert.register_table_request(request)
        idem = self._idempotency(context, "register_table", {"namespace": request.namespace}, body)
        parse = pb.RegisterTableResponse.FromString
        if (replayed := await self._replay(idem, parse)) is not None:
            return replayed

        def answer(state: CatalogState, payloads: list[CatalogEventPayload]) -> _Answer:
            view = get_table(state, request.namespace, body.name)
            created = _created_id(payloads, TableRegistered)
            if created is not None and view.id != created:
                raise _not_applied("table")
            return _Answer(pb.RegisterTableResponse(table=convert.table_to_proto(view)), view.id)

        response: pb.RegisterTableResponse = await self._write(
            context,
            lambda state, now: plan_register_table(state, request.namespace, body, now_ms=now),
            answer,
            idem,
            parse,
        )
        return response

    async def GetTable(self, request: pb.GetTableRequest, context: Context) -> pb.GetTableResponse:
        view = get_table(await self._state(), request.namespace, request.name)
        return pb.GetTableResponse(table=convert.table_to_proto(view))

    async def UpdateTable(
        self, request: pb.UpdateTableRequest, context: Context
    ) -> pb.UpdateTableResponse:
        body = convert.update_table_request(request)

        def answer(state: CatalogState, payloads: list[CatalogEventPayload]) -> _Answer:
            view = get_table(state, request.namespace, request.name)
            if payloads and view.description != body.description:
                raise _not_applied("table update")
            return _Answer(pb.UpdateTableResponse(table=convert.table_to_proto(view)), view.id)

        response: pb.UpdateTableResponse = await self._write(
            context,
            lambda state, now: plan_update_table(
                state, request.namespace, request.name, body, now_ms=now
            ),
            answer,
        )
        return response

    async def DropTable(
        self, request: pb.DropTableRequest, context: Context
    ) -> pb.DropTableResponse:
        def answer(state: CatalogState, payloads: list[CatalogEventPayload]) -> _Answer:
            for payload in payloads:
                if payload.object_id in state.tables:
                    raise _not_applied("table drop")
            return _Answer(pb.DropTableResponse())

        response: pb.DropTableResponse = await self._write(
            context,
            lambda state, now: plan_drop_table(state, request.namespace, request.name, now_ms=now),
            answer,
        )
        return response

    # -- catalogs and schemas -----------------------------------------------------------

    async def ListCatalogs(
        self, request: pb.ListCatalogsRequest, context: Context
    ) -> pb.ListCatalogsResponse:
        limit, cursor = convert.page_args(request.limit, request.cursor)
        page = list_catalogs(await self._state(), limit=limit, cursor=cursor)
        return pb.ListCatalogsResponse(
            catalogs=[convert.catalog_to_proto(v) for v in page.items],
            next_cursor=page.next_cursor,
        )

    async def CreateCatalog(
        self, request: pb.CreateCatalogRequest, context: Context
    ) -> pb.CreateCatalogResponse:
        body = convert.create_catalog_request(request)
        idem = self._idempotency(context, "create_catalog", {}, body)
        parse = pb.CreateCatalogResponse.FromString
        if (replayed := await self._replay(idem, parse)) is not None:
            return replayed

        def answer(state: CatalogState, payloads: list[CatalogEventPayload]) -> _Answer:
            view = get_catalog(state, body.name)
            created = _created_id(payloads, CatalogCreated)
            if created is not None and view.id != created:
                raise _not_applied("catalog")
            return _Answer(
                pb.CreateCatalogResponse(catalog=convert.catalog_to_proto(view)), view.id
            )

        response: pb.CreateCatalogResponse = await self._write(
            context,
            lambda state, now: plan_create_catalog(state, body, now_ms=now),
            answer,
            idem,
            parse,
        )
        return response

    async def GetCatalog(
        self, request: pb.GetCatalogRequest, context: Context
    ) -> pb.GetCatalogResponse:
        view = get_catalog(await self._state(), request.name)
        return pb.GetCatalogResponse(catalog=convert.catalog_to_proto(view))

    async def ListSchemas(
        self, request: pb.ListSchemasRequest, context: Context
    ) -> pb.ListSchemasResponse:
        limit, cursor = convert.page_args(request.limit, request.cursor)
        page = list_schemas(await self._state(), request.catalog, limit=limit, cursor=cursor)
        return pb.ListSchemasResponse(
            schemas=[convert.schema_to_proto(v) for v in page.items],
            next_cursor=page.next_cursor,
        )

    async def CreateSchema(
        self, request: pb.CreateSchemaRequest, context: Context
    ) -> pb.CreateSchemaResponse:
        body = convert.create_schema_request(request)
        idem = self._idempotency(context, "create_schema", {"catalog": request.catalog}, body)
        parse = pb.CreateSchemaResponse.FromString
        if (replayed := await self._replay(idem, parse)) is not None:
            return replayed

        def answer(state: CatalogState, payloads: list[CatalogEventPayload]) -> _Answer:
            view = get_schema(state, request.catalog, body.name)
            created = _created_id(payloads, SchemaCreated)
            if created is not None and view.id != created:
                raise _not_applied("schema")
            return _Answer(pb.CreateSchemaResponse(schema=convert.schema_to_proto(view)), view.id)

        response: pb.CreateSchemaResponse = await self._write(
            context,
            lambda state, now: plan_create_schema(state, request.catalog, body, now_ms=now),
            answer,
            idem,
            parse,
        )
        return response

    async def ListSchemaTables(
        self, request: pb.ListSchemaTablesRequest, context: Context
    ) -> pb.ListSchemaTablesResponse:
        limit, cursor = convert.page_args(request.limit, request.cursor)
        page = list_schema_tables(
            await self._state(), request.catalog, request.schema, limit=limit, cursor=cursor
        )
        return pb.ListSchemaTablesResponse(
            tables=[convert.schema_table_to_proto(v) for v in page.items],
            next_cursor=page.next_cursor,
        )

    async def RegisterSchemaTable(
        self, request: pb.RegisterSchemaTableRequest, context: Context
    ) -> pb.RegisterSchemaTableResponse:
        body = convert.register_schema_table_request(request)
        idem = self._idempotency(
            context,
            "register_schema_table",
            {"catalog": request.catalog, "schema": request.schema},
            body,
        )
        parse = pb.RegisterSchemaTableResponse.FromString
        if (replayed := await self._replay(idem, parse)) is not None:
            return replayed

        def answer(state: CatalogState, payloads: list[CatalogEventPayload]) -> _Answer:
            view = get_schema_table(state, request.catalog, request.schema, body.name)
            created = _created_id(payloads, TableRegistered)
            if created is not None and view.id != created:
                raise _not_applied("table")
            table = convert.schema_table_to_proto(view)
            return _Answer(pb.RegisterSchemaTableResponse(table=table), view.id)

        response: pb.RegisterSchemaTableResponse = await self._write(
            context,
            lambda state, now: plan_register_schema_table(
                state, request.catalog, request.schema, body, now_ms=now
            ),
            answer,
            idem,
            parse,
        )
        return response

    async def GetSchemaTable(
        self, request: pb.GetSchemaTableRequest, context: Context
    ) -> pb.GetSchemaTableResponse:
        view = get_schema_table(await self._state(), request.catalog, request.schema, request.name)
        return pb.GetSchemaTableResponse(table=convert.schema_table_to_proto(view))

    # -- lineage ------------------------------------------------------------------------

    async def AddLineageEdges(
        self, request: pb.AddLineageEdgesRequest, context: Context
    ) -> pb.AddLineageEdgesResponse:
        body = convert.add_edges_request(request)

        def plan(state: CatalogState, now: int) -> list[CatalogEventPayload]:
            batch = plan_add_edges(body, now_ms=now)
            new = tuple(e for e in batch.edges if e.edge_id not in state.lineage_edges)
            return [LineageEdgesAdded(edges=new, created_at=now)] if new else []

        def answer(state: CatalogState, payloads: list[CatalogEventPayload]) -> _Answer:
            unique = plan_add_edges(body, now_ms=0).edges
            if any(edge.edge_id not in state.lineage_edges for edge in unique):
                raise _not_applied("lineage edge batch")
            return _Answer(pb.AddLineageEdgesResponse(added=len(unique)))

        response: pb.AddLineageEdgesResponse = await self._write(context, plan, answer)
        return response

    async def GetLineage(
        self, request: pb.GetLineageRequest, context: Context
    ) -> pb.GetLineageResponse:
        if not request.table_id:
            raise InvalidArgument("table_id is required", reason="missing_field")
        return convert.lineage_to_proto(get_lineage(await self._state(), request.table_id))
