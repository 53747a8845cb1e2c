"""Each RPC served by its own scope's servicers.

The api opens, per tenant/workspace scope, its dependencies (:class:`ApiDeps`) and one
instance of every servicer over them (:class:`ScopeServices`), kept in the bounded LRU of
:class:`~services.common.scopes.OpenScopes`. The servicers registered on the server are
routers (:func:`routed`): each call takes its scope from the verified credential only
(the user's identity, or a worker's task token) and runs on that scope's servicer. A
servicer never sees another scope's deps, so no check inside one can be forgotten.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from arco_core.errors import InvalidToken
from arco_core.paths import Scope
from arco_core.tokens import TaskTokenVerifier
from services.api.auth import caller_scope, takes_user
from services.api.callback_limits import CallbackLimits
from services.api.callbacks import StartedFolds, bearer_token
from services.api.deps import ApiDeps
from services.common.runner import BackgroundLoop
from services.common.scopes import OpenScopes
from services.common.server import RpcContext as Context


@dataclasses.dataclass
class ScopeServices:
    """One scope's deps and servicers (service name to servicer)."""

    deps: ApiDeps
    started_folds: StartedFolds
    servicers: Mapping[str, object]

    @property
    def loops(self) -> Sequence[BackgroundLoop]:
        return (self.deps.orchestration_heads,)

    async def close(self) -> None:
        await self.started_folds.drain()


class CallScope:
    """The scope of a call, from its verified credential only."""

    def __init__(self, task_tokens: TaskTokenVerifier, limits: CallbackLimits) -> None:
        self._task_tokens = task_tokens
        self._limits = limits

    def of(self, method: str, context: Context) -> Scope:
        if takes_user(method):
            return caller_scope()  # authenticated by the AuthInterceptor
        token = bearer_token(context.invocation_metadata())
        try:
            if token is None:
                raise InvalidToken("missing bearer token")
            claims = self._task_tokens.decode(token)
        except InvalidToken:
            self._limits.unverified(context.peer())  # 429 once a client keeps failing
            raise
        return Scope(claims.tenant_id, claims.workspace_id)


def routed(
    base: type[Any],
    service: str,
    scopes: OpenScopes[ScopeServices],
    call_scope: CallScope,
    *,
    unscoped: object | None = None,
) -> Any:
    """An instance of the gRPC servicer ``base`` whose every RPC runs on the servicer of
    the call's scope; RPCs ``unscoped`` defines (tenant-level ones) run on it instead."""

    def delegate(name: str) -> Callable[..., Awaitable[Any]]:
        method = f"/{service}/{name}"
        local = getattr(unscoped, name, None) if unscoped is not None else None
        if local is not None:

            async def tenant_rpc(self: object, request: Any, context: Context) -> Any:
                return await local(request, context)

            return tenant_rpc

        async def scoped_rpc(self: object, request: Any, context: Context) -> Any:
            async with scopes.use(call_scope.of(method, context)) as opened:
                return await getattr(opened.servicers[service], name)(request, context)

        return scoped_rpc

    names = [
        name
        for name, member in inspect.getmembers(base, inspect.isfunction)
        if not name.startswith("_")
    ]
    router = type(f"Routed{base.__name__}", (base,), {name: delegate(name) for name in names})
    return router()
