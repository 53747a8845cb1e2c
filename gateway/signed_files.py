"""``/files/{key}?exp=&sig=``: the browser's signed read URLs for a local store.

The api mints these (only for files the current manifests list, see
``arco_core.browser``); the gateway only checks them and serves bytes. The signature is
HMAC-SHA256 (hex) over ``"arco-browser-v1\\n" + key + "\\n" + exp`` with
``ARCO_BROWSER_URL_SECRET``; ``key`` is the full store key including the
``tenant=/workspace=`` prefix. It covers no method, so one URL answers HEAD, GET and single
``Range`` requests (DuckDB-WASM HEADs, then range-GETs). Refused with 403 and no detail:
a bad or missing signature, an expired URL, a key outside this gateway's scope, any
``.``/``..``/empty segment, and any path that resolves outside the store root. CORS allows
any origin (the URL itself is the credential) and exposes the range headers.

The store root comes from ``ARCO_STORAGE_URL`` (``file://`` only; for object stores the
api hands out presigned URLs instead and this route answers 404).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from arco_runtime.settings import BROWSER_URL_SECRET

__all__ = ["routes", "signed_file_routes", "verify"]

SIGNATURE_VERSION = "arco-browser-v1"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Range, If-None-Match, If-Match",
    "Access-Control-Expose-Headers": "Content-Range, Content-Length, Accept-Ranges, ETag",
    "Access-Control-Max-Age": "600",
}


def _signature(secret: str, key: str, expires: int) -> str:
    message = f"{SIGNATURE_VERSION}\n{key}\n{expires}".encode()
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(secret: str, key: str, exp: str, sig: str, now: float) -> bool:
    """True when ``sig`` signs (key, exp) and ``exp`` is in the future."""
    if not secret or not (exp.isascii() and exp.isdigit()) or len(exp) > 12:
        return False
    if not sig or not sig.isascii():  # compare_digest refuses non-ASCII text (a 500)
        return False
    expires = int(exp)
    if expires < now:
        return False
    return hmac.compare_digest(_signature(secret, key, expires), sig)


def _root_of(storage_url: str) -> Path | None:
    parts = urlsplit(storage_url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    return Path(unquote(parts.path)).resolve()


def _safe_key(key: str) -> bool:
    if not key or key.startswith("/") or "\\" in key or "%" in key:
        return False
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        return False
    return all(segment not in ("", ".", "..") for segment in key.split("/"))


def _parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """(start, end inclusive), None for no/ignored range, "invalid" for 416."""
    match = _RANGE.match(header.strip())
    if not match:
        return None  # multi-range or garbage: serve the whole file
    first, last = match.groups()
    if not first and not last:
        return "invalid"
    if not first:
        length = int(last)
        if length == 0:
            return "invalid"
        return max(size - length, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        return "invalid"
    return start, min(end, size - 1)


def signed_file_routes(
    config: object = None,
    *,
    env: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.time,
) -> list[Route]:
    """The ``/files/{key}`` route (mounted by the gateway app when this module exists)."""
    source = os.environ if env is None else env
    # The gateway's config read the secret through its row (and checked its length
    # outside dev); without a config (a bare test app) the environment is read.
    configured = getattr(config, "browser_url_secret", None)
    secret = configured if isinstance(configured, str) else BROWSER_URL_SECRET.read(source)
    root = _root_of(source.get("ARCO_STORAGE_URL", ""))
    tenant = source.get("ARCO_TENANT_ID", "")
    workspace = source.get("ARCO_WORKSPACE_ID", "")
    scope_prefix = f"tenant={tenant}/workspace={workspace}/" if tenant and workspace else ""

    def refuse(status: int = 403, message: str = "forbidden") -> Response:
        return Response(message, status_code=status, media_type="text/plain", headers=_CORS)

    def locate(request: Request) -> Path | Response:
        if root is None or not secret:
            return refuse(404, "not found")
        key = str(request.path_params["key"])
        exp = request.query_params.get("exp", "")
        sig = request.query_params.get("sig", "")
        if not _safe_key(key) or (scope_prefix and not key.startswith(scope_prefix)):
            return refuse()
        if not verify(secret, key, exp, sig, clock()):
            return refuse()
        path = (root / key).resolve()
        if root not in path.parents or not path.is_file():
            return refuse(404, "not found") if root in path.parents else refuse()
        return path

    async def serve(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=_CORS)
        found = locate(request)
        if isinstance(found, Response):
            return found
        stat = found.stat()
        size = stat.st_size
        etag = f'"{stat.st_ino:x}-{stat.st_mtime_ns:x}-{size:x}"'
        headers: dict[str, Any] = {
            **_CORS,
            "Accept-Ranges": "bytes",
            "ETag": etag,
            "Cache-Control": "private, max-age=60",
        }
        wanted = _parse_range(request.headers.get("range", ""), size) if size else None
        if wanted == "invalid":
            headers["Content-Range"] = f"bytes */{size}"
            return Response(status_code=416, headers=headers)
        status = 200
        start, end = 0, size - 1
        if isinstance(wanted, tuple):
            start, end = wanted
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = max(end - start + 1, 0)
        headers["Content-Length"] = str(length)
        if request.method == "HEAD":
            return Response(
                status_code=status, headers=headers, media_type="application/octet-stream"
            )
        with found.open("rb") as handle:
            handle.seek(start)
            body = handle.read(length)
        return Response(
            body, status_code=status, headers=headers, media_type="application/octet-stream"
        )

    return [Route("/files/{key:path}", serve, methods=["GET", "HEAD", "OPTIONS"])]


# The gateway app mounts ``routes(config)`` of this module.
routes = signed_file_routes
