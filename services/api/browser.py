"""BrowserService of the api."""

from __future__ import annotations

from arco.browser.v1 import browser_service_pb2 as browser_pb
from arco.browser.v1 import browser_service_pb2_grpc as browser_grpc

from services.api.deps import ApiDeps
from services.common.pending import not_implemented
from services.common.server import RpcContext as Context

_BROWSER = "signed URLs over files listed by the current manifest"


class BrowserServicer(browser_grpc.BrowserServiceServicer):
    def __init__(self, deps: ApiDeps) -> None:
        self._deps = deps

    async def MintUrls(
        self, request: browser_pb.MintUrlsRequest, context: Context
    ) -> browser_pb.MintUrlsResponse:
        not_implemented("BrowserService.MintUrls", _BROWSER)

    async def ListBrowsableFiles(
        self, request: browser_pb.ListBrowsableFilesRequest, context: Context
    ) -> browser_pb.ListBrowsableFilesResponse:
        not_implemented("BrowserService.ListBrowsableFiles", _BROWSER)
