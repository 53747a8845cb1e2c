"""``arco admin rebuild`` and ``arco admin verify`` as an operator runs them, against a
real compactor process over mutual TLS."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from arco.compactor.v1 import compactor_service_pb2 as pb
from arco.compactor.v1 import compactor_service_pb2_grpc as pb_grpc

from arco_runtime.tls import Role as MeshRole
from tests.conftest import REPO_ROOT
from tests.service.test_compactor_service import _append, _history, _start
from tests.support.tls import mesh_channel, tls_env
from tests.unit.orchestration.orch_support import Events


def _arco(
    *args: str, role: MeshRole = MeshRole.OPERATOR, address: str
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ARCO_")}
    env.update(tls_env(role))
    env["ARCO_ORCH_COMPACTOR_ADDRESS"] = address  # the default --compactor of the domain
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "gen"), str(REPO_ROOT)])
    return subprocess.run(
        [sys.executable, "-c", "from arco_sdk.cli import main; main()", "admin", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


async def test_admin_verify_and_rebuild_against_a_compactor(tmp_path: Path) -> None:
    ev = Events()
    first = await _append(tmp_path, _history(ev, "r1"))
    second = await _append(tmp_path, _history(ev, "r2"))
    proc = _start(tmp_path)
    address = proc.grpc_address
    try:
        async with mesh_channel(address, MeshRole.API) as channel:
            await pb_grpc.CompactorServiceStub(channel).CompactEvents(
                pb.CompactEventsRequest(event_paths=[*first, *second])
            )
        done = _arco("verify", "--domain", "orchestration", address=address)
        assert done.returncode == 0, (done.stdout, done.stderr)
        assert "matches a fresh replay" in done.stdout
        assert f"{len(first) + len(second)} events replayed" in done.stdout

        partial = [arg for path in first for arg in ("--partial", path)]
        done = _arco("rebuild", "--domain", "orchestration", *partial, address=address)
        assert done.returncode == 0, (done.stdout, done.stderr)
        assert f"partial: {len(first)} paths" in done.stdout
        assert f"{len(first)} events replayed" in done.stdout

        done = _arco("verify", "-d", "orchestration", "--compactor", address, address="unused:1")
        assert done.returncode == 1, (done.stdout, done.stderr)
        assert "DIFFERENT" in done.stdout and "runs" in done.stdout
        assert "dispatch:r2:a:1" in done.stdout  # keys verbatim
        assert "Traceback" not in done.stderr

        done = _arco("rebuild", "--domain", "orchestration", address=address)
        assert done.returncode == 0, (done.stdout, done.stderr)
        assert "whole ledger" in done.stdout
        assert f"{len(first) + len(second)} events replayed" in done.stdout
        assert _arco("verify", "--domain", "orchestration", address=address).returncode == 0

        # Another role's certificate is refused before any call.
        done = _arco("verify", "--domain", "orchestration", role=MeshRole.API, address=address)
        assert done.returncode == 1 and "operator certificate" in done.stderr
        assert "Traceback" not in done.stderr
    finally:
        assert proc.terminate() == 0
