"""OrchestrationService of the api."""

from __future__ import annotations

from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb
from arco.orchestration.v1 import orchestration_service_pb2_grpc as orch_grpc

from services.api.deps import ApiDeps
from services.common.pending import not_implemented
from services.common.server import RpcContext as Context

_ORCHESTRATION = "the orchestration write path (ledger events folded by the compactor)"


class OrchestrationServicer(orch_grpc.OrchestrationServiceServicer):
    def __init__(self, deps: ApiDeps) -> None:
        self._deps = deps

    async def DeployManifest(
        self, request: orch_pb.DeployManifestRequest, context: Context
    ) -> orch_pb.DeployManifestResponse:
        not_implemented("OrchestrationService.DeployManifest", _ORCHESTRATION)

    async def ListManifests(
        self, request: orch_pb.ListManifestsRequest, context: Context
    ) -> orch_pb.ListManifestsResponse:
        not_implemented("OrchestrationService.ListManifests", _ORCHESTRATION)

    async def GetManifest(
        self, request: orch_pb.GetManifestRequest, context: Context
    ) -> orch_pb.GetManifestResponse:
        not_implemented("OrchestrationService.GetManifest", _ORCHESTRATION)

    async def TriggerRun(
        self, request: orch_pb.TriggerRunRequest, context: Context
    ) -> orch_pb.TriggerRunResponse:
        not_implemented("OrchestrationService.TriggerRun", _ORCHESTRATION)

    async def GetRun(
        self, request: orch_pb.GetRunRequest, context: Context
    ) -> orch_pb.GetRunResponse:
        not_implemented("OrchestrationService.GetRun", _ORCHESTRATION)

    async def ListRuns(
        self, request: orch_pb.ListRunsRequest, context: Context
    ) -> orch_pb.ListRunsResponse:
        not_implemented("OrchestrationService.ListRuns", _ORCHESTRATION)

    async def CancelRun(
        self, request: orch_pb.CancelRunRequest, context: Context
    ) -> orch_pb.CancelRunResponse:
        not_implemented("OrchestrationService.CancelRun", _ORCHESTRATION)

    async def RerunRun(
        self, request: orch_pb.RerunRunRequest, context: Context
    ) -> orch_pb.RerunRunResponse:
        not_implemented("OrchestrationService.RerunRun", _ORCHESTRATION)

    async def UploadTaskLogs(
        self, request: orch_pb.UploadTaskLogsRequest, context: Context
    ) -> orch_pb.UploadTaskLogsResponse:
        not_implemented("OrchestrationService.UploadTaskLogs", _ORCHESTRATION)

    async def GetRunLogs(
        self, request: orch_pb.GetRunLogsRequest, context: Context
    ) -> orch_pb.GetRunLogsResponse:
        not_implemented("OrchestrationService.GetRunLogs", _ORCHESTRATION)
