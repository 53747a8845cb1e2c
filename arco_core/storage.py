"""Role-scoped, tenant-scoped object storage over obstore (async).

A :class:`ScopedStorage` handle can only address keys below its :class:`Scope` prefix and can
only write under the prefixes its :class:`Role` owns. Both checks, and path validation, run
before any I/O. The only portable conditional write is create-if-absent, so the API offers
``create``/``create_or_verify`` for facts and ``overwrite`` only for advisory hint objects.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import unquote, urlsplit

import obstore
import obstore.exceptions as obs_exc
import structlog
from obstore.store import AzureStore, GCSStore, LocalStore, MemoryStore, S3Store, from_url

from arco_core.errors import (
    ArcoError,
    Conflict,
    InvalidArgument,
    ObjectAlreadyExists,
    ObjectNotFound,
    PermissionDenied,
    RoleWriteDenied,
    StorageError,
    Unimplemented,
)
from arco_core.paths import Scope, validate_prefix, validate_relative_path
from arco_core.storage_faults import FaultSpec, FaultyStore

if TYPE_CHECKING:
    from obstore.store import ClientConfig, ObjectStore, S3Config

__all__ = [
    "ROLE_LIST_PREFIXES",
    "ROLE_WRITE_PREFIXES",
    "AuditHook",
    "ObjectMeta",
    "Role",
    "ScopedStorage",
    "is_hint_path",
    "open_object_store",
]

_log = structlog.get_logger(__name__)
_T = TypeVar("_T")


class Role(enum.Enum):
    """Which service a storage handle belongs to; decides the writable prefixes."""

    API = "api"
    COMPACTOR = "compactor"
    DISPATCHER = "dispatcher"
    SWEEPER = "sweeper"
    AUTOMATION = "automation"
    READER = "reader"
    # The api's Delta commit coordinator: its own handle, so the ledger writer cannot touch
    # table data and the coordinator cannot touch the ledger.
    DELTA = "delta"
    # The workspace registry (arco_core.registry): the one handle outside every scope.
    REGISTRY = "registry"


ROLE_WRITE_PREFIXES: Final[Mapping[Role, tuple[str, ...]]] = MappingProxyType(
    {
        Role.API: ("ledger/", "locks/", "idempotency/", "logs/", "run_keys/"),
        Role.COMPACTOR: ("state/", "snapshots/", "manifests/"),
        Role.DISPATCHER: ("ledger/",),
        Role.SWEEPER: ("ledger/",),
        Role.AUTOMATION: ("ledger/",),
        Role.READER: (),
        # Coordinator records (staging, version reservations, idempotency markers) and the
        # _delta_log entries of the Delta tables, which live under tables/.
        Role.DELTA: ("delta/", "tables/"),
        Role.REGISTRY: ("workspaces/",),
    }
)

# Root of the registry handle. Scope ids cannot hold "=", so no scope prefix
# (``tenant=...``) can ever reach it.
REGISTRY_ROOT: Final = "_registry/"

# Objects retention removes: the compactor's own superseded state, and the expired task logs
# and idempotency markers the api wrote (arco_core.compaction.retention).
_RETAINED_PREFIXES: Final = ("state/", "snapshots/", "manifests/", "logs/", "idempotency/")
ROLE_DELETE_PREFIXES: Final[Mapping[Role, tuple[str, ...]]] = MappingProxyType(
    {Role.COMPACTOR: _RETAINED_PREFIXES}
)

# Who may list, and under which prefixes: the sweeper (anti-entropy) anything, the
# compactor the ledger (an operator's whole rebuild or verification replays it) and what
# it may delete.
ROLE_LIST_PREFIXES: Final[Mapping[Role, tuple[str, ...]]] = MappingProxyType(
    {
        Role.SWEEPER: ("",),
        Role.COMPACTOR: ("ledger/", *_RETAINED_PREFIXES),
        Role.REGISTRY: ("workspaces/",),
    }
)

AuditHook = Callable[[Role, str, str], None]
"""Called as ``hook(role, op, full_key)`` after every successful write."""

_MAX_SIGN_TTL = timedelta(days=7)  # the SigV4 maximum; callers apply tighter caps


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    """Object metadata with ``path`` relative to the scope."""

    path: str
    size: int
    e_tag: str | None
    last_modified: datetime


def is_hint_path(path: str) -> bool:
    """Advisory, overwritable objects are named ``_<something>`` (e.g. ``_head.json``)."""
    return path.rsplit("/", 1)[-1].startswith("_")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def open_object_store(
    url: str, env: Mapping[str, str], *, faults: FaultSpec | None = None
) -> ObjectStore | FaultyStore:
    """Build an obstore store from a URL (wrapped in a :class:`FaultyStore` when ``faults``).

    - ``file:///abs/dir``: LocalStore rooted at the directory (created if missing).
    - ``memory://``: a fresh MemoryStore (each call is a new, empty store).
    - ``s3://bucket[/prefix]``: endpoint, credentials and region from ``ARCO_S3_ENDPOINT``,
      ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``;
      ``ARCO_S3_ALLOW_HTTP`` permits plain-HTTP endpoints. A custom endpoint implies
      path-style requests (what S3-compatible servers such as SeaweedFS expect).
    - ``gs://`` and ``az://``: obstore's ``from_url``; credentials come from the provider's
      usual environment/metadata discovery.
    """
    store = _open_real_store(url, env)
    return store if faults is None else FaultyStore(store, faults)


def _open_real_store(url: str, env: Mapping[str, str]) -> ObjectStore:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not path.startswith("/"):
            raise InvalidArgument(f"file URL must be file:///absolute/dir: {url!r}")
        return LocalStore(prefix=path, mkdir=True)
    if scheme == "memory":
        return MemoryStore()
    try:
        if scheme in ("s3", "s3a"):
            if not parts.netloc:
                raise InvalidArgument(f"S3 URL needs a bucket: {url!r}")
            config: S3Config = {
                "region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
            }
            endpoint = env.get("ARCO_S3_ENDPOINT")
            if endpoint:
                config["endpoint"] = endpoint
                config["virtual_hosted_style_request"] = False
            if env.get("AWS_ACCESS_KEY_ID"):
                config["access_key_id"] = env["AWS_ACCESS_KEY_ID"]
            if env.get("AWS_SECRET_ACCESS_KEY"):
                config["secret_access_key"] = env["AWS_SECRET_ACCESS_KEY"]
            if env.get("AWS_SESSION_TOKEN"):
                config["session_token"] = env["AWS_SESSION_TOKEN"]
            client_options: ClientConfig = {}
            if _truthy(env.get("ARCO_S3_ALLOW_HTTP")):
                client_options["allow_http"] = True
            return S3Store.from_url(url, config=config, client_options=client_options)
        if scheme in ("gs", "az", "azure", "abfs", "abfss"):
            return from_url(url)
    except ArcoError:
        raise
    except Exception as exc:
        raise InvalidArgument(f"cannot open object store {url!r}: {exc}") from exc
    raise InvalidArgument(f"unsupported object store URL scheme {scheme!r}")


class ScopedStorage:
    """Async object access confined to one scope and one role.

    ``stats`` counts every operation by name (``get``, ``head``, ``list``, ``create`` ...) so
    tests can assert, for example, that a code path never lists.
    """

    def __init__(
        self,
        store: ObjectStore | FaultyStore,
        scope: Scope | None,
        role: Role,
        *,
        audit: AuditHook | None = None,
    ) -> None:
        if not isinstance(role, Role):
            raise InvalidArgument(f"role must be a Role, got {role!r}")
        # Only the registry lives outside a scope, and it never lives inside one.
        if (scope is None) != (role is Role.REGISTRY):
            raise InvalidArgument(
                "a scope is required for every role but the registry's, which takes none"
            )
        self._faults = store if isinstance(store, FaultyStore) else None
        self._store: ObjectStore = store.inner if isinstance(store, FaultyStore) else store
        self._scope = scope
        self._prefix = REGISTRY_ROOT if scope is None else scope.prefix
        self._role = role
        self._audit = audit
        self._write_prefixes = ROLE_WRITE_PREFIXES[role]
        self.stats: Counter[str] = Counter()

    @classmethod
    def registry(cls, store: ObjectStore | FaultyStore) -> ScopedStorage:
        """The workspace registry's handle: keys under ``_registry/``, outside every scope."""
        return cls(store, None, Role.REGISTRY)

    @property
    def scope(self) -> Scope:
        if self._scope is None:
            raise InvalidArgument("the registry handle belongs to no scope")
        return self._scope

    @property
    def role(self) -> Role:
        return self._role

    @property
    def can_sign(self) -> bool:
        return isinstance(self._store, (S3Store, GCSStore, AzureStore))

    def full_key(self, path: str) -> str:
        """Validate a scope-relative path and return the store key."""
        return self._prefix + validate_relative_path(path)

    def can_write(self, path: str) -> bool:
        return any(path.startswith(p) for p in self._write_prefixes)

    # -- internals --------------------------------------------------------------------------

    def _check_write(self, op: str, path: str) -> str:
        key = self.full_key(path)
        if not self.can_write(path):
            _log.warning(
                "storage_write_denied",
                role=self._role.value,
                op=op,
                path=path,
                prefix=self._prefix,
            )
            raise RoleWriteDenied(
                f"role {self._role.value} may not write {path!r}",
                metadata={"role": self._role.value, "path": path},
            )
        return key

    async def _call(self, op: str, path: str, fn: Callable[[], Awaitable[_T]]) -> _T:
        self.stats[op] += 1
        try:
            if self._faults is not None:
                await self._faults.before(op)
            return await fn()
        except ArcoError:
            raise
        except (FileNotFoundError, obs_exc.NotFoundError) as exc:
            raise ObjectNotFound(f"object not found: {path}", metadata={"path": path}) from exc
        except (obs_exc.AlreadyExistsError, obs_exc.PreconditionError) as exc:
            if op == "create":
                raise ObjectAlreadyExists(
                    f"object already exists: {path}", metadata={"path": path}
                ) from exc
            raise StorageError(f"{op} {path} failed: precondition") from exc
        except Exception as exc:
            _log.warning("storage_operation_failed", op=op, path=path, error=type(exc).__name__)
            raise StorageError(f"{op} {path} failed: {type(exc).__name__}") from exc

    def _audit_write(self, op: str, key: str) -> None:
        if self._audit is not None:
            self._audit(self._role, op, key)

    def _meta(self, raw: Mapping[str, Any]) -> ObjectMeta:
        full = str(raw["path"])
        prefix = self._prefix
        path = full[len(prefix) :] if full.startswith(prefix) else full
        return ObjectMeta(
            path=path,
            size=int(raw["size"]),
            e_tag=raw.get("e_tag"),
            last_modified=raw["last_modified"],
        )

    # -- reads ------------------------------------------------------------------------------

    async def get(self, path: str) -> bytes:
        key = self.full_key(path)

        async def run() -> bytes:
            result = await obstore.get_async(self._store, key)
            return bytes(await result.bytes_async())

        return await self._call("get", path, run)

    async def get_range(self, path: str, start: int, length: int) -> bytes:
        key = self.full_key(path)
        if start < 0 or length < 0:
            raise InvalidArgument("range start and length must be non-negative")
        if length == 0:
            return b""

        async def run() -> bytes:
            return bytes(
                await obstore.get_range_async(self._store, key, start=start, length=length)
            )

        return await self._call("get_range", path, run)

    async def head(self, path: str) -> ObjectMeta | None:
        """Metadata, or None if the object does not exist."""
        key = self.full_key(path)

        async def run() -> ObjectMeta:
            return self._meta(await obstore.head_async(self._store, key))

        try:
            return await self._call("head", path, run)
        except ObjectNotFound:
            return None

    async def exists(self, path: str) -> bool:
        return await self.head(path) is not None

    async def list(self, prefix: str = "", *, offset: str | None = None) -> list[ObjectMeta]:
        """Every object under ``prefix`` (sorted by path). Only the sweeper and the
        compactor may list, under ROLE_LIST_PREFIXES.

        ``offset`` returns only paths strictly after it.
        """
        allowed = ROLE_LIST_PREFIXES.get(self._role, ())
        if not any(prefix.startswith(p) for p in allowed):
            _log.warning("storage_list_denied", role=self._role.value, prefix=prefix)
            raise PermissionDenied(f"role {self._role.value} may not list", reason="list_denied")
        validate_prefix(prefix)
        if offset is not None:
            validate_relative_path(offset)
        full_prefix = self._prefix + prefix
        full_offset = None if offset is None else self._prefix + offset

        async def run() -> list[ObjectMeta]:
            stream = obstore.list(self._store, full_prefix, offset=full_offset)
            out: list[ObjectMeta] = []
            async for chunk in stream:
                out.extend(self._meta(meta) for meta in chunk)
            return out

        metas = await self._call("list", prefix, run)
        # LocalStore lists in filesystem order and the offset filter is the caller's contract.
        metas = [m for m in metas if m.path.startswith(prefix)]
        if offset is not None:
            metas = [m for m in metas if m.path > offset]
        return sorted(metas, key=lambda m: m.path)

    async def sign_get_url(self, path: str, ttl: timedelta) -> str:
        """A presigned GET URL (S3/GCS/Azure only)."""
        key = self.full_key(path)
        if not self.can_sign:
            raise Unimplemented(
                f"{type(self._store).__name__} cannot presign URLs", reason="signing_unsupported"
            )
        if not timedelta(seconds=1) <= ttl <= _MAX_SIGN_TTL:
            raise InvalidArgument(f"signed URL ttl {ttl} out of range", reason="invalid_ttl")
        store = self._store
        assert isinstance(store, (S3Store, GCSStore, AzureStore))

        async def run() -> str:
            return await obstore.sign_async(store, "GET", key, ttl)

        return await self._call("sign", path, run)

    # -- writes -----------------------------------------------------------------------------

    async def create(self, path: str, data: bytes) -> None:
        """Create-if-absent; raises ObjectAlreadyExists if anything is already there."""
        key = self._check_write("create", path)

        async def run() -> None:
            await obstore.put_async(self._store, key, bytes(data), mode="create")

        await self._call("create", path, run)
        self._audit_write("create", key)

    async def create_or_verify(self, path: str, data: bytes) -> bool:
        """Create-if-absent that is idempotent for identical bytes.

        Returns True if this call created the object, False if identical bytes were already
        there; raises Conflict (reason ``object_content_conflict``) if the bytes differ.
        """
        try:
            await self.create(path, data)
        except ObjectAlreadyExists:
            existing = await self.get(path)
            if existing != bytes(data):
                raise Conflict(
                    f"object {path} already exists with different content",
                    reason="object_content_conflict",
                    metadata={"path": path},
                ) from None
            return False
        return True

    async def delete(self, path: str) -> None:
        """Remove an object (retention only, ROLE_DELETE_PREFIXES); a missing one is no error."""
        key = self.full_key(path)
        if not any(path.startswith(p) for p in ROLE_DELETE_PREFIXES.get(self._role, ())):
            _log.warning("storage_delete_denied", role=self._role.value, path=path)
            raise RoleWriteDenied(
                f"role {self._role.value} may not delete {path!r}",
                metadata={"role": self._role.value, "path": path},
            )

        async def run() -> None:
            await obstore.delete_async(self._store, key)

        try:
            await self._call("delete", path, run)
        except ObjectNotFound:
            return
        self._audit_write("delete", key)

    async def overwrite(self, path: str, data: bytes) -> None:
        """Unconditional put, allowed only for advisory hint objects (``_name``)."""
        key = self._check_write("overwrite", path)
        if not is_hint_path(path):
            raise PermissionDenied(
                f"only advisory hint objects may be overwritten: {path!r}",
                reason="overwrite_denied",
            )

        async def run() -> None:
            await obstore.put_async(self._store, key, bytes(data), mode="overwrite")

        await self._call("overwrite", path, run)
        self._audit_write("overwrite", key)
