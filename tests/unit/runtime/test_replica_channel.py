"""A channel to a list of replicas (``ipv4:h:p1,h:p2``): every replica's certificate is
checked, calls spread over the replicas, and a stopped replica is skipped."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from arco_runtime.tls import Role, add_port, aio_channel
from tests.support.tls import tls_config


class _Counting(health.aio.HealthServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def Check(self, request: object, context: object) -> health_pb2.HealthCheckResponse:
        self.calls += 1
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


async def _replica() -> tuple[grpc.aio.Server, _Counting, int]:
    server = grpc.aio.server()
    servicer = _Counting()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = add_port(server, "127.0.0.1:0", tls_config(Role.COMPACTOR))
    await server.start()
    return server, servicer, port


async def test_calls_spread_over_replicas_and_skip_a_stopped_one() -> None:
    (first, one, p1), (second, two, p2) = await _replica(), await _replica()
    try:
        async with aio_channel(f"ipv4:127.0.0.1:{p1},127.0.0.1:{p2}", tls_config(Role.API)) as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            for _ in range(10):
                await stub.Check(health_pb2.HealthCheckRequest(), timeout=5, wait_for_ready=True)
            assert one.calls > 0 and two.calls > 0  # round-robin, not the first one only
            await first.stop(None)
            before = two.calls
            for _ in range(5):
                answer = await stub.Check(
                    health_pb2.HealthCheckRequest(), timeout=5, wait_for_ready=True
                )
                assert answer.status == health_pb2.HealthCheckResponse.SERVING
            assert two.calls == before + 5
    finally:
        await first.stop(None)
        await second.stop(None)
