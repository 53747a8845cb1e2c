"""gen/ is exactly what proto/ generates, and the drift check fails on a stale tree."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT, VENV_BIN


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(root / "scripts" / "check_gen.sh")],
        cwd=root,
        env=_env(),
        capture_output=True,
        text=True,
    )


def test_generated_code_matches_protos() -> None:
    result = _check(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_editing_a_proto_without_regenerating_fails(tmp_path: Path) -> None:
    work = tmp_path / "repo"
    work.mkdir()
    for name in ("buf.yaml", "buf.gen.yaml"):
        shutil.copy(REPO_ROOT / name, work / name)
    for name in ("proto", "gen", "scripts"):
        shutil.copytree(REPO_ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__"))
    assert _check(work).returncode == 0  # the copy starts clean

    proto = work / "proto/arco/sweeper/v1/sweeper_service.proto"
    proto.write_text(
        proto.read_text().replace(
            "  bool dry_run = 1;\n", "  bool dry_run = 1;\n  string note = 9;\n"
        )
    )
    result = _check(work)
    assert result.returncode != 0
    assert "out of date" in result.stderr
    # The check never rewrites the tree it checks.
    assert "note" not in (work / "gen/arco/sweeper/v1/sweeper_service_pb2.pyi").read_text()


def test_editing_a_public_proto_without_regenerating_the_typescript_sdk_fails(
    tmp_path: Path,
) -> None:
    work = tmp_path / "repo"
    work.mkdir()
    for name in ("buf.yaml", "buf.gen.yaml", "buf.gen.ts.yaml"):
        shutil.copy(REPO_ROOT / name, work / name)
    for name in ("proto", "gen", "scripts", "sdk/typescript/gen"):
        shutil.copytree(REPO_ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__"))
    # The plugin is an npm package of the SDK (scripts/install_sdk_typescript.sh).
    (work / "sdk/typescript/node_modules").symlink_to(REPO_ROOT / "sdk/typescript/node_modules")
    assert _check(work).returncode == 0
    query = work / "sdk/typescript/gen/arco/query/v1/query_service_pb.ts"
    query.write_text(query.read_text() + "// edited by hand\n")
    result = _check(work)
    assert result.returncode != 0
    assert "sdk/typescript/gen/ is out of date" in result.stderr
