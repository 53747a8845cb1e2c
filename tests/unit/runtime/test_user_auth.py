"""arco_runtime.user_auth: the JWT verification the gateway and the api share, its posture
rules, and the mapping of groups to user roles."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from arco_runtime.authz import UserRole
from arco_runtime.settings import ConfigError
from arco_runtime.user_auth import (
    DEFAULT_GROUP_ROLES,
    GroupRoles,
    JwtConfig,
    ScopeIdError,
    TokenError,
    User,
    bearer_token,
    parse_group_roles,
    verify_jwt,
)

KEY = "k" * 32
CONFIG = JwtConfig(secret=KEY, issuer="https://issuer.test", audience="arco-api")


def _token(key: str = KEY, drop: tuple[str, ...] = (), **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": "https://issuer.test",
        "aud": "arco-api",
        "sub": "ana",
        "tenant": "ACME",
        "workspace": "prod",
        "groups": ["b", " a ", "b", ""],
        # Minted at collection: long enough for a whole suite to reach the test.
        "exp": now + 86_400,
        **claims,
    }
    for name in drop:
        payload.pop(name)
    return jwt.encode(payload, key, algorithm="HS256")


def test_a_valid_token_names_the_user_with_normalised_scope_and_groups() -> None:
    assert verify_jwt(_token(), CONFIG) == User("acme", "prod", "ana", ("a", "b"))
    assert verify_jwt(_token(groups="ops"), CONFIG).groups == ("ops",)


@pytest.mark.parametrize(
    ("case", "token", "reason"),
    [
        ("bad_key", _token(key="x" * 32), "invalid_token"),
        ("expired", _token(exp=int(time.time()) - 3600), "invalid_token"),
        ("no_exp", _token(drop=("exp",)), "invalid_token"),
        ("wrong_issuer", _token(iss="https://evil.test"), "invalid_token"),
        ("no_audience", _token(drop=("aud",)), "invalid_token"),
        ("garbage", "not.a.jwt", "invalid_token"),
        ("no_user", _token(drop=("sub",)), "invalid_claims"),
        ("tenant_not_a_string", _token(tenant=7), "invalid_claims"),
        ("groups_not_strings", _token(groups=[1]), "invalid_claims"),
    ],
)
def test_bad_tokens_are_token_errors(case: str, token: str, reason: str) -> None:
    with pytest.raises(TokenError) as info:
        verify_jwt(token, CONFIG)
    assert info.value.reason == reason, case


def test_scope_ids_and_keys() -> None:
    with pytest.raises(ScopeIdError, match="tenant must match"):
        verify_jwt(_token(tenant="acme/../other"), CONFIG)
    with pytest.raises(TokenError) as info:
        verify_jwt(_token(), JwtConfig())
    assert info.value.reason == "no_key"
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None and bearer_token("Bearer a b") is None


def test_from_env_reads_every_row_and_one_key() -> None:
    config = JwtConfig.from_env(
        {
            "ARCO_JWT_PUBLIC_KEY_PEM": "-----BEGIN\\nX",
            "ARCO_JWT_ISSUER": "i",
            "ARCO_JWT_AUDIENCE": "a",
            "ARCO_JWT_GROUPS_CLAIM": "roles",
            "ARCO_JWT_LEEWAY_SEC": "5",
        }
    )
    assert (config.public_key_pem, config.algorithm, config.groups_claim) == (
        "-----BEGIN\nX",
        "RS256",
        "roles",
    )
    assert config.leeway_sec == 5.0
    with pytest.raises(ConfigError, match="not both"):
        JwtConfig.from_env({"ARCO_JWT_SECRET": KEY, "ARCO_JWT_PUBLIC_KEY_PEM": "p"})
    with pytest.raises(ConfigError, match="ARCO_JWT_PUBLIC_KEY_PATH unreadable"):
        JwtConfig.from_env({"ARCO_JWT_PUBLIC_KEY_PATH": "/nonexistent/key.pem"})


def test_posture_rules() -> None:
    # dev: anything goes; outside dev a configured verifier is complete and long enough
    JwtConfig(secret="short").check("dev", key_required=True)
    JwtConfig().check("dev", key_required=True)
    JwtConfig().check("prod", key_required=False)  # the api without direct users
    CONFIG.check("prod", key_required=True)
    with pytest.raises(ConfigError, match="requires ARCO_JWT_SECRET or ARCO_JWT_PUBLIC_KEY_"):
        JwtConfig().check("prod", key_required=True)
    with pytest.raises(ConfigError, match="requires ARCO_JWT_ISSUER, ARCO_JWT_AUDIENCE"):
        JwtConfig(secret=KEY).check("staging", key_required=False)
    with pytest.raises(ConfigError, match="ARCO_JWT_SECRET must be at least 32 bytes"):
        JwtConfig(secret="short", issuer="i", audience="a").check("prod", key_required=False)
    JwtConfig(public_key_pem="pem", issuer="i", audience="a").check("prod", key_required=True)


def test_group_roles_default_configured_and_dev() -> None:
    default = GroupRoles()
    assert default.mapping == DEFAULT_GROUP_ROLES and not default.configured
    assert default.roles_of(["eng", "operator"], dev=False) == (UserRole.OPERATOR,)
    assert default.roles_of(["eng"], dev=False) == ()
    assert default.roles_of([], dev=True) == (UserRole.ADMIN,)  # dev without a mapping
    mapped = GroupRoles.from_env({"ARCO_AUTH_GROUP_ROLES": "data-eng=operator, platform=ADMIN"})
    assert mapped.configured
    assert mapped.roles_of(["platform", "data-eng"], dev=False) == (
        UserRole.OPERATOR,
        UserRole.ADMIN,
    )
    # a configured mapping replaces the default, in dev too
    assert mapped.roles_of(["admin"], dev=True) == ()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("data-eng", "'data-eng' is not group=role"),
        ("data-eng=owner", "'data-eng=owner' is not group=role"),
        ("=admin", "'=admin' is not group=role"),
        ("a=viewer,a=admin", "group 'a' is given two roles"),
    ],
)
def test_a_bad_mapping_refuses_to_start(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"ARCO_AUTH_GROUP_ROLES: {message}"):
        GroupRoles(spec=spec)
    assert parse_group_roles("a=viewer,,a=viewer") == {"a": UserRole.VIEWER}
