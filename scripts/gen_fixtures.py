"""Write the test fixtures the project owns, from its own code: `python scripts/gen_fixtures.py`.

* ``tests/fixtures/worker_protocol/*.json``: one example of every worker-protocol document,
  built as proto messages and rendered by ``arco_core.wire.worker_protocol.to_json``;
* ``tests/fixtures/golden_schemas/<domain>/<table>.schema.json``: the Parquet schema of every
  published table, so a change of the stored contract shows up as a reviewed diff.

``--check`` writes nothing and exits 1 naming every file that differs (CI runs it through
``tests/contract/test_fixtures.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
from arco.orchestration.v1 import task_callback_service_pb2 as callback_pb
from arco.orchestration.v1 import worker_protocol_pb2 as worker_pb
from google.protobuf import struct_pb2, timestamp_pb2

from arco_core.catalog.projection import CATALOG_SCHEMAS
from arco_core.ids import callback_task_id, dispatch_id
from arco_core.orchestration.projection import SCHEMAS as ORCHESTRATION_SCHEMAS
from arco_core.orchestration.state import DEFAULT_WORKER_QUEUE
from arco_core.wire.worker_protocol import to_json

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"

TENANT, WORKSPACE, RUN, TASK_KEY = "acme", "analytics", "run-0042", "sales.daily_totals"
ATTEMPT_ID, WORKER = "att-7f3a", "worker-eu-1"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
T0 = 1_772_355_600  # 2026-03-01T09:00:00Z

ARROW_NAMES = {
    pa.string(): "Utf8",
    pa.int32(): "Int32",
    pa.int64(): "Int64",
    pa.uint32(): "UInt32",
    pa.bool_(): "Boolean",
}


def _ts(seconds: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds)


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(values)
    return out


def worker_protocol() -> dict[str, Any]:
    envelope = worker_pb.WorkerDispatchEnvelope(
        tenant_id=TENANT,
        workspace_id=WORKSPACE,
        task_id=callback_task_id(RUN, TASK_KEY),
        task_key=TASK_KEY,
        run_id=RUN,
        attempt=1,
        attempt_id=ATTEMPT_ID,
        dispatch_id=dispatch_id(RUN, TASK_KEY, 1),
        execution_location_id="local",
        partition_key="day=d:2026-03-01",
        heartbeat_timeout_sec=120,
        worker_queue=DEFAULT_WORKER_QUEUE,
        callback_base_url="http://127.0.0.1:8080",
        task_token="task-token",
        token_expires_at=_ts(T0 + 3600),
        traceparent=TRACEPARENT,
        payload=_struct({"partition": "day=2026-03-01"}),
    )
    modern = to_json(envelope)
    # What older dispatchers sent: snake_case keys, no taskId, partitionKey or traceparent.
    legacy_fields = [
        "tenant_id", "workspace_id", "run_id", "task_key", "attempt", "attempt_id",
        "dispatch_id", "execution_location_id", "worker_queue", "callback_base_url",
        "task_token", "token_expires_at", "payload",
    ]  # fmt: skip
    legacy = {name: modern[_camel(name)] for name in legacy_fields}
    heartbeat_response = callback_pb.TaskHeartbeatResponse(
        acknowledged=True, should_cancel=False, server_time=_ts(T0 + 30)
    )
    return {
        "worker_dispatch_envelope.json": modern,
        "worker_dispatch_envelope_legacy_snake_case.json": legacy,
        "task_started_request.json": to_json(
            callback_pb.TaskStartedRequest(
                attempt=1,
                attempt_id=ATTEMPT_ID,
                worker_id=WORKER,
                traceparent=TRACEPARENT,
                started_at=_ts(T0 + 2),
            )
        ),
        "heartbeat_request.json": to_json(
            callback_pb.TaskHeartbeatRequest(
                attempt=1,
                attempt_id=ATTEMPT_ID,
                worker_id=WORKER,
                heartbeat_at=_ts(T0 + 29),
                progress_pct=60,
                message="writing partition",
            )
        ),
        # The gateway answers every field, a false shouldCancel included.
        "heartbeat_response.json": {
            "acknowledged": True,
            "shouldCancel": False,
            **to_json(heartbeat_response),
        },
        "task_completed_request.json": to_json(
            callback_pb.TaskCompletedRequest(
                attempt=1,
                attempt_id=ATTEMPT_ID,
                worker_id=WORKER,
                outcome="FAILED",
                completed_at=_ts(T0 + 41),
                error=worker_pb.TaskError(
                    category="INFRASTRUCTURE",
                    message="object store timed out",
                    retryable=True,
                ),
                metrics=worker_pb.TaskMetrics(
                    cpu_time_ms=850,
                    peak_memory_bytes=64 << 20,
                    io_read_bytes=3 << 20,
                    io_write_bytes=1 << 20,
                ),
            )
        ),
        "callback_error_payload.json": to_json(
            worker_pb.CallbackError(
                error="attempt_id_mismatch",
                message="Expected attempt_id att-7f3a, received att-0001",
                state="RUNNING",
                expected_attempt=1,
                received_attempt=1,
                expected_attempt_id=ATTEMPT_ID,
                received_attempt_id="att-0001",
            )
        ),
    }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def golden_schema(name: str, schema: pa.Schema) -> dict[str, Any]:
    return {
        "name": name,
        "version": 1,
        "fields": [
            {"name": f.name, "data_type": ARROW_NAMES[f.type], "nullable": f.nullable}
            for f in schema
        ],
    }


def fixtures() -> dict[Path, str]:
    """Every owned fixture file and its exact text."""
    out: dict[Path, str] = {}
    for name, document in worker_protocol().items():
        out[FIXTURES / "worker_protocol" / name] = _dump(document)
    for domain, schemas in (("catalog", CATALOG_SCHEMAS), ("orchestration", ORCHESTRATION_SCHEMAS)):
        for name, schema in schemas.items():
            path = FIXTURES / "golden_schemas" / domain / f"{name}.schema.json"
            out[path] = _dump(golden_schema(name, schema))
    return out


def _dump(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def stale(expected: Mapping[Path, str]) -> list[str]:
    """Owned fixture files that differ from what the code generates, or should not exist."""
    problems = [
        str(path.relative_to(ROOT))
        for path, text in expected.items()
        if not path.exists() or path.read_text() != text
    ]
    for directory in ("worker_protocol", "golden_schemas"):
        for path in sorted((FIXTURES / directory).rglob("*.json")):
            if path not in expected:
                problems.append(f"{path.relative_to(ROOT)} (not generated)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; fail on drift")
    args = parser.parse_args(argv)
    expected = fixtures()
    if args.check:
        problems = stale(expected)
        for problem in problems:
            print(f"fixture out of date: {problem}", file=sys.stderr)
        if problems:
            print("run: python scripts/gen_fixtures.py", file=sys.stderr)
        return 1 if problems else 0
    for path, text in expected.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {len(expected)} fixtures under {FIXTURES.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
