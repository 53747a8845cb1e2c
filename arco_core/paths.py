"""Scopes, path validation and the canonical object layout.

Every key the domain touches is *scope-relative*; :class:`Scope.prefix` is prepended by the
storage layer and nowhere else. Path builders here are the only place layout strings live.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias, get_args

from arco_core.clock import ms_to_datetime
from arco_core.errors import InvalidArgument, InvalidPath
from arco_core.ids import is_ulid, run_key_hash, ulid_timestamp_ms

__all__ = [
    "DELTA_STAGING_PREFIX",
    "DOMAINS",
    "Domain",
    "LedgerEventPath",
    "LedgerSegmentPath",
    "Scope",
    "delta_head_hint_path",
    "delta_idempotency_path",
    "delta_log_path",
    "delta_reservation_path",
    "delta_staging_path",
    "fold_record_path",
    "fold_records_prefix",
    "idempotency_path",
    "ledger_domain_prefix",
    "ledger_event_path",
    "ledger_segment_path",
    "lock_epoch_path",
    "lock_head_hint_path",
    "lock_prefix",
    "lock_release_path",
    "manifest_head_hint_path",
    "manifest_path",
    "manifests_prefix",
    "parse_ledger_event_path",
    "parse_ledger_path",
    "parse_ledger_segment_path",
    "parse_manifest_path",
    "run_key_fingerprint_path",
    "run_key_reservation_path",
    "snapshot_path",
    "state_path",
    "task_log_path",
    "validate_domain",
    "validate_prefix",
    "validate_relative_path",
    "validate_segment",
]

Domain: TypeAlias = Literal["orchestration", "catalog"]
DOMAINS: Final[tuple[str, ...]] = get_args(Domain)

_SCOPE_ID = re.compile(r"^[a-z0-9_-]+$")
_SEQ_DIGITS = 20
_MAX_SEQ = 10**_SEQ_DIGITS - 1
_SEGMENT = re.compile(r"^[A-Za-z0-9._:=@+-]+$")
# C0, DEL and C1 controls: none of them belongs in an object key.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# An empty, "." or ".." segment anywhere in a "/"-separated key ("" itself included).
_BAD_SEGMENT = re.compile(r"(?:^|/)\.{0,2}(?:/|$)")
# Shape of a ledger object key: domain, day, ULID, kind. Canonicity is checked afterwards.
_LEDGER_KEY = re.compile(
    r"ledger/([a-z]+)/(\d{4}-\d{2}-\d{2})/([0-7][0-9A-HJKMNP-TV-Z]{25})(\.seg)?\.json"
)
_DAY_MS = 86_400_000
_SEGMENT_SUFFIX = ".seg.json"


def _has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


@dataclass(frozen=True, slots=True)
class Scope:
    """A tenant/workspace pair; the only way to form a storage key prefix."""

    tenant_id: str
    workspace_id: str

    def __post_init__(self) -> None:
        for label, value in (("tenant_id", self.tenant_id), ("workspace_id", self.workspace_id)):
            if not isinstance(value, str) or not _SCOPE_ID.fullmatch(value):
                raise InvalidArgument(
                    f"{label} must match [a-z0-9_-]+, got {value!r}", reason="invalid_scope"
                )

    @classmethod
    def normalized(cls, tenant_id: str, workspace_id: str) -> Scope:
        """Lower-case then validate, as request contexts do."""
        return cls(tenant_id.strip().lower(), workspace_id.strip().lower())

    @property
    def prefix(self) -> str:
        return f"tenant={self.tenant_id}/workspace={self.workspace_id}/"


def _check_common(path: object, what: str) -> str:
    if not isinstance(path, str):
        raise InvalidPath(f"{what} must be a string")
    if path.startswith(("/", "\\")):
        raise InvalidPath(f"{what} must be relative: {path!r}")
    if "\\" in path:
        raise InvalidPath(f"{what} must not contain a backslash: {path!r}")
    if "%" in path:
        # Percent signs would let an encoded "../" or "/" survive to the backend.
        raise InvalidPath(f"{what} must not contain '%': {path!r}")
    if _has_control(path):
        raise InvalidPath(f"{what} must not contain control characters: {path!r}")
    return path


def validate_relative_path(path: str) -> str:
    """Validate a scope-relative object key and return it unchanged; raise InvalidPath.

    Rejects empty keys, leading ``/`` or ``\\``, any ``\\`` or ``%``, control characters
    (CR, LF, NUL, ...), and empty, ``.`` or ``..`` segments.
    """
    _check_common(path, "object path")
    if not path:
        raise InvalidPath("object path must not be empty")
    if _BAD_SEGMENT.search(path) is not None:
        raise InvalidPath(f"object path has an empty, '.' or '..' segment: {path!r}")
    return path


def validate_prefix(prefix: str) -> str:
    """Like :func:`validate_relative_path` but allows ``""`` and one trailing ``/``."""
    _check_common(prefix, "prefix")
    body = prefix.removesuffix("/")
    if body:
        validate_relative_path(body)
    elif prefix:
        raise InvalidPath("prefix must not be '/'")
    return prefix


def validate_segment(value: str, what: str = "path segment") -> str:
    """One path component built from caller data (run id, task key, lock name...)."""
    if not isinstance(value, str) or not _SEGMENT.fullmatch(value) or value in (".", ".."):
        raise InvalidPath(f"{what} {value!r} is not a safe path segment")
    return value


def validate_domain(domain: str) -> Domain:
    if domain == "orchestration":
        return "orchestration"
    if domain == "catalog":
        return "catalog"
    raise InvalidArgument(f"unknown domain {domain!r}", reason="invalid_domain")


# Ledger --------------------------------------------------------------------------------------


def ledger_domain_prefix(domain: str) -> str:
    return f"ledger/{validate_domain(domain)}/"


@functools.lru_cache(maxsize=1024)
def _utc_day(day_number: int) -> str:
    # Integer arithmetic: a float division could round the last millisecond of a day up.
    try:
        day = ms_to_datetime(day_number * _DAY_MS)
    except OverflowError as exc:
        raise InvalidArgument("event time is beyond year 9999", reason="invalid_event_id") from exc
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def _utc_date(epoch_ms: int) -> str:
    return _utc_day(epoch_ms // _DAY_MS)


def _ledger_day(event_id: str) -> str:
    if not is_ulid(event_id):
        raise InvalidArgument(f"event_id {event_id!r} is not a ULID", reason="invalid_event_id")
    return _utc_date(ulid_timestamp_ms(event_id))


def ledger_event_path(domain: str, event_id: str) -> str:
    """``ledger/{domain}/{YYYY-MM-DD}/{event_id}.json``; the date is the ULID's UTC day."""
    day = _ledger_day(event_id)
    return f"{ledger_domain_prefix(domain)}{day}/{event_id}.json"


def ledger_segment_path(domain: str, last_event_id: str) -> str:
    """``ledger/{domain}/{YYYY-MM-DD}/{last_event_id}.seg.json``: a segment of several events
    is named after its *highest* event id (and that id's UTC day), so it sorts after every
    single-event path it could precede and a listing offset never skips it."""
    day = _ledger_day(last_event_id)
    return f"{ledger_domain_prefix(domain)}{day}/{last_event_id}{_SEGMENT_SUFFIX}"


@dataclass(frozen=True, slots=True)
class LedgerEventPath:
    domain: Domain
    date: str
    event_id: str
    path: str


@dataclass(frozen=True, slots=True)
class LedgerSegmentPath:
    """A parsed segment key; ``last_event_id`` names it (the highest id it holds)."""

    domain: Domain
    date: str
    last_event_id: str
    path: str


def _parse_ledger_key(path: str) -> tuple[Domain, str, str, bool]:
    """(domain, day, ulid, is_segment) of a canonical ledger key; InvalidPath otherwise."""
    match = _LEDGER_KEY.fullmatch(path) if isinstance(path, str) else None
    if match is None:
        validate_relative_path(path)  # the more specific message for unsafe keys
        raise InvalidPath(f"not a ledger event path: {path!r}", reason="invalid_ledger_path")
    domain_text, day, event_id, seg = match.groups()
    try:
        domain = validate_domain(domain_text)
    except InvalidArgument:
        raise InvalidPath(
            f"not a ledger event path: {path!r}", reason="invalid_ledger_path"
        ) from None
    if _ledger_day(event_id) != day:
        raise InvalidPath(
            f"not a canonical ledger event path: {path!r}", reason="invalid_ledger_path"
        )
    return domain, day, event_id, seg is not None


def parse_ledger_event_path(path: str) -> LedgerEventPath:
    """Parse and fully validate a canonical ledger event path (date must match the ULID)."""
    domain, day, event_id, is_segment = _parse_ledger_key(path)
    if is_segment:
        raise InvalidPath(f"not a ledger event path: {path!r}", reason="invalid_ledger_path")
    return LedgerEventPath(domain=domain, date=day, event_id=event_id, path=path)


def parse_ledger_segment_path(path: str) -> LedgerSegmentPath:
    """Parse and fully validate a canonical ledger segment path."""
    domain, day, event_id, is_segment = _parse_ledger_key(path)
    if not is_segment:
        raise InvalidPath(f"not a ledger segment path: {path!r}", reason="invalid_ledger_path")
    return LedgerSegmentPath(domain=domain, date=day, last_event_id=event_id, path=path)


def parse_ledger_path(path: str) -> LedgerEventPath | LedgerSegmentPath:
    """Either kind of canonical ledger object key."""
    domain, day, event_id, is_segment = _parse_ledger_key(path)
    if is_segment:
        return LedgerSegmentPath(domain=domain, date=day, last_event_id=event_id, path=path)
    return LedgerEventPath(domain=domain, date=day, event_id=event_id, path=path)


# Manifests -----------------------------------------------------------------------------------


def manifests_prefix(domain: str) -> str:
    return f"manifests/{validate_domain(domain)}/"


def _check_seq(seq: int) -> int:
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= _MAX_SEQ:
        raise InvalidArgument(f"sequence {seq!r} out of range", reason="invalid_sequence")
    return seq


def manifest_path(domain: str, seq: int) -> str:
    return f"{manifests_prefix(domain)}{_check_seq(seq):0{_SEQ_DIGITS}d}.json"


def manifest_head_hint_path(domain: str) -> str:
    return f"{manifests_prefix(domain)}_head.json"


def manifest_floor_path(domain: str, n: int) -> str:
    """The ``n``-th floor marker: manifests below the sequence it holds were removed."""
    return f"{manifests_prefix(domain)}floor/{_check_seq(n):0{_SEQ_DIGITS}d}.json"


def parse_manifest_path(path: str) -> tuple[Domain, int]:
    match = re.fullmatch(r"manifests/([a-z]+)/(\d{20})\.json", path)
    if not match:
        raise InvalidPath(f"not a manifest path: {path!r}")
    return validate_domain(match.group(1)), int(match.group(2))


# State and snapshots (compactor-owned) -----------------------------------------------------


def _join(root: str, domain: str, parts: tuple[str, ...]) -> str:
    path = "/".join((root, validate_domain(domain), *parts))
    return validate_relative_path(path)


def state_path(domain: str, *parts: str) -> str:
    """``state/{domain}/{parts...}``; at least one part."""
    if not parts:
        raise InvalidPath("state_path needs at least one component")
    return _join("state", domain, parts)


def fold_records_prefix(domain: str) -> str:
    return f"state/{validate_domain(domain)}/folded/"


def fold_record_path(domain: str, record_id: str) -> str:
    """``state/{domain}/folded/{YYYY-MM-DD}/{record_id}.json``: like ledger keys, records
    sort by their ULID (the date is its UTC day), so a listing offset selects by time."""
    return f"{fold_records_prefix(domain)}{_ledger_day(record_id)}/{record_id}.json"


def snapshot_path(domain: str, *parts: str) -> str:
    """``snapshots/{domain}/{parts...}``; at least one part."""
    if not parts:
        raise InvalidPath("snapshot_path needs at least one component")
    return _join("snapshots", domain, parts)


# Locks ---------------------------------------------------------------------------------------


def lock_prefix(name: str) -> str:
    """``locks/{name}/``; ``name`` is one or more safe segments, e.g. ``catalog/ddl``."""
    for segment in name.split("/"):
        validate_segment(segment, "lock name segment")
    return f"locks/{name}/"


def lock_epoch_path(name: str, epoch: int) -> str:
    return f"{lock_prefix(name)}{_check_seq(epoch):0{_SEQ_DIGITS}d}.json"


def lock_release_path(name: str, epoch: int) -> str:
    return f"{lock_prefix(name)}{_check_seq(epoch):0{_SEQ_DIGITS}d}.released"


def lock_head_hint_path(name: str) -> str:
    return f"{lock_prefix(name)}_head.json"


# API-owned records ---------------------------------------------------------------------------


def task_log_path(run_id: str, task_key: str, attempt: int) -> str:
    """``logs/{run}/{task}/attempt-{n}.log``."""
    validate_segment(run_id, "run_id")
    validate_segment(task_key, "task_key")
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise InvalidArgument(f"attempt must be >= 1, got {attempt!r}", reason="invalid_attempt")
    return f"logs/{run_id}/{task_key}/attempt-{attempt}.log"


def idempotency_path(namespace: str, key: str) -> str:
    """``idempotency/{namespace}/{sha256hex(key)}.json``; keys are hashed (arbitrary text)."""
    validate_segment(namespace, "idempotency namespace")
    if not key:
        raise InvalidArgument("idempotency key must not be empty", reason="invalid_idempotency_key")
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"idempotency/{namespace}/{digest}.json"


def run_key_reservation_path(run_key: str) -> str:
    """``run_keys/{sha256hex(run_key)[:40]}.json``."""
    if not run_key:
        raise InvalidArgument("run_key must not be empty", reason="invalid_run_key")
    return f"run_keys/{run_key_hash(run_key)}.json"


def run_key_fingerprint_path(run_key: str) -> str:
    """``run_keys/{sha256hex(run_key)[:40]}.fingerprint.json``: the request fingerprint an
    operator backfilled on a reservation that has none (reservations are never rewritten)."""
    return run_key_reservation_path(run_key).removesuffix(".json") + ".fingerprint.json"


# Delta commit coordination (Role.DELTA) --------------------------------------------------------

DELTA_STAGING_PREFIX: Final = "delta/staging/"


def delta_staging_path(table_id: str, staged_id: str) -> str:
    """``delta/staging/{table_id}/{ulid}.json``: one staged commit payload."""
    validate_segment(table_id, "table_id")
    if not is_ulid(staged_id):
        raise InvalidArgument(f"staged id {staged_id!r} is not a ULID", reason="invalid_staged_id")
    return f"{DELTA_STAGING_PREFIX}{table_id}/{staged_id}.json"


def delta_reservation_path(table_id: str, version: int) -> str:
    """``delta/coordinator/{table_id}/{version:020}.json``: who holds a table version."""
    validate_segment(table_id, "table_id")
    return f"delta/coordinator/{table_id}/{_check_seq(version):020d}.json"


def delta_head_hint_path(table_id: str) -> str:
    """``delta/coordinator/{table_id}/_head.json``: the latest committed version (advisory)."""
    validate_segment(table_id, "table_id")
    return f"delta/coordinator/{table_id}/_head.json"


def delta_idempotency_path(table_id: str, key_sha256: str) -> str:
    """``delta/idempotency/{table_id}/{h[0:2]}/{h}.json`` with ``h = sha256hex(key)``."""
    validate_segment(table_id, "table_id")
    if not re.fullmatch(r"[0-9a-f]{64}", key_sha256):
        raise InvalidArgument(
            "idempotency key hash must be sha256 hex", reason="invalid_idempotency_key"
        )
    return f"delta/idempotency/{table_id}/{key_sha256[:2]}/{key_sha256}.json"


def delta_log_path(table_root: str, version: int) -> str:
    """``{table_root}/_delta_log/{version:020}.json``, the Delta protocol's commit file."""
    validate_relative_path(table_root)
    return f"{table_root}/_delta_log/{_check_seq(version):020d}.json"
