"""Who is calling: the gateway-signed identity, checked against this api's scope."""

from __future__ import annotations

from arco_core.clock import Clock
from arco_core.errors import NotFound, Unauthenticated
from arco_core.paths import Scope
from services.common.identity import IDENTITY_KEY, Identity, IdentityError, verify_identity
from services.common.server import RpcContext


class CallerAuth:
    """Verifies the identity metadata the gateway forwards.

    In dev posture a call without identity metadata acts as this api's own scope (local
    tools talk gRPC directly); a present but bad identity is always refused. Outside dev
    every call must carry a valid signature.
    """

    def __init__(self, scope: Scope, secret: str, clock: Clock, *, dev: bool) -> None:
        self._scope = scope
        self._secret = secret
        self._clock = clock
        self._dev = dev

    def identity(self, context: RpcContext) -> Identity:
        metadata = [(k, v) for k, v in (context.invocation_metadata() or ())]
        if self._dev and not any(key == IDENTITY_KEY for key, _ in metadata):
            return Identity(self._scope.tenant_id, self._scope.workspace_id, user="dev")
        try:
            identity = verify_identity(metadata, self._secret, self._clock.now_ms() / 1000)
        except IdentityError as exc:
            raise Unauthenticated(
                f"invalid caller identity: {exc}", reason="invalid_identity"
            ) from None
        if (identity.tenant, identity.workspace) != (
            self._scope.tenant_id,
            self._scope.workspace_id,
        ):
            # Another scope's caller reached this api: reveal nothing about this one.
            raise NotFound("workspace not found", reason="workspace_not_found")
        return identity

    def check_workspace(self, identity: Identity, workspace_id: str) -> None:
        """A path workspace that is not the caller's is NOT_FOUND, never a hint."""
        if workspace_id and workspace_id != identity.workspace:
            raise NotFound("workspace not found", reason="workspace_not_found")
