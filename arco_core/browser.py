"""What the browser may read, and signed URLs for it.

**Browsable files.** Only Parquet artifacts the *current* manifests list, of the caller's
own scope:

- catalog domain (``catalog``): the snapshot's ``catalogs``, ``namespaces``, ``tables`` and
  ``columns`` files; ``lineage``: ``lineage_edges``. ``commits`` is projection-only (query
  ``system.catalog.commits``, which is redacted) and is never browsable.
- orchestration domain (``executions``, alias ``orchestration``): a table's *base* file,
  only while that table has **no pending L0 delta**. A base with pending deltas is not the
  current state, and merging deltas needs the fold's rules (row versions, tombstones), so
  the console never gets a stale or half-merged view: such tables are simply not listed
  (the console reads runs/tasks through ``/api/v1/query`` instead, which is always
  current). ``idempotency_keys`` is internal and never listed.

**Refused before any I/O**: paths failing :func:`validate_relative_path` (traversal,
``%``, backslashes, control characters), anything outside ``snapshots/`` and ``state/``,
hint files (``_name``) and ``commits`` artifacts.

**Local URLs** are served by the gateway at ``/files/{scope prefix + path}?exp=&sig=``.
The signature is HMAC-SHA256 (hex) over ``"arco-browser-v1\\n" + key + "\\n" + exp`` with
the secret shared by api and gateway (``ARCO_BROWSER_URL_SECRET``); it covers the scope
prefix, the path and the expiry, not the method (browsers HEAD and range-GET the same
URL). The gateway re-implements the check (it imports nothing from here).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from arco_core.errors import InvalidArgument, PermissionDenied
from arco_core.paths import Scope, validate_relative_path
from arco_core.published import ManifestBody

__all__ = [
    "BROWSER_DOMAINS",
    "DEFAULT_TTL_SECONDS",
    "MAX_PATHS",
    "MAX_TTL_SECONDS",
    "SIGNATURE_VERSION",
    "BrowsableFile",
    "LocalUrlSigner",
    "browsable_files",
    "check_path_before_io",
    "effective_ttl",
    "manifest_domain",
    "parse_domain",
    "sign_key",
]

DEFAULT_TTL_SECONDS = 900
MAX_TTL_SECONDS = 3600
MAX_PATHS = 100
SIGNATURE_VERSION = "arco-browser-v1"

# Browser domain -> (manifest domain, {published table: logical name})
_DOMAINS: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "catalog": (
        "catalog",
        {
            "catalogs": "catalog.catalogs",
            "namespaces": "catalog.namespaces",
            "tables": "catalog.tables",
            "columns": "catalog.columns",
        },
    ),
    "lineage": ("catalog", {"lineage_edges": "lineage.lineage_edges"}),
    "executions": (
        "orchestration",
        {
            "runs": "orchestration.runs",
            "tasks": "orchestration.tasks",
            "dep_satisfaction": "orchestration.dep_satisfaction",
            "dispatch_outbox": "orchestration.dispatch_outbox",
            "timers": "orchestration.timers",
        },
    ),
}
_ALIASES = {"orchestration": "executions"}
BROWSER_DOMAINS = tuple(_DOMAINS)


@dataclass(frozen=True, slots=True)
class BrowsableFile:
    domain: str
    table: str
    path: str
    size_bytes: int


def parse_domain(value: str) -> str:
    name = (value or "").strip().lower()
    name = _ALIASES.get(name, name)
    if name not in _DOMAINS:
        raise InvalidArgument(
            f"Unknown domain {value!r}; expected one of: {', '.join(BROWSER_DOMAINS)}",
            reason="unknown_domain",
        )
    return name


def manifest_domain(domain: str) -> str:
    return _DOMAINS[domain][0]


def effective_ttl(requested: int | None) -> int:
    if requested is None:
        return DEFAULT_TTL_SECONDS
    if requested < 1:
        raise InvalidArgument("ttl_seconds must be at least 1", reason="invalid_ttl")
    if requested > MAX_TTL_SECONDS:
        raise InvalidArgument(
            f"ttl_seconds {requested} is above the cap of {MAX_TTL_SECONDS}",
            reason="invalid_ttl",
        )
    return requested


def check_path_before_io(path: str) -> str:
    """Refuse malformed, internal and projection-only paths (no storage access)."""
    try:
        validate_relative_path(path)
    except InvalidArgument as exc:
        raise InvalidArgument(f"Invalid path: {exc.message}", reason="invalid_path") from None
    name = path.rsplit("/", 1)[-1]
    if not path.startswith(("snapshots/", "state/")) or name.startswith("_"):
        raise PermissionDenied(
            f"Path not allowed: {path}", reason="path_not_allowed", metadata={"path": path}
        )
    if name.startswith(("commits.", "idempotency_keys.")):
        raise PermissionDenied(
            f"{path} is a projection-only artifact; query system.catalog.commits instead",
            reason="projection_only_artifact",
        )
    if not name.endswith(".parquet"):
        raise PermissionDenied(f"Path not allowed: {path}", reason="path_not_allowed")
    return path


def browsable_files(domain: str, manifest: ManifestBody | None) -> list[BrowsableFile]:
    """The files of ``domain`` the current ``manifest`` lists that the browser may read."""
    if manifest is None or manifest.base is None:
        return []
    _, tables = _DOMAINS[domain]
    pending: set[str] = set()
    for delta in manifest.deltas:
        pending.update(delta.tables)
        pending.update(delta.tombstones)
    out = []
    for name, artifact in sorted(manifest.base.tables.items()):
        if name in tables and name not in pending:
            out.append(BrowsableFile(domain, tables[name], artifact.path, artifact.bytes))
    return out


def sign_key(secret: str, key: str, expires: int) -> str:
    message = f"{SIGNATURE_VERSION}\n{key}\n{expires}".encode()
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


class LocalUrlSigner:
    """Gateway-served URLs for a local store: ``{base}/files/{key}?exp=..&sig=..``.

    ``base`` empty gives a root-relative URL (the console resolves it against its own
    origin, which is the gateway that serves it).
    """

    def __init__(self, secret: str, base_url: str = "") -> None:
        if not secret:
            raise InvalidArgument("a browser URL secret is required", reason="no_url_secret")
        self._secret = secret
        self._base = base_url.rstrip("/")

    def url(self, scope: Scope, path: str, expires: int) -> str:
        key = scope.prefix + validate_relative_path(path)
        signature = sign_key(self._secret, key, expires)
        return f"{self._base}/files/{quote(key, safe='/=')}?exp={expires}&sig={signature}"
