"""The schedule operations over real processes: ledger -> compactor -> api (gRPC) ->
gateway (REST), with the reference's statuses and shapes."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.error
import urllib.request
from typing import Any

import grpc
import pytest
from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb
from arco.orchestration.v1 import orchestration_service_pb2_grpc as orch_grpc
from arco.orchestration.v1 import types_pb2
from typer.testing import CliRunner

from arco_core.orchestration.events import ScheduleTicked, TickStatus
from arco_sdk.cli import app
from tests.service.test_api_callbacks import Mesh, mesh  # noqa: F401 - the fixture
from tests.support.processes import start_service
from tests.support.tls import mesh_channel
from tests.unit.orchestration.orch_support import TENANT, WORKSPACE

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOUR = 3_600_000


def _request(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={
            "x-tenant-id": TENANT,
            "x-workspace-id": WORKSPACE,
            "content-type": "application/json",
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _upsert(
    schedule_id: str, cron: str = "0 6 * * *", **fields: Any
) -> orch_pb.UpsertScheduleRequest:
    values: dict[str, Any] = {
        "timezone": "Europe/Paris",
        "catchup_window_minutes": 90,
        "max_catchup_ticks": 2,
        "asset_selection": ["ns.raw"],
        "enabled": True,
        **fields,
    }
    return orch_pb.UpsertScheduleRequest(
        workspace_id=WORKSPACE, schedule_id=schedule_id, cron_expression=cron, **values
    )


async def test_schedules_are_upserted_listed_toggled_and_their_ticks_paged(
    mesh: Mesh,  # noqa: F811
) -> None:
    e = mesh.ev
    await mesh.seed([e.manifest({"ns.raw": []})])
    async with mesh_channel(mesh.api.grpc_address) as channel:
        stub = orch_grpc.OrchestrationServiceStub(channel)
        created = await stub.UpsertSchedule(_upsert("daily"))
        assert created.created
        daily = created.schedule
        assert (daily.cron_expression, daily.timezone, list(daily.asset_selection)) == (
            "0 6 * * *",
            "Europe/Paris",
            ["ns.raw"],
        )
        assert not daily.HasField("last_scheduled_for") and daily.enabled
        # The same request again: 200, nothing written (the version stays).
        same = await stub.UpsertSchedule(_upsert("daily"))
        assert not same.created and same.schedule.definition_version == daily.definition_version
        changed = await stub.UpsertSchedule(_upsert("daily", "0 7 * * *"))
        assert not changed.created and changed.schedule.cron_expression == "0 7 * * *"
        assert changed.schedule.definition_version > daily.definition_version
        for bad in (
            _upsert("bad", "61 * * * *"),
            _upsert("bad", "0 0 * * * *"),  # six fields: outside the Unix dialect
            _upsert("bad", timezone="Mars/Olympus"),
            _upsert("bad", max_catchup_ticks=0),
            _upsert("bad", asset_selection=[]),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.UpsertSchedule(bad)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        # An Idempotency-Key replays its own change and refuses another.
        key = (("idempotency-key", "k-1"),)
        first = await stub.UpsertSchedule(_upsert("keyed"), metadata=key)
        replay = await stub.UpsertSchedule(_upsert("keyed"), metadata=key)
        assert (
            first.created
            and replay.schedule.definition_version == first.schedule.definition_version
        )
        with pytest.raises(grpc.aio.AioRpcError) as conflict:
            await stub.UpsertSchedule(_upsert("keyed", "5 * * * *"), metadata=key)
        assert conflict.value.code() == grpc.StatusCode.ABORTED

        off = orch_pb.DisableScheduleRequest(workspace_id=WORKSPACE, schedule_id="daily")
        disabled = (await stub.DisableSchedule(off)).schedule
        assert not disabled.enabled
        assert (await stub.DisableSchedule(off)).schedule.definition_version == (
            disabled.definition_version
        )
        on = orch_pb.EnableScheduleRequest(workspace_id=WORKSPACE, schedule_id="daily")
        assert (await stub.EnableSchedule(on)).schedule.enabled
        for call in (
            stub.GetSchedule(orch_pb.GetScheduleRequest(workspace_id=WORKSPACE, schedule_id="no")),
            stub.EnableSchedule(
                orch_pb.EnableScheduleRequest(workspace_id=WORKSPACE, schedule_id="no")
            ),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await call
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND

        listed = await stub.ListSchedules(
            orch_pb.ListSchedulesRequest(workspace_id=WORKSPACE, limit=1)
        )
        assert [s.schedule_id for s in listed.schedules] == ["daily"]
        rest = await stub.ListSchedules(
            orch_pb.ListSchedulesRequest(workspace_id=WORKSPACE, cursor=listed.next_cursor)
        )
        assert [s.schedule_id for s in rest.schedules] == ["keyed"]
        assert not rest.HasField("next_cursor")

    # Tick records as the automation service writes them: three triggered, one paused.
    ticks = []
    for n in range(4):
        at = T0 + n * HOUR
        triggered = n != 2
        ticks.append(
            e.ev(
                ScheduleTicked(
                    tick_id=f"daily:{at // 1000}",
                    schedule_id="daily",
                    scheduled_for=at,
                    status=TickStatus.TRIGGERED if triggered else TickStatus.SKIPPED,
                    asset_selection=("ns.raw",),
                    definition_version=changed.schedule.definition_version,
                    skip_reason=None if triggered else "paused",
                    run_key=f"sched:daily:{at // 1000}" if triggered else None,
                    run_id=f"run_{n}" if triggered else None,
                )
            )
        )
    await mesh.seed(ticks)
    async with mesh_channel(mesh.api.grpc_address) as channel:
        stub = orch_grpc.OrchestrationServiceStub(channel)
        deadline = asyncio.get_running_loop().time() + 10
        while True:  # the api follows the published head
            page = await stub.ListScheduleTicks(
                orch_pb.ListScheduleTicksRequest(
                    workspace_id=WORKSPACE, schedule_id="daily", limit=2
                )
            )
            if len(page.ticks) == 2 or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.05)
        assert [t.scheduled_for.seconds * 1000 for t in page.ticks] == [
            T0 + 3 * HOUR,
            T0 + 2 * HOUR,
        ]
        assert page.ticks[1].status == types_pb2.TICK_STATUS_SKIPPED
        assert page.ticks[1].skip_reason == "paused" and not page.ticks[1].HasField("run_id")
        more = await stub.ListScheduleTicks(
            orch_pb.ListScheduleTicksRequest(
                workspace_id=WORKSPACE, schedule_id="daily", cursor=page.next_cursor
            )
        )
        assert [t.run_id for t in more.ticks] == ["run_1", "run_0"]
        assert not more.HasField("next_cursor")
        skipped = await stub.ListScheduleTicks(
            orch_pb.ListScheduleTicksRequest(
                workspace_id=WORKSPACE, schedule_id="daily", status=types_pb2.TICK_STATUS_SKIPPED
            )
        )
        assert [t.tick_id for t in skipped.ticks] == [f"daily:{(T0 + 2 * HOUR) // 1000}"]
        got = (
            await stub.GetSchedule(
                orch_pb.GetScheduleRequest(workspace_id=WORKSPACE, schedule_id="daily")
            )
        ).schedule
        assert got.last_tick_id == f"daily:{(T0 + 3 * HOUR) // 1000}"
        assert got.last_run_key == f"sched:daily:{(T0 + 3 * HOUR) // 1000}"

    gateway = start_service(
        "gateway",
        mesh.tmp_path,
        {"ARCO_API_ADDRESS": mesh.api.grpc_address, "ARCO_GATEWAY_DEV_AUTH": "true"},
        name="gateway",
    )
    try:
        base = f"http://{gateway.wait_ready(15)['http_address']}/api/v1/workspaces/{WORKSPACE}"
        body = {
            "cronExpression": "*/15 * * * *",
            "timezone": "UTC",
            "catchupWindowMinutes": 0,
            "maxCatchupTicks": 1,
            "assetSelection": ["ns.raw"],
            "enabled": True,
        }
        status, created_body = await asyncio.to_thread(
            _request, "PUT", f"{base}/schedules/rest", body
        )
        assert status == 201, created_body
        assert set(created_body) == {
            "scheduleId",
            "cronExpression",
            "timezone",
            "catchupWindowMinutes",
            "maxCatchupTicks",
            "assetSelection",
            "enabled",
            "definitionVersion",
        }
        status, _ = await asyncio.to_thread(_request, "PUT", f"{base}/schedules/rest", body)
        assert status == 200
        status, error = await asyncio.to_thread(
            _request, "PUT", f"{base}/schedules/rest", {**body, "cronExpression": "nope"}
        )
        assert status == 400 and {"code", "message"} <= set(error)
        status, toggled = await asyncio.to_thread(
            _request, "POST", f"{base}/schedules/rest/disable", {}
        )
        assert status == 200 and toggled["enabled"] is False
        status, toggled = await asyncio.to_thread(
            _request, "POST", f"{base}/schedules/rest/enable", {}
        )
        assert status == 200 and toggled["enabled"] is True
        status, _ = await asyncio.to_thread(_request, "GET", f"{base}/schedules/none")
        assert status == 404
        status, listed_body = await asyncio.to_thread(_request, "GET", f"{base}/schedules?limit=2")
        assert status == 200 and [s["scheduleId"] for s in listed_body["schedules"]] == [
            "daily",
            "keyed",
        ]
        assert "nextCursor" in listed_body
        status, ticks_body = await asyncio.to_thread(
            _request, "GET", f"{base}/schedules/daily/ticks?status=TRIGGERED&limit=1"
        )
        assert status == 200
        (tick,) = ticks_body["ticks"]
        assert tick == {
            "tickId": f"daily:{(T0 + 3 * HOUR) // 1000}",
            "scheduleId": "daily",
            "scheduledFor": "2026-01-01T03:00:00Z",
            "assetSelection": ["ns.raw"],
            "status": "TRIGGERED",
            "runKey": f"sched:daily:{(T0 + 3 * HOUR) // 1000}",
            "runId": "run_3",
        }
        status, empty = await asyncio.to_thread(_request, "GET", f"{base}/schedules/none/ticks")
        assert status == 200 and empty == {"ticks": []}
        for query in ("limit=201", "cursor=not-a-cursor", "status=LATE"):
            status, _ = await asyncio.to_thread(
                _request, "GET", f"{base}/schedules/daily/ticks?{query}"
            )
            assert status == 400, query

        # The CLI over the same gateway.
        cli = ["--api-url", f"http://{gateway.ready['http_address']}"]
        cli += ["--tenant", TENANT, "--workspace", WORKSPACE]
        env = {k: "" for k in os.environ if k.startswith("ARCO_")}

        async def arco(*args: str) -> str:
            result = await asyncio.to_thread(CliRunner().invoke, app, [*cli, *args], env=env)
            assert result.exit_code == 0, result.output
            return result.output

        assert "rest" in await arco("schedules", "list")
        assert "*/15 * * * *" in await arco("schedules", "get", "rest")
        assert "disabled" in await arco("schedules", "disable", "rest")
        assert "enabled" in await arco("schedules", "enable", "rest")
        ticks_out = await arco("schedules", "ticks", "daily")
        assert "run_3" in ticks_out and "paused" in ticks_out
    finally:
        assert gateway.terminate() == 0, gateway.log()
