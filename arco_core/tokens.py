"""Task tokens: the HS256 JWTs that authenticate a worker's callbacks for one attempt.

The dispatcher and sweeper mint a token per dispatched attempt; the api verifies it on
every callback and then checks it against the task's current projection row. Claims are
camelCase (``taskId, tenantId, workspaceId, runId, attempt, attemptId, exp, nbf, iat,
iss, aud``); the decoder also accepts the legacy aliases ``task_id``,
``tenant_id``/``tenant``, ``workspace_id``/``workspace``, ``run_id`` and ``attempt_id``.

Time comes from an injected :class:`~arco_core.clock.Clock`: PyJWT checks the signature,
``iss`` and ``aud``; ``exp`` and ``nbf`` are checked here against that clock (with a
leeway), so tests can drive expiry without sleeping.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import jwt

from arco_core.clock import Clock, SystemClock
from arco_core.errors import InvalidArgument, InvalidToken

__all__ = [
    "DEFAULT_LEEWAY_SEC",
    "DEFAULT_TTL_SEC",
    "MAX_TTL_SEC",
    "TaskClaims",
    "TaskTokenSigner",
    "TaskTokenVerifier",
    "renewal_due",
    "validate_claims",
]

ALGORITHM: Final = "HS256"
DEFAULT_TTL_SEC: Final = 3600
MAX_TTL_SEC: Final = 86_400
# Dispatcher and api clocks differ a little; nbf == iat == mint time makes this matter.
DEFAULT_LEEWAY_SEC: Final = 60
# RFC 7518 §3.2: an HS256 key should be at least as long as the hash output.
_MIN_KEY_BYTES: Final = 32


# camelCase claim name -> accepted legacy aliases (first match wins; two spellings of one
# claim in the same token are refused rather than guessed between).
_ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "taskId": ("task_id",),
    "tenantId": ("tenant_id", "tenant"),
    "workspaceId": ("workspace_id", "workspace"),
    "runId": ("run_id",),
    "attempt": (),
    "attemptId": ("attempt_id",),
}


def _invalid(message: str) -> InvalidToken:
    return InvalidToken(message)


@dataclass(frozen=True, slots=True)
class TaskClaims:
    """The decoded, signature-checked claims of a task token.

    ``run_id``, ``attempt`` and ``attempt_id`` are None in legacy (unscoped) tokens;
    :func:`validate_claims` refuses those with ``missing_scope_claims``.
    """

    task_id: str
    tenant_id: str
    workspace_id: str
    run_id: str | None
    attempt: int | None
    attempt_id: str | None
    exp: int
    nbf: int | None = None
    iat: int | None = None
    iss: str | None = None
    aud: str | None = None


def _check_secret(secret: str) -> bytes:
    if not isinstance(secret, str) or not secret:
        raise InvalidArgument(
            "task token secret must be a non-empty string", reason="invalid_config"
        )
    return secret.encode("utf-8")


@contextmanager
def _short_key_tolerated(short: bool) -> Iterator[None]:
    """PyJWT warns on every call with an HMAC key below 32 bytes. The deployment's key
    length is a configuration matter, reported once at construction, not per request."""
    if not short:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        yield


class TaskTokenSigner:
    """Mints task tokens (dispatcher and sweeper)."""

    def __init__(
        self,
        secret: str,
        issuer: str,
        audience: str,
        ttl_sec: int = DEFAULT_TTL_SEC,
        clock: Clock | None = None,
    ) -> None:
        self._key = _check_secret(secret)
        if not issuer or not audience:
            raise InvalidArgument(
                "task token issuer and audience are required to mint", reason="invalid_config"
            )
        if (
            isinstance(ttl_sec, bool)
            or not isinstance(ttl_sec, int)
            or not 0 < ttl_sec <= MAX_TTL_SEC
        ):
            raise InvalidArgument(
                f"task token TTL must be between 1 and {MAX_TTL_SEC} seconds, got {ttl_sec!r}",
                reason="invalid_config",
            )
        self._issuer = issuer
        self._audience = audience
        self._ttl_sec = ttl_sec
        self._clock: Clock = clock or SystemClock()
        self._short_key = len(self._key) < _MIN_KEY_BYTES

    @property
    def ttl_sec(self) -> int:
        return self._ttl_sec

    def mint(  # noqa: PLR0917 - the positional order is the signer's documented API
        self,
        tenant_id: str,
        workspace_id: str,
        task_id: str,
        run_id: str,
        attempt: int,
        attempt_id: str,
    ) -> tuple[str, int]:
        """A token for one attempt and its expiry (epoch ms, equal to the ``exp`` claim)."""
        for name, value in (
            ("tenant_id", tenant_id),
            ("workspace_id", workspace_id),
            ("task_id", task_id),
            ("run_id", run_id),
            ("attempt_id", attempt_id),
        ):
            if not isinstance(value, str) or not value:
                raise InvalidArgument(f"{name} must be a non-empty string", reason="invalid_claims")
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
            raise InvalidArgument("attempt must be an integer >= 1", reason="invalid_claims")
        now = self._clock.now_ms() // 1000
        exp = now + self._ttl_sec
        claims: dict[str, Any] = {
            "taskId": task_id,
            "tenantId": tenant_id,
            "workspaceId": workspace_id,
            "runId": run_id,
            "attempt": attempt,
            "attemptId": attempt_id,
            "exp": exp,
            "nbf": now,
            "iat": now,
            "iss": self._issuer,
            "aud": self._audience,
        }
        with _short_key_tolerated(self._short_key):
            token = jwt.encode(claims, self._key, algorithm=ALGORITHM)
        return token, exp * 1000

    def renew(self, claims: TaskClaims) -> tuple[str, int]:
        """A fresh token for the attempt of verified, fully scoped ``claims``."""
        if claims.run_id is None or claims.attempt is None or claims.attempt_id is None:
            raise _invalid("missing_scope_claims")
        return self.mint(
            claims.tenant_id,
            claims.workspace_id,
            claims.task_id,
            claims.run_id,
            claims.attempt,
            claims.attempt_id,
        )


def renewal_due(claims: TaskClaims, now_ms: int, ttl_sec: int) -> bool:
    """Whether a token is past half its life, so a heartbeat answer should renew it.

    Half the life leaves the worker at least one more heartbeat before expiry when it
    beats more often than every TTL / 2. A token without ``iat`` counts ``ttl_sec``.
    """
    issued = claims.iat if claims.iat is not None else claims.exp - ttl_sec
    return now_ms >= (issued + claims.exp) * 500  # (iat + exp) / 2, in ms


def _claim(payload: Mapping[str, Any], name: str) -> Any:
    found = [key for key in (name, *_ALIASES[name]) if key in payload]
    if len(found) > 1:
        raise _invalid(f"claim {name} given twice (as {' and '.join(found)})")
    return payload[found[0]] if found else None


def _str_claim(payload: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = _claim(payload, name)
    if value is None:
        if required:
            raise _invalid(f"missing required claim {name}")
        return None
    if not isinstance(value, str) or not value:
        raise _invalid(f"claim {name} must be a non-empty string")
    return value


def _int_claim(payload: Mapping[str, Any], name: str, *, minimum: int) -> int | None:
    value = _claim(payload, name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _invalid(f"claim {name} must be an integer >= {minimum}")
    return value


def _time_claim(payload: Mapping[str, Any], name: str) -> int | None:
    """A NumericDate (RFC 7519 allows fractions; they are truncated toward the past)."""
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise _invalid(f"claim {name} must be a non-negative number of seconds")
    if isinstance(value, float) and not math.isfinite(value):
        raise _invalid(f"claim {name} must be a non-negative number of seconds")
    return int(value)


class TaskTokenVerifier:
    """Verifies task tokens (api). ``issuer``/``audience`` are checked when configured."""

    def __init__(
        self,
        secret: str,
        issuer: str | None,
        audience: str | None,
        clock: Clock | None = None,
        leeway: int = DEFAULT_LEEWAY_SEC,
    ) -> None:
        self._key = _check_secret(secret)
        if isinstance(leeway, bool) or not isinstance(leeway, int) or leeway < 0:
            raise InvalidArgument(
                "token leeway must be an integer number of seconds >= 0", reason="invalid_config"
            )
        self._issuer = issuer or None
        self._audience = audience or None
        self._clock: Clock = clock or SystemClock()
        self._leeway_sec = leeway
        self._short_key = len(self._key) < _MIN_KEY_BYTES

    @property
    def short_key(self) -> bool:
        """Whether the configured secret is below the RFC 7518 recommended length."""
        return self._short_key

    def decode(self, token: str) -> TaskClaims:
        """Check signature, ``exp``, ``nbf``, ``iss`` and ``aud`` and return the claims.

        Any failure raises InvalidToken (reason ``invalid_token``) whose message says why.
        """
        if not isinstance(token, str) or not token:
            raise _invalid("missing bearer token")
        try:
            with _short_key_tolerated(self._short_key):
                payload = jwt.decode(
                    token,
                    self._key,
                    algorithms=[ALGORITHM],
                    issuer=self._issuer,
                    audience=self._audience,
                    options={
                        "verify_signature": True,
                        # exp/nbf/iat: checked below against the injected clock.
                        "verify_exp": False,
                        "verify_nbf": False,
                        "verify_iat": False,
                        "verify_iss": self._issuer is not None,
                        "verify_aud": self._audience is not None,
                        "require": ["exp"],
                    },
                )
        except jwt.PyJWTError as exc:
            raise _invalid(str(exc) or type(exc).__name__) from None
        if not isinstance(payload, Mapping):
            raise _invalid("token payload is not an object")
        exp = _time_claim(payload, "exp")
        nbf = _time_claim(payload, "nbf")
        iat = _time_claim(payload, "iat")
        assert exp is not None  # required above
        now = self._clock.now_ms() / 1000
        if now >= exp + self._leeway_sec:
            raise _invalid("token expired")
        if nbf is not None and now < nbf - self._leeway_sec:
            raise _invalid("token not yet valid")
        iss = payload.get("iss")
        aud = payload.get("aud")
        task_id = _str_claim(payload, "taskId", required=True)
        tenant_id = _str_claim(payload, "tenantId", required=True)
        workspace_id = _str_claim(payload, "workspaceId", required=True)
        assert task_id is not None and tenant_id is not None and workspace_id is not None
        return TaskClaims(
            task_id=task_id,
            tenant_id=tenant_id,
            workspace_id=workspace_id,
            run_id=_str_claim(payload, "runId", required=False),
            attempt=_int_claim(payload, "attempt", minimum=1),
            attempt_id=_str_claim(payload, "attemptId", required=False),
            exp=exp,
            nbf=nbf,
            iat=iat,
            iss=iss if isinstance(iss, str) else None,
            aud=aud if isinstance(aud, str) else None,
        )

    def validate(
        self,
        claims: TaskClaims,
        *,
        task_id: str,
        tenant_id: str,
        workspace_id: str,
        run_id: str,
        attempt: int,
        attempt_id: str,
    ) -> None:
        """See :func:`validate_claims`."""
        validate_claims(
            claims,
            task_id=task_id,
            tenant_id=tenant_id,
            workspace_id=workspace_id,
            run_id=run_id,
            attempt=attempt,
            attempt_id=attempt_id,
        )


def validate_claims(
    claims: TaskClaims,
    *,
    task_id: str,
    tenant_id: str,
    workspace_id: str,
    run_id: str,
    attempt: int,
    attempt_id: str,
) -> None:
    """Check decoded claims against the task they are presented for.

    Raises InvalidToken (reason ``invalid_token``) whose message is the first failing
    check, in this order: task_id_mismatch, tenant_mismatch, workspace_mismatch,
    missing_scope_claims (no runId, attempt or attemptId), run_id_mismatch,
    attempt_mismatch, attempt_id_mismatch.
    """
    if claims.task_id != task_id:
        raise _invalid("task_id_mismatch")
    if claims.tenant_id != tenant_id:
        raise _invalid("tenant_mismatch")
    if claims.workspace_id != workspace_id:
        raise _invalid("workspace_mismatch")
    if claims.run_id is None or claims.attempt is None or claims.attempt_id is None:
        raise _invalid("missing_scope_claims")
    if claims.run_id != run_id:
        raise _invalid("run_id_mismatch")
    if claims.attempt != attempt:
        raise _invalid("attempt_mismatch")
    if claims.attempt_id != attempt_id:
        raise _invalid("attempt_id_mismatch")
