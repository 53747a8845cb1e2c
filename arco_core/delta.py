"""Delta commit coordination: staged payloads committed as a table's next Delta log version.

A client stages a commit's actions (:meth:`DeltaCommits.stage`), then commits them against
the version it read (:meth:`DeltaCommits.commit`). The only conditional write the storage
offers is create-if-absent, so the protocol is built from facts, never rewritten:

* a commit first *reserves* its version: ``delta/coordinator/{table}/{version:020}.json``,
  created if absent, names the staged payload and the caller's key. The reservation is the
  decision: whoever finds a reserved version without its log entry writes that entry from
  the recorded payload (roll-forward), so a commit whose writer died is completed by the
  next one, with no lease and no expiry to wait for;
* then the log entry ``{table_root}/_delta_log/{version:020}.json`` is created if absent
  (identical bytes already there are a completed roll-forward, different bytes a conflict);
* then the idempotency marker, then the advisory head hint from which the next commit
  probes forward (it is never ahead of the truth, so probing only ever finds more).

A version is taken when its reservation or its log entry exists (a log entry written by
another Delta writer counts too). Replays: the marker of a committed key answers again with
the same version; a key still holding its reservation resumes it; the same key with a
different request is a conflict.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import re
import uuid
from typing import Any, Final

from arco_core.canonical_json import canonical_bytes, parse_json_object
from arco_core.clock import Clock
from arco_core.errors import (
    Conflict,
    InternalError,
    InvalidArgument,
    InvalidPath,
    NotFound,
    ObjectAlreadyExists,
    ObjectNotFound,
    PayloadTooLarge,
    StaleReadVersion,
)
from arco_core.ids import UlidGenerator
from arco_core.paths import (
    DELTA_STAGING_PREFIX,
    Scope,
    delta_head_hint_path,
    delta_idempotency_path,
    delta_log_path,
    delta_reservation_path,
    delta_staging_path,
    validate_relative_path,
)
from arco_core.storage import ScopedStorage

__all__ = [
    "DELTA_FORMAT",
    "MAX_PAYLOAD_BYTES",
    "TABLES_PREFIX",
    "CommitRequest",
    "Committed",
    "DeltaCommits",
    "Staged",
    "delta_table_root",
    "reservation_record",
    "validate_commit_request",
    "validate_payload",
    "validate_table_id",
]

DELTA_FORMAT: Final = "delta"
MAX_PAYLOAD_BYTES: Final = 5 * 1024 * 1024
# Where coordinated Delta tables live in a workspace (the writable prefix of Role.DELTA).
TABLES_PREFIX: Final = "tables/"
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*/?")


@dataclasses.dataclass(frozen=True, slots=True)
class Staged:
    path: str
    version: str  # sha256 hex of the staged bytes


@dataclasses.dataclass(frozen=True, slots=True)
class Committed:
    version: int
    delta_log_path: str


@dataclasses.dataclass(frozen=True, slots=True)
class CommitRequest:
    table_id: str
    idempotency_key: str
    read_version: int
    staged_path: str
    staged_version: str

    @property
    def version(self) -> int:
        return self.read_version + 1

    @property
    def key_hash(self) -> str:
        return hashlib.sha256(self.idempotency_key.encode()).hexdigest()

    @property
    def request_hash(self) -> str:
        fields = {
            "idempotency_key": self.idempotency_key,
            "read_version": self.read_version,
            "staged_path": self.staged_path,
            "staged_version": self.staged_version,
            "table_id": self.table_id,
        }
        return hashlib.sha256(canonical_bytes(fields)).hexdigest()


def _invalid(message: str, reason: str = "invalid_argument") -> InvalidArgument:
    return InvalidArgument(message, reason=reason)


def validate_table_id(value: str) -> str:
    """A table id as the catalog mints it: a canonical lowercase UUID."""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise _invalid(f"table_id must be a UUID, got {value!r}", "invalid_table_id") from None
    if str(parsed) != value:
        raise _invalid(f"table_id must be a canonical UUID, got {value!r}", "invalid_table_id")
    return value


def validate_idempotency_key(value: str | None) -> str:
    """The required Idempotency-Key of a commit: a canonical lowercase UUIDv7."""
    if not value:
        raise _invalid("Idempotency-Key header is required", "missing_idempotency_key")
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        parsed = None
    if parsed is None or str(parsed) != value or parsed.version != 7:
        raise _invalid("Idempotency-Key must be a lowercase UUIDv7", "invalid_idempotency_key")
    return value


def validate_payload(payload: str) -> bytes:
    """A commit's actions: non-empty JSON lines, each line one JSON object, at most 5 MiB."""
    try:
        data = payload.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid("payload is not valid Unicode", "invalid_delta_payload") from None
    if len(data) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(
            f"payload of {len(data)} bytes is over the limit of {MAX_PAYLOAD_BYTES} bytes",
            metadata={"limit": str(MAX_PAYLOAD_BYTES), "actual": str(len(data))},
        )
    lines = [line for line in payload.split("\n") if line.strip()]
    if not lines:
        raise _invalid("payload must hold at least one Delta action", "invalid_delta_payload")
    for number, line in enumerate(lines, start=1):
        try:
            parse_json_object(line)
        except InvalidArgument as exc:
            raise _invalid(
                f"payload line {number} is not a JSON object: {exc.message}",
                "invalid_delta_payload",
            ) from None
    return data


def validate_commit_request(
    table_id: str,
    idempotency_key: str | None,
    read_version: int | None,
    staged_path: str,
    staged_version: str,
) -> CommitRequest:
    validate_table_id(table_id)
    key = validate_idempotency_key(idempotency_key)
    if read_version is None:
        raise _invalid("read_version is required", "missing_field")
    if read_version < -1:
        raise _invalid(f"read_version must be >= -1, got {read_version}")
    prefix = f"{DELTA_STAGING_PREFIX}{table_id}/"
    if not staged_path.startswith(prefix):
        raise _invalid(f"staged_path must start with {prefix!r}", "invalid_staged_path")
    try:
        validate_relative_path(staged_path)
    except InvalidPath as exc:
        raise _invalid(exc.message, "invalid_staged_path") from None
    if not staged_version:
        raise _invalid("staged_version is required", "missing_field")
    return CommitRequest(table_id, key, read_version, staged_path, staged_version)


def delta_table_root(scope: Scope, table_id: str, location: str | None) -> str:
    """The scope-relative root of a Delta table: its location without ``scheme://bucket/``
    and this workspace's ``tenant=…/workspace=…/`` prefix; ``tables/{table_id}`` without one.

    Raises Conflict when the location is unusable (another workspace, an invalid path, or
    outside ``tables/``, the only prefix the coordinator may write).
    """
    if not location:
        return f"{TABLES_PREFIX}{table_id}"
    root = _URI.sub("", location, count=1)
    if root.startswith("tenant="):
        if not root.startswith(scope.prefix):
            raise _bad_location(table_id, "is outside this workspace")
        root = root[len(scope.prefix) :]
    root = root.rstrip("/")
    try:
        validate_relative_path(root)
    except InvalidPath as exc:
        raise _bad_location(table_id, f"is not a valid path ({exc.message})") from None
    if not root.startswith(TABLES_PREFIX):
        raise _bad_location(table_id, f"is not under {TABLES_PREFIX}")
    return root


def _bad_location(table_id: str, why: str) -> Conflict:
    return Conflict(
        f"location of Delta table {table_id} {why}", reason="unsupported_table_location"
    )


def reservation_record(request: CommitRequest, reserved_at_ms: int) -> dict[str, Any]:
    """What a commit's reservation of its version records (enough to complete it)."""
    return {
        "version": request.version,
        "read_version": request.read_version,
        "idempotency_key_hash": request.key_hash,
        "request_hash": request.request_hash,
        "staged_path": request.staged_path,
        "staged_version": request.staged_version,
        "reserved_at_ms": reserved_at_ms,
    }


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _idempotency_conflict() -> Conflict:
    return Conflict(
        "Idempotency-Key already used with different request body",
        reason="idempotency_key_conflict",
    )


class DeltaCommits:
    """The coordinator over a Role.DELTA storage handle (see the module docstring)."""

    def __init__(self, storage: ScopedStorage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock
        self._ids = UlidGenerator(clock)

    async def stage(self, table_id: str, payload: bytes) -> Staged:
        """Store a validated payload at a fresh staging path."""
        path = delta_staging_path(table_id, self._ids.new())
        try:
            await self._storage.create(path, payload)
        except ObjectAlreadyExists:
            raise Conflict(
                f"staged path {path} already exists", reason="staged_path_exists"
            ) from None
        return Staged(path, _sha256(payload))

    async def replayed(self, request: CommitRequest) -> Committed | None:
        """The recorded answer of this key's committed request; Conflict for another request."""
        try:
            raw = await self._storage.get(
                delta_idempotency_path(request.table_id, request.key_hash)
            )
        except ObjectNotFound:
            return None
        marker = parse_json_object(raw)
        if marker.get("request_hash") != request.request_hash:
            raise _idempotency_conflict()
        return Committed(int(marker["version"]), str(marker["delta_log_path"]))

    async def commit(self, table_root: str, request: CommitRequest) -> Committed:
        """Commit the staged payload as version ``read_version + 1`` of the table at ``table_root``."""
        await self._staged_payload(request.staged_path, request.staged_version)
        reservation_path = delta_reservation_path(request.table_id, request.version)
        reservation = await self._reservation(reservation_path)
        if reservation is None:
            latest = await self._latest(request.table_id, table_root)
            if latest != request.read_version:
                raise self._stale(latest, request.read_version)
            mine = reservation_record(request, self._clock.now_ms())
            reservation = await self._reserve(reservation_path, mine)
            if reservation != mine and not self._is_mine(reservation, request):
                raise self._stale(request.version, request.read_version)
        elif not self._is_mine(reservation, request):
            raise self._stale(
                await self._latest(request.table_id, table_root), request.read_version
            )
        return await self._complete(request.table_id, table_root, reservation)

    # -- internals --------------------------------------------------------------------------

    @staticmethod
    def _stale(latest: int, read_version: int) -> StaleReadVersion:
        return StaleReadVersion(
            f"stale read_version: expected {latest}, got {read_version}",
            metadata={"latest_version": str(latest), "read_version": str(read_version)},
        )

    @staticmethod
    def _is_mine(reservation: dict[str, Any], request: CommitRequest) -> bool:
        """Whether ``reservation`` is this request's; the same key with another request is a
        conflict."""
        if reservation.get("idempotency_key_hash") != request.key_hash:
            return False
        if reservation.get("request_hash") != request.request_hash:
            raise _idempotency_conflict()
        return True

    async def _staged_payload(self, path: str, version: str) -> bytes:
        try:
            data = await self._storage.get(path)
        except ObjectNotFound:
            raise NotFound(
                f"staged payload not found: {path}", reason="staged_payload_not_found"
            ) from None
        if _sha256(data) != version:
            raise Conflict(
                f"staged payload {path} is not version {version}", reason="staged_version_mismatch"
            )
        return data

    async def _reservation(self, path: str) -> dict[str, Any] | None:
        try:
            return parse_json_object(await self._storage.get(path))
        except ObjectNotFound:
            return None

    async def _reserve(self, path: str, record: dict[str, Any]) -> dict[str, Any]:
        try:
            await self._storage.create(path, canonical_bytes(record))
        except ObjectAlreadyExists:
            return parse_json_object(await self._storage.get(path))
        return record

    async def _hint(self, table_id: str) -> int:
        try:
            raw = await self._storage.get(delta_head_hint_path(table_id))
        except ObjectNotFound:
            return -1
        try:
            latest = json.loads(raw)["latest_version"]
        except (ValueError, KeyError, TypeError):
            return -1  # advisory: a damaged hint only means probing from the start
        return latest if isinstance(latest, int) and latest >= -1 else -1

    async def _latest(self, table_id: str, table_root: str) -> int:
        """The highest taken version (-1: none), completing reserved versions on the way."""
        latest = await self._hint(table_id)
        while await self._taken(table_id, table_root, latest + 1):
            latest += 1
        return latest

    async def _taken(self, table_id: str, table_root: str, version: int) -> bool:
        if await self._storage.exists(delta_log_path(table_root, version)):
            return True
        reservation = await self._reservation(delta_reservation_path(table_id, version))
        if reservation is None:
            return False
        await self._complete(table_id, table_root, reservation)  # roll forward
        return True

    async def _complete(
        self, table_id: str, table_root: str, reservation: dict[str, Any]
    ) -> Committed:
        """Write a reserved version's log entry, marker and head hint (each idempotent)."""
        version = int(reservation["version"])
        log_path = delta_log_path(table_root, version)
        try:
            payload = await self._staged_payload(
                str(reservation["staged_path"]), str(reservation["staged_version"])
            )
        except (NotFound, Conflict) as exc:
            raise InternalError(
                f"reserved Delta version {version} of {table_id} lost its payload: {exc.message}",
                reason="delta_reservation_broken",
            ) from None
        try:
            await self._storage.create_or_verify(log_path, payload)
        except Conflict:
            raise Conflict(
                f"Delta log entry {log_path} already exists with other content",
                reason="delta_log_conflict",
            ) from None
        committed = Committed(version, log_path)
        marker = {
            "idempotency_key_hash": reservation["idempotency_key_hash"],
            "request_hash": reservation["request_hash"],
            "version": version,
            "delta_log_path": log_path,
            "committed_at_ms": self._clock.now_ms(),
        }
        marker_path = delta_idempotency_path(table_id, str(reservation["idempotency_key_hash"]))
        with contextlib.suppress(ObjectAlreadyExists):  # a roll-forward wrote it first
            await self._storage.create(marker_path, canonical_bytes(marker))
        await self._storage.overwrite(
            delta_head_hint_path(table_id), canonical_bytes({"latest_version": version})
        )
        return committed
