"""CreateWorkspace and ListWorkspaces: the workspaces of the caller's tenant.

Tenant-level RPCs (``services.api.auth.TENANT_METHODS``): they run on no scope's
servicer, and the caller's own workspace need not exist yet. A workspace exists once its
registry entry does; every service picks it up from the registry, with no restart.
"""

from __future__ import annotations

import structlog
from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb

from arco_core.errors import PermissionDenied
from arco_core.registry import Workspace, WorkspaceRegistry, parse_scope
from services.api.auth import caller
from services.common.rpc_context import timestamp_from_ms
from services.common.server import RpcContext as Context

log = structlog.get_logger(__name__)


def _info(entry: Workspace) -> orch_pb.WorkspaceInfo:
    return orch_pb.WorkspaceInfo(
        tenant_id=entry.scope.tenant_id,
        workspace_id=entry.scope.workspace_id,
        created_at=timestamp_from_ms(entry.created_at_ms),
    )


class WorkspaceRpcs:
    def __init__(self, registry: WorkspaceRegistry) -> None:
        self._registry = registry

    async def CreateWorkspace(
        self, request: orch_pb.CreateWorkspaceRequest, context: Context
    ) -> orch_pb.CreateWorkspaceResponse:
        identity = caller()
        if request.tenant_id and request.tenant_id.strip().lower() != identity.tenant:
            # An admin is an admin of their own tenant only.
            raise PermissionDenied(
                "a workspace is created in the caller's own tenant only",
                reason="foreign_tenant",
            )
        scope = parse_scope(identity.tenant, request.new_workspace_id)
        entry, created = await self._registry.create(scope)
        log.info(
            "workspace_created" if created else "workspace_exists",
            tenant_id=scope.tenant_id,
            workspace_id=scope.workspace_id,
            user=identity.user,
        )
        return orch_pb.CreateWorkspaceResponse(workspace=_info(entry), created=created)

    async def ListWorkspaces(
        self, request: orch_pb.ListWorkspacesRequest, context: Context
    ) -> orch_pb.ListWorkspacesResponse:
        tenant = caller().tenant
        entries = [
            await self._registry.require(s) for s in await self._registry.list(tenant_id=tenant)
        ]
        return orch_pb.ListWorkspacesResponse(workspaces=[_info(entry) for entry in entries])
