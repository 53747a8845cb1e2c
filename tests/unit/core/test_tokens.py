"""Task tokens: HS256 mint/decode, time checks on an injected clock, aliases, validation."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import jwt
import pytest

from arco_core.clock import FakeClock
from arco_core.errors import InvalidArgument, Unauthenticated
from arco_core.ids import callback_task_id
from arco_core.tokens import (
    MAX_TTL_SEC,
    TaskClaims,
    TaskTokenSigner,
    TaskTokenVerifier,
    renewal_due,
    validate_claims,
)

SECRET = "a-task-token-secret-of-at-least-32-bytes"
ISS = "arco"
AUD = "arco-worker-callbacks"
TASK = callback_task_id("run-1", "extract")


def _signer(clock: FakeClock, secret: str = SECRET, ttl: int = 3600) -> TaskTokenSigner:
    return TaskTokenSigner(secret, ISS, AUD, ttl, clock)


def _verifier(
    clock: FakeClock,
    secret: str = SECRET,
    iss: str | None = ISS,
    aud: str | None = AUD,
    leeway: int = 0,
) -> TaskTokenVerifier:
    return TaskTokenVerifier(secret, iss, aud, clock, leeway)


def _mint(clock: FakeClock, **kw: Any) -> tuple[str, int]:
    return _signer(clock, **kw).mint("acme", "prod", TASK, "run-1", 1, "att_1")


def _reason(exc: pytest.ExceptionInfo[Unauthenticated]) -> str:
    assert exc.value.reason == "invalid_token"
    return exc.value.message


def _raw(claims: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def _base_claims(clock: FakeClock) -> dict[str, Any]:
    now = clock.now_ms() // 1000
    return {"exp": now + 60, "nbf": now, "iat": now, "iss": ISS, "aud": AUD}


def test_mint_decode_round_trip_with_camel_case_claims() -> None:
    clock = FakeClock()
    token, expires_at_ms = _mint(clock)
    now_s = clock.now_ms() // 1000
    assert expires_at_ms == (now_s + 3600) * 1000
    payload = jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        audience=AUD,
        issuer=ISS,
        options={"verify_exp": False},  # the fake clock is not the wall clock
    )
    assert payload == {
        "taskId": TASK,
        "tenantId": "acme",
        "workspaceId": "prod",
        "runId": "run-1",
        "attempt": 1,
        "attemptId": "att_1",
        "exp": now_s + 3600,
        "nbf": now_s,
        "iat": now_s,
        "iss": ISS,
        "aud": AUD,
    }
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "HS256"
    claims = _verifier(clock).decode(token)
    assert claims == TaskClaims(
        task_id=TASK,
        tenant_id="acme",
        workspace_id="prod",
        run_id="run-1",
        attempt=1,
        attempt_id="att_1",
        exp=now_s + 3600,
        nbf=now_s,
        iat=now_s,
        iss=ISS,
        aud=AUD,
    )


def test_renewal_is_due_from_half_life_and_keeps_the_attempt_scope() -> None:
    clock = FakeClock()
    token, _ = _mint(clock, ttl=100)
    claims = _verifier(clock).decode(token)
    start_ms = clock.now_ms() // 1000 * 1000
    assert not renewal_due(claims, start_ms + 49_999, 100)
    assert renewal_due(claims, start_ms + 50_000, 100)
    # Without iat the signer's TTL dates the token.
    assert renewal_due(dataclasses.replace(claims, iat=None), start_ms + 50_000, 100)
    assert not renewal_due(dataclasses.replace(claims, iat=None), start_ms + 49_999, 100)

    clock.advance(60_000)
    renewed, expires_ms = _signer(clock, ttl=100).renew(claims)
    fresh = _verifier(clock).decode(renewed)
    assert dataclasses.replace(fresh, exp=0, nbf=0, iat=0) == dataclasses.replace(
        claims, exp=0, nbf=0, iat=0
    )
    assert fresh.exp * 1000 == expires_ms == (clock.now_ms() // 1000 + 100) * 1000
    with pytest.raises(Unauthenticated):
        _signer(clock).renew(dataclasses.replace(claims, attempt_id=None))


def test_expired_token_is_refused_after_leeway() -> None:
    clock = FakeClock()
    token, _ = _mint(clock, ttl=60)
    clock.advance(59_000)
    assert _verifier(clock).decode(token).task_id == TASK
    clock.advance(1_000)
    with pytest.raises(Unauthenticated) as exc:
        _verifier(clock).decode(token)
    assert _reason(exc) == "token expired"
    # Within the verifier's leeway it is still accepted.
    assert _verifier(clock, leeway=30).decode(token).task_id == TASK


def test_token_not_yet_valid_is_refused() -> None:
    minting = FakeClock()
    token, _ = _mint(minting)
    behind = FakeClock(minting.now_ms() - 120_000)
    with pytest.raises(Unauthenticated) as exc:
        _verifier(behind, leeway=60).decode(token)
    assert _reason(exc) == "token not yet valid"
    # Small skew between the minting and the verifying clock is tolerated.
    assert _verifier(FakeClock(minting.now_ms() - 30_000), leeway=60).decode(token)


def test_forged_and_tampered_tokens_are_refused() -> None:
    clock = FakeClock()
    token, _ = _mint(clock)
    with pytest.raises(Unauthenticated) as exc:
        _verifier(clock, secret="another-secret-that-is-also-32-bytes-long").decode(token)
    assert _reason(exc) == "Signature verification failed"
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["attempt"] = 2
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(Unauthenticated) as exc:
        _verifier(clock).decode(f"{header}.{forged_payload}.{signature}")
    assert _reason(exc) == "Signature verification failed"
    for garbage in ("", "not-a-jwt", "a.b.c"):
        with pytest.raises(Unauthenticated):
            _verifier(clock).decode(garbage)


def test_other_algorithms_are_refused() -> None:
    clock = FakeClock()
    claims = {**_base_claims(clock), "taskId": TASK, "tenantId": "acme", "workspaceId": "prod"}
    unsigned = jwt.encode(claims, None, algorithm="none")
    hs512 = jwt.encode(claims, SECRET + SECRET, algorithm="HS512")
    for token in (unsigned, hs512):
        with pytest.raises(Unauthenticated):
            _verifier(clock).decode(token)


def test_wrong_audience_or_issuer_is_refused() -> None:
    clock = FakeClock()
    token, _ = _mint(clock)
    with pytest.raises(Unauthenticated) as exc:
        _verifier(clock, aud="someone-else").decode(token)
    assert "audience" in _reason(exc).lower()
    with pytest.raises(Unauthenticated) as exc:
        _verifier(clock, iss="someone-else").decode(token)
    assert "issuer" in _reason(exc).lower()
    # Not configured: not checked.
    assert _verifier(clock, iss=None, aud=None).decode(token).iss == ISS
    # Configured but absent from the token: refused.
    claims = {**_base_claims(clock), "taskId": TASK, "tenantId": "acme", "workspaceId": "prod"}
    del claims["iss"], claims["aud"]
    with pytest.raises(Unauthenticated):
        _verifier(clock).decode(_raw(claims))


def test_snake_case_and_short_aliases_are_accepted() -> None:
    clock = FakeClock()
    token = _raw(
        {
            **_base_claims(clock),
            "task_id": TASK,
            "tenant": "acme",
            "workspace": "prod",
            "run_id": "run-1",
            "attempt": 2,
            "attempt_id": "att_2",
        }
    )
    claims = _verifier(clock).decode(token)
    assert (claims.task_id, claims.tenant_id, claims.workspace_id) == (TASK, "acme", "prod")
    assert (claims.run_id, claims.attempt, claims.attempt_id) == ("run-1", 2, "att_2")
    token = _raw(
        {**_base_claims(clock), "task_id": TASK, "tenant_id": "acme", "workspace_id": "prod"}
    )
    legacy = _verifier(clock).decode(token)
    assert (legacy.run_id, legacy.attempt, legacy.attempt_id) == (None, None, None)


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"tenantId": "acme", "workspaceId": "prod"}, "missing required claim taskId"),
        ({"taskId": TASK, "workspaceId": "prod"}, "missing required claim tenantId"),
        (
            {"taskId": TASK, "task_id": TASK, "tenantId": "acme", "workspaceId": "prod"},
            "claim taskId given twice (as taskId and task_id)",
        ),
        (
            {"taskId": TASK, "tenantId": "acme", "workspaceId": "prod", "attempt": 0},
            "claim attempt must be an integer >= 1",
        ),
        (
            {"taskId": TASK, "tenantId": "acme", "workspaceId": "prod", "attempt": "1"},
            "claim attempt must be an integer >= 1",
        ),
        ({"taskId": "", "tenantId": "acme", "workspaceId": "prod"}, "claim taskId must be a non-empty string"),
    ],
)  # fmt: skip
def test_malformed_claims_are_refused(claims: dict[str, Any], message: str) -> None:
    clock = FakeClock()
    with pytest.raises(Unauthenticated) as exc:
        _verifier(clock).decode(_raw({**_base_claims(clock), **claims}))
    assert _reason(exc) == message


def test_exp_is_required() -> None:
    clock = FakeClock()
    claims = {**_base_claims(clock), "taskId": TASK, "tenantId": "acme", "workspaceId": "prod"}
    del claims["exp"]
    with pytest.raises(Unauthenticated) as exc:
        _verifier(clock).decode(_raw(claims))
    assert "exp" in _reason(exc)


def test_ttl_and_secret_are_validated() -> None:
    clock = FakeClock()
    for ttl in (0, -1, MAX_TTL_SEC + 1):
        with pytest.raises(InvalidArgument):
            TaskTokenSigner(SECRET, ISS, AUD, ttl, clock)
    assert TaskTokenSigner(SECRET, ISS, AUD, MAX_TTL_SEC, clock).ttl_sec == MAX_TTL_SEC
    with pytest.raises(InvalidArgument):
        TaskTokenSigner("", ISS, AUD, 60, clock)
    with pytest.raises(InvalidArgument):
        TaskTokenSigner(SECRET, "", AUD, 60, clock)
    with pytest.raises(InvalidArgument):
        TaskTokenVerifier("", ISS, AUD, clock)
    with pytest.raises(InvalidArgument):
        _signer(clock).mint("acme", "prod", TASK, "run-1", 0, "att_1")


def test_short_secret_works_without_warnings() -> None:
    # pytest turns warnings into errors: PyJWT's per-call key-length warning must not leak.
    clock = FakeClock()
    token, _ = TaskTokenSigner("short", ISS, AUD, 60, clock).mint(
        "acme", "prod", TASK, "run-1", 1, "att_1"
    )
    verifier = TaskTokenVerifier("short", ISS, AUD, clock)
    assert verifier.short_key
    assert verifier.decode(token).attempt == 1


def _claims(**overrides: Any) -> TaskClaims:
    base: dict[str, Any] = {
        "task_id": TASK,
        "tenant_id": "acme",
        "workspace_id": "prod",
        "run_id": "run-1",
        "attempt": 1,
        "attempt_id": "att_1",
        "exp": 0,
    }
    return TaskClaims(**{**base, **overrides})


_EXPECTED: dict[str, Any] = {
    "task_id": TASK,
    "tenant_id": "acme",
    "workspace_id": "prod",
    "run_id": "run-1",
    "attempt": 1,
    "attempt_id": "att_1",
}


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"task_id": "ct1_other"}, "task_id_mismatch"),
        ({"tenant_id": "other"}, "tenant_mismatch"),
        ({"workspace_id": "other"}, "workspace_mismatch"),
        ({"run_id": None}, "missing_scope_claims"),
        ({"attempt": None}, "missing_scope_claims"),
        ({"attempt_id": None}, "missing_scope_claims"),
        ({"run_id": "run-2"}, "run_id_mismatch"),
        ({"attempt": 2}, "attempt_mismatch"),
        ({"attempt_id": "att_2"}, "attempt_id_mismatch"),
        # The first failing check wins.
        ({"tenant_id": "other", "attempt": 2}, "tenant_mismatch"),
        ({"run_id": None, "attempt": 2, "task_id": TASK}, "missing_scope_claims"),
    ],
)
def test_validate_reasons_in_order(overrides: dict[str, Any], reason: str) -> None:
    with pytest.raises(Unauthenticated) as exc:
        validate_claims(_claims(**overrides), **_EXPECTED)
    assert _reason(exc) == reason
    verifier = _verifier(FakeClock())
    with pytest.raises(Unauthenticated):
        verifier.validate(_claims(**overrides), **_EXPECTED)


def test_validate_accepts_matching_claims() -> None:
    validate_claims(_claims(), **_EXPECTED)
