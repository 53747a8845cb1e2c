"""A folded orchestration world for the callback tests: the handler over real folds."""

from __future__ import annotations

from typing import Any

import pytest

from arco_core.envelope import EventEnvelope
from arco_core.errors import (
    ArcoError,
)
from arco_core.ids import callback_task_id
from arco_core.orchestration.callbacks import CallbackHandler
from arco_core.orchestration.fold import FoldState
from arco_core.tokens import TaskClaims
from arco_core.wire.worker_protocol import (
    parse_task_completed,
    parse_task_heartbeat,
    parse_task_started,
)
from tests.support.fixtures import protocol_fixture
from tests.unit.orchestration.orch_support import TENANT, WORKSPACE, Events, att

RUN = "r1"
NOW = 1_767_229_200_000  # 2026-01-01T01:00:00Z: the "server receipt time" of every call


def ct1(key: str, run: str = RUN) -> str:
    return callback_task_id(run, key)


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = protocol_fixture(name)
    return data


class World:
    """A folded state plus the handler; callbacks are applied by folding their event."""

    def __init__(self) -> None:
        self.ev = Events()
        self.state = FoldState(tenant_id=TENANT, workspace_id=WORKSPACE)
        self.handler = CallbackHandler(TENANT, WORKSPACE)

    def fold(self, *events: EventEnvelope) -> None:
        for event in events:
            self.state.fold([event])

    def run(self, run: str = RUN, deps: dict[str, list[str]] | None = None, **kw: Any) -> None:
        self.fold(
            self.ev.trigger(run, code_version=kw.pop("code_version", "cv-1")),
            self.ev.plan(run, deps or {"a": [], "b": ["a"]}, **kw),
        )

    def dispatch(self, key: str = "a", attempt: int = 1, run: str = RUN) -> None:
        self.fold(self.ev.dispatch(run, key, attempt))

    def claims(
        self, key: str = "a", attempt: int = 1, run: str = RUN, **overrides: Any
    ) -> TaskClaims:
        base: dict[str, Any] = {
            "task_id": ct1(key, run),
            "tenant_id": TENANT,
            "workspace_id": WORKSPACE,
            "run_id": run,
            "attempt": attempt,
            "attempt_id": att(run, key, attempt),
            "exp": 0,
        }
        return TaskClaims(**{**base, **overrides})

    def task(self, key: str = "a", run: str = RUN) -> Any:
        return self.state.get_task(run, key)

    # callbacks -------------------------------------------------------------------------

    def started(
        self, key: str = "a", attempt: int = 1, *, claims: TaskClaims | None = None, **body: Any
    ) -> Any:
        request = parse_task_started(
            {"attempt": attempt, "attemptId": att(RUN, key, attempt), "workerId": "w1", **body},
            task_id=ct1(key),
        )
        return self.started_request(request, claims or self.claims(key, attempt))

    def started_request(self, request: Any, claims: TaskClaims) -> Any:
        result = self.handler.started(
            self.state, claims, request, now_ms=NOW, event_id=self.ev.next_id()
        )
        self.fold(result.event)
        return result

    def heartbeat(
        self, key: str = "a", attempt: int = 1, *, claims: TaskClaims | None = None, **body: Any
    ) -> Any:
        request = parse_task_heartbeat(
            {"attempt": attempt, "attemptId": att(RUN, key, attempt), "workerId": "w1", **body},
            task_id=ct1(key),
        )
        result = self.handler.heartbeat(
            self.state, claims or self.claims(key, attempt), request, now_ms=NOW,
            event_id=self.ev.next_id(),
        )  # fmt: skip
        self.fold(result.event)
        return result

    def completed(
        self,
        key: str = "a",
        attempt: int = 1,
        outcome: str = "SUCCEEDED",
        *,
        claims: TaskClaims | None = None,
        **body: Any,
    ) -> Any:
        request = parse_task_completed(
            {
                "attempt": attempt,
                "attemptId": att(RUN, key, attempt),
                "workerId": "w1",
                "outcome": outcome,
                **body,
            },
            task_id=ct1(key),
        )
        result = self.handler.completed(
            self.state, claims or self.claims(key, attempt), request, now_ms=NOW,
            event_id=self.ev.next_id(),
        )  # fmt: skip
        self.fold(result.event)
        return result


@pytest.fixture
def w() -> World:
    world = World()
    world.run()
    world.dispatch("a")
    return world


def check(exc: pytest.ExceptionInfo[ArcoError], reason: str, **metadata: str) -> ArcoError:
    assert exc.value.reason == reason, exc.value
    for key, value in metadata.items():
        assert exc.value.metadata.get(key) == value, (key, exc.value.metadata)
    return exc.value
