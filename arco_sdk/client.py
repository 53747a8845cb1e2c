"""Clients for the gateway's ``/api/v1`` routes.

* :class:`ArcoClient` — a synchronous REST client for users and the CLI: manifests, runs,
  backfills, logs, query and catalog reads. Every call carries an ``X-Request-Id``; idempotent calls
  (reads, the read-only query, deploys with an ``Idempotency-Key``, triggers with a
  ``runKey``, backfill creates and retries with their request id) are retried on transient failures (connection errors, 502/503/504) within
  one overall deadline; nothing else is retried. Failures raise :class:`ArcoApiError`
  carrying the server's code, message and request id.
* :class:`CallbackClient` — the asynchronous task-callback client a worker uses
  (``started``/``heartbeat``/``completed``), returning typed responses and raising
  :class:`CallbackRejected` with the callback error fields for 400/401/404/409/410.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar, overload

import httpx
import pyarrow as pa
import structlog

from arco_core.ids import new_ulid
from arco_runtime.retry import RetryPolicy
from arco_sdk.errors import ArcoApiError, ArcoConnectionError, CallbackRejected
from arco_sdk.types import (
    ApiObject,
    Backfill,
    BackfillChunkPage,
    BackfillPage,
    CancelledRun,
    CreatedBackfill,
    CreatedWorkspace,
    DeployedManifest,
    InvalidResponse,
    Manifest,
    ManifestSummary,
    Namespace,
    PartitionPage,
    PartitionSummary,
    Run,
    RunPage,
    ScheduleInfo,
    SchedulePage,
    ScheduleTickPage,
    StoredLogs,
    Table,
    TriggeredRun,
    WorkspaceInfo,
)

__all__ = [
    "ApiAuth",
    "ArcoClient",
    "LogPage",
    "api_error_from_response",
]

log = structlog.get_logger(__name__)

T = TypeVar("T")
USER_AGENT = "arco-sdk/0.1.0"
_TRANSIENT_STATUS = frozenset({502, 503, 504})
NEXT_CURSOR_HEADER = "x-arco-next-cursor"


@dataclass(frozen=True, slots=True)
class ApiAuth:
    """How a caller authenticates: a bearer token, or (dev posture) the tenant and
    workspace headers. With a token, the dev headers are not sent."""

    token: str | None = None
    tenant_id: str | None = None
    workspace_id: str | None = None

    def headers(self) -> dict[str, str]:
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        headers: dict[str, str] = {}
        if self.tenant_id:
            headers["X-Tenant-Id"] = self.tenant_id
        if self.workspace_id:
            headers["X-Workspace-Id"] = self.workspace_id
        return headers


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def api_error_from_response(response: httpx.Response, request_id: str | None) -> ArcoApiError:
    """Map a non-2xx response to an error carrying the server's own message.

    ``{code, message, requestId, details}`` (ApiErrorBody) and ``{error, message, ...}``
    (CallbackErrorResponse) bodies are understood; anything else keeps its text.
    """
    body = _json_or_none(response)
    rid = response.headers.get("x-request-id") or request_id
    status = response.status_code
    if isinstance(body, dict):
        rid = str(body.get("requestId") or rid or "") or None
        message = str(body.get("message") or body.get("detail") or body.get("error") or "")
        if "error" in body and "code" not in body and status < 500:
            return CallbackRejected(
                status,
                str(body["error"]),
                message,
                state=body.get("state"),
                expected_attempt=body.get("expectedAttempt"),
                received_attempt=body.get("receivedAttempt"),
                expected_attempt_id=body.get("expectedAttemptId"),
                received_attempt_id=body.get("receivedAttemptId"),
                request_id=rid,
            )
        code = str(body.get("code") or body.get("error") or _default_code(status))
        return ArcoApiError(
            status, code, message or response.reason_phrase, rid, body.get("details")
        )
    text = response.text.strip()
    return ArcoApiError(status, _default_code(status), text or response.reason_phrase, rid)


def _default_code(status: int) -> str:
    return {
        400: "BAD_REQUEST",
        401: "UNAUTHORIZED",
        403: "FORBIDDEN",
        404: "NOT_FOUND",
        409: "CONFLICT",
        410: "GONE",
        412: "PRECONDITION_FAILED",
        429: "TOO_MANY_REQUESTS",
        500: "INTERNAL",
        501: "NOT_IMPLEMENTED",
        503: "UNAVAILABLE",
    }.get(status, "UPSTREAM_ERROR")


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, ArcoConnectionError) or (
        isinstance(exc, ArcoApiError) and exc.status in _TRANSIENT_STATUS
    )


_Obj = TypeVar("_Obj", bound=ApiObject)


@dataclass(frozen=True, slots=True)
class _WorkspaceList(ApiObject):
    workspaces: tuple[WorkspaceInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class _ManifestList(ApiObject):
    manifests: tuple[ManifestSummary, ...] = ()


@dataclass(frozen=True, slots=True)
class _Page(ApiObject):
    """A catalog list page: its items stay JSON until the caller's type reads them."""

    CAMEL_CASE: ClassVar[bool] = False

    namespaces: tuple[Any, ...] = ()
    tables: tuple[Any, ...] = ()
    next_cursor: str | None = None

    def items(self, field: str) -> tuple[Any, ...]:
        items: tuple[Any, ...] = getattr(self, field)
        return items


@dataclass(frozen=True, slots=True)
class LogPage:
    """One page of a run's logs as text, and the cursor of the next page (None at the end)."""

    text: str
    next_cursor: str | None


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


class ArcoClient:
    """Synchronous REST client. ``api_url`` is the gateway root (``/api/v1`` is added)."""

    def __init__(
        self,
        api_url: str,
        *,
        token: str | None = None,
        tenant_id: str | None = None,
        workspace_id: str = "default",
        timeout: float = 30.0,
        deadline: float = 60.0,
        max_attempts: int = 5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.workspace_id = workspace_id
        self.auth = ApiAuth(token, tenant_id, workspace_id)
        self.timeout = timeout
        self.deadline = deadline
        self.max_attempts = max_attempts
        self._sleep = sleep
        # Idempotent calls only; each attempt gets the time left, at most ``timeout``.
        self._retry = RetryPolicy(
            initial_backoff_sec=0.2,
            max_backoff_sec=2.0,
            jitter_sec=0.2,
            deadline_sec=deadline,
            attempt_timeout_sec=timeout,
            max_attempts=max_attempts,
        )
        self._http = httpx.Client(
            base_url=self.api_url,
            headers={"User-Agent": USER_AGENT, **self.auth.headers()},
            transport=transport,
            timeout=timeout,
        )

    def close(self) -> None:
        """Close the HTTP connection pool; the client cannot be used afterwards."""
        self._http.close()

    def __enter__(self) -> ArcoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------

    def _ws(self, suffix: str = "") -> str:
        return f"/api/v1/workspaces/{_quote(self.workspace_id)}{suffix}"

    def _request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        request_id = new_ulid()
        query = {k: v for k, v in (params or {}).items() if v is not None}

        def attempt(per_try: float) -> httpx.Response:
            try:
                response = self._http.request(
                    method,
                    path,
                    json=json,
                    params=query,
                    headers={"X-Request-Id": request_id, **(headers or {})},
                    timeout=per_try,
                )
            except httpx.TransportError as exc:
                raise ArcoConnectionError(
                    f"cannot reach {self.api_url}: {type(exc).__name__}: {exc}", request_id
                ) from None
            if response.status_code >= 400:
                raise api_error_from_response(response, request_id)
            return response

        if not idempotent:
            return attempt(self._retry.attempt_timeout(0.0))
        return self._retry.call(
            attempt,
            retry_if=_is_transient,
            sleep=self._sleep,
            before_sleep=lambda state: log.info(
                "api_retry", method=method, path=path, attempt=state.attempt_number
            ),
        )

    def _json(self, response: httpx.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return {}
        body = _json_or_none(response)
        if body is None:
            raise ArcoApiError(
                response.status_code,
                "INVALID_RESPONSE",
                f"expected JSON from {response.request.url.path}, got "
                f"{response.headers.get('content-type', 'no content type')}",
                response.headers.get("x-request-id"),
            )
        return body

    def _object(self, cls: type[_Obj], response: httpx.Response) -> _Obj:
        """The typed object of a JSON answer; a body of the wrong shape is INVALID_RESPONSE."""
        return self._parse(cls, self._json(response), response)

    @staticmethod
    def _parse(object_type: type[_Obj], data: object, response: httpx.Response) -> _Obj:
        try:
            return object_type.from_json(data)
        except InvalidResponse as exc:
            raise ArcoApiError(
                response.status_code,
                "INVALID_RESPONSE",
                f"unexpected answer from {response.request.url.path}: {exc}",
                response.headers.get("x-request-id"),
            ) from None

    # -- manifests -----------------------------------------------------------------------

    def deploy_manifest(
        self, manifest: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> DeployedManifest:
        """POST the manifest. With an Idempotency-Key (the CLI sends the fingerprint) a
        retry is safe, so it is retried on transient failures."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response = self._request(
            "POST",
            self._ws("/manifests"),
            idempotent=idempotency_key is not None,
            json=manifest,
            headers=headers,
        )
        return self._object(DeployedManifest, response)

    # -- workspaces (of the caller's tenant) ---------------------------------------------

    def create_workspace(self, workspace_id: str) -> CreatedWorkspace:
        """Register a workspace in the caller's tenant (admin); creating an existing one
        changes nothing and answers ``created=False``. Safe to retry."""
        response = self._request(
            "POST", "/api/v1/workspaces", idempotent=True, json={"workspaceId": workspace_id}
        )
        return self._object(CreatedWorkspace, response)

    def list_workspaces(self) -> list[WorkspaceInfo]:
        """The registered workspaces of the caller's tenant."""
        response = self._request("GET", "/api/v1/workspaces", idempotent=True)
        return list(self._object(_WorkspaceList, response).workspaces)

    def list_manifests(self) -> list[ManifestSummary]:
        """The workspace's deployed manifests."""
        response = self._request("GET", self._ws("/manifests"), idempotent=True)
        return list(self._object(_ManifestList, response).manifests)

    def get_manifest(self, manifest_id: str) -> Manifest:
        """One deployed manifest by id; ``ArcoApiError`` (404) when it does not exist."""
        path = self._ws(f"/manifests/{_quote(manifest_id)}")
        return self._object(Manifest, self._request("GET", path, idempotent=True))

    # -- runs ----------------------------------------------------------------------------

    def trigger_run(
        self,
        selection: Sequence[str],
        *,
        partition_key: str | None = None,
        include_upstream: bool = False,
        include_downstream: bool = False,
        run_key: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> TriggeredRun:
        """Trigger a run of ``selection`` (asset keys) on the latest manifest; returns the run.

        A ``run_key`` makes the call idempotent (the same key returns the same run), so only
        then is it retried on transient failures.
        """
        if not selection:
            raise ValueError("selection cannot be empty")
        if partition_key == "":
            raise ValueError("partition_key cannot be empty")
        body: dict[str, Any] = {"selection": list(selection)}
        if partition_key is not None:
            body["partitionKey"] = partition_key
        if include_upstream:
            body["includeUpstream"] = True
        if include_downstream:
            body["includeDownstream"] = True
        if run_key:
            body["runKey"] = run_key
        if labels:
            body["labels"] = dict(labels)
        response = self._request("POST", self._ws("/runs"), idempotent=bool(run_key), json=body)
        return self._object(TriggeredRun, response)

    def list_runs(
        self, *, limit: int | None = None, cursor: str | None = None, state: str | None = None
    ) -> RunPage:
        """One page of the workspace's runs, newest first, optionally only those in ``state``."""
        params = {"limit": limit, "cursor": cursor, "state": state}
        response = self._request("GET", self._ws("/runs"), idempotent=True, params=params)
        return self._object(RunPage, response)

    def list_partitions(
        self,
        *,
        asset_key: str | None = None,
        stale_only: bool = False,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> PartitionPage:
        """One page of partition status rows, sorted by (asset key, partition key)."""
        params = {
            "assetKey": asset_key,
            "staleOnly": "true" if stale_only else None,
            "limit": limit,
            "cursor": cursor,
        }
        response = self._request("GET", self._ws("/partitions"), idempotent=True, params=params)
        return self._object(PartitionPage, response)

    def partition_summary(self, asset_key: str) -> PartitionSummary:
        """An asset's partition counts; ``ArcoApiError`` (404) when it has none."""
        path = self._ws(f"/assets/{_quote(asset_key)}/partitions/summary")
        return self._object(PartitionSummary, self._request("GET", path, idempotent=True))

    # -- schedules -----------------------------------------------------------------------

    def list_schedules(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> SchedulePage:
        """One page of the workspace's schedules, by schedule id."""
        params = {"limit": limit, "cursor": cursor}
        response = self._request("GET", self._ws("/schedules"), idempotent=True, params=params)
        return self._object(SchedulePage, response)

    def get_schedule(self, schedule_id: str) -> ScheduleInfo:
        """One schedule; ``ArcoApiError`` (404) when unknown."""
        path = self._ws(f"/schedules/{_quote(schedule_id)}")
        return self._object(ScheduleInfo, self._request("GET", path, idempotent=True))

    def upsert_schedule(
        self,
        schedule_id: str,
        *,
        cron: str,
        assets: Sequence[str],
        timezone: str = "UTC",
        catchup_window_minutes: int = 0,
        max_catchup_ticks: int = 1,
        enabled: bool = True,
    ) -> ScheduleInfo:
        """Create or replace a schedule (the whole definition; retried, as a PUT is)."""
        body = {
            "cronExpression": cron,
            "timezone": timezone,
            "catchupWindowMinutes": catchup_window_minutes,
            "maxCatchupTicks": max_catchup_ticks,
            "assetSelection": list(assets),
            "enabled": enabled,
        }
        path = self._ws(f"/schedules/{_quote(schedule_id)}")
        return self._object(ScheduleInfo, self._request("PUT", path, idempotent=True, json=body))

    def set_schedule_enabled(self, schedule_id: str, enabled: bool) -> ScheduleInfo:
        """Enable (ticks run again from now on) or disable (ticks are skipped) a schedule.
        Retried: setting the state it already has changes nothing."""
        action = "enable" if enabled else "disable"
        path = self._ws(f"/schedules/{_quote(schedule_id)}/{action}")
        return self._object(ScheduleInfo, self._request("POST", path, idempotent=True, json={}))

    def list_schedule_ticks(
        self,
        schedule_id: str,
        *,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> ScheduleTickPage:
        """One page of a schedule's ticks, newest first (TRIGGERED, SKIPPED or FAILED)."""
        params = {"status": status, "limit": limit, "cursor": cursor}
        path = self._ws(f"/schedules/{_quote(schedule_id)}/ticks")
        return self._object(
            ScheduleTickPage, self._request("GET", path, idempotent=True, params=params)
        )

    def get_run(self, run_id: str) -> Run:
        """One run with its tasks' states; ``ArcoApiError`` (404) when unknown."""
        path = self._ws(f"/runs/{_quote(run_id)}")
        return self._object(Run, self._request("GET", path, idempotent=True))

    def cancel_run(self, run_id: str, *, reason: str | None = None) -> CancelledRun:
        """Ask for a run to be cancelled. Not retried (each call is new)."""
        body = {"reason": reason} if reason else {}
        path = self._ws(f"/runs/{_quote(run_id)}/cancel")
        return self._object(CancelledRun, self._request("POST", path, idempotent=False, json=body))

    def rerun(
        self,
        run_id: str,
        *,
        mode: Literal["fromFailure", "subset"],
        selection: Sequence[str] = (),
        include_upstream: bool = False,
        include_downstream: bool = False,
        run_key: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> TriggeredRun:
        """Start a new run from ``run_id``: its failed tasks (``fromFailure``) or a ``subset``.

        Returns the new run; like ``trigger_run``, idempotent (and retried) only with a
        ``run_key``.
        """
        if mode == "subset" and not selection:
            raise ValueError("a subset rerun needs a selection")
        if mode == "fromFailure" and (selection or include_upstream or include_downstream):
            raise ValueError("a from-failure rerun takes no selection or closure flags")
        body: dict[str, Any] = {"mode": mode}
        if selection:
            body["selection"] = list(selection)
        if include_upstream:
            body["includeUpstream"] = True
        if include_downstream:
            body["includeDownstream"] = True
        if run_key:
            body["runKey"] = run_key
        if labels:
            body["labels"] = dict(labels)
        path = self._ws(f"/runs/{_quote(run_id)}/rerun")
        response = self._request("POST", path, idempotent=bool(run_key), json=body)
        return self._object(TriggeredRun, response)

    # -- backfills -----------------------------------------------------------------------

    def create_backfill(
        self,
        asset_key: str,
        partition_selector: Mapping[str, Any],
        *,
        chunk_size: int | None = None,
        max_concurrent_runs: int | None = None,
        client_request_id: str | None = None,
    ) -> CreatedBackfill:
        """Backfill one asset over the partitions ``partition_selector`` names
        (``{"type": "explicit", "partitions": [...]}``, ``{"type": "range", "start", "end"}``
        or ``{"type": "filter", "filters": {...}}``).

        The request id (a new one when not given) makes the call idempotent, so it is
        retried on transient failures: a replay answers the same backfill, ``created``
        False.
        """
        body: dict[str, Any] = {
            "assetSelection": [asset_key],
            "partitionSelector": dict(partition_selector),
            "clientRequestId": client_request_id or new_ulid(),
        }
        if chunk_size is not None:
            body["chunkSize"] = chunk_size
        if max_concurrent_runs is not None:
            body["maxConcurrentRuns"] = max_concurrent_runs
        response = self._request("POST", self._ws("/backfills"), idempotent=True, json=body)
        return self._object(CreatedBackfill, response)

    def list_backfills(
        self, *, limit: int | None = None, cursor: str | None = None, state: str | None = None
    ) -> BackfillPage:
        """One page of the workspace's backfills, newest first, optionally only in ``state``."""
        params = {"limit": limit, "cursor": cursor, "state": state}
        response = self._request("GET", self._ws("/backfills"), idempotent=True, params=params)
        return self._object(BackfillPage, response)

    def get_backfill(self, backfill_id: str) -> Backfill:
        """One backfill with its chunk counts; ``ArcoApiError`` (404) when unknown."""
        path = self._ws(f"/backfills/{_quote(backfill_id)}")
        return self._object(Backfill, self._request("GET", path, idempotent=True))

    def list_backfill_chunks(
        self,
        backfill_id: str,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        state: str | None = None,
    ) -> BackfillChunkPage:
        """One page of a backfill's planned chunks, by chunk index."""
        params = {"limit": limit, "cursor": cursor, "state": state}
        path = self._ws(f"/backfills/{_quote(backfill_id)}/chunks")
        return self._object(
            BackfillChunkPage, self._request("GET", path, idempotent=True, params=params)
        )

    def pause_backfill(
        self, backfill_id: str, *, expected_state_version: int | None = None
    ) -> Backfill:
        """Stop planning new chunks; runs already requested finish. 409 if not running."""
        return self._move_backfill(backfill_id, "pause", expected_state_version)

    def resume_backfill(
        self, backfill_id: str, *, expected_state_version: int | None = None
    ) -> Backfill:
        """Plan chunks of a paused backfill again. 409 if not paused."""
        return self._move_backfill(backfill_id, "resume", expected_state_version)

    def cancel_backfill(
        self, backfill_id: str, *, expected_state_version: int | None = None
    ) -> Backfill:
        """End a backfill; runs already requested finish. 409 if it already ended."""
        return self._move_backfill(backfill_id, "cancel", expected_state_version)

    def _move_backfill(self, backfill_id: str, verb: str, expected: int | None) -> Backfill:
        # Not retried: a retry of a move that applied would answer 409.
        body = {} if expected is None else {"expectedStateVersion": expected}
        path = self._ws(f"/backfills/{_quote(backfill_id)}/{verb}")
        return self._object(Backfill, self._request("POST", path, idempotent=False, json=body))

    def retry_failed_backfill(
        self, backfill_id: str, *, client_request_id: str | None = None
    ) -> CreatedBackfill:
        """A new backfill of a finished backfill's failed and cancelled chunks. Without a
        request id the server allows one retry per parent, so the call is always safe to
        retry."""
        body = {"clientRequestId": client_request_id} if client_request_id else {}
        path = self._ws(f"/backfills/{_quote(backfill_id)}/retry-failed")
        response = self._request("POST", path, idempotent=True, json=body)
        return self._object(CreatedBackfill, response)

    # -- logs ----------------------------------------------------------------------------

    def upload_logs(
        self, run_id: str, task_key: str, attempt: int, *, stdout: str = "", stderr: str = ""
    ) -> StoredLogs:
        """Store a task attempt's stdout and stderr with the run; returns where and how much."""
        body = {"taskKey": task_key, "attempt": attempt, "stdout": stdout, "stderr": stderr}
        path = self._ws(f"/runs/{_quote(run_id)}/logs")
        return self._object(StoredLogs, self._request("POST", path, idempotent=False, json=body))

    def get_logs(
        self,
        run_id: str,
        *,
        task_key: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> LogPage:
        """One page of a run's logs as text, with the cursor of the next page (or None)."""
        params = {"taskKey": task_key, "limit": limit, "cursor": cursor}
        path = self._ws(f"/runs/{_quote(run_id)}/logs")
        response = self._request("GET", path, idempotent=True, params=params)
        return LogPage(response.text, response.headers.get(NEXT_CURSOR_HEADER) or None)

    def iter_logs(
        self, run_id: str, *, task_key: str | None = None, limit: int | None = None
    ) -> Iterator[LogPage]:
        """Every page, following ``x-arco-next-cursor`` until the server stops sending one."""
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page = self.get_logs(run_id, task_key=task_key, limit=limit, cursor=cursor)
            yield page
            if not page.next_cursor or page.next_cursor in seen:
                return
            seen.add(page.next_cursor)
            cursor = page.next_cursor

    # -- query and catalog ---------------------------------------------------------------

    @overload
    def query(self, sql: str, *, format: Literal["json"] = "json") -> list[dict[str, Any]]: ...

    @overload
    def query(self, sql: str, *, format: Literal["arrow"]) -> pa.Table: ...

    def query(
        self, sql: str, *, format: Literal["json", "arrow"] = "json"
    ) -> list[dict[str, Any]] | pa.Table:
        """Read-only SQL (exactly one SELECT/WITH). Retried: it has no side effects."""
        response = self._request(
            "POST", "/api/v1/query", idempotent=True, json={"sql": sql}, params={"format": format}
        )
        if format == "arrow":
            with pa.ipc.open_stream(response.content) as reader:
                return reader.read_all()
        body = self._json(response)
        if isinstance(body, dict) and "rows" in body:
            return list(body["rows"])
        return list(body)

    def list_namespaces(self) -> list[Namespace]:
        """Every catalog namespace, following pagination to the end."""
        return self._paged(Namespace, "/api/v1/namespaces", "namespaces")

    def list_tables(self, namespace: str) -> list[Table]:
        """Every table in ``namespace``, following pagination to the end."""
        return self._paged(Table, f"/api/v1/namespaces/{_quote(namespace)}/tables", "tables")

    def _paged(self, cls: type[_Obj], path: str, field: str) -> list[_Obj]:
        items: list[_Obj] = []
        cursor: str | None = None
        while True:
            response = self._request("GET", path, idempotent=True, params={"cursor": cursor})
            page = self._object(_Page, response)
            items.extend(self._parse(cls, item, response) for item in page.items(field))
            cursor = page.next_cursor
            if not cursor:
                return items
