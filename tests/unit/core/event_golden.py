"""Samples for the event-codec characterization test, and the generator of its fixture.

The fixture ``fixtures/event_codec_golden.json`` was produced by the hand-written codecs
that the declarative one replaced; regenerating it (``python -m tests.unit.core.event_golden``)
must leave it byte-identical. Each case is a full and a minimal payload of every event type,
their envelopes, and mutations of the full ``data`` (each field dropped, nulled, or given a
value of another type) with what decoding them gives: re-encoded data or the error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from arco_core.canonical_json import canonical_dumps
from arco_core.catalog import events as cat
from arco_core.errors import ArcoError
from arco_core.orchestration import events as orch
from arco_core.orchestration import values as vals

FIXTURE = Path(__file__).with_name("fixtures") / "event_codec_golden.json"
_EVENT_ID = "01JAAAAAAAAAAAAAAAAAAAAAAA"
_TS = 1_700_000_000_123
_MUTANTS: tuple[Any, ...] = (None, "", "x", 0, -1, 1, 101, True, 1.5, [], ["a"], [{}], {}, {"k": 1})


def orchestration_samples() -> list[Any]:
    error = vals.TaskError("USER_CODE", "boom", stack_trace="tb", retryable=False)
    vis = vals.OutputVisibility(vals.VisibilityState.VISIBLE, published_at=_TS, publish_error="e")
    task = vals.TaskDef("b", ("a",), "ns.b", "p=1", 5, 60, True, "gpu")
    finished: dict[str, Any] = {
        "materialization_id": "m1",
        "error_message": "bad",
        "output": {"rowCount": 3, "nested": {"a": [1, 2]}},
        "error": error,
        "metrics": {"durationMs": 12},
        "cancelled_during_phase": "run",
        "partial_progress_json": "{}",
        "asset_key": "ns.b",
        "partition_key": "p=1",
        "code_version": "v1",
    }
    attempt = ("r1", "b", 2, "att1", "w1")
    return [
        orch.RunTriggered(
            "r1",
            "p1",
            vals.TriggerInfo.manual("u1"),
            ("ns.a", "ns.b"),
            "rk",
            {"k": "v"},
            "v1",
            "r0",
            "from_failure",
            "why",
            "00-abc-01",
        ),
        orch.RunTriggered("r1", "", vals.TriggerInfo("cron", {"schedule_id": None})),
        orch.RunTriggered("r2", "p", vals.TriggerInfo("sensor", {"sensor_id": "s", "cursor": "c"})),
        orch.RunTriggered("r3", "p", vals.TriggerInfo("custom", {"z": "1", "a": None})),
        orch.PlanCreated("r1", "p1", (vals.TaskDef("a"), task)),
        orch.RunCancelRequested("r1", "u1", "stop"),
        orch.RunCancelRequested("r1", ""),
        orch.DispatchRequested("r1", "b", 2, "att1", "d1", "gpu"),
        orch.DispatchRequested("r1", "b", 1, "", "d1"),
        orch.DispatchEnqueued("d1", "ct1", "r1", "b", 2),
        orch.DispatchEnqueued("d1", ""),
        orch.TaskStarted(*attempt),
        orch.TaskHeartbeat(*attempt, _TS, 50, "half"),
        orch.TaskHeartbeat(*attempt),
        orch.TaskFinished(*attempt, orch.TaskOutcome.FAILED, **finished),
        orch.TaskFinished(*attempt, orch.TaskOutcome.SUCCEEDED),
        orch.TaskCompletionRecorded(
            *attempt, orch.TaskOutcome.SKIPPED, **finished, output_visibility=vis
        ),
        orch.TaskCompletionRecorded(
            *attempt,
            orch.TaskOutcome.CANCELLED,
            output_visibility=vals.OutputVisibility(vals.VisibilityState.PENDING),
        ),
        orch.TaskCompletionRecorded(*attempt, orch.TaskOutcome.SUCCEEDED),
        orch.TaskOutputVisibilityChanged(*attempt[:4], vals.VisibilityState.FAILED, _TS, "e"),
        orch.TaskOutputVisibilityChanged(*attempt[:4], vals.VisibilityState.VISIBLE),
        orch.TimerRequested("t1", orch.TimerType.RETRY, _TS, "r1", "b", 2),
        orch.TimerRequested("t1", orch.TimerType.CRON, 0),
        orch.TimerEnqueued("t1", "ct", "r1", "b", 2),
        orch.TimerEnqueued("t1", ""),
        orch.TimerFired("t1", orch.TimerType.SLA_CHECK, "r1", "b", 2),
        orch.TimerFired("t1", orch.TimerType.HEARTBEAT_CHECK),
        orch.ManifestDeployed("m1", "cv1", "fp", 3, "u1", '{"a":1}', "main", "abc"),
        orch.ManifestDeployed("m1", "", "fp", 0, "", "{}"),
        # -- SCHEDULES --
        orch.ScheduleDefinitionUpserted(
            "daily", "0 6 * * *", "Europe/Paris", 90, 3, ("ns.a",), True, "put:k1", "cv1"
        ),
        orch.ScheduleDefinitionUpserted("daily", "* * * * *", "UTC", 0, 1, (), False, "put:e1"),
        orch.ScheduleTicked(
            "daily:1700000000",
            "daily",
            _TS,
            orch.TickStatus.TRIGGERED,
            ("ns.a",),
            "e1",
            run_key="sched:daily:1700000000",
            run_id="run_x",
        ),
        orch.ScheduleTicked(
            "daily:1", "daily", 1000, orch.TickStatus.SKIPPED, (), "", "paused", skipped_through=_TS
        ),
        orch.ScheduleTicked("daily:2", "daily", 2000, orch.TickStatus.FAILED, (), "e", None, "bad"),
    ]


def catalog_samples() -> list[Any]:
    col = cat.ColumnRecord("c1", "id", "int64", False, 0, "key")
    return [
        cat.CatalogCreated("cat1", "main", _TS, "d"),
        cat.CatalogCreated("cat1", "main", 0),
        cat.SchemaCreated("s1", "cat1", "raw", _TS, "d"),
        cat.SchemaCreated("s1", "cat1", "raw", -5),
        cat.NamespaceDeleted("n1", "raw", _TS),
        cat.TableRegistered(
            "t1",
            "n1",
            "t",
            "delta",
            _TS,
            (col, cat.ColumnRecord("c2", "v", "string", True, 1)),
            "d",
            "gs://x",
        ),
        cat.TableRegistered("t1", "n1", "t", "delta", _TS),
        cat.TableUpdated("t1", "d", _TS),
        cat.TableUpdated("t1", None, _TS),
        cat.TableDropped("t1", "n1", "t", _TS),
        cat.LineageEdgesAdded(
            (
                cat.EdgeRecord.build("a", "b", "reads", "r1"),
                cat.EdgeRecord.build("a", "c", "writes"),
            ),
            _TS,
        ),
        cat.LineageEdgesAdded((), _TS),
    ]


def _mutations(data: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield "extra-field", {**data, "zz_unknown": 1}
    for key, value in data.items():
        if key == "type":
            continue
        dropped = dict(data)
        del dropped[key]
        yield f"drop {key}", dropped
        for mutant in _MUTANTS:
            yield f"{key}={mutant!r}", {**data, key: mutant}
        if isinstance(value, Mapping):
            for inner in value:
                for mutant in (None, "", 0, -1, True, "x", [], {}):
                    yield f"{key}.{inner}={mutant!r}", {**data, key: {**value, inner: mutant}}
        if isinstance(value, list) and value and isinstance(value[0], Mapping):
            for inner in value[0]:
                for mutant in (None, "", 0, -1, True, "x", []):
                    item = {**value[0], inner: mutant}
                    yield f"{key}[0].{inner}={mutant!r}", {**data, key: [item, *value[1:]]}


def _decode(parse: Callable[[Mapping[str, Any]], Any], data: Mapping[str, Any]) -> Any:
    try:
        payload = parse(data)
    except ArcoError as exc:
        return {"error": type(exc).__name__, "reason": exc.reason, "message": str(exc)}
    except Exception as exc:
        return {"raised": type(exc).__name__, "message": str(exc)}
    if hasattr(payload, "to_data"):
        return {"data": canonical_dumps(payload.to_data())}
    return {"unknown": canonical_dumps({"type": payload.type, "data": dict(payload.data)})}


def cases() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    domains: list[tuple[str, list[Any], Callable[[Mapping[str, Any]], Any], Callable[..., Any]]] = [
        ("orchestration", orchestration_samples(), orch.parse_payload, orch.make_event),
        ("catalog", catalog_samples(), cat.payload_from_data, cat.make_event),
    ]
    for domain, samples, parse, make in domains:
        for index, payload in enumerate(samples):
            data = payload.to_data()
            envelope = make(
                payload, tenant_id="t", workspace_id="w", event_id=_EVENT_ID, timestamp_ms=_TS
            )
            decodes = {label: _decode(parse, mutated) for label, mutated in _mutations(data)}
            out.append(
                {
                    "domain": domain,
                    "index": index,
                    "class": type(payload).__name__,
                    "envelope": envelope.canonical_bytes().decode(),
                    "roundtrip": _decode(parse, data),
                    "decodes": decodes,
                }
            )
        out.append(
            {
                "domain": domain,
                "class": "(no type)",
                "decodes": {
                    "no-type": _decode(parse, {"run_id": "r"}),
                    "int-type": _decode(parse, {"type": 3}),
                    "unknown-type": _decode(parse, {"type": "from_the_future", "x": [1]}),
                },
            }
        )
    return out


if __name__ == "__main__":
    FIXTURE.write_text(json.dumps(cases(), indent=1, sort_keys=True) + "\n")
