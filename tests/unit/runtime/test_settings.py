"""Setting rows: parsing and its error lines, redaction, --help epilogs, one row per name."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from arco_runtime.authz import markdown_matrix
from arco_runtime.settings import (
    REDACTED,
    ConfigError,
    Setting,
    epilog,
    flag,
    integer,
    number,
    redacted,
    setting_field,
    text,
)
from arco_runtime.settings import contract as settings_contract

ROOT = Path(__file__).resolve().parents[3]


def _gen_docs() -> Any:
    spec = importlib.util.spec_from_file_location(
        "gen_settings_docs", ROOT / "scripts" / "gen_settings_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- parsing -----------------------------------------------------------------------------------


def test_integer_parses_and_refuses_with_one_clear_line() -> None:
    row = integer("ARCO_X", "x", 32, minimum=1)
    assert row.read({}) == 32
    assert row.read({"ARCO_X": "  "}) == 32
    assert row.read({"ARCO_X": " 7 "}) == 7
    with pytest.raises(ConfigError, match=r"^ARCO_X must be an integer, got 'seven'$"):
        row.read({"ARCO_X": "seven"})
    with pytest.raises(ConfigError, match=r"^ARCO_X must be >= 1, got 0$"):
        row.read({"ARCO_X": "0"})


def test_number_default_minimum_is_zero() -> None:
    row = number("ARCO_Y", "y", 5.0)
    assert row.read({"ARCO_Y": "0.25"}) == 0.25
    with pytest.raises(ConfigError, match=r"^ARCO_Y must be a number, got 'soon'$"):
        row.read({"ARCO_Y": "soon"})
    with pytest.raises(ConfigError, match=r"^ARCO_Y must be >= 0.0, got -1.0$"):
        row.read({"ARCO_Y": "-1"})
    tick = number("ARCO_TICK", "t", 5.0, minimum=0.05)
    with pytest.raises(ConfigError, match=r"^ARCO_TICK must be >= 0.05, got 0.01$"):
        tick.read({"ARCO_TICK": "0.01"})


def test_flag_accepts_the_usual_spellings_only() -> None:
    row = flag("ARCO_B", "b", False)
    assert row.read({}) is False
    for raw in ("1", "true", "YES", " on "):
        assert row.read({"ARCO_B": raw}) is True
    for raw in ("0", "False", "no", "off"):
        assert row.read({"ARCO_B": raw}) is False
    with pytest.raises(
        ConfigError, match=r"^ARCO_B must be a boolean \(true/false\), got 'maybe'$"
    ):
        row.read({"ARCO_B": "Maybe"})


def test_text_strips_and_keeps_an_explicit_empty_value() -> None:
    row = text("ARCO_S", "s", "dflt")
    assert row.read({}) == "dflt"
    assert row.read({"ARCO_S": "  v "}) == "v"
    assert row.read({"ARCO_S": ""}) == ""  # set but empty is empty, as before
    assert row.read({}, default="per-process") == "per-process"


# Dev posture in plaintext: the tests below are about other settings.
PLAIN_DEV = {"ARCO_ENVIRONMENT": "dev", "ARCO_TLS": "off"}


def test_service_config_errors_keep_their_messages() -> None:
    from services.compactor.config import CompactorConfig
    from services.dispatcher.config import DispatcherConfig

    with pytest.raises(ConfigError, match="ARCO_COMPACTOR_DOMAIN must be one of"):
        CompactorConfig.from_env({})
    with pytest.raises(ConfigError, match="ARCO_LOG_FORMAT must be json or console, got 'xml'"):
        CompactorConfig.from_env({"ARCO_COMPACTOR_DOMAIN": "catalog", "ARCO_LOG_FORMAT": "xml"})
    # the posture comes first: production needs mesh certificates
    with pytest.raises(ConfigError, match="ARCO_TLS_CERT, ARCO_TLS_KEY, ARCO_TLS_CA required"):
        CompactorConfig.from_env({"ARCO_COMPACTOR_DOMAIN": "catalog"})
    # per-field parse errors come before the required secret
    with pytest.raises(ConfigError, match="ARCO_DISPATCH_CONCURRENCY must be >= 1"):
        DispatcherConfig.from_env({**PLAIN_DEV, "ARCO_DISPATCH_CONCURRENCY": "0"})
    with pytest.raises(ConfigError, match="ARCO_TASK_TOKEN_SECRET is required to mint"):
        DispatcherConfig.from_env(PLAIN_DEV)


# -- redaction ---------------------------------------------------------------------------------

SECRET = text("ARCO_SECRET", "s", secret=True)
PLAIN = text("ARCO_PLAIN", "p", "plain")


@dataclasses.dataclass(frozen=True)
class _Inner:
    secret: str = setting_field(SECRET)


@dataclasses.dataclass(frozen=True)
class _Outer:
    plain: str = setting_field(PLAIN)
    secret: str = setting_field(SECRET)
    empty_secret: str = setting_field(SECRET)
    inner: _Inner = dataclasses.field(default_factory=_Inner)


def test_redacted_masks_secret_rows_nested_and_leaves_empty_secrets_visible() -> None:
    config = _Outer(secret="hunter2", inner=_Inner(secret="s3"))
    assert config.plain == "plain"  # the field default is the row's
    assert redacted(config) == {
        "plain": "plain",
        "secret": REDACTED,
        "empty_secret": "",
        "inner": {"secret": REDACTED},
    }


def test_real_configs_redact_every_secret() -> None:
    from arco_runtime.tls import TlsConfig
    from arco_sdk.worker.config import WorkerConfig
    from gateway.config import GatewayConfig
    from services.api.config import ApiConfig

    api = ApiConfig.from_env(
        {
            **PLAIN_DEV,
            "ARCO_TASK_TOKEN_SECRET": "tts-value",
            "ARCO_IDENTITY_SECRET": "ids-value",
            "ARCO_STORAGE_URL": "memory://",
        }
    )
    gateway = GatewayConfig.from_env(
        {
            **PLAIN_DEV,
            "ARCO_JWT_SECRET": "jwt-value",
            "ARCO_IDENTITY_SECRET": "ids-value",
        }
    )
    worker = WorkerConfig(
        api_url="http://x",
        tenant_id="t",
        workspace_id="w",
        dispatch_secret="ds-value",
        modules=("m",),
        environment="dev",
        tls=TlsConfig.plaintext(),
    )
    logged = repr([redacted(api), redacted(gateway), worker.redacted()])
    for value in ("tts-value", "ids-value", "jwt-value", "ds-value"):
        assert value not in logged
    assert logged.count(REDACTED) == 5


# -- --help and docs ---------------------------------------------------------------------------


def _service_mains() -> Iterator[tuple[str, Any, tuple[Setting[Any], ...]]]:
    from services.common.config import COMMON_SETTINGS

    for name in ("api", "compactor", "dispatcher", "sweeper", "automation"):
        main = importlib.import_module(f"services.{name}.__main__").main
        rows = importlib.import_module(f"services.{name}.config").SERVICE_SETTINGS
        yield f"services.{name}", main, (*COMMON_SETTINGS, *rows)
    from gateway.__main__ import main as gateway_main
    from gateway.config import SERVICE_SETTINGS

    yield "gateway", gateway_main, SERVICE_SETTINGS


@pytest.mark.parametrize(
    "name",
    ["services.api", "services.compactor", "services.dispatcher", "services.sweeper", "gateway"],
)
def test_help_lists_every_row_with_its_default(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, main, rows = next(entry for entry in _service_mains() if entry[0] == name)
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for row in rows:
        assert f"  {row.name} " in out
    assert "(default 5)" in out  # ARCO_SHUTDOWN_GRACE_SEC, from the row


def test_worker_help_lists_every_row() -> None:
    from arco_sdk.worker.config import WORKER_SETTINGS, build_parser

    out = " ".join(build_parser().format_help().split())  # argparse wraps long lines
    for row in WORKER_SETTINGS:
        assert row.name in out


def test_epilog_lists_each_name_once() -> None:
    a, b = text("ARCO_A", "a"), text("ARCO_B", "b", "x")
    out = epilog([a, b, a])
    assert out.startswith("environment:\n")
    assert out.count("ARCO_A") == 1 and "ARCO_B" in out and "(default x)" in out


class _Recording(Mapping[str, str]):
    """An environment that remembers which variables were read."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self._env[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return self._env.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)


def test_every_variable_a_config_reads_is_a_row_of_its_help() -> None:
    from arco_runtime.tls import Role as MeshRole
    from arco_sdk.worker.config import WORKER_SETTINGS, config_from_args
    from gateway.config import SERVICE_SETTINGS as GATEWAY
    from gateway.config import GatewayConfig
    from services.api.config import ApiConfig
    from services.common.config import COMMON_SETTINGS
    from services.compactor.config import CompactorConfig
    from services.dispatcher.config import DispatcherConfig
    from services.sweeper.config import SweeperConfig
    from tests.support.tls import tls_env

    def rows_of(service: str) -> tuple[Setting[Any], ...]:
        rows: tuple[Setting[Any], ...] = importlib.import_module(
            f"services.{service}.config"
        ).SERVICE_SETTINGS
        return rows

    base = {
        "ARCO_ENVIRONMENT": "dev",
        **tls_env(MeshRole.API),
        "ARCO_TASK_TOKEN_SECRET": "s",
        "ARCO_STORAGE_URL": "memory://",
    }
    cases: list[tuple[Any, dict[str, str], tuple[Setting[Any], ...]]] = [
        (ApiConfig.from_env, base, rows_of("api")),
        (
            CompactorConfig.from_env,
            {**base, "ARCO_COMPACTOR_DOMAIN": "catalog"},
            rows_of("compactor"),
        ),
        (DispatcherConfig.from_env, base, rows_of("dispatcher")),
        (SweeperConfig.from_env, base, rows_of("sweeper")),
    ]
    for from_env, env, rows in cases:
        recording = _Recording(dict(env))
        from_env(recording)
        assert recording.read == {row.name for row in (*COMMON_SETTINGS, *rows)}, from_env
    recording = _Recording({"ARCO_ENVIRONMENT": "dev", **tls_env(MeshRole.GATEWAY)})
    GatewayConfig.from_env(recording)
    assert recording.read == {row.name for row in GATEWAY}
    recording = _Recording(
        {
            "ARCO_WORKER_API_URL": "http://x",
            "ARCO_WORKER_TENANT_ID": "t",
            "ARCO_WORKER_WORKSPACE_ID": "w",
            "ARCO_WORKER_DISPATCH_SECRET": "d",
            "ARCO_ENVIRONMENT": "dev",
            **tls_env(MeshRole.WORKER),
        }
    )
    config_from_args({}, recording)
    expected = {row.name for row in WORKER_SETTINGS} | {
        row.fallback for row in WORKER_SETTINGS if row.fallback
    }
    assert recording.read <= expected
    assert {row.name for row in WORKER_SETTINGS} <= recording.read


def test_no_two_rows_declare_one_name_differently() -> None:
    seen: dict[str, Setting[Any]] = {}
    for rows in _gen_docs().groups().values():
        for row in rows:
            first = seen.setdefault(row.name, row)
            assert (first.default, first.type, first.secret) == (
                row.default,
                row.type,
                row.secret,
            ), row.name
    for _, _, rows in _service_mains():
        for row in rows:
            assert seen[row.name] == row, f"{row.name} is declared twice"


def test_docs_tables_match_the_rows() -> None:
    module = _gen_docs()
    docs = ROOT / "docs" / "operations.md"
    text_now = docs.read_text()
    assert module.render(text_now, module.groups()) == text_now, (
        "docs/operations.md is stale: run python scripts/gen_settings_docs.py"
    )
    for name in module.groups():
        assert f"<!-- settings:{name} -->" in text_now
    # The authorization matrix, written from arco_runtime.authz between its markers.
    assert f"<!-- authz:matrix -->\n{markdown_matrix()}\n<!-- /authz:matrix -->" in text_now


def test_docs_matrix_is_rewritten_from_the_data() -> None:
    module = _gen_docs()
    stale = "before\n<!-- authz:matrix -->\n| old row |\n<!-- /authz:matrix -->\nafter\n"
    assert module.render(stale, {}) == (
        f"before\n<!-- authz:matrix -->\n{markdown_matrix()}\n<!-- /authz:matrix -->\nafter\n"
    )


def test_the_environment_contract_is_generated_from_the_rows_each_process_reads() -> None:
    module = _gen_docs()
    on_disk = json.loads((ROOT / "deploy" / "contract.json").read_text())
    assert (ROOT / "deploy" / "contract.json").read_text() == module.contract_text(), (
        "deploy/contract.json is stale: run python scripts/gen_settings_docs.py"
    )
    processes = on_disk["processes"]
    for name, _, rows in _service_mains():  # what --help lists is what the contract lists
        assert {e["name"] for e in processes[name]} == {row.name for row in rows}, name
    entries = {e["name"]: e for entries in processes.values() for e in entries}
    secret = entries["ARCO_IDENTITY_SECRET"]
    assert (secret["secret"], secret["default"], secret["required"]) == (True, None, "outside dev")
    assert entries["ARCO_RETAIN_TERMINAL_RUNS_SEC"]["minimum"] == 1
    # Dropping a row changes the contract, so --check would fail on a stale file.
    trimmed = {name: rows[1:] for name, rows in module.processes().items()}
    assert settings_contract(trimmed) != on_disk
