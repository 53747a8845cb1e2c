"""Callback rate limits key on what the api verified, on a real api over mTLS.

A run's callbacks share a budget keyed by the verified token's tenant and run; callbacks
whose token does not verify are limited per client address in a table of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from arco.orchestration.v1 import task_callback_service_pb2 as pb
from arco.orchestration.v1 import task_callback_service_pb2_grpc as pb_grpc

from arco_core.clock import SystemClock
from arco_core.ids import callback_task_id
from arco_core.tokens import TaskTokenSigner
from arco_runtime.rpc_errors import parse_rpc_error
from arco_runtime.tls import Role as MeshRole
from services.api.callback_limits import client_address
from tests.support.processes import ServiceProcess, start_service
from tests.support.tls import mesh_channel
from tests.unit.orchestration.orch_support import TENANT, WORKSPACE, att

SECRET = "callback-limits-task-token-secret-0123456789"
ENV = {"ARCO_TENANT_ID": TENANT, "ARCO_WORKSPACE_ID": WORKSPACE}
PER_RUN_BURST = 4
UNVERIFIED_BURST = 3


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ServiceProcess]:
    compactor = start_service(
        "services.compactor",
        tmp_path,
        {**ENV, "ARCO_COMPACTOR_DOMAIN": "orchestration"},
        name="compactor",
    )
    api: ServiceProcess | None = None
    try:
        compactor.wait_ready(15)
        api = start_service(
            "services.api",
            tmp_path,
            {
                **ENV,
                "ARCO_ORCH_COMPACTOR_ADDRESS": compactor.grpc_address,
                "ARCO_TASK_TOKEN_SECRET": SECRET,
                # One per minute after the burst: a test never sees a refill.
                "ARCO_CALLBACK_RATE_PER_MIN": "1",
                "ARCO_CALLBACK_RATE_BURST": str(PER_RUN_BURST),
                "ARCO_CALLBACK_UNVERIFIED_RATE_PER_MIN": "1",
                "ARCO_CALLBACK_UNVERIFIED_BURST": str(UNVERIFIED_BURST),
            },
            name="api",
        )
        api.wait_ready(15)
        yield api
    finally:
        if api is not None:
            assert api.terminate() == 0, api.log()
        assert compactor.terminate() == 0, compactor.log()


@pytest.fixture
async def stub(api: ServiceProcess) -> AsyncIterator[pb_grpc.TaskCallbackServiceStub]:
    async with mesh_channel(api.grpc_address, MeshRole.WORKER) as channel:
        yield pb_grpc.TaskCallbackServiceStub(channel)


def _token(run: str, key: str = "a", secret: str = SECRET) -> list[tuple[str, str]]:
    signer = TaskTokenSigner(secret, "arco", "arco-worker-callbacks", 3600, SystemClock())
    jwt, _ = signer.mint(TENANT, WORKSPACE, callback_task_id(run, key), run, 1, att(run, key, 1))
    return [("authorization", f"Bearer {jwt}")]


def _beat(run: str, key: str = "a") -> pb.TaskHeartbeatRequest:
    return pb.TaskHeartbeatRequest(
        task_id=callback_task_id(run, key), attempt=1, attempt_id=att(run, key, 1), worker_id="w"
    )


async def _outcome(stub: pb_grpc.TaskCallbackServiceStub, run: str, **token: str) -> str:
    """The reason a heartbeat fails with ("ok" if it succeeds)."""
    try:
        await stub.TaskHeartbeat(_beat(run), metadata=_token(run, **token))
    except grpc.aio.AioRpcError as exc:
        info = parse_rpc_error(exc)
        assert info is not None, exc
        if info.reason == "rate_limited":
            assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "per minute" in (exc.details() or "")
        return info.reason
    return "ok"


async def test_a_runs_budget_is_its_own(stub: pb_grpc.TaskCallbackServiceStub) -> None:
    # The runs were never planned: each verified call fails on its state, after the limit.
    first = [await _outcome(stub, "run-one") for _ in range(PER_RUN_BURST)]
    assert "rate_limited" not in first
    assert await _outcome(stub, "run-one") == "rate_limited"
    # Another task of the same run shares the budget; another run does not.
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await stub.TaskHeartbeat(_beat("run-one", "b"), metadata=_token("run-one", "b"))
    assert exc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert await _outcome(stub, "run-other") != "rate_limited"


async def test_forged_tokens_are_limited_per_address_and_spare_the_runs(
    stub: pb_grpc.TaskCallbackServiceStub,
) -> None:
    forged = {"secret": "not-the-secret-0123456789abcdef0123456"}
    outcomes = [await _outcome(stub, "run-two", **forged) for _ in range(UNVERIFIED_BURST)]
    assert "rate_limited" not in outcomes
    assert await _outcome(stub, "run-two", **forged) == "rate_limited"
    # A run with a verified token is not in that table: its budget is untouched.
    assert await _outcome(stub, "run-two") != "rate_limited"


def test_client_address_drops_the_port() -> None:
    assert client_address("ipv4:127.0.0.1:5123") == "ipv4:127.0.0.1"
    assert client_address("ipv6:[::1]:5123") == "ipv6:[::1]"
    assert client_address("unix:/tmp/s") == "unix:/tmp/s"
