"""The worker runtime executing assets, against a real callback recorder on loopback:
started/completed, outputs, partitions, outcome mapping, heartbeats, cancellation, logs.
Delivery and admission are in ``test_worker_dispatch.py``."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from arco_sdk.worker.heartbeat import heartbeat_interval
from arco_sdk.worker.runtime import normalize_url
from tests.sdk.worker_harness import Running

# -- pure helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        (None, 60.0),
        (0, 60.0),
        (30, 6.0),
        (100, 20.0),
        (300, 60.0),
        (3600, 60.0),
        (1, 1.0),
        (2, 1.0),
    ],
)
def test_heartbeat_interval_clamps(timeout: int | None, expected: float) -> None:
    assert heartbeat_interval(timeout) == expected


def test_heartbeat_floor_is_configurable() -> None:
    assert heartbeat_interval(1, floor=0.05) == pytest.approx(0.2)


def test_normalize_url() -> None:
    assert normalize_url("HTTP://API.Example:8080/?x=1#f") == "http://api.example:8080"
    assert normalize_url("http://h/base/") == "http://h/base"


# -- the happy path ------------------------------------------------------------------------------


async def test_started_precedes_side_effects_and_completion(worker: Running) -> None:
    body = worker.envelope("t.side_effect")
    body["payload"] = {"sideEffectUrl": f"{worker.api}/side-effect", "taskId": body["taskId"]}
    response = await worker.dispatch(body)
    assert response.status_code == 200, response.text
    assert response.json()["disposition"] == "ACCEPTED"
    completed = await worker.completed(body)
    assert completed["outcome"] == "SUCCEEDED"
    assert completed["output"] == {"rowCount": 1}
    actions = [a for a in worker.recorder.actions(body["taskId"]) if a != "heartbeat"]
    assert actions == ["started", "side_effect", "completed"]
    started = worker.recorder.of("started", body["taskId"])[0].body
    assert started["attempt"] == 1 and started["attemptId"] == body["attemptId"]
    assert started["workerId"] == "worker-test" and started["startedAt"].endswith("Z")
    assert set(completed["metrics"]) >= {"peakMemoryBytes", "cpuTimeMs"}
    headers = worker.recorder.of("started", body["taskId"])[0].headers
    assert headers["authorization"] == "Bearer task-token"


async def test_table_output_is_written_and_read_downstream(worker: Running) -> None:
    upstream = worker.envelope("t.source_table")
    assert (await worker.dispatch(upstream)).status_code == 200
    first = await worker.completed(upstream)
    assert first["outcome"] == "SUCCEEDED" and first["output"]["rowCount"] == 10
    path = Path(first["output"]["outputPath"])
    assert path.is_file() and path.is_relative_to(worker.output)
    assert first["output"]["byteSize"] == path.stat().st_size
    assert len(first["output"]["materializationId"]) == 26

    downstream = worker.envelope("t.doubled")
    assert (await worker.dispatch(downstream)).status_code == 200
    second = await worker.completed(downstream)
    assert second["outcome"] == "SUCCEEDED", second
    table = pq.read_table(second["output"]["outputPath"])
    assert table["n2"].to_pylist() == [n * 2 for n in range(10)]


async def test_partition_key_reaches_the_asset(worker: Running) -> None:
    body = worker.envelope("t.daily", partition_key="date=d:2026-01-02")
    assert (await worker.dispatch(body)).status_code == 200
    done = await worker.completed(body)
    assert done["outcome"] == "SUCCEEDED"
    assert pq.read_table(done["output"]["outputPath"])["day"].to_pylist() == ["2026-01-02"]
    assert "date=d%3A2026-01-02" in done["output"]["outputPath"]


async def test_partitioned_asset_without_key_fails_as_configuration(worker: Running) -> None:
    body = worker.envelope("t.daily")
    assert (await worker.dispatch(body)).status_code == 200
    done = await worker.completed(body)
    assert done["outcome"] == "FAILED"
    assert done["error"]["category"] == "CONFIGURATION" and done["error"]["retryable"] is False
    assert "partition" in done["error"]["message"]


async def test_unknown_asset_fails_as_configuration(worker: Running) -> None:
    body = worker.envelope("t.nope")
    assert (await worker.dispatch(body)).status_code == 200
    done = await worker.completed(body)
    assert done["error"]["category"] == "CONFIGURATION"
    assert "t.nope" in done["error"]["message"]


# -- outcome and error mapping ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task_key", "category", "retryable", "text"),
    [
        ("t.fails_plain", "USER_CODE", True, "ValueError: boom"),
        ("t.fails_retryable", "USER_CODE", True, "flaky source"),
        ("t.fails_nonretryable", "USER_CODE", False, "bad input file"),
        ("t.fails_quality", "DATA_QUALITY", False, "negative totals"),
        ("t.too_few_rows", "DATA_QUALITY", False, "expected at least 5"),
        ("t.too_slow", "TIMEOUT", True, "exceeded its timeout of 1s"),
    ],
)
async def test_failures_map_to_category_and_retryability(
    worker: Running, task_key: str, category: str, retryable: bool, text: str
) -> None:
    body = worker.envelope(task_key)
    assert (await worker.dispatch(body)).status_code == 200
    done = await worker.completed(body)
    assert done["outcome"] == "FAILED"
    assert done["error"]["category"] == category
    assert done["error"]["retryable"] is retryable
    assert text in done["error"]["message"]


async def test_user_code_failure_carries_stack_trace(worker: Running) -> None:
    body = worker.envelope("t.fails_plain")
    await worker.dispatch(body)
    done = await worker.completed(body)
    assert "Traceback" in done["error"]["stackTrace"]
    assert "sample_assets.py" in done["error"]["stackTrace"]


async def test_raise_if_cancelled_reports_cancelled(worker: Running) -> None:
    body = worker.envelope("t.cancels_itself")
    await worker.dispatch(body)
    done = await worker.completed(body)
    assert done["outcome"] == "CANCELLED"
    assert "error" not in done


# -- heartbeats and cancellation ----------------------------------------------------------------------


async def test_heartbeats_follow_the_interval(worker: Running) -> None:
    # heartbeatTimeoutSec=1 -> interval 0.2 s (floor 0.05 s in this worker).
    body = worker.envelope("t.sleepy", heartbeat_timeout_sec=1, payload={"seconds": 1.1})
    await worker.dispatch(body)
    await worker.completed(body)
    beats = worker.recorder.of("heartbeat", body["taskId"])
    assert 3 <= len(beats) <= 7, len(beats)
    gaps = [b.at - a.at for a, b in itertools.pairwise(beats)]
    assert all(0.12 < gap < 0.6 for gap in gaps), gaps
    assert beats[0].body["attemptId"] == body["attemptId"]


async def test_should_cancel_cancels_the_asset(worker: Running) -> None:
    worker.recorder.heartbeat = lambda n, body: (
        200,
        {"acknowledged": True, "shouldCancel": n >= 2, "cancelReason": "user_requested"},
    )
    body = worker.envelope("t.sleepy", heartbeat_timeout_sec=1, payload={"seconds": 20})
    await worker.dispatch(body)
    done = await worker.completed(body, timeout=10)
    assert done["outcome"] == "CANCELLED"
    assert done["cancelledDuringPhase"] == "execute"
    assert len(worker.recorder.of("heartbeat", body["taskId"])) == 2


async def test_gone_heartbeat_cancels_the_asset(worker: Running) -> None:
    worker.recorder.heartbeat = lambda n, body: (
        410,
        {"error": "task_expired", "message": "Task is no longer active", "state": "CANCELLED"},
    )
    body = worker.envelope("t.sleepy", heartbeat_timeout_sec=1, payload={"seconds": 20})
    await worker.dispatch(body)
    done = await worker.completed(body, timeout=10)
    assert done["outcome"] == "CANCELLED"
    assert len(worker.recorder.of("heartbeat", body["taskId"])) == 1


async def test_asset_ignoring_cancel_is_still_reported_after_grace(worker: Running) -> None:
    worker.recorder.heartbeat = lambda n, body: (200, {"acknowledged": True, "shouldCancel": True})
    body = worker.envelope("t.stubborn", heartbeat_timeout_sec=1, payload={"seconds": 3})
    await worker.dispatch(body)
    done = await worker.completed(body, timeout=3)  # grace is 1 s; the asset sleeps 3 s
    assert done["outcome"] == "CANCELLED"


# -- traceparent and logs ------------------------------------------------------------------------------


async def test_traceparent_is_propagated_to_callbacks(worker: Running) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    body = worker.envelope("t.sleepy", payload={"seconds": 0}, traceparent=traceparent)
    await worker.dispatch(body)
    await worker.completed(body)
    for action in ("started", "completed"):
        call = worker.recorder.of(action, body["taskId"])[0]
        assert call.body["traceparent"] == traceparent
        assert call.headers["traceparent"] == traceparent


async def test_logs_are_captured_per_task_under_concurrency(worker: Running) -> None:
    bodies = [
        worker.envelope("t.printer", run_id=f"RUN{i}", payload={"marker": f"MARK{i}"})
        for i in range(3)
    ] + [worker.envelope("t.async_printer", run_id="RUNA", payload={"marker": "MARKA"})]
    responses = await asyncio.gather(*(worker.dispatch(b) for b in bodies))
    assert all(r.status_code == 200 for r in responses)
    for body in bodies:
        await worker.completed(body)
    uploads = {c.task_id: c.body for c in worker.recorder.of("logs")}
    assert len(uploads) == 4
    for i in range(3):
        upload = uploads[f"RUN{i}/t.printer"]
        assert upload["attempt"] == 1
        stdout, stderr = upload["stdout"], upload["stderr"]
        assert stdout.count(f"MARK{i} line") == 20
        assert stderr.count(f"marker='MARK{i}'") == 20
        others = [m for m in ("MARK0", "MARK1", "MARK2", "MARKA") if m != f"MARK{i}"]
        assert not any(m in stdout or m in stderr for m in others)
    async_upload = uploads["RUNA/t.async_printer"]
    assert async_upload["stdout"].count("MARKA async line") == 10
    assert "MARK0" not in async_upload["stdout"]


async def test_a_log_upload_lost_on_the_way_is_repeated_before_the_completion(
    worker: Running,
) -> None:
    """Found by the topology test: an upload that met a restarting api replica (503) was
    dropped. It is repeated; a repeat the api answers 409 ``logs_already_uploaded`` (the
    first try got through) counts as done, and the completion follows."""
    answers = iter([(503, {"code": "UNAVAILABLE", "message": "api restarting"})])

    def flaky(_number: int, _body: dict[str, object]) -> tuple[int, dict[str, object]]:
        return next(
            answers,
            (409, {"error": "logs_already_uploaded", "message": "already uploaded"}),
        )

    worker.recorder.logs = flaky
    body = worker.envelope("t.printer", payload={"marker": "M"})
    await worker.dispatch(body)
    done = await worker.completed(body)
    assert done["outcome"] == "SUCCEEDED"
    assert len(worker.recorder.of("logs")) == 2
    assert worker.recorder.actions(body["taskId"])[-1] == "completed"


async def test_a_log_upload_the_api_refuses_is_not_repeated(worker: Running) -> None:
    worker.recorder.logs = lambda _n, _b: (
        409,
        {"error": "attempt_not_started", "message": "attempt 1 has not started"},
    )
    body = worker.envelope("t.printer", payload={"marker": "M"})
    await worker.dispatch(body)
    await worker.completed(body)
    assert len(worker.recorder.of("logs")) == 1
