"""Delta commits through the real mesh (gateway process -> api process), read back with
delta-rs: the public shapes, the statuses and the version numbers."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from services.mesh import Mesh
from tests.support.delta import create_actions, payload, write_parquet

deltalake = pytest.importorskip("deltalake")


def _uuid7() -> str:
    ms = time.time_ns() // 1_000_000
    value = (ms << 80) | (0x7 << 76) | (uuid.uuid4().int & ((1 << 76) - 1))
    value = (value & ~(0b11 << 62)) | (0b10 << 62)
    return str(uuid.UUID(int=value))


def test_delta_commits_over_http(tmp_path: Path) -> None:
    with Mesh(tmp_path / "mesh", extra_env={"ARCO_GATEWAY_DEV_AUTH": "true"}) as mesh:
        base = f"http://{mesh.address('gateway')}/api/v1"
        headers = {"X-Tenant-Id": mesh.tenant_id, "X-Workspace-Id": mesh.workspace_id}
        scope_dir = (
            tmp_path
            / "mesh"
            / "data"
            / f"tenant={mesh.tenant_id}"
            / f"workspace={mesh.workspace_id}"
        )
        with httpx.Client(headers=headers, timeout=30) as http:
            assert http.post(f"{base}/catalogs", json={"name": "lake"}).status_code == 201
            assert (
                http.post(f"{base}/catalogs/lake/schemas", json={"name": "raw"}).status_code == 201
            )
            registered = http.post(
                f"{base}/catalogs/lake/schemas/raw/tables",
                json={
                    "name": "events",
                    "format": "delta",
                    "location": "tables/lake/events",
                    "columns": [{"name": "id", "data_type": "int64"}],
                },
            )
            assert registered.status_code == 201, registered.text
            table_id = registered.json()["id"]
            delta = f"{base}/delta/tables/{table_id}/commits"
            table_dir = scope_dir / "tables" / "lake" / "events"

            add = write_parquet(table_dir, "part-0.parquet", [(1, "a"), (2, "b")])
            staged = http.post(
                f"{delta}/stage", json={"payload": payload([*create_actions(table_id), add])}
            )
            assert staged.status_code == 200, staged.text
            body = staged.json()
            assert set(body) == {"staged_path", "staged_version"}
            assert body["staged_path"].startswith(f"delta/staging/{table_id}/")
            commit = {"read_version": -1, **body}
            key = {"Idempotency-Key": _uuid7()}

            first = http.post(delta, json=commit, headers=key)
            assert first.status_code == 200, first.text
            assert first.json() == {
                "version": 0,
                "delta_log_path": f"tables/lake/events/_delta_log/{0:020d}.json",
            }
            assert http.post(delta, json=commit, headers=key).json() == first.json()
            table = deltalake.DeltaTable(str(table_dir))
            assert table.version() == 0
            assert sorted(r["id"] for r in table.to_pyarrow_table().to_pylist()) == [1, 2]

            # Stale read_version: 409, nothing written.
            stale = http.post(delta, json=commit, headers={"Idempotency-Key": _uuid7()})
            assert stale.status_code == 409, stale.text
            assert stale.json()["details"]["reason"] == "stale_read_version"
            # Same key, different body: 409.
            reused = http.post(delta, json={**commit, "read_version": 0}, headers=key)
            assert reused.status_code == 409
            assert reused.json()["details"]["reason"] == "idempotency_key_conflict"
            # Bad input: 400 with a stable reason.
            for sent, reason in (
                (http.post(delta, json=commit), "missing_idempotency_key"),
                (
                    http.post(delta, json=commit, headers={"Idempotency-Key": "k"}),
                    "invalid_idempotency_key",
                ),
                (
                    http.post(f"{base}/delta/tables/nope/commits/stage", json={"payload": "{}"}),
                    "invalid_table_id",
                ),
                (
                    http.post(f"{delta}/stage", json={"payload": "not json"}),
                    "invalid_delta_payload",
                ),
            ):
                assert sent.status_code == 400, sent.text
                assert sent.json()["details"]["reason"] == reason

            add = write_parquet(table_dir, "part-1.parquet", [(3, "c")])
            staged = http.post(f"{delta}/stage", json={"payload": payload([add])}).json()
            second = http.post(
                delta, json={"read_version": 0, **staged}, headers={"Idempotency-Key": _uuid7()}
            )
            assert second.status_code == 200, second.text
            assert second.json()["version"] == 1
        table = deltalake.DeltaTable(str(table_dir))
        assert table.version() == 1
        assert sorted(r["id"] for r in table.to_pyarrow_table().to_pylist()) == [1, 2, 3]
        assert sorted(p.name for p in (table_dir / "_delta_log").iterdir()) == [
            f"{0:020d}.json",
            f"{1:020d}.json",
        ]
