"""Users: their JWT, verified the same way by the gateway and the api, and their roles.

A person (or a tool acting for one) proves who they are with a bearer JWT. The gateway
verifies it for the REST surface and forwards the result as a signed identity
(:mod:`arco_runtime.identity`); the api verifies it itself for direct gRPC callers (the
Envoy edge, generated SDKs, operator tools). Both read the same ``ARCO_JWT_*`` rows
(:data:`JWT_SETTINGS`) into a :class:`JwtConfig` and call :func:`verify_jwt`, so a token
the gateway accepts is a token the api accepts.

What a user may do is a :class:`~arco_runtime.authz.UserRole` (viewer < operator <
admin); :class:`GroupRoles` maps the groups of the token to roles
(``ARCO_AUTH_GROUP_ROLES``), and the authorization matrix names the role each public
RPC needs (:func:`arco_runtime.authz.grant_for`).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jwt

from arco_runtime.authz import UserRole
from arco_runtime.identity import MAX_PRINCIPAL_TEXT, principal_text_ok
from arco_runtime.posture import check_secrets
from arco_runtime.settings import ConfigError, Setting, number, setting_field, text

JWT_SECRET = text(
    "ARCO_JWT_SECRET",
    "HS256 key of user bearer tokens (outside dev this or an RS256 public key is required "
    "by the gateway; at least 32 bytes outside dev)",
    secret=True,
)
JWT_PUBLIC_KEY_PEM = text(
    "ARCO_JWT_PUBLIC_KEY_PEM", "RS256 public key, PEM text (\\n escapes allowed)"
)
JWT_PUBLIC_KEY_PATH = text(
    "ARCO_JWT_PUBLIC_KEY_PATH", "RS256 public key, PEM file (exclusive with the other keys)"
)
JWT_ISSUER = text(
    "ARCO_JWT_ISSUER", "required iss of user tokens", required="outside dev, with a JWT key"
)
JWT_AUDIENCE = text(
    "ARCO_JWT_AUDIENCE", "required aud of user tokens", required="outside dev, with a JWT key"
)
JWT_TENANT_CLAIM = text("ARCO_JWT_TENANT_CLAIM", "claim holding the tenant id", "tenant")
JWT_WORKSPACE_CLAIM = text(
    "ARCO_JWT_WORKSPACE_CLAIM", "claim holding the workspace id", "workspace"
)
JWT_USER_CLAIM = text(
    "ARCO_JWT_USER_CLAIM", "claim holding the user id (every token must carry it)", "sub"
)
JWT_GROUPS_CLAIM = text(
    "ARCO_JWT_GROUPS_CLAIM", "claim holding the groups, a string or a list", "groups"
)
JWT_LEEWAY_SEC = number("ARCO_JWT_LEEWAY_SEC", "clock skew allowed on exp/nbf, seconds", 60.0)

# Every row of a JwtConfig, in the order --help and the docs list them.
JWT_SETTINGS: tuple[Setting[Any], ...] = (
    JWT_SECRET,
    JWT_PUBLIC_KEY_PEM,
    JWT_PUBLIC_KEY_PATH,
    JWT_ISSUER,
    JWT_AUDIENCE,
    JWT_TENANT_CLAIM,
    JWT_WORKSPACE_CLAIM,
    JWT_USER_CLAIM,
    JWT_GROUPS_CLAIM,
    JWT_LEEWAY_SEC,
)

GROUP_ROLES = text(
    "ARCO_AUTH_GROUP_ROLES",
    "user roles by JWT group, group=role comma-separated (roles viewer, operator, admin; "
    "e.g. data-eng=operator,platform=admin); it replaces the default, under which groups "
    "named viewer, operator and admin are those roles. In dev, unset means every user is admin",
    default_doc="viewer=viewer,operator=operator,admin=admin",
)

_SCOPE_ID = re.compile(r"^[a-z0-9_-]{1,128}$")
_BEARER = re.compile(r"^Bearer[ \t]+(\S+)[ \t]*$", re.IGNORECASE)


class TokenError(ValueError):
    """A bearer token that does not verify. ``reason`` is for the log, never the caller:
    ``no_key`` (no JWT key configured), ``invalid_token`` (signature, expiry, issuer,
    audience, algorithm or format) or ``invalid_claims`` (a scope or user claim)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ScopeIdError(ValueError):
    """A tenant or workspace id that is not ``[a-z0-9_-]{1,128}`` once lower-cased."""


@dataclasses.dataclass(frozen=True)
class User:
    """A verified user: the scope their token names, who they are, their groups."""

    tenant: str
    workspace: str
    user: str
    groups: tuple[str, ...]


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value (None when it is not one)."""
    match = _BEARER.match(authorization)
    return match.group(1) if match else None


def scope_id(name: str, raw: str) -> str:
    """A tenant or workspace id as stored: lower-cased, or :class:`ScopeIdError`."""
    value = raw.strip().lower()
    if not _SCOPE_ID.fullmatch(value):
        raise ScopeIdError(f"{name} must match [a-z0-9_-]+")
    return value


def groups_of(raw: Any) -> tuple[str, ...]:
    """A groups claim (a string or a list of strings) as a sorted tuple without blanks."""
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValueError("groups claim must be a string or a list of strings")
    groups = tuple(sorted({item.strip() for item in items if item.strip()}))
    if not all(principal_text_ok(group) for group in groups):
        raise ValueError(
            f"groups must be at most {MAX_PRINCIPAL_TEXT} characters without control characters"
        )
    return groups


def user_id(raw: str) -> str:
    """A user id claim or header, checked (``ValueError`` names what is wrong)."""
    if not principal_text_ok(raw):
        raise ValueError(
            f"user id must be at most {MAX_PRINCIPAL_TEXT} characters without control characters"
        )
    return raw


@dataclasses.dataclass(frozen=True)
class JwtConfig:
    """How user bearer tokens are verified (one key: an HS256 secret or an RS256 key)."""

    secret: str = setting_field(JWT_SECRET)
    public_key_pem: str = ""  # ARCO_JWT_PUBLIC_KEY_PEM, or the file ARCO_JWT_PUBLIC_KEY_PATH
    issuer: str = setting_field(JWT_ISSUER)
    audience: str = setting_field(JWT_AUDIENCE)
    tenant_claim: str = setting_field(JWT_TENANT_CLAIM)
    workspace_claim: str = setting_field(JWT_WORKSPACE_CLAIM)
    user_claim: str = setting_field(JWT_USER_CLAIM)
    groups_claim: str = setting_field(JWT_GROUPS_CLAIM)
    leeway_sec: float = setting_field(JWT_LEEWAY_SEC)

    def __post_init__(self) -> None:
        if self.secret and self.public_key_pem:
            raise ConfigError("configure either ARCO_JWT_SECRET or an RS256 public key, not both")

    @property
    def algorithm(self) -> str:
        return "HS256" if self.secret else "RS256"

    @property
    def key(self) -> str:
        return self.secret or self.public_key_pem

    @property
    def configured(self) -> bool:
        return bool(self.secret or self.public_key_pem)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> JwtConfig:
        pem = JWT_PUBLIC_KEY_PEM.read(env).replace("\\n", "\n")
        pem_path = JWT_PUBLIC_KEY_PATH.read(env)
        if pem and pem_path:
            raise ConfigError("set ARCO_JWT_PUBLIC_KEY_PEM or ARCO_JWT_PUBLIC_KEY_PATH, not both")
        if pem_path:
            try:
                pem = Path(pem_path).read_text()
            except OSError as exc:
                raise ConfigError(f"ARCO_JWT_PUBLIC_KEY_PATH unreadable: {exc}") from None
        return cls(
            secret=JWT_SECRET.read(env),
            public_key_pem=pem,
            issuer=JWT_ISSUER.read(env),
            audience=JWT_AUDIENCE.read(env),
            tenant_claim=JWT_TENANT_CLAIM.read(env),
            workspace_claim=JWT_WORKSPACE_CLAIM.read(env),
            user_claim=JWT_USER_CLAIM.read(env),
            groups_claim=JWT_GROUPS_CLAIM.read(env),
            leeway_sec=JWT_LEEWAY_SEC.read(env),
        )

    def check(self, environment: str, *, key_required: bool) -> None:
        """The posture rules: outside dev a configured verifier checks issuer and audience
        and an HS256 key is at least 32 bytes; ``key_required`` (the gateway, whose users
        all arrive with a token) also needs a key outside dev."""
        if environment == "dev" or not (self.configured or key_required):
            return
        missing = [
            name
            for name, value in (
                ("ARCO_JWT_SECRET or ARCO_JWT_PUBLIC_KEY_*", self.configured),
                (JWT_ISSUER.name, self.issuer),
                (JWT_AUDIENCE.name, self.audience),
            )
            if not value
        ]
        if missing:
            raise ConfigError(f"ARCO_ENVIRONMENT={environment} requires {', '.join(missing)}")
        if self.secret:
            check_secrets(environment, [(JWT_SECRET, self.secret)])


def verify_jwt(token: str, config: JwtConfig) -> User:
    """The user a bearer token names, if it verifies under ``config``.

    ``exp`` is required, ``nbf`` honoured, ``iss``/``aud`` checked when configured, and
    only the configured algorithm is accepted (no ``none``, no HS256 signed with an RS256
    public key). Raises :class:`TokenError`, or :class:`ScopeIdError` for a verified token
    whose tenant or workspace is not a valid id.
    """
    if not config.configured:
        raise TokenError("no_key", "no JWT key configured")
    required = ["exp"]
    if config.issuer:
        required.append("iss")
    if config.audience:
        required.append("aud")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            config.key,
            algorithms=[config.algorithm],
            audience=config.audience or None,
            issuer=config.issuer or None,
            leeway=config.leeway_sec,
            options={"require": required, "verify_aud": bool(config.audience)},
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise TokenError("invalid_token", type(exc).__name__) from None
    values = {}
    for name, claim in (
        ("tenant", config.tenant_claim),
        ("workspace", config.workspace_claim),
        ("user", config.user_claim),
    ):
        value = claims.get(claim)
        if not isinstance(value, str) or not value.strip():
            raise TokenError("invalid_claims", f"claim for {name} missing or not a string")
        values[name] = value
    try:
        user = user_id(values["user"])
        groups = groups_of(claims.get(config.groups_claim))
    except ValueError as exc:
        raise TokenError("invalid_claims", str(exc)) from None
    return User(
        tenant=scope_id("tenant", values["tenant"]),
        workspace=scope_id("workspace", values["workspace"]),
        user=user,
        groups=groups,
    )


# -- roles ------------------------------------------------------------------------------

DEFAULT_GROUP_ROLES: Mapping[str, UserRole] = {role.label: role for role in UserRole}


def parse_group_roles(spec: str) -> Mapping[str, UserRole]:
    """``group=role,group=role`` as a mapping (ConfigError naming the bad entry)."""
    labels = {role.label: role for role in UserRole}
    mapping: dict[str, UserRole] = {}
    for entry in spec.split(","):
        if not entry.strip():
            continue
        group, sep, role = (part.strip() for part in entry.partition("="))
        if not sep or not group or role.lower() not in labels:
            raise ConfigError(
                f"{GROUP_ROLES.name}: {entry.strip()!r} is not group=role with role one of "
                f"{', '.join(labels)}"
            )
        if group in mapping and mapping[group] is not labels[role.lower()]:
            raise ConfigError(f"{GROUP_ROLES.name}: group {group!r} is given two roles")
        mapping[group] = labels[role.lower()]
    return mapping


@dataclasses.dataclass(frozen=True)
class GroupRoles:
    """The user roles the groups of a token grant (``ARCO_AUTH_GROUP_ROLES``).

    Unset: groups named ``viewer``, ``operator`` and ``admin`` are those roles, and in dev
    posture every user is admin. Set: exactly the configured mapping, in every posture. A
    user holds every role their groups grant; the highest decides.
    """

    spec: str = setting_field(GROUP_ROLES)

    def __post_init__(self) -> None:
        _ = self.mapping  # a bad mapping refuses to start

    @functools.cached_property
    def mapping(self) -> Mapping[str, UserRole]:
        return parse_group_roles(self.spec) if self.spec else DEFAULT_GROUP_ROLES

    @property
    def configured(self) -> bool:
        return bool(self.spec)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GroupRoles:
        return cls(spec=GROUP_ROLES.read(env))

    def roles_of(self, groups: Iterable[str], *, dev: bool) -> tuple[UserRole, ...]:
        """Every role ``groups`` grant, lowest first (dev without a mapping: admin)."""
        if dev and not self.configured:
            return (UserRole.ADMIN,)
        return tuple(sorted({self.mapping[g] for g in groups if g in self.mapping}))


def describe_roles(roles: tuple[UserRole, ...]) -> str:
    return ", ".join(role.label for role in roles) if roles else "none"
