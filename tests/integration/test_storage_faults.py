"""Storage faults (issue 12 item 10): the ARCO_STORAGE_FAULTS wrapper and what callers see."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from arco_core.errors import InvalidArgument, ObjectNotFound, StorageError
from arco_core.paths import Scope
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_core.storage_faults import FaultSpec, FaultyStore, parse_fault_spec
from arco_runtime.settings import ConfigError
from services.common.config import CommonConfig

SCOPE = Scope("t1", "w1")


def test_parse_fault_spec() -> None:
    spec = parse_fault_spec("put=0.05,get=0.1,list=0.2,latency_ms=5,seed=1")
    assert spec == FaultSpec(put=0.05, get=0.1, list=0.2, latency_ms=5.0, seed=1)
    assert parse_fault_spec("") is None
    assert parse_fault_spec(spec.to_text()) == spec
    for bad in ("put=2", "nope=0.1", "put", "get=x", "put=0.1,put=0.2", "latency_ms=-1"):
        with pytest.raises(InvalidArgument):
            parse_fault_spec(bad)


def test_setting_is_refused_outside_dev(tmp_path: Path) -> None:
    base = {"ARCO_STORAGE_URL": tmp_path.as_uri(), "ARCO_STORAGE_FAULTS": "put=0.5"}
    dev = CommonConfig.from_env(
        {**base, "ARCO_ENVIRONMENT": "dev", "ARCO_TLS": "off"},
        service="api",
        default_listen="127.0.0.1:0",
    )
    assert dev.storage_faults == FaultSpec(put=0.5)
    with pytest.raises(ConfigError, match="ARCO_STORAGE_FAULTS"):
        CommonConfig.from_env(
            {**base, "ARCO_ENVIRONMENT": "staging"}, service="api", default_listen="127.0.0.1:0"
        )
    with pytest.raises(ConfigError, match="ARCO_STORAGE_FAULTS"):
        CommonConfig.from_env(
            {**base, "ARCO_ENVIRONMENT": "dev", "ARCO_STORAGE_FAULTS": "put=7"},
            service="api",
            default_listen="127.0.0.1:0",
        )


def test_faults_raise_the_retryable_storage_error(tmp_path: Path) -> None:
    async def main() -> None:
        store = open_object_store(
            tmp_path.as_uri(), {}, faults=FaultSpec(put=0.5, get=0.5, list=0.5, seed=3)
        )
        assert isinstance(store, FaultyStore)
        api = ScopedStorage(store, SCOPE, Role.API)
        sweeper = ScopedStorage(store, SCOPE, Role.SWEEPER)
        created = 0
        for i in range(40):
            try:
                await api.create(f"ledger/x/{i}.json", b"x")
                created += 1
            except StorageError as exc:
                assert exc.code.value == "UNAVAILABLE"
                # a failed put never reached the store
                clean = ScopedStorage(store.inner, SCOPE, Role.READER)
                with pytest.raises(ObjectNotFound):
                    await clean.get(f"ledger/x/{i}.json")
        list_failures = 0
        for _ in range(20):
            try:
                assert len(await sweeper.list("ledger/")) == created
            except StorageError:
                list_failures += 1
        assert 0 < created < 40
        assert 0 < list_failures < 20
        assert store.injected["create"] == 40 - created
        assert store.injected["list"] == list_failures

    asyncio.run(main())
