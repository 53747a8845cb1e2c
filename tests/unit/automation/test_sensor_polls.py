"""Poll sensors over the folded state: a due sensor gets one request per state version
(the same in every process), an unanswered request is repeated only after the answer
timeout, the dispatcher sees each request until its provider accepts it, and a worker's
answer is bounded like any answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from arco_core.automation.sensor_polls import (
    ANSWER_TIMEOUT_MS,
    due_poll_requests,
    next_poll_due_ms,
    pending_sensor_dispatches,
    poll_answer,
)
from arco_core.canonical_json import canonical_dumps
from arco_core.errors import InvalidArgument
from arco_core.orchestration.events import (
    KnownPayload,
    ManifestDeployed,
    SensorEvaluationDispatched,
    make_event,
)
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.projection import state_from_tables, state_to_tables
from tests.unit.orchestration.orch_support import T0, TENANT, WORKSPACE, Events

MANIFEST: dict[str, Any] = {
    "assets": [{"key": {"namespace": "raw", "name": "events"}}],
    "sensors": [
        {"id": "poller", "kind": "poll", "minimumIntervalSeconds": 60, "assets": ["raw.events"]},
        {"id": "hook", "kind": "push", "assets": ["raw.events"]},
    ],
}


def _fold(state: FoldState, e: Events, payload: KnownPayload, at_ms: int) -> None:
    result = state.fold(
        [
            make_event(
                payload,
                tenant_id=TENANT,
                workspace_id=WORKSPACE,
                event_id=e.next_id(),
                timestamp_ms=at_ms,
            )
        ]
    )
    assert result.applied == 1


def _state(e: Events) -> FoldState:
    state = FoldState(tenant_id=TENANT, workspace_id=WORKSPACE)
    doc = canonical_dumps(MANIFEST)
    _fold(state, e, ManifestDeployed("m1", "v1", "fp", 1, "u", doc), T0)
    return state


def test_a_due_poll_is_requested_once_per_version_and_again_only_when_unanswered() -> None:
    e = Events()
    state, now = _state(e), T0 + 1_000
    (request,) = due_poll_requests(state, MANIFEST, now)  # the push sensor is never polled
    assert (request.sensor_id, request.eval_id) == ("poller", "poll:poller:v0:a1")
    assert due_poll_requests(state, MANIFEST, now) == [request]  # any process: the same
    _fold(state, e, request, now)
    assert due_poll_requests(state, MANIFEST, now + 1_000) == []
    loaded = state_from_tables(state_to_tables(state))  # the pending request is persisted
    assert pending_sensor_dispatches(loaded) == pending_sensor_dispatches(state)
    assert next_poll_due_ms(state, MANIFEST) == now + ANSWER_TIMEOUT_MS
    (dispatch,) = pending_sensor_dispatches(state)
    assert (dispatch.eval_id, dispatch.expected_state_version) == (request.eval_id, 0)
    ack = SensorEvaluationDispatched("poller", request.eval_id, dispatch.cloud_task_id)
    _fold(state, e, ack, now + 10)
    assert pending_sensor_dispatches(state) == []
    # Never answered: a second attempt for the same version.
    (again,) = due_poll_requests(state, MANIFEST, now + ANSWER_TIMEOUT_MS)
    assert again.eval_id == "poll:poller:v0:a2"


def test_an_applied_answer_moves_the_next_poll_one_interval_on() -> None:
    e = Events()
    state, now = _state(e), T0 + 1_000
    (request,) = due_poll_requests(state, MANIFEST, now)
    _fold(state, e, request, now)
    answer = poll_answer(
        "poller",
        request.eval_id,
        0,
        cursor="c1",
        run_requests=[{"runKey": "f1", "assets": ["raw.events"]}],
        error=None,
    )
    _fold(state, e, answer, now + 500)
    assert pending_sensor_dispatches(state) == []
    assert next_poll_due_ms(state, MANIFEST) == now + 500 + 60_000
    (nxt,) = due_poll_requests(state, MANIFEST, now + 500 + 60_000)
    assert (nxt.eval_id, nxt.expected_state_version, nxt.cursor) == ("poll:poller:v1:a1", 1, "c1")
    (row,) = state.sensor_eval_table.rows.values()
    assert json.loads(row.run_requests or "[]")[0]["run_key"] == "f1"


def test_an_answer_is_bounded_and_names_its_sensor() -> None:
    with pytest.raises(InvalidArgument) as info:
        poll_answer(
            "poller", "poll:poller:v0:a1", 0, cursor=None, run_requests=[{"runKey": ""}], error=None
        )
    assert info.value.reason == "invalid_sensor_result"
    with pytest.raises(InvalidArgument):
        poll_answer("poller", "poll:other:v0:a1", 0, cursor=None, run_requests=[], error=None)
    failed = poll_answer(
        "poller", "poll:poller:v0:a1", 0, cursor="c", run_requests=[], error="boom"
    )
    assert failed.error_message == "boom" and failed.run_requests == ()
