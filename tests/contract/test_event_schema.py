"""events.proto is the schema of the stored orchestration events: it and the payload
declarations (read by arco_core.codec) must name the same event types and fields, and a
stored event must survive a strict round trip through the generated message.

The stored JSON differs from proto JSON in three documented ways, translated here: enums
are lower-case names without their prefix, a trigger is ``{"type": <oneof>, ...}``, and
the worker objects (``output``, ``metrics``) are opaque to the codec. Trigger details are
plain proto3 strings, so proto JSON cannot tell an empty detail from an absent one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest
from arco.orchestration.v1 import events_pb2
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from arco_core.clock import parse_rfc3339_ms, rfc3339_ms
from arco_core.codec import Custom, Json, Nested, NestedList, Rule, Timestamp
from arco_core.orchestration import events
from arco_core.orchestration.values import ORCHESTRATION_CODEC, TRIGGER_FIELDS, TriggerInfo
from tests.unit.core.event_golden import orchestration_samples

_ENVELOPE = events_pb2.OrchestrationEvent.DESCRIPTOR
_ONEOF = {f.name: f.message_type for f in _ENVELOPE.oneofs_by_name["data"].fields}
# Proto fields no stored payload carries, and why.
_PROTO_ONLY = {
    # The stored finished event and the completion record share one message.
    ("TaskFinishedEvent", "output_visibility"),
    # TaskDef is also the API's plan input; the timeout is not part of the stored plan.
    ("TaskDef", "timeout_sec"),
}
_OUTPUT = {"materializationId": "m1", "rowCount": 3, "outputVisibilityState": "VISIBLE"}
_METRICS = {"cpuTimeMs": 12, "peakMemoryBytes": 4096}


def _samples() -> list[events.KnownPayload]:
    out: list[events.KnownPayload] = []
    for payload in orchestration_samples():
        if isinstance(payload, events.RunTriggered) and payload.trigger.kind not in TRIGGER_FIELDS:
            continue  # a trigger only code can build; it is never decoded
        if isinstance(payload, events.TaskFinished) and payload.output is not None:
            out.append(dataclasses.replace(payload, output=_OUTPUT, metrics=_METRICS))
        else:
            out.append(payload)
    return out


def _proto_field(message: Descriptor, key: str) -> FieldDescriptor | None:
    for f in message.fields:
        if key in (f.name, f.json_name):
            return f
    return None


def _record_for(rule: Rule) -> type[Any] | None:
    return rule.record if isinstance(rule, Nested | NestedList) else None


def _mismatches(record: type[Any], message: Descriptor) -> list[str]:
    problems: list[str] = []
    declared = ORCHESTRATION_CODEC.declared(record)
    matched: set[str] = set()
    for slot in declared:
        f = _proto_field(message, slot.key)
        if f is None:
            problems.append(f"{message.name} lacks {record.__name__}.{slot.key}")
            continue
        matched.add(f.name)
        nested = _record_for(slot.rule)
        if nested is not None:
            problems += _mismatches(nested, f.message_type)
    for f in message.fields:
        if f.name not in matched and (message.name, f.name) not in _PROTO_ONLY:
            problems.append(f"{record.__name__} does not declare {message.name}.{f.name}")
    return problems


def test_every_event_type_is_in_the_proto_and_back() -> None:
    declared = {cls.TYPE for cls in events.PAYLOAD_TYPES}
    assert declared == set(_ONEOF)


@pytest.mark.parametrize("payload_type", events.PAYLOAD_TYPES, ids=lambda c: c.TYPE)
def test_the_fields_match_both_ways(payload_type: type[events.KnownPayload]) -> None:
    assert _mismatches(payload_type, _ONEOF[payload_type.TYPE]) == []


def test_the_trigger_kinds_match_the_proto() -> None:
    trigger = events_pb2.RunTriggeredEvent.DESCRIPTOR.fields_by_name["trigger"].message_type
    kinds = {f.name: f.message_type for f in trigger.oneofs_by_name["trigger"].fields}
    assert set(kinds) == set(TRIGGER_FIELDS)
    for kind, names in TRIGGER_FIELDS.items():
        assert [f.name for f in kinds[kind].fields] == list(names)


def _enum_prefix(f: FieldDescriptor) -> str:
    return f.enum_type.values[0].name.removesuffix("UNSPECIFIED")


def _to_proto(record: type[Any], data: Mapping[str, Any], message: Descriptor) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for slot in ORCHESTRATION_CODEC.declared(record):
        if slot.key not in data:
            continue
        value, f = data[slot.key], _proto_field(message, slot.key)
        assert f is not None
        nested = _record_for(slot.rule)
        if f.type == FieldDescriptor.TYPE_ENUM:
            value = _enum_prefix(f) + value.upper()
        elif isinstance(slot.rule, Custom):  # the trigger union
            value = {value["type"]: {k: v for k, v in value.items() if k != "type"}}
        elif isinstance(slot.rule, NestedList) and nested is not None:
            value = [_to_proto(nested, item, f.message_type) for item in value]
        elif nested is not None:
            value = _to_proto(nested, value, f.message_type)
        out[f.name] = value
    return out


def _from_proto(record: type[Any], proto: Mapping[str, Any], message: Descriptor) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for slot in ORCHESTRATION_CODEC.declared(record):
        f = _proto_field(message, slot.key)
        assert f is not None
        if f.name not in proto or isinstance(slot.rule, Json):
            continue
        value, nested = proto[f.name], _record_for(slot.rule)
        if f.type == FieldDescriptor.TYPE_ENUM:
            if value.endswith("UNSPECIFIED"):
                continue
            value = value.removeprefix(_enum_prefix(f)).lower()
        elif isinstance(slot.rule, Custom):
            # Trigger details have no presence in proto: "" there is a detail left out.
            ((kind, fields),) = value.items()
            value = {"type": kind, **{k: v for k, v in fields.items() if v != ""}}
        elif isinstance(slot.rule, Timestamp):
            value = rfc3339_ms(parse_rfc3339_ms(value))
        elif isinstance(slot.rule, NestedList) and nested is not None:
            value = [_from_proto(nested, item, f.message_type) for item in value]
        elif nested is not None:
            value = _from_proto(nested, value, f.message_type)
        out[slot.key] = value
    return out


def _without_opaque(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("output", "metrics")}


@pytest.mark.parametrize("payload", _samples(), ids=lambda p: p.TYPE)
def test_a_stored_event_round_trips_through_the_proto(payload: events.KnownPayload) -> None:
    envelope = events.make_event(payload, tenant_id="t", workspace_id="w").to_json_dict()
    data = envelope.pop("data")
    message = _ONEOF[payload.TYPE]
    envelope[payload.TYPE] = _to_proto(type(payload), data, message)
    parsed = json_format.ParseDict(
        envelope, events_pb2.OrchestrationEvent(), ignore_unknown_fields=False
    )
    assert parsed.WhichOneof("data") == payload.TYPE
    printed = json_format.MessageToDict(
        parsed, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    back = {"type": payload.TYPE, **_from_proto(type(payload), printed[payload.TYPE], message)}
    assert _without_opaque(events.parse_payload(back).to_data()) == _without_opaque(data)
    assert isinstance(events.parse_payload(back), type(payload))


def test_a_trigger_without_a_proto_kind_is_never_stored() -> None:
    assert "custom" not in TRIGGER_FIELDS
    with pytest.raises(Exception, match="unknown trigger type"):
        TriggerInfo.from_json({"type": "custom"})


def test_the_field_check_reports_drift_both_ways() -> None:
    problems = _mismatches(events.TaskStarted, _ONEOF["task_heartbeat"])
    assert "TaskStarted does not declare TaskHeartbeatEvent.heartbeat_at" in problems
    problems = _mismatches(events.TaskHeartbeat, _ONEOF["task_started"])
    assert "TaskStartedEvent lacks TaskHeartbeat.progress_pct" in problems
