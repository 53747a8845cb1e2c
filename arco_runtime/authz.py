"""The authorization matrix: for every RPC of every service, who may call it.

One table, as data (:data:`MATRIX`). A mesh caller is the role in its verified client
certificate (:mod:`arco_runtime.tls`); a user is the role their groups map to
(:class:`UserRole`, checked by the api for the public services). One interceptor
(:class:`AuthorizationInterceptor`) enforces the mesh half on every server: an RPC with
no row is refused, so a new RPC is closed until someone grants it. The tests walk every
RPC declared in ``proto/`` against every role, and docs/operations.md shows the table
written from this data (``scripts/gen_settings_docs.py``).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, Final

import grpc
import structlog

from arco_runtime.rpc import admitting
from arco_runtime.tls import Role, peer_role

log = structlog.get_logger(__name__)


class UserRole(enum.IntEnum):
    """What a user may do on the public services; each role includes the ones below."""

    VIEWER = 1  # reads and queries
    OPERATOR = 2  # deploy, trigger, cancel, rerun
    ADMIN = 3  # catalog DDL, browser URLs, operator RPCs

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclasses.dataclass(frozen=True)
class Grant:
    """Who may call one RPC: these mesh roles, and (public services) users of ``user``."""

    roles: frozenset[Role]
    user: UserRole | None = None


def _grant(*roles: Role, user: UserRole | None = None) -> Grant:
    return Grant(frozenset(roles), user)


_HEAD_READERS = (Role.API, Role.DISPATCHER, Role.SWEEPER, Role.AUTOMATION)
# The public api services: the REST gateway (with the signed identity it forwards), the
# Envoy edge and operator tools (each with the user's JWT).
_PUBLIC = (Role.GATEWAY, Role.EDGE, Role.OPERATOR)
# Every mesh process answers health checks to every mesh peer (launchers, probes).
_EVERYONE = tuple(Role)

_VIEW = _grant(*_PUBLIC, user=UserRole.VIEWER)
_OPERATE = _grant(*_PUBLIC, user=UserRole.OPERATOR)
_ADMIN = _grant(*_PUBLIC, user=UserRole.ADMIN)
_CALLBACK = _grant(Role.GATEWAY, Role.WORKER)  # the bearer task token is judged by the api

MATRIX: Final[Mapping[str, Mapping[str, Grant]]] = {
    "arco.compactor.v1.CompactorService": {
        "CompactEvents": _grant(Role.API, Role.DISPATCHER, Role.SWEEPER, Role.AUTOMATION),
        "SyncCompact": _grant(Role.API),
        "WatchHead": _grant(*_HEAD_READERS),
        "GetHead": _grant(*_HEAD_READERS),
        "Rebuild": _grant(Role.OPERATOR),
        "VerifyProjection": _grant(Role.OPERATOR),
    },
    "arco.dispatch.v1.DispatcherService": {
        "RunDispatch": _grant(Role.OPERATOR, Role.SWEEPER),
        "GetDispatcherStatus": _grant(Role.OPERATOR, Role.SWEEPER),
    },
    "arco.sweeper.v1.SweeperService": {
        "RunSweep": _grant(Role.OPERATOR, Role.SWEEPER),
    },
    "arco.worker.v1.WorkerService": {
        "Dispatch": _grant(Role.DISPATCHER, Role.SWEEPER),
    },
    "arco.orchestration.v1.TaskCallbackService": {
        "TaskStarted": _CALLBACK,
        "TaskHeartbeat": _CALLBACK,
        "TaskCompleted": _CALLBACK,
        "SensorEvaluated": _CALLBACK,
    },
    "arco.orchestration.v1.OrchestrationService": {
        "DeployManifest": _OPERATE,
        "ListManifests": _VIEW,
        "GetManifest": _VIEW,
        "TriggerRun": _OPERATE,
        "GetRun": _VIEW,
        "ListRuns": _VIEW,
        "CancelRun": _OPERATE,
        "RerunRun": _OPERATE,
        # A worker's own attempt, with its task token (judged by the api), not a user's.
        "UploadTaskLogs": _CALLBACK,
        "GetRunLogs": _VIEW,
        "ListPartitions": _VIEW,
        "GetAssetPartitionSummary": _VIEW,
        # -- run-key backfill --
        # Repairs what a run key stands for: an operator RPC, so admin.
        "BackfillRunKey": _ADMIN,
        # -- WORKSPACES (of the caller's tenant) --
        "CreateWorkspace": _ADMIN,
        "ListWorkspaces": _VIEW,
        # -- BACKFILLS --
        "CreateBackfill": _OPERATE,
        "ListBackfills": _VIEW,
        "GetBackfill": _VIEW,
        "ListBackfillChunks": _VIEW,
        "PauseBackfill": _OPERATE,
        "ResumeBackfill": _OPERATE,
        "CancelBackfill": _OPERATE,
        "RetryFailedBackfill": _OPERATE,
        # -- SCHEDULES --
        "ListSchedules": _VIEW,
        "GetSchedule": _VIEW,
        "UpsertSchedule": _OPERATE,
        "EnableSchedule": _OPERATE,
        "DisableSchedule": _OPERATE,
        "ListScheduleTicks": _VIEW,
        # -- SENSORS --
        "ListSensors": _VIEW,
        "GetSensor": _VIEW,
        "ListSensorEvals": _VIEW,
        "ManualEvaluateSensor": _OPERATE,
    },
    "arco.catalog.v1.CatalogService": {
        "ListNamespaces": _VIEW,
        "CreateNamespace": _ADMIN,
        "GetNamespace": _VIEW,
        "DeleteNamespace": _ADMIN,
        "ListTables": _VIEW,
        "RegisterTable": _ADMIN,
        "GetTable": _VIEW,
        "UpdateTable": _ADMIN,
        "DropTable": _ADMIN,
        "ListCatalogs": _VIEW,
        "CreateCatalog": _ADMIN,
        "GetCatalog": _VIEW,
        "ListSchemas": _VIEW,
        "CreateSchema": _ADMIN,
        "ListSchemaTables": _VIEW,
        "RegisterSchemaTable": _ADMIN,
        "GetSchemaTable": _VIEW,
        "AddLineageEdges": _ADMIN,
        "GetLineage": _VIEW,
        "GetCatalogInventory": _VIEW,
        # Delta commits write table data, as runs do: operators, not only admins.
        "StageCommitPayload": _OPERATE,
        "CommitStaged": _OPERATE,
    },
    "arco.query.v1.QueryService": {
        "Query": _VIEW,
        "QueryData": _VIEW,
    },
    "arco.browser.v1.BrowserService": {
        "MintUrls": _ADMIN,
        "ListBrowsableFiles": _VIEW,
    },
    "grpc.health.v1.Health": {
        "Check": _grant(*_EVERYONE),
        "Watch": _grant(*_EVERYONE),
        "List": _grant(*_EVERYONE),  # declared by grpcio-health; its servicer answers UNIMPLEMENTED
    },
    "grpc.reflection.v1alpha.ServerReflection": {
        "ServerReflectionInfo": _grant(Role.OPERATOR),
    },
}


def split_method(method: str) -> tuple[str, str]:
    """``/pkg.Service/Method`` as (``pkg.Service``, ``Method``)."""
    service, _, name = method.lstrip("/").partition("/")
    return service, name


def grant_for(method: str) -> Grant | None:
    """The row of a full method name (``/pkg.Service/Method``), None when it has none."""
    service, name = split_method(method)
    return MATRIX.get(service, {}).get(name)


def rows() -> Iterator[tuple[str, str, Grant]]:
    """Every (service, method, grant) of the matrix, in table order."""
    for service, methods in MATRIX.items():
        for name, grant in methods.items():
            yield service, name, grant


def markdown_matrix() -> str:
    """The matrix as a docs table (one row per RPC)."""
    lines = ["| service | RPC | mesh roles | users |", "|---|---|---|---|"]
    for service, name, grant in rows():
        roles = ", ".join(sorted(role.value for role in grant.roles))
        user = f"{grant.user.label} and above" if grant.user else "\N{EN DASH}"
        lines.append(f"| `{service}` | `{name}` | {roles} | {user} |")
    return "\n".join(lines)


# -- enforcement ------------------------------------------------------------------------

# The verified mesh role of the caller of the RPC running in this context (None in
# plaintext dev mode); each RPC runs in its own task, so the value ends with the RPC.
_PEER: ContextVar[Role | None] = ContextVar("arco_peer_role", default=None)


def caller_role() -> Role | None:
    """The mesh role that called the current RPC (None when the mesh runs plaintext)."""
    return _PEER.get()


def refusal(role: Role | None, method: str) -> str:
    who = f"role {role.value}" if role else "a caller without a mesh certificate"
    return f"{who} may not call {method}"


class AuthorizationInterceptor(grpc.aio.ServerInterceptor):
    """Admits an RPC only when the matrix grants it to the caller's certificate role.

    With ``enforce=False`` (plaintext dev mode on loopback: there is no verified peer) it
    only checks that the RPC has a row. A refusal is PERMISSION_DENIED naming the role and
    the RPC; the caller's role stays in a context variable for the servicer.
    """

    def __init__(self, *, enforce: bool, matrix: Mapping[str, Mapping[str, Grant]] = MATRIX):
        self._enforce = enforce
        self._matrix = matrix

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        if handler is None:
            return None
        method: str = details.method
        service, name = split_method(method)
        grant = self._matrix.get(service, {}).get(name)

        async def admit(request: Any, context: Any) -> None:
            await self._admit(context, method, grant)

        return admitting(handler, admit)

    async def _admit(self, context: Any, method: str, grant: Grant | None) -> None:
        role = peer_role(context.auth_context()) if self._enforce else None
        if grant is None:
            log.warning("rpc_refused", method=method, role=role, why="not_in_matrix")
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{method} has no row in the authorization matrix",
            )
        assert grant is not None
        if self._enforce and (role is None or role not in grant.roles):
            log.warning("rpc_refused", method=method, role=role, why="role_not_granted")
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, refusal(role, method))
        _PEER.set(role)
