"""The typed face of ArcoClient: public JSON in, frozen dataclasses out, and back."""

from __future__ import annotations

import dataclasses

import pytest

from arco_sdk.types import InvalidResponse, Namespace, Run, RunPage, TaskCounts, TriggeredRun

RUN_JSON = {
    "runId": "01RUN",
    "workspaceId": "default",
    "planId": "plan-1",
    "state": "FAILED",
    "createdAt": "2026-03-01T09:00:00Z",
    "labels": {"team": "data"},
    "taskCounts": {"total": 2, "succeeded": 1, "failed": 1},
    "tasks": [
        {"taskKey": "raw.events", "state": "SUCCEEDED", "attempt": 1, "dependsOn": []},
        {
            "taskKey": "mart.daily",
            "state": "FAILED",
            "attempt": 3,
            "errorMessage": "boom",
            "dependsOn": ["raw.events"],
            "retryAttribution": {"retries": 2, "reason": "retryable"},
        },
    ],
    "stateVersion": "42",
    "aFieldFromANewerServer": {"ignored": True},
}


def test_a_run_reads_every_declared_field_and_ignores_unknown_ones() -> None:
    run = Run.from_json(RUN_JSON)
    assert (run.run_id, run.state, run.labels, run.state_version) == (
        "01RUN",
        "FAILED",
        {"team": "data"},
        42,
    )
    assert run.task_counts == TaskCounts(total=2, succeeded=1, failed=1)
    failed = run.task("mart.daily")
    assert (failed.attempt, failed.error_message, failed.depends_on) == (3, "boom", ("raw.events",))
    assert failed.retry_attribution is not None and failed.retry_attribution.retries == 2
    with pytest.raises(KeyError):
        run.task("no.such")
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.state = "SUCCEEDED"  # type: ignore[misc]


def test_to_json_gives_the_public_json_back() -> None:
    body = {key: value for key, value in RUN_JSON.items() if key != "aFieldFromANewerServer"}
    again = Run.from_json(Run.from_json(body).to_json())
    assert again == Run.from_json(body)
    assert Run.from_json(body).to_json()["tasks"][1]["retryAttribution"] == {
        "retries": 2,
        "reason": "retryable",
    }


def test_a_missing_required_field_or_a_wrong_type_is_named() -> None:
    with pytest.raises(InvalidResponse, match=r"TriggeredRun lacks runId"):
        TriggeredRun.from_json({"state": "PENDING"})
    with pytest.raises(InvalidResponse, match=r"RunPage.runs\[0\] lacks runId"):
        RunPage.from_json({"runs": [{"state": "RUNNING"}]})
    with pytest.raises(InvalidResponse, match=r"Run.tasks\[0\].attempt must be an integer"):
        Run.from_json({"runId": "r", "tasks": [{"taskKey": "a", "attempt": "two"}]})
    with pytest.raises(InvalidResponse, match="must be a JSON object"):
        Run.from_json(["not", "an", "object"])


def test_catalog_objects_read_snake_case() -> None:
    namespace = Namespace.from_json(
        {"id": "ns1", "name": "sales", "created_at": "2026-03-01T09:00:00Z"}
    )
    assert (namespace.id, namespace.name, namespace.created_at) == (
        "ns1",
        "sales",
        "2026-03-01T09:00:00Z",
    )
    assert namespace.to_json()["created_at"] == "2026-03-01T09:00:00Z"
