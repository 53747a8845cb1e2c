"""buf lint, format and breaking checks, and proof that the breaking check can fail."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, VENV_BIN

BASELINE = REPO_ROOT / "proto_baseline" / "arco_v1.binpb"


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def _buf(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "buf"), *args], cwd=cwd, env=_env(), capture_output=True, text=True
    )


@pytest.fixture(scope="module", autouse=True)
def google_protos() -> None:
    subprocess.run(
        [str(VENV_BIN / "python"), "scripts/sync_google_protos.py"], cwd=REPO_ROOT, check=True
    )


def test_lint_format_and_breaking_pass() -> None:
    for args in (
        ("lint",),
        ("format", "--diff", "--exit-code"),
        ("breaking", "--against", str(BASELINE)),
    ):
        result = _buf(*args)
        assert result.returncode == 0, f"buf {' '.join(args)}: {result.stdout}{result.stderr}"


def test_google_protos_are_not_tracked() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "proto/google"], cwd=REPO_ROOT, capture_output=True, text=True
    ).stdout
    assert tracked == ""


def _copy_tree(tmp_path: Path) -> Path:
    work = tmp_path / "repo"
    work.mkdir()
    shutil.copy(REPO_ROOT / "buf.yaml", work / "buf.yaml")
    shutil.copytree(REPO_ROOT / "proto", work / "proto")
    return work


ENVELOPE = Path("proto/arco/orchestration/v1/worker_protocol.proto")


def test_deleting_a_field_breaks(tmp_path: Path) -> None:
    work = _copy_tree(tmp_path)
    path = work / ENVELOPE
    text = path.read_text()
    edited = text.replace("  string attempt_id = 7;\n", "", 1)
    assert edited != text
    path.write_text(edited)
    result = _buf("breaking", "--against", str(BASELINE), cwd=work)
    assert result.returncode != 0
    assert "attempt_id" in result.stdout + result.stderr


def test_changing_a_field_number_breaks(tmp_path: Path) -> None:
    work = _copy_tree(tmp_path)
    path = work / ENVELOPE
    text = path.read_text()
    edited = re.sub(
        r"optional uint32 heartbeat_timeout_sec = 17;",
        "optional uint32 heartbeat_timeout_sec = 18;",
        text,
    )
    assert edited != text
    path.write_text(edited)
    result = _buf("breaking", "--against", str(BASELINE), cwd=work)
    assert result.returncode != 0
    assert "heartbeat_timeout_sec" in result.stdout + result.stderr


def test_lint_catches_a_bad_field_name(tmp_path: Path) -> None:
    work = _copy_tree(tmp_path)
    path = work / ENVELOPE
    path.write_text(
        path.read_text().replace("string worker_queue = 11;", "string workerQueue = 11;")
    )
    result = _buf("lint", cwd=work)
    assert result.returncode != 0
    assert "workerQueue" in result.stdout + result.stderr
