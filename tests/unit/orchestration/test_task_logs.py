"""The stored log of an attempt fits the upload limit without losing a stream."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from arco_core.orchestration.task_logs import STDERR_HEADER, task_log_bytes
from arco_sdk.worker.capture import DEFAULT_LIMIT_BYTES, TaskCapture

LIMIT = 2 * 1024 * 1024  # the api's default ARCO_LOG_MAX_BYTES


def test_two_streams_the_worker_capped_fit_the_default_limit() -> None:
    # The worker caps each stream at 1 MiB and appends its marker: together with the
    # separator they were over 2 MiB, and the api refused the upload (both streams lost).
    capture = TaskCapture()
    capture.write_stdout("o" * (DEFAULT_LIMIT_BYTES + 10))
    capture.write_stderr("e" * (DEFAULT_LIMIT_BYTES + 10))
    data = task_log_bytes(capture.stdout, capture.stderr, LIMIT)
    assert len(data) <= LIMIT
    text = data.decode()
    assert text.startswith("o" * 1000)
    assert STDERR_HEADER + "e" * 1000 in text
    assert text.count("truncated") >= 2


def test_a_log_that_fits_is_stored_as_it_was() -> None:
    assert task_log_bytes("hello\n", "warn\n", LIMIT) == b"hello\n\n--- stderr ---\nwarn\n"
    assert task_log_bytes("hello\n", "", LIMIT) == b"hello\n"
    assert task_log_bytes("", "warn\n", LIMIT) == b"--- stderr ---\nwarn\n"


texts = st.text(alphabet=st.sampled_from("ab\né€😀"), max_size=3000)


@given(stdout=texts, stderr=texts, limit=st.integers(min_value=200, max_value=4000))
def test_any_log_fits_and_stays_utf8(stdout: str, stderr: str, limit: int) -> None:
    data = task_log_bytes(stdout, stderr, limit)
    assert len(data) <= limit
    text = data.decode("utf-8")  # cut on character boundaries
    whole = len(stdout.encode()) + len(stderr.encode()) + len(STDERR_HEADER) + 1
    if whole <= limit:
        assert "truncated" not in text or "truncated" in stdout + stderr
    if stderr:
        assert STDERR_HEADER in text  # a stream is cut, never dropped
    if stdout:
        assert text.startswith(stdout[:1])
