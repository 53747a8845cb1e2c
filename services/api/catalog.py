"""CatalogService of the api: Tier-1 (strongly consistent) catalog and lineage DDL.

Reads answer from the published catalog state (``deps.catalog.reader``). Every write
validates its request (nothing is written for a bad request), resolves the create calls'
``idempotency-key`` marker (replay or conflict), then goes through the Tier-1 write
protocol of :class:`~services.api.catalog_writes.CatalogWriter`: lease lock, append,
fenced publish, an answer from the published state. The caller was authenticated before
any of this (:mod:`services.api.auth`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

from arco.catalog.v1 import catalog_service_pb2 as pb
from arco.catalog.v1 import catalog_service_pb2_grpc as catalog_grpc
from google.protobuf.message import Message

from arco_core.catalog import (
    CatalogCreated,
    CatalogEventPayload,
    CatalogState,
    LineageEdgesAdded,
    SchemaCreated,
    TableRegistered,
    catalog_inventory,
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
from arco_core.delta import (
    DELTA_FORMAT,
    delta_table_root,
    validate_commit_request,
    validate_payload,
    validate_table_id,
)
from arco_core.errors import Conflict, InternalError, InvalidArgument, NotFound
from services.api import catalog_convert as convert
from services.api.catalog_writes import LOCK_WAIT_SEC, Answer, CatalogWriter, Idempotent, Plan
from services.api.deps import ApiDeps
from services.api.idempotency import IDEMPOTENCY_KEY, IdempotencyMarkers
from services.common import rpc_context
from services.common.server import RpcContext as Context

_R = TypeVar("_R", bound=Message)


class _Entity(Protocol):
    @property
    def id(self) -> str: ...


_V = TypeVar("_V", bound=_Entity)
_Payloads = list[CatalogEventPayload]


def _not_applied(what: str) -> InternalError:
    return InternalError(
        f"the {what} was published but is not in the catalog state", reason="write_not_applied"
    )


def _created_id(payloads: list[CatalogEventPayload], kind: type[CatalogEventPayload]) -> str | None:
    for payload in reversed(payloads):
        if isinstance(payload, kind):
            return str(payload.object_id)
    return None


class CatalogServicer(catalog_grpc.CatalogServiceServicer):
    def __init__(self, deps: ApiDeps, *, lock_wait_sec: float = LOCK_WAIT_SEC) -> None:
        self._writer = CatalogWriter(deps, lock_wait_sec=lock_wait_sec)
        self._deps = deps

    async def _state(self) -> CatalogState:
        return await self._writer.state()

    async def _write(
        self,
        context: Context,
        plan: Plan,
        answer: Callable[[CatalogState, _Payloads], Answer[_R]],
    ) -> _R:
        return await self._writer.write(rpc_context.request_id(context), plan, answer)

    async def _create(
        self,
        context: Context,
        op: str,
        route: Mapping[str, str],
        body: object,
        *,
        plan: Plan,
        created: type[CatalogEventPayload],
        view: Callable[[CatalogState], _V],
        respond: Callable[[_V], _R],
        parse: Callable[[bytes], _R],
    ) -> _R:
        """A create call: replay its key's marker, else write and answer with the entity
        the write created (``created`` names its event, ``view`` reads it back)."""
        key = validate_idempotency_key(rpc_context.metadata(context, IDEMPOTENCY_KEY))
        digest = convert.request_digest(op, route, body)
        marker = IdempotencyMarkers.key(f"catalog.{op}", op, key, digest)
        idem = Idempotent(marker, parse) if marker is not None else None
        if (replayed := await self._writer.replay(idem)) is not None:
            return replayed

        def answer(state: CatalogState, payloads: _Payloads) -> Answer[_R]:
            entity = view(state)
            made = _created_id(payloads, created)
            if made is not None and entity.id != made:
                raise _not_applied(op.partition("_")[2].replace("_", " "))
            return Answer(respond(entity), entity.id)

        return await self._writer.write(rpc_context.request_id(context), plan, answer, idem)

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
        return await self._create(
            context,
            "create_namespace",
            {},
            body,
            plan=lambda state, now: plan_create_namespace(state, body, now_ms=now),
            created=SchemaCreated,
            view=lambda state: get_namespace(state, body.name),
            respond=lambda view: pb.CreateNamespaceResponse(
                namespace=convert.namespace_to_proto(view)
            ),
            parse=pb.CreateNamespaceResponse.FromString,
        )

    async def GetNamespace(
        self, request: pb.GetNamespaceRequest, context: Context
    ) -> pb.GetNamespaceResponse:
        view = get_namespace(await self._state(), request.name)
        return pb.GetNamespaceResponse(namespace=convert.namespace_to_proto(view))

    async def DeleteNamespace(
        self, request: pb.DeleteNamespaceRequest, context: Context
    ) -> pb.DeleteNamespaceResponse:
        def answer(state: CatalogState, payloads: _Payloads) -> Answer[pb.DeleteNamespaceResponse]:
            for payload in payloads:
                if payload.object_id in state.namespaces:
                    raise _not_applied("namespace deletion")
            return Answer(pb.DeleteNamespaceResponse())

        return await self._write(
            context,
            lambda state, now: plan_delete_namespace(state, request.name, now_ms=now),
            answer,
        )

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
        return await self._create(
            context,
            "register_table",
            {"namespace": request.namespace},
            body,
            plan=lambda state, now: plan_register_table(state, request.namespace, body, now_ms=now),
            created=TableRegistered,
            view=lambda state: get_table(state, request.namespace, body.name),
            respond=lambda view: pb.RegisterTableResponse(table=convert.table_to_proto(view)),
            parse=pb.RegisterTableResponse.FromString,
        )

    async def GetTable(self, request: pb.GetTableRequest, context: Context) -> pb.GetTableResponse:
        view = get_table(await self._state(), request.namespace, request.name)
        return pb.GetTableResponse(table=convert.table_to_proto(view))

    async def UpdateTable(
        self, request: pb.UpdateTableRequest, context: Context
    ) -> pb.UpdateTableResponse:
        body = convert.update_table_request(request)

        def answer(state: CatalogState, payloads: _Payloads) -> Answer[pb.UpdateTableResponse]:
            view = get_table(state, request.namespace, request.name)
            if payloads and view.description != body.description:
                raise _not_applied("table update")
            return Answer(pb.UpdateTableResponse(table=convert.table_to_proto(view)), view.id)

        return await self._write(
            context,
            lambda state, now: plan_update_table(
                state, request.namespace, request.name, body, now_ms=now
            ),
            answer,
        )

    async def DropTable(
        self, request: pb.DropTableRequest, context: Context
    ) -> pb.DropTableResponse:
        def answer(state: CatalogState, payloads: _Payloads) -> Answer[pb.DropTableResponse]:
            for payload in payloads:
                if payload.object_id in state.tables:
                    raise _not_applied("table drop")
            return Answer(pb.DropTableResponse())

        return await self._write(
            context,
            lambda state, now: plan_drop_table(state, request.namespace, request.name, now_ms=now),
            answer,
        )

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
        return await self._create(
            context,
            "create_catalog",
            {},
            body,
            plan=lambda state, now: plan_create_catalog(state, body, now_ms=now),
            created=CatalogCreated,
            view=lambda state: get_catalog(state, body.name),
            respond=lambda view: pb.CreateCatalogResponse(catalog=convert.catalog_to_proto(view)),
            parse=pb.CreateCatalogResponse.FromString,
        )

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
        return await self._create(
            context,
            "create_schema",
            {"catalog": request.catalog},
            body,
            plan=lambda state, now: plan_create_schema(state, request.catalog, body, now_ms=now),
            created=SchemaCreated,
            view=lambda state: get_schema(state, request.catalog, body.name),
            respond=lambda view: pb.CreateSchemaResponse(schema=convert.schema_to_proto(view)),
            parse=pb.CreateSchemaResponse.FromString,
        )

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
        catalog, schema = request.catalog, request.schema
        return await self._create(
            context,
            "register_schema_table",
            {"catalog": catalog, "schema": schema},
            body,
            plan=lambda state, now: plan_register_schema_table(
                state, catalog, schema, body, now_ms=now
            ),
            created=TableRegistered,
            view=lambda state: get_schema_table(state, catalog, schema, body.name),
            respond=lambda view: pb.RegisterSchemaTableResponse(
                table=convert.schema_table_to_proto(view)
            ),
            parse=pb.RegisterSchemaTableResponse.FromString,
        )

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

        def answer(state: CatalogState, payloads: _Payloads) -> Answer[pb.AddLineageEdgesResponse]:
            unique = plan_add_edges(body, now_ms=0).edges
            if any(edge.edge_id not in state.lineage_edges for edge in unique):
                raise _not_applied("lineage edge batch")
            return Answer(pb.AddLineageEdgesResponse(added=len(unique)))

        return await self._write(context, plan, answer)

    async def GetLineage(
        self, request: pb.GetLineageRequest, context: Context
    ) -> pb.GetLineageResponse:
        if not request.table_id:
            raise InvalidArgument("table_id is required", reason="missing_field")
        return convert.lineage_to_proto(get_lineage(await self._state(), request.table_id))

    # -- inventory ----------------------------------------------------------------------

    async def GetCatalogInventory(
        self, request: pb.GetCatalogInventoryRequest, context: Context
    ) -> pb.GetCatalogInventoryResponse:
        snapshot = await self._deps.catalog.reader.refresh()
        if snapshot.seq is None or snapshot.head is None or snapshot.manifest is None:
            raise NotFound("no catalog snapshot is published yet", reason="catalog_not_published")
        inventory = catalog_inventory(
            snapshot.state,
            seq=snapshot.seq,
            published_at=snapshot.head.published_at,
            published_tables=(name for name, _ in snapshot.manifest.files()),
        )
        return convert.inventory_to_proto(inventory)

    # -- Delta commits ------------------------------------------------------------------

    async def _delta_root(self, table_id: str) -> str:
        """The root of a catalog table of format delta (404 unknown, 409 another format)."""
        row = (await self._state()).tables.get(table_id)
        if row is None:
            raise NotFound(f"table not found: {table_id}", reason="table_not_found")
        if row.effective_format != DELTA_FORMAT:
            raise Conflict(
                f"table {table_id} is of format {row.effective_format}, not delta",
                reason="table_not_delta",
            )
        return delta_table_root(self._deps.scope, table_id, row.location)

    async def StageCommitPayload(
        self, request: pb.StageCommitPayloadRequest, context: Context
    ) -> pb.StageCommitPayloadResponse:
        table_id = validate_table_id(request.table_id)
        payload = validate_payload(request.payload)
        await self._delta_root(table_id)
        staged = await self._deps.delta.stage(table_id, payload)
        return pb.StageCommitPayloadResponse(staged_path=staged.path, staged_version=staged.version)

    async def CommitStaged(
        self, request: pb.CommitStagedRequest, context: Context
    ) -> pb.CommitStagedResponse:
        commit = validate_commit_request(
            request.table_id,
            rpc_context.metadata(context, IDEMPOTENCY_KEY),
            request.read_version if request.HasField("read_version") else None,
            request.staged_path,
            request.staged_version,
        )
        # A committed key answers again before the table is looked up (as the reference).
        committed = await self._deps.delta.replayed(commit)
        if committed is None:
            root = await self._delta_root(commit.table_id)
            committed = await self._deps.delta.commit(root, commit)
        return pb.CommitStagedResponse(
            version=committed.version, delta_log_path=committed.delta_log_path
        )
