"""Every worker-protocol fixture parses into its proto message and round-trips."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from arco_core.canonical_json import canonical_dumps
from arco_core.errors import InvalidArgument
from arco_core.wire import worker_protocol as wire
from tests.support.fixtures import PROTOCOL_SOURCES, protocol_dir


@pytest.fixture(params=PROTOCOL_SOURCES)
def examples(request: pytest.FixtureRequest) -> Path:
    """The owned examples, then the reference's (skipped when ../shared is absent)."""
    return protocol_dir(request.param)


def _load(examples: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((examples / name).read_text())
    return data


def _camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


ROUND_TRIPS = {
    "worker_dispatch_envelope.json": wire.parse_envelope,
    "task_started_request.json": wire.parse_task_started,
    "heartbeat_request.json": wire.parse_task_heartbeat,
    "task_completed_request.json": wire.parse_task_completed,
    "callback_error_payload.json": wire.parse_callback_error,
}


def test_every_fixture_is_covered(examples: Path) -> None:
    names = {path.name for path in examples.glob("*.json")}
    covered = set(ROUND_TRIPS) | {
        "worker_dispatch_envelope_legacy_snake_case.json",
        "heartbeat_response.json",
    }
    assert names == covered


@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_fixture_round_trips(examples: Path, name: str) -> None:
    fixture = _load(examples, name)
    message = ROUND_TRIPS[name](fixture)
    assert canonical_dumps(wire.to_json(message)) == canonical_dumps(fixture)


def test_heartbeat_response_round_trips(examples: Path) -> None:
    from arco.orchestration.v1 import task_callback_service_pb2 as pb
    from google.protobuf import json_format

    fixture = _load(examples, "heartbeat_response.json")
    message = json_format.ParseDict(fixture, pb.TaskHeartbeatResponse())
    assert message.acknowledged and not message.should_cancel
    assert canonical_dumps(wire.to_json(message)) == canonical_dumps(
        {key: value for key, value in fixture.items() if value is not False}
    )


def test_legacy_snake_case_envelope_reads_and_writes_camel_case(examples: Path) -> None:
    legacy = _load(examples, "worker_dispatch_envelope_legacy_snake_case.json")
    envelope = wire.parse_envelope(legacy)
    expected = {_camel(key): value for key, value in legacy.items()}
    expected["taskId"] = legacy["task_key"]  # a missing taskId falls back to taskKey
    assert canonical_dumps(wire.to_json(envelope)) == canonical_dumps(expected)
    # Same content as the camelCase fixture wherever the legacy form carries a field.
    modern = wire.to_json(wire.parse_envelope(_load(examples, "worker_dispatch_envelope.json")))
    for key, value in expected.items():
        if key != "taskId":
            assert modern[key] == value


def test_envelope_field_numbers_match_the_reference_contract() -> None:
    from arco.orchestration.v1 import worker_protocol_pb2 as pb

    fields = pb.WorkerDispatchEnvelope.DESCRIPTOR.fields_by_name
    assert fields["tenant_id"].number == 1
    assert fields["heartbeat_timeout_sec"].number == 17
    # Beyond the reference, one extension: a sensor evaluation instead of a task attempt.
    extensions = {"sensor_evaluation"}
    reference = [field.number for name, field in fields.items() if name not in extensions]
    assert sorted(reference) == list(range(1, 18))


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"tenantId": "t"}, ["workspace_id", "run_id", "task_key", "attempt", "task_token"]),
        ({"hello": "world"}, ["hello"]),
        ({"runs": [], "tenantId": "t"}, ["runs"]),
    ],
)
def test_non_envelopes_are_rejected_naming_fields(
    payload: dict[str, Any], named: list[str]
) -> None:
    with pytest.raises(InvalidArgument) as info:
        wire.parse_envelope(payload)
    for field in named:
        assert field in info.value.message
    assert "WorkerDispatchEnvelope" in info.value.message


def test_non_object_is_rejected() -> None:
    with pytest.raises(InvalidArgument, match="expected a JSON object"):
        wire.parse_envelope(["not", "an", "envelope"])


def test_envelope_with_zero_attempt_is_rejected(examples: Path) -> None:
    fixture = _load(examples, "worker_dispatch_envelope.json")
    with pytest.raises(InvalidArgument, match="attempt must be >= 1"):
        wire.parse_envelope({**fixture, "attempt": 0})


def test_field_given_in_both_spellings_is_rejected(examples: Path) -> None:
    fixture = _load(examples, "worker_dispatch_envelope.json")
    with pytest.raises(InvalidArgument, match="given twice"):
        wire.parse_envelope({**fixture, "run_id": "other"})


def test_completed_accepts_legacy_result_alias(examples: Path) -> None:
    fixture = _load(examples, "task_completed_request.json")
    request = wire.parse_task_completed(
        {**fixture, "outcome": "SUCCEEDED", "result": {"rowCount": 7}}
    )
    assert request.output.row_count == 7


def test_heartbeat_progress_above_100_is_rejected(examples: Path) -> None:
    fixture = _load(examples, "heartbeat_request.json")
    with pytest.raises(InvalidArgument, match="progressPct"):
        wire.parse_task_heartbeat({**fixture, "progressPct": 101})


def test_unknown_outcome_is_rejected(examples: Path) -> None:
    fixture = _load(examples, "task_completed_request.json")
    with pytest.raises(InvalidArgument, match="outcome"):
        wire.parse_task_completed({**fixture, "outcome": "DONE"})
