"""`python -m arco_sdk.worker` as a real process: ready file, dispatch, SIGTERM drain."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.sdk.support import SECRET, TENANT, WORKSPACE, Recorder, ThreadedServer, envelope
from tests.support.processes import ServiceProcess, start_service


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    with ThreadedServer(rec.app()) as server:
        rec.url = server.url  # type: ignore[attr-defined]
        yield rec


def _start(tmp_path: Path, recorder: Recorder, grace: str) -> ServiceProcess:
    worker = start_service(
        "arco_sdk.worker",
        tmp_path,
        {
            "ARCO_WORKER_API_URL": recorder.url,  # type: ignore[attr-defined]
            "ARCO_WORKER_TENANT_ID": TENANT,
            "ARCO_WORKER_WORKSPACE_ID": WORKSPACE,
            "ARCO_WORKER_DISPATCH_SECRET": SECRET,
            "ARCO_WORKER_MODULES": "tests.sdk.sample_assets",
            "ARCO_WORKER_GRPC_ADDRESS": "127.0.0.1:0",
            "ARCO_WORKER_HTTP_ADDRESS": "127.0.0.1:0",
            "ARCO_WORKER_OUTPUT_DIR": str(tmp_path / "out"),
            "ARCO_WORKER_SHUTDOWN_GRACE_SEC": grace,
            "ARCO_WORKER_CANCEL_GRACE_SEC": "1",
        },
        name="worker",
    )
    worker.ready_file = tmp_path / "worker.ready.json"
    return worker


def _dispatch(address: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(
        f"http://{address}/dispatch",
        json=body,
        headers={"X-Arco-Dispatch-Secret": SECRET},
        timeout=10,
    )


def test_help_lists_options() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "arco_sdk.worker", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert "--dispatch-secret" in done.stdout and "ARCO_WORKER_API_URL" in done.stdout


def test_sigterm_drains_running_tasks(tmp_path: Path, recorder: Recorder) -> None:
    recorder.reset()
    worker = _start(tmp_path, recorder, grace="10")
    try:
        ready = worker.wait_ready(timeout=30)
        assert ready["grpc_address"] and ready["http_address"] and "t.sleepy" in ready["assets"]
        body = envelope(recorder.url, "t.sleepy", payload={"seconds": 1.5})  # type: ignore[attr-defined]
        assert _dispatch(ready["http_address"], body).status_code == 200
        worker.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        # Draining: new work is refused, the running task finishes.
        late = envelope(recorder.url, "t.sleepy", run_id="LATE", payload={"seconds": 0})  # type: ignore[attr-defined]
        with contextlib.suppress(httpx.TransportError):  # the listener may be closed already
            assert _dispatch(ready["http_address"], late).status_code == 503
        assert worker.process.wait(timeout=20) == 0, worker.log()
    finally:
        worker.kill()
    done = recorder.of("completed", body["taskId"])
    assert len(done) == 1 and done[0].body["outcome"] == "SUCCEEDED", worker.log()
    assert recorder.actions(str(late["taskId"])) == []


def test_sigterm_past_grace_reports_retryable_infrastructure_failure(
    tmp_path: Path, recorder: Recorder
) -> None:
    recorder.reset()
    worker = _start(tmp_path, recorder, grace="0.5")
    try:
        ready = worker.wait_ready(timeout=30)
        body = envelope(recorder.url, "t.sleepy", run_id="LONG", payload={"seconds": 30})  # type: ignore[attr-defined]
        assert _dispatch(ready["http_address"], body).status_code == 200
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(timeout=20) == 0, worker.log()
    finally:
        worker.kill()
    done = recorder.of("completed", body["taskId"])
    assert len(done) == 1
    assert done[0].body["outcome"] == "FAILED"
    assert done[0].body["error"]["category"] == "INFRASTRUCTURE"
    assert done[0].body["error"]["retryable"] is True
