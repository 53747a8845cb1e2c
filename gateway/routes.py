"""The public /api/v1 route table, as data.

Each ``RouteSpec`` names the HTTP method and path, the gRPC method it calls, the family
(which decides JSON casing and the OpenAPI tag), how the caller authenticates, the
query parameters, the success and documented error statuses, and the two mappers
(request in, reply out). ``gateway.app`` serves exactly this table and
``gateway.openapi`` documents exactly this table.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence

from arco.browser.v1 import browser_service_pb2 as browser_pb
from arco.catalog.v1 import catalog_service_pb2 as catalog_pb
from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb
from arco.orchestration.v1 import task_callback_service_pb2 as callback_pb
from arco.query.v1 import query_service_pb2 as query_pb
from google.protobuf.message import Message

from gateway.mappers import (
    backfills,
    browser,
    callbacks,
    catalog,
    orchestration,
    query,
    schedules,
    sensors,
)
from gateway.mappers.render import Casing, View
from gateway.mappers.replies import (
    QueryParam,
    ReplyMapper,
    RequestMapper,
    created_or_ok,
    default_request,
    json_reply,
    no_content,
)

API_PREFIX = "/api/v1"


class Family(enum.Enum):
    """Route family: JSON casing and the OpenAPI tag."""

    CATALOG = ("catalog", Casing.SNAKE)
    LINEAGE = ("lineage", Casing.SNAKE)
    QUERY = ("query", Casing.SNAKE)
    BROWSER = ("browser", Casing.SNAKE)
    DELTA = ("delta", Casing.SNAKE)
    CALLBACKS = ("Worker Callbacks", Casing.CAMEL)
    ORCHESTRATION = ("Orchestration", Casing.CAMEL)
    MANIFESTS = ("Manifests", Casing.CAMEL)

    @property
    def tag(self) -> str:
        return self.value[0]

    @property
    def casing(self) -> Casing:
        return self.value[1]


class Auth(enum.Enum):
    USER = "bearerAuth"  # user JWT (or dev headers in dev posture)
    TASK = "taskAuth"  # task token, forwarded untouched to the api


class Content(enum.Enum):
    JSON = "json"
    NONE = "none"  # 204
    BYTES = "bytes"  # query results
    TEXT = "text"  # logs


class RateClass(enum.Enum):
    DEFAULT = "default"
    URL_MINT = "url_mint"


@dataclasses.dataclass(frozen=True)
class RouteSpec:
    operation_id: str
    method: str
    path: str
    service: str
    rpc: str
    request_type: type[Message]
    response_type: type[Message]
    family: Family
    summary: str
    success: tuple[int, ...]
    errors: tuple[int, ...]
    reply: ReplyMapper
    request: RequestMapper = default_request
    auth: Auth = Auth.USER
    body: bool = False
    query: tuple[QueryParam, ...] = ()
    content: Content = Content.JSON
    view: View | None = None  # the JSON shape of the success body (None: not JSON)
    rate_class: RateClass = RateClass.DEFAULT
    # Request fields a client never sends in the body (path params, server-set).
    server_fields: frozenset[str] = frozenset()
    idempotency_key: bool = False
    # The api rejects a call without one (400); the document says so.
    idempotency_key_required: bool = False

    @property
    def grpc_method(self) -> str:
        return f"/{self.service}/{self.rpc}"

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(
            part[1:-1]
            for part in self.path.split("/")
            if part.startswith("{") and part.endswith("}")
        )

    @property
    def workspace_scoped(self) -> bool:
        return "workspace_id" in self.path_params


CATALOG_SVC = "arco.catalog.v1.CatalogService"
QUERY_SVC = "arco.query.v1.QueryService"
BROWSER_SVC = "arco.browser.v1.BrowserService"
CALLBACK_SVC = "arco.orchestration.v1.TaskCallbackService"
ORCH_SVC = "arco.orchestration.v1.OrchestrationService"

LIMIT = QueryParam("limit", "limit", "integer", "page size (default 100, max 500)")
CURSOR = QueryParam("cursor", "cursor", "string", "next_cursor of the previous page")

# Error statuses every route of a kind may answer (besides its own).
_USER_COMMON = (401, 429, 500, 501, 503)
_BODY_COMMON = (400, 413)


def _route(  # noqa: PLR0917 - one table row, read positionally
    operation_id: str,
    method: str,
    path: str,
    service: str,
    rpc: str,
    request_type: type[Message],
    response_type: type[Message],
    family: Family,
    summary: str,
    *,
    success: Sequence[int] = (200,),
    errors: Sequence[int] = (),
    reply: ReplyMapper | None = None,
    view: View | None = None,
    **extra: object,
) -> RouteSpec:
    body = method in {"POST", "PUT", "PATCH"}
    status_set = set(errors) | set(_USER_COMMON) | (set(_BODY_COMMON) if body else set())
    if "workspace_id" in path:
        status_set.add(404)
    content = extra.get("content", Content.JSON)
    if reply is None:
        assert view is not None, operation_id
        reply = json_reply(view, success[0])
    spec = RouteSpec(
        operation_id=operation_id,
        method=method,
        path=API_PREFIX + path,
        service=service,
        rpc=rpc,
        request_type=request_type,
        response_type=response_type,
        family=family,
        summary=summary,
        success=tuple(success),
        errors=tuple(sorted(status_set)),
        reply=reply,
        body=body,
        view=view if content is Content.JSON else None,
        **extra,  # type: ignore[arg-type]
    )
    path_fields = frozenset(spec.path_params)
    return dataclasses.replace(spec, server_fields=spec.server_fields | path_fields)


def _catalog_routes() -> list[RouteSpec]:
    c, snake = Family.CATALOG, catalog
    return [
        _route("list_namespaces", "GET", "/namespaces", CATALOG_SVC, "ListNamespaces",
               catalog_pb.ListNamespacesRequest, catalog_pb.ListNamespacesResponse, c,
               "List namespaces", errors=(400,), view=snake.LIST,
               query=(LIMIT, CURSOR)),
        _route("create_namespace", "POST", "/namespaces", CATALOG_SVC, "CreateNamespace",
               catalog_pb.CreateNamespaceRequest, catalog_pb.CreateNamespaceResponse, c,
               "Create a namespace", success=(201,), errors=(409,), view=snake.NAMESPACE,
               idempotency_key=True),
        _route("get_namespace", "GET", "/namespaces/{name}", CATALOG_SVC, "GetNamespace",
               catalog_pb.GetNamespaceRequest, catalog_pb.GetNamespaceResponse, c,
               "Get a namespace", errors=(404,), view=snake.NAMESPACE),
        _route("delete_namespace", "DELETE", "/namespaces/{name}", CATALOG_SVC,
               "DeleteNamespace", catalog_pb.DeleteNamespaceRequest,
               catalog_pb.DeleteNamespaceResponse, c, "Delete an empty namespace",
               success=(204,), errors=(400, 404), reply=no_content, content=Content.NONE),
        _route("list_tables", "GET", "/namespaces/{namespace}/tables", CATALOG_SVC, "ListTables",
               catalog_pb.ListTablesRequest, catalog_pb.ListTablesResponse, c,
               "List a namespace's tables", errors=(400, 404), view=snake.LIST,
               query=(LIMIT, CURSOR)),
        _route("register_table", "POST", "/namespaces/{namespace}/tables", CATALOG_SVC,
               "RegisterTable", catalog_pb.RegisterTableRequest,
               catalog_pb.RegisterTableResponse, c, "Register a table", success=(201,),
               errors=(404, 409), view=snake.TABLE, idempotency_key=True),
        _route("get_table", "GET", "/namespaces/{namespace}/tables/{name}", CATALOG_SVC,
               "GetTable", catalog_pb.GetTableRequest, catalog_pb.GetTableResponse, c,
               "Get a table with its columns", errors=(404,), view=snake.TABLE),
        _route("update_table", "PUT", "/namespaces/{namespace}/tables/{name}", CATALOG_SVC,
               "UpdateTable", catalog_pb.UpdateTableRequest, catalog_pb.UpdateTableResponse, c,
               "Update a table's description", errors=(404, 409), view=snake.TABLE),
        _route("drop_table", "DELETE", "/namespaces/{namespace}/tables/{name}", CATALOG_SVC,
               "DropTable", catalog_pb.DropTableRequest, catalog_pb.DropTableResponse, c,
               "Drop a table", success=(204,), errors=(404,), reply=no_content,
               content=Content.NONE),
        _route("list_catalogs", "GET", "/catalogs", CATALOG_SVC, "ListCatalogs",
               catalog_pb.ListCatalogsRequest, catalog_pb.ListCatalogsResponse, c,
               "List catalogs", errors=(400,), view=snake.LIST,
               query=(LIMIT, CURSOR)),
        _route("create_catalog", "POST", "/catalogs", CATALOG_SVC, "CreateCatalog",
               catalog_pb.CreateCatalogRequest, catalog_pb.CreateCatalogResponse, c,
               "Create a catalog", success=(201,), errors=(404, 409), view=snake.CATALOG,
               idempotency_key=True),
        _route("get_catalog", "GET", "/catalogs/{name}", CATALOG_SVC, "GetCatalog",
               catalog_pb.GetCatalogRequest, catalog_pb.GetCatalogResponse, c,
               "Get a catalog", errors=(404,), view=snake.CATALOG),
        _route("list_schemas", "GET", "/catalogs/{catalog}/schemas", CATALOG_SVC, "ListSchemas",
               catalog_pb.ListSchemasRequest, catalog_pb.ListSchemasResponse, c,
               "List a catalog's schemas", errors=(400, 404), view=snake.LIST,
               query=(LIMIT, CURSOR)),
        _route("create_schema", "POST", "/catalogs/{catalog}/schemas", CATALOG_SVC,
               "CreateSchema", catalog_pb.CreateSchemaRequest, catalog_pb.CreateSchemaResponse,
               c, "Create a schema", success=(201,), errors=(404, 409), view=snake.SCHEMA,
               idempotency_key=True),
        _route("list_tables_in_schema", "GET", "/catalogs/{catalog}/schemas/{schema}/tables",
               CATALOG_SVC, "ListSchemaTables", catalog_pb.ListSchemaTablesRequest,
               catalog_pb.ListSchemaTablesResponse, c, "List a schema's tables",
               errors=(400, 404), view=snake.LIST, query=(LIMIT, CURSOR)),
        _route("register_table_in_schema", "POST",
               "/catalogs/{catalog}/schemas/{schema}/tables", CATALOG_SVC,
               "RegisterSchemaTable", catalog_pb.RegisterSchemaTableRequest,
               catalog_pb.RegisterSchemaTableResponse, c, "Register a table in a schema",
               success=(201,), errors=(404, 409), view=snake.TABLE, idempotency_key=True),
        _route("get_table_in_schema", "GET",
               "/catalogs/{catalog}/schemas/{schema}/tables/{name}", CATALOG_SVC,
               "GetSchemaTable", catalog_pb.GetSchemaTableRequest,
               catalog_pb.GetSchemaTableResponse, c, "Get a table of a schema", errors=(404,),
               view=snake.TABLE),
        _route("add_edges", "POST", "/lineage/edges", CATALOG_SVC, "AddLineageEdges",
               catalog_pb.AddLineageEdgesRequest, catalog_pb.AddLineageEdgesResponse,
               Family.LINEAGE, "Record lineage edges", success=(201,),
               view=snake.EDGES_ADDED),
        _route("get_lineage", "GET", "/lineage/{table_id}", CATALOG_SVC, "GetLineage",
               catalog_pb.GetLineageRequest, catalog_pb.GetLineageResponse, Family.LINEAGE,
               "Upstream and downstream edges of a table", view=snake.LINEAGE),
        _route("get_catalog_inventory", "GET", "/catalog/inventory", CATALOG_SVC,
               "GetCatalogInventory", catalog_pb.GetCatalogInventoryRequest,
               catalog_pb.GetCatalogInventoryResponse, c,
               "The published catalog snapshot: version, counts, object families",
               errors=(404,), view=snake.INVENTORY),
        _route("stage_commit_payload", "POST", "/delta/tables/{table_id}/commits/stage",
               CATALOG_SVC, "StageCommitPayload", catalog_pb.StageCommitPayloadRequest,
               catalog_pb.StageCommitPayloadResponse, Family.DELTA,
               "Stage a Delta commit payload", errors=(404, 409), view=snake.DELTA_STAGED),
        _route("commit_staged", "POST", "/delta/tables/{table_id}/commits", CATALOG_SVC,
               "CommitStaged", catalog_pb.CommitStagedRequest, catalog_pb.CommitStagedResponse,
               Family.DELTA, "Commit a staged Delta payload as the next table version",
               errors=(404, 409), view=snake.DELTA_COMMITTED, idempotency_key=True,
               idempotency_key_required=True),
    ]  # fmt: skip


def _read_routes() -> list[RouteSpec]:
    q = Family.QUERY
    fmt = QueryParam("format", "format", "enum", "json or arrow (default: Accept, then arrow)",
                     {"json": "json", "arrow": "arrow"})  # fmt: skip
    return [
        _route("query", "POST", "/query", QUERY_SVC, "Query", query_pb.QueryRequest,
               query_pb.QueryResponse, q, "Read-only SQL over catalog and system tables",
               errors=(404,), request=query.request, reply=query.reply, query=(fmt,),
               content=Content.BYTES, server_fields=frozenset({"format"})),
        _route("query_data", "POST", "/query-data", QUERY_SVC, "QueryData",
               query_pb.QueryDataRequest, query_pb.QueryDataResponse, q,
               "Read-only SQL over registered user tables", errors=(404,),
               request=query.request, reply=query.reply, query=(fmt,), content=Content.BYTES,
               server_fields=frozenset({"format"})),
        _route("mint_urls", "POST", "/browser/urls", BROWSER_SVC, "MintUrls",
               browser_pb.MintUrlsRequest, browser_pb.MintUrlsResponse, Family.BROWSER,
               "Mint signed read URLs for listed files", errors=(403, 404),
               view=browser.MINT_URLS, rate_class=RateClass.URL_MINT),
        _route("list_browsable_files", "GET", "/browser/files", BROWSER_SVC,
               "ListBrowsableFiles", browser_pb.ListBrowsableFilesRequest,
               browser_pb.ListBrowsableFilesResponse, Family.BROWSER,
               "List the files that may be minted", errors=(400, 404), view=browser.FILES,
               query=(QueryParam("domain", "domain", "string", "one domain only"),)),
    ]  # fmt: skip


def _callback_routes() -> list[RouteSpec]:
    cb = Family.CALLBACKS
    return [
        _route("task_started", "POST", "/tasks/{task_id}/started", CALLBACK_SVC, "TaskStarted",
               callback_pb.TaskStartedRequest, callback_pb.TaskStartedResponse, cb,
               "The worker starts an attempt", errors=(404, 409), view=callbacks.STARTED, auth=Auth.TASK),
        _route("task_heartbeat", "POST", "/tasks/{task_id}/heartbeat", CALLBACK_SVC,
               "TaskHeartbeat", callback_pb.TaskHeartbeatRequest,
               callback_pb.TaskHeartbeatResponse, cb, "The attempt is alive",
               errors=(404, 409, 410), view=callbacks.HEARTBEAT, auth=Auth.TASK),
        _route("task_completed", "POST", "/tasks/{task_id}/completed", CALLBACK_SVC,
               "TaskCompleted", callback_pb.TaskCompletedRequest,
               callback_pb.TaskCompletedResponse, cb, "The attempt ended",
               errors=(404, 409), view=callbacks.COMPLETED, auth=Auth.TASK),
    ]  # fmt: skip


def _orchestration_routes() -> list[RouteSpec]:
    o, m, orch = Family.ORCHESTRATION, Family.MANIFESTS, orchestration
    ws = "/workspaces/{workspace_id}"
    return [
        _route("create_workspace", "POST", "/workspaces", ORCH_SVC, "CreateWorkspace",
               orch_pb.CreateWorkspaceRequest, orch_pb.CreateWorkspaceResponse, o,
               "Create a workspace in the caller's tenant (admin)", success=(201, 200),
               errors=(403,), view=orch.WORKSPACE_CREATED,
               reply=created_or_ok(orch.WORKSPACE_CREATED)),
        _route("list_workspaces", "GET", "/workspaces", ORCH_SVC, "ListWorkspaces",
               orch_pb.ListWorkspacesRequest, orch_pb.ListWorkspacesResponse, o,
               "List the workspaces of the caller's tenant", view=orch.WORKSPACE_LIST),
        _route("deploy_manifest", "POST", f"{ws}/manifests", ORCH_SVC, "DeployManifest",
               orch_pb.DeployManifestRequest, orch_pb.DeployManifestResponse, m,
               "Deploy an asset-graph manifest", success=(201, 200), errors=(409,),
               view=orch.DEPLOYED, reply=created_or_ok(orch.DEPLOYED), idempotency_key=True),
        _route("list_manifests", "GET", f"{ws}/manifests", ORCH_SVC, "ListManifests",
               orch_pb.ListManifestsRequest, orch_pb.ListManifestsResponse, m,
               "List deployed manifests, newest first", view=orch.MANIFEST_LIST),
        _route("get_manifest", "GET", f"{ws}/manifests/{{manifest_id}}", ORCH_SVC,
               "GetManifest", orch_pb.GetManifestRequest, orch_pb.GetManifestResponse, m,
               "Get one deployed manifest", view=orch.MANIFEST),
        _route("trigger_run", "POST", f"{ws}/runs", ORCH_SVC, "TriggerRun",
               orch_pb.TriggerRunRequest, orch_pb.TriggerRunResponse, o,
               "Trigger a run", success=(201, 200), errors=(409,), view=orch.TRIGGERED,
               reply=created_or_ok(orch.TRIGGERED), idempotency_key=True),
        _route("list_runs", "GET", f"{ws}/runs", ORCH_SVC, "ListRuns",
               orch_pb.ListRunsRequest, orch_pb.ListRunsResponse, o, "List runs, newest first",
               errors=(400,), view=orch.RUN_LIST,
               query=(orch.LIMIT, orch.CURSOR, orch.RUN_STATE)),
        _route("get_run", "GET", f"{ws}/runs/{{run_id}}", ORCH_SVC, "GetRun",
               orch_pb.GetRunRequest, orch_pb.GetRunResponse, o, "Get a run with its tasks",
               view=orch.RUN),
        _route("cancel_run", "POST", f"{ws}/runs/{{run_id}}/cancel", ORCH_SVC, "CancelRun",
               orch_pb.CancelRunRequest, orch_pb.CancelRunResponse, o,
               "Request cancellation of a run", errors=(409,), view=orch.CANCELLED,
               idempotency_key=True),
        _route("rerun_run", "POST", f"{ws}/runs/{{run_id}}/rerun", ORCH_SVC, "RerunRun",
               orch_pb.RerunRunRequest, orch_pb.RerunRunResponse, o,
               "Rerun a finished run", success=(201, 200), errors=(409,), view=orch.RERUN,
               request=orch.rerun_request, reply=created_or_ok(orch.RERUN),
               idempotency_key=True),
        _route("upload_run_logs", "POST", f"{ws}/runs/{{run_id}}/logs", ORCH_SVC,
               "UploadTaskLogs", orch_pb.UploadTaskLogsRequest, orch_pb.UploadTaskLogsResponse,
               o, "Upload one attempt's stdout/stderr (with that attempt's task token)",
               errors=(409,), view=orch.LOGS_UPLOADED, auth=Auth.TASK),
        _route("get_run_logs", "GET", f"{ws}/runs/{{run_id}}/logs", ORCH_SVC, "GetRunLogs",
               orch_pb.GetRunLogsRequest, orch_pb.GetRunLogsResponse, o,
               "Read a run's logs, one page at a time", errors=(400,),
               query=(orch.TASK_KEY, orch.LIMIT, orch.CURSOR), reply=orch.logs_reply,
               content=Content.TEXT),
        _route("list_partitions", "GET", f"{ws}/partitions", ORCH_SVC, "ListPartitions",
               orch_pb.ListPartitionsRequest, orch_pb.ListPartitionsResponse, o,
               "List partition status by (asset key, partition key)", errors=(400,),
               view=orch.PARTITION_LIST,
               query=(orch.LIMIT, orch.CURSOR, orch.ASSET_KEY, orch.STALE_ONLY)),
        _route("get_asset_partition_summary", "GET",
               f"{ws}/assets/{{asset_key}}/partitions/summary", ORCH_SVC,
               "GetAssetPartitionSummary", orch_pb.GetAssetPartitionSummaryRequest,
               orch_pb.GetAssetPartitionSummaryResponse, o,
               "Count one asset's partitions by status", view=orch.PARTITION_SUMMARY),
        _route("backfill_run_key", "POST", f"{ws}/runs/run-key/backfill", ORCH_SVC,
               "BackfillRunKey", orch_pb.BackfillRunKeyRequest, orch_pb.BackfillRunKeyResponse,
               o, "Store the request fingerprint on a run key reserved without one",
               errors=(400, 409), view=orch.RUN_KEY_BACKFILLED),
    ]  # fmt: skip


def _backfill_routes() -> list[RouteSpec]:
    o, b, ws = Family.ORCHESTRATION, backfills, "/workspaces/{workspace_id}/backfills"
    one = f"{ws}/{{backfill_id}}"
    page = (orchestration.LIMIT, orchestration.CURSOR)
    moves = [
        (
            "pause_backfill",
            "pause",
            "PauseBackfill",
            orch_pb.PauseBackfillRequest,
            orch_pb.PauseBackfillResponse,
            "Stop planning new chunks of a backfill",
        ),
        (
            "resume_backfill",
            "resume",
            "ResumeBackfill",
            orch_pb.ResumeBackfillRequest,
            orch_pb.ResumeBackfillResponse,
            "Plan chunks of a paused backfill again",
        ),
        (
            "cancel_backfill",
            "cancel",
            "CancelBackfill",
            orch_pb.CancelBackfillRequest,
            orch_pb.CancelBackfillResponse,
            "Cancel a backfill (running chunk runs finish)",
        ),
    ]
    return [
        _route("create_backfill", "POST", ws, ORCH_SVC, "CreateBackfill",
               orch_pb.CreateBackfillRequest, orch_pb.CreateBackfillResponse, o,
               "Create a backfill of one asset's partitions", success=(202, 200),
               errors=(409,), view=b.CREATED, reply=b.accepted_or_ok, idempotency_key=True),
        _route("list_backfills", "GET", ws, ORCH_SVC, "ListBackfills",
               orch_pb.ListBackfillsRequest, orch_pb.ListBackfillsResponse, o,
               "List backfills, newest first", errors=(400,), view=b.BACKFILL_LIST,
               query=(*page, b.BACKFILL_STATE)),
        _route("get_backfill", "GET", one, ORCH_SVC, "GetBackfill", orch_pb.GetBackfillRequest,
               orch_pb.GetBackfillResponse, o, "Get a backfill with its chunk counts",
               view=b.BACKFILL),
        _route("list_backfill_chunks", "GET", f"{one}/chunks", ORCH_SVC, "ListBackfillChunks",
               orch_pb.ListBackfillChunksRequest, orch_pb.ListBackfillChunksResponse, o,
               "List a backfill's planned chunks", errors=(400,), view=b.CHUNK_LIST,
               query=(*page, b.CHUNK_STATE)),
        *(
            _route(op, "POST", f"{one}/{verb}", ORCH_SVC, rpc, req, resp, o, summary,
                   errors=(409,), view=b.BACKFILL)
            for op, verb, rpc, req, resp, summary in moves
        ),
        _route("retry_failed_backfill", "POST", f"{one}/retry-failed", ORCH_SVC,
               "RetryFailedBackfill", orch_pb.RetryFailedBackfillRequest,
               orch_pb.RetryFailedBackfillResponse, o,
               "Backfill again the partitions of a finished backfill's failed chunks",
               success=(202, 200), errors=(409,), view=b.CREATED, reply=b.accepted_or_ok,
               idempotency_key=True),
    ]  # fmt: skip


def _schedule_routes() -> list[RouteSpec]:
    o, sch = Family.ORCHESTRATION, schedules
    base = "/workspaces/{workspace_id}/schedules"
    one = f"{base}/{{schedule_id}}"
    return [
        _route("list_schedules", "GET", base, ORCH_SVC, "ListSchedules",
               orch_pb.ListSchedulesRequest, orch_pb.ListSchedulesResponse, o,
               "List schedules by schedule id", errors=(400,), view=sch.SCHEDULE_LIST,
               query=(sch.LIMIT, sch.CURSOR)),
        _route("get_schedule", "GET", one, ORCH_SVC, "GetSchedule",
               orch_pb.GetScheduleRequest, orch_pb.GetScheduleResponse, o,
               "Get a schedule with its tick state", view=sch.SCHEDULE),
        _route("upsert_schedule", "PUT", one, ORCH_SVC, "UpsertSchedule",
               orch_pb.UpsertScheduleRequest, orch_pb.UpsertScheduleResponse, o,
               "Create or replace a schedule definition", success=(201, 200),
               errors=(409,), view=sch.SCHEDULE, reply=created_or_ok(sch.SCHEDULE),
               idempotency_key=True),
        _route("enable_schedule", "POST", f"{one}/enable", ORCH_SVC, "EnableSchedule",
               orch_pb.EnableScheduleRequest, orch_pb.EnableScheduleResponse, o,
               "Enable a schedule (its ticks run again from now on)", errors=(409,),
               view=sch.SCHEDULE, idempotency_key=True),
        _route("disable_schedule", "POST", f"{one}/disable", ORCH_SVC, "DisableSchedule",
               orch_pb.DisableScheduleRequest, orch_pb.DisableScheduleResponse, o,
               "Disable a schedule (its ticks are recorded as skipped)", errors=(409,),
               view=sch.SCHEDULE, idempotency_key=True),
        _route("list_schedule_ticks", "GET", f"{one}/ticks", ORCH_SVC, "ListScheduleTicks",
               orch_pb.ListScheduleTicksRequest, orch_pb.ListScheduleTicksResponse, o,
               "A schedule's ticks, newest first", errors=(400,), view=sch.TICK_LIST,
               query=(sch.LIMIT, sch.CURSOR, sch.TICK_STATUS)),
    ]  # fmt: skip


def _sensor_routes() -> list[RouteSpec]:
    o, sn, ws = Family.ORCHESTRATION, sensors, "/workspaces/{workspace_id}/sensors"
    return [
        _route("list_sensors", "GET", ws, ORCH_SVC, "ListSensors", orch_pb.ListSensorsRequest,
               orch_pb.ListSensorsResponse, o, "List sensors by sensor id", errors=(400,),
               view=sn.SENSOR_LIST, query=(sn.LIMIT, sn.CURSOR)),
        _route("get_sensor", "GET", f"{ws}/{{sensor_id}}", ORCH_SVC, "GetSensor",
               orch_pb.GetSensorRequest, orch_pb.GetSensorResponse, o,
               "Get a sensor's state", view=sn.SENSOR),
        _route("list_sensor_evals", "GET", f"{ws}/{{sensor_id}}/evals", ORCH_SVC,
               "ListSensorEvals", orch_pb.ListSensorEvalsRequest,
               orch_pb.ListSensorEvalsResponse, o, "A sensor's evaluations, newest first",
               errors=(400,), view=sn.EVAL_LIST,
               query=(sn.LIMIT, sn.CURSOR, sn.SINCE, sn.UNTIL, sn.STATUS)),
        _route("manual_evaluate_sensor", "POST", f"{ws}/{{sensor_id}}/evaluate", ORCH_SVC,
               "ManualEvaluateSensor", orch_pb.ManualEvaluateSensorRequest,
               orch_pb.ManualEvaluateSensorResponse, o,
               "Push a message to a sensor (evaluated once per message id)",
               view=sn.EVALUATED, idempotency_key=True),
        # Beyond the reference: a worker's answer to a sensor-evaluation dispatch.
        _route("sensor_evaluated", "POST", "/tasks/{task_id}/sensor-evaluated", CALLBACK_SVC,
               "SensorEvaluated", callback_pb.SensorEvaluatedRequest,
               callback_pb.SensorEvaluatedResponse, Family.CALLBACKS,
               "The worker answers a sensor evaluation", errors=(404,), view=sn.ANSWERED,
               auth=Auth.TASK),
    ]  # fmt: skip


def route_table() -> tuple[RouteSpec, ...]:
    """Every public /api/v1 route the gateway serves."""
    return (
        *_catalog_routes(),
        *_read_routes(),
        *_callback_routes(),
        *_orchestration_routes(),
        *_backfill_routes(),
        *_schedule_routes(),
        *_sensor_routes(),
    )
