"""Authentication and scope: JWT HS256/RS256, dev headers only in dev, workspace checks."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from arco.catalog.v1 import catalog_service_pb2 as catalog_pb
from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from arco_core.errors import PermissionDenied
from arco_runtime.identity import verify_identity
from arco_runtime.settings import REDACTED, ConfigError, redacted
from arco_runtime.tls import Role
from gateway.config import GatewayConfig, JwtConfig
from tests.gateway.conftest import (
    AUDIENCE,
    IDENTITY_SECRET,
    ISSUER,
    JWT_SECRET,
    WORKSPACE,
    GatewayClient,
    Upstream,
    make_config,
    make_token,
    open_client,
)
from tests.support.tls import tls_config, tls_env


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _status(gw: GatewayClient, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    gw.upstream.script["ListNamespaces"] = catalog_pb.ListNamespacesResponse()
    response = await gw.request("GET", "/api/v1/namespaces", auth=False, headers=headers)
    return response.status_code, response.json()


async def test_valid_token_is_accepted(gw: GatewayClient) -> None:
    status, _ = await _status(gw, bearer(make_token()))
    assert status == 200


async def test_missing_authorization(gw: GatewayClient) -> None:
    status, body = await _status(gw, {"X-Request-Id": "r-9"})
    assert status == 401
    assert body == {
        "code": "MISSING_AUTH",
        "message": "Authorization header required",
        "requestId": "r-9",
    }
    assert gw.upstream.calls == []


@pytest.mark.parametrize(
    ("case", "token"),
    [
        ("expired", lambda: make_token(exp=int(time.time()) - 3600)),
        ("no_exp", lambda: make_token(drop=["exp"])),
        ("wrong_audience", lambda: make_token(aud="someone-else")),
        ("no_audience", lambda: make_token(drop=["aud"])),
        ("wrong_issuer", lambda: make_token(iss="https://evil.test")),
        ("bad_signature", lambda: make_token(secret="not-the-secret-0123456789abcdef0123")),
        ("not_yet_valid", lambda: make_token(nbf=int(time.time()) + 3600)),
        ("no_tenant", lambda: make_token(drop=["tenant"])),
        ("no_user", lambda: make_token(drop=["sub"])),
        ("tenant_not_string", lambda: make_token(tenant=7)),
        ("alg_none", lambda: jwt.encode({"tenant": "acme", "workspace": WORKSPACE, "sub": "a", "exp": int(time.time()) + 60, "iss": ISSUER, "aud": AUDIENCE}, None, algorithm="none")),
        ("garbage", lambda: "not.a.jwt"),
    ],
)  # fmt: skip
async def test_bad_tokens_are_rejected(gw: GatewayClient, case: str, token: Any) -> None:
    status, body = await _status(gw, bearer(token()))
    assert status == 401, case
    assert body["code"] == "INVALID_TOKEN"
    assert body["message"] == "Invalid bearer token"  # the reason is logged, not revealed
    assert gw.upstream.calls == []


async def test_forged_tenant_cannot_change_scope(gw: GatewayClient) -> None:
    # A token re-signed with another key claiming another tenant is refused ...
    forged = make_token(secret="attacker-key-0123456789abcdef012345", tenant="victim")
    status, _ = await _status(gw, bearer(forged))
    assert status == 401
    # ... and a genuine token for tenant B is scoped to B, whatever the request says.
    await gw.request(
        "GET", "/api/v1/namespaces", auth=False,
        headers={**bearer(make_token(tenant="other")), "X-Tenant-Id": "acme"},
    )  # fmt: skip
    assert gw.upstream.calls == []  # dev headers alongside are refused outright
    status, _ = await _status(gw, bearer(make_token(tenant="other")))
    identity = verify_identity(gw.upstream.last().metadata.items(), IDENTITY_SECRET, time.time())
    assert identity.tenant == "other"


async def test_scope_ids_are_normalised_or_refused(gw: GatewayClient) -> None:
    status, _ = await _status(gw, bearer(make_token(tenant="ACME")))
    assert status == 200
    assert (
        verify_identity(gw.upstream.last().metadata.items(), IDENTITY_SECRET, time.time()).tenant
        == "acme"
    )
    status, body = await _status(gw, bearer(make_token(tenant="acme/../other")))
    assert (status, body["code"]) == (400, "BAD_REQUEST")


async def test_groups_claim_string_or_list(gw: GatewayClient) -> None:
    await _status(gw, bearer(make_token(groups="admins")))
    assert verify_identity(
        gw.upstream.last().metadata.items(), IDENTITY_SECRET, time.time()
    ).groups == ("admins",)


async def test_workspace_mismatch_is_404(gw: GatewayClient) -> None:
    gw.upstream.script["ListRuns"] = orch_pb.ListRunsResponse()
    response = await gw.request("GET", "/api/v1/workspaces/someone-elses/runs")
    assert response.status_code == 404
    assert response.json()["message"] == "workspace not found"
    assert gw.upstream.calls == []
    response = await gw.request("GET", f"/api/v1/workspaces/{WORKSPACE}/runs")
    assert response.status_code == 200


async def test_dev_headers_refused_outside_dev(gw: GatewayClient) -> None:
    status, body = await _status(gw, {"X-Tenant-Id": "acme", "X-Workspace-Id": WORKSPACE})
    assert status == 401
    assert "dev posture" in body["message"]
    assert gw.upstream.calls == []


async def test_dev_headers_accepted_in_explicit_dev_posture(upstream: Upstream) -> None:
    config = make_config(upstream.address, environment="dev", dev_auth=True)
    async with open_client(config, upstream) as gw:
        status, _ = await _status(
            gw,
            {
                "X-Tenant-Id": "acme",
                "X-Workspace-Id": "ws1",
                "X-User-Id": "bob",
                "X-Groups": "b, a,a",
            },
        )
        assert status == 200
        identity = verify_identity(upstream.last().metadata.items(), IDENTITY_SECRET, time.time())
        assert (identity.tenant, identity.workspace, identity.user, identity.groups) == (
            "acme",
            "ws1",
            "bob",
            ("a", "b"),
        )
        status, body = await _status(gw, {"X-Tenant-Id": "acme"})
        assert status == 401 and "X-Workspace-Id" in body["message"]
        # dev posture still verifies real tokens
        status, _ = await _status(gw, bearer(make_token()))
        assert status == 200


async def test_rs256_tokens(upstream: Upstream) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    config = make_config(
        upstream.address, jwt=JwtConfig(public_key_pem=public_pem, issuer=ISSUER, audience=AUDIENCE)
    )
    async with open_client(config, upstream) as gw:
        status, _ = await _status(gw, bearer(make_token(secret=private_pem, algorithm="RS256")))
        assert status == 200
        # An HS256 token "signed" with the public key (algorithm confusion) is refused.
        status, _ = await _status(gw, bearer(make_token(secret=JWT_SECRET)))
        assert status == 401


async def test_custom_claim_names(upstream: Upstream) -> None:
    config = make_config(
        upstream.address,
        jwt=JwtConfig(secret=JWT_SECRET, issuer=ISSUER, audience=AUDIENCE, tenant_claim="org", workspace_claim="ws", user_claim="email", groups_claim="roles"),
    )  # fmt: skip
    async with open_client(config, upstream) as gw:
        token = make_token(
            org="acme", ws="w2", email="a@x", roles=["r1"], drop=["tenant", "workspace"]
        )
        status, _ = await _status(gw, bearer(token))
        assert status == 200
        identity = verify_identity(upstream.last().metadata.items(), IDENTITY_SECRET, time.time())
        assert (identity.workspace, identity.user, identity.groups) == ("w2", "a@x", ("r1",))


def _env(**settings: str) -> dict[str, str]:
    """A gateway environment with its mesh certificate (role gateway) and ``settings``."""
    return {**tls_env(Role.GATEWAY), **{f"ARCO_{k.upper()}": v for k, v in settings.items()}}


LONG = "x" * 32  # the shortest secret production accepts


def test_config_guards() -> None:
    with pytest.raises(ConfigError, match="ARCO_JWT_ISSUER"):
        GatewayConfig.from_env(
            _env(environment="prod", jwt_secret=LONG, jwt_audience="a", identity_secret=LONG)
        )
    with pytest.raises(ConfigError, match="only allowed"):
        GatewayConfig.from_env(_env(environment="staging", gateway_dev_auth="true"))
    with pytest.raises(ConfigError, match="not both"):
        GatewayConfig(jwt=JwtConfig(secret="s", public_key_pem="p"))
    with pytest.raises(ConfigError, match="ARCO_ENVIRONMENT must be one of"):
        GatewayConfig.from_env(_env(environment="qa"))
    dev = GatewayConfig.from_env(_env(environment="dev"))
    assert (dev.environment, dev.dev_auth, dev.jwt.configured) == ("dev", False, False)
    prod = GatewayConfig.from_env(
        _env(
            environment="prod",
            jwt_public_key_pem="-----BEGIN\\nX",
            jwt_issuer="i",
            jwt_audience="a",
            identity_secret=LONG,
        )
    )
    assert prod.jwt.public_key_pem == "-----BEGIN\nX" and prod.jwt.algorithm == "RS256"


def test_production_is_the_default_posture() -> None:
    # No environment at all: production, which needs the mesh certificates first ...
    with pytest.raises(ConfigError, match="ARCO_TLS_CERT"):
        GatewayConfig.from_env({})
    # ... then a JWT verifier and the identity secret.
    with pytest.raises(ConfigError, match="ARCO_ENVIRONMENT=prod requires ARCO_JWT_SECRET or"):
        GatewayConfig.from_env(_env())
    assert (
        GatewayConfig.from_env(
            _env(jwt_secret=LONG, jwt_issuer="i", jwt_audience="a", identity_secret=LONG)
        ).environment
        == "prod"
    )


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_a_jwt_without_the_identity_secret_is_refused_in_every_posture(environment: str) -> None:
    env = _env(environment=environment, jwt_secret=LONG, jwt_issuer="i", jwt_audience="a")
    with pytest.raises(ConfigError, match="a JWT key is configured but ARCO_IDENTITY_SECRET"):
        GatewayConfig.from_env(env)
    with pytest.raises(ConfigError, match="ARCO_IDENTITY_SECRET"):
        GatewayConfig.from_env({**env, "ARCO_JWT_SECRET": "", "ARCO_JWT_PUBLIC_KEY_PEM": "k"})


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("identity_secret", {"identity_secret": "short"}),
        ("jwt_secret", {"jwt_secret": "short"}),
        ("browser_url_secret", {"browser_url_secret": "short"}),
    ],
)
@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_short_secrets_are_refused_outside_dev(
    environment: str, name: str, short: dict[str, str]
) -> None:
    good = {"jwt_secret": LONG, "jwt_issuer": "i", "jwt_audience": "a", "identity_secret": LONG}
    GatewayConfig.from_env(_env(environment=environment, **good))
    with pytest.raises(ConfigError, match=f"ARCO_{name.upper()} must be at least 32 bytes"):
        GatewayConfig.from_env(_env(environment=environment, **{**good, **short}))
    # dev posture takes any length (and no browser URL secret is fine everywhere)
    GatewayConfig.from_env(_env(environment="dev", **{**good, **short}))


def test_the_browser_url_secret_is_read_through_its_row() -> None:
    config = GatewayConfig.from_env(_env(environment="dev", browser_url_secret=" k1 "))
    assert config.browser_url_secret == "k1"
    assert "browser_url_secret" in redacted(config)
    assert redacted(config)["browser_url_secret"] == REDACTED


async def test_unconfigured_dev_gateway_answers_401(upstream: Upstream) -> None:
    config = GatewayConfig(
        api_address=upstream.address, environment="dev", tls=tls_config(Role.GATEWAY)
    )
    async with open_client(config, upstream) as gw:
        status, body = await _status(gw, bearer(make_token()))
    assert (status, body["code"]) == (401, "INVALID_TOKEN")


async def test_a_permission_refusal_of_the_api_is_403_with_its_message(
    gw: GatewayClient,
) -> None:
    message = (
        "user 'alice' has roles [viewer] (groups: eng); "
        "arco.catalog.v1.CatalogService/CreateNamespace needs role admin"
    )
    gw.upstream.script["CreateNamespace"] = PermissionDenied(message, reason="insufficient_role")
    response = await gw.request("POST", "/api/v1/namespaces", json={"name": "n1"})
    assert response.status_code == 403
    body = response.json()
    assert (body["code"], body["message"]) == ("FORBIDDEN", message)
    assert body["details"]["reason"] == "insufficient_role"
