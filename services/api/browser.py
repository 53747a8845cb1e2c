"""BrowserService of the api: signed read URLs for files the current manifests list.

See :mod:`arco_core.browser` for what is browsable (and why orchestration tables with
pending L0 deltas are not). Every path is checked before any storage access; every grant
and denial is an ``audit`` log event that names the caller, domain, paths and TTL but
never a URL. Local stores get gateway-served HMAC URLs (``deps.url_signer``); S3, GCS and
Azure get presigned GETs (the console downloads those with fetch(), since a GET-signed
URL refuses the HEAD that DuckDB-WASM would send first).
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from arco.browser.v1 import browser_service_pb2 as browser_pb
from arco.browser.v1 import browser_service_pb2_grpc as browser_grpc

from arco_core.browser import (
    BROWSER_DOMAINS,
    MAX_PATHS,
    browsable_files,
    check_path_before_io,
    effective_ttl,
    manifest_domain,
    parse_domain,
)
from arco_core.errors import ArcoError, FailedPrecondition, InvalidArgument, PermissionDenied
from arco_core.published import ProjectionReader
from arco_runtime.identity import Identity
from services.api.auth import caller
from services.api.deps import ApiDeps
from services.common.rpc_context import timestamp_from_ms
from services.common.server import RpcContext as Context

audit = structlog.get_logger("arco.audit")


class BrowserServicer(browser_grpc.BrowserServiceServicer):
    def __init__(self, deps: ApiDeps) -> None:
        self._deps = deps

    def _reader(self, domain: str) -> ProjectionReader:
        if manifest_domain(domain) == "orchestration":
            return self._deps.orchestration.reader
        return self._deps.catalog.reader

    def _deny(self, identity: Identity, domain: str, exc: ArcoError, count: int) -> None:
        audit.warning(
            "audit",
            action="browser_url_deny",
            tenant_id=identity.tenant,
            workspace_id=identity.workspace,
            user=identity.user,
            domain=domain,
            reason=exc.reason,
            path_count=count,
            path=exc.metadata.get("path"),
        )

    async def MintUrls(
        self, request: browser_pb.MintUrlsRequest, context: Context
    ) -> browser_pb.MintUrlsResponse:
        identity = caller()
        paths = list(request.paths)
        domain = request.domain
        try:
            domain = parse_domain(request.domain)
            ttl = effective_ttl(request.ttl_seconds if request.HasField("ttl_seconds") else None)
            if not paths:
                raise InvalidArgument("paths must not be empty", reason="missing_paths")
            if len(paths) > MAX_PATHS:
                raise InvalidArgument(f"at most {MAX_PATHS} paths per request")
            for path in paths:  # every check here happens before any I/O
                try:
                    check_path_before_io(path)
                except ArcoError as exc:
                    exc.metadata.setdefault("path", path)
                    raise
            snapshot = await self._reader(domain).refresh()
            allowed = {f.path for f in browsable_files(domain, snapshot.manifest)}
            for path in paths:
                if path not in allowed:
                    raise PermissionDenied(
                        f"Path not in manifest allowlist: {path}",
                        reason="not_in_allowlist",
                        metadata={"path": path},
                    )
            storage = self._deps.reader_storage
            expires = self._deps.clock.now_ms() // 1000 + ttl
            urls = []
            for path in paths:
                if storage.can_sign:
                    url = await storage.sign_get_url(path, timedelta(seconds=ttl))
                elif self._deps.url_signer is not None:
                    url = self._deps.url_signer.url(storage.scope, path, expires)
                else:
                    raise FailedPrecondition(
                        "browser URLs for a local store need ARCO_BROWSER_URL_SECRET",
                        reason="no_url_secret",
                    )
                urls.append(browser_pb.SignedUrl(path=path, url=url))
        except ArcoError as exc:
            self._deny(identity, domain, exc, len(paths))
            raise
        audit.info(
            "audit",
            action="browser_url_grant",
            tenant_id=identity.tenant,
            workspace_id=identity.workspace,
            user=identity.user,
            domain=domain,
            paths=paths,
            path_count=len(paths),
            ttl_seconds=ttl,
            signer="presign" if storage.can_sign else "gateway",
        )
        return browser_pb.MintUrlsResponse(
            urls=urls, ttl_seconds=ttl, expires_at=timestamp_from_ms(expires * 1000)
        )

    async def ListBrowsableFiles(
        self, request: browser_pb.ListBrowsableFilesRequest, context: Context
    ) -> browser_pb.ListBrowsableFilesResponse:
        domains = [parse_domain(request.domain)] if request.domain else list(BROWSER_DOMAINS)
        files: list[browser_pb.BrowsableFile] = []
        versions: dict[str, int] = {}
        for domain in domains:
            snapshot = await self._reader(domain).refresh()
            if snapshot.seq is not None:
                versions[manifest_domain(domain)] = snapshot.seq
            files.extend(
                browser_pb.BrowsableFile(
                    domain=f.domain, table=f.table, path=f.path, size_bytes=f.size_bytes
                )
                for f in browsable_files(domain, snapshot.manifest)
            )
        return browser_pb.ListBrowsableFilesResponse(files=files, state_versions=versions)
