"""Worker configuration: flags override ``ARCO_WORKER_*`` environment variables, which
override the defaults below."""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from arco_runtime.posture import check_binds, check_environment, check_secrets
from arco_runtime.settings import (
    DISPATCH_SECRET,
    ENVIRONMENT,
    Setting,
    describe,
    epilog,
    redacted,
    setting_field,
)
from arco_runtime.tls import TLS_SETTINGS, TlsConfig

__all__ = ["ENV_PREFIX", "WORKER_SETTINGS", "WorkerConfig", "build_parser", "config_from_args"]

ENV_PREFIX = "ARCO_WORKER_"


def _default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _row(
    field_name: str,
    kind: type[Any],
    default: Any,
    help: str,
    *,
    secret: bool = False,
    required: str = "",
    fallback: str = "",
    default_doc: str = "",
) -> Setting[Any]:
    """A worker setting: flag ``--field-name``, variable ``ARCO_WORKER_FIELD_NAME``."""
    return Setting(
        ENV_PREFIX + field_name.upper(),
        kind,
        default,
        help,
        secret=secret,
        required=required,
        fallback=fallback,
        default_doc=default_doc,
    )


def field_name(setting: Setting[Any]) -> str:
    """The WorkerConfig field (and flag) a worker row sets."""
    return setting.name.removeprefix(ENV_PREFIX).lower()


MODULES = _row(
    "modules",
    tuple,
    (),
    "asset modules, packages or paths to load, comma-separated",
    required="always",
)
API_URL = _row(
    "api_url",
    str,
    None,
    "gateway root the envelopes' callbackBaseUrl must equal",
    required="always",
    fallback="ARCO_API_URL",
)
TENANT_ID = _row(
    "tenant_id",
    str,
    None,
    "the only tenant whose envelopes are accepted",
    required="always",
    fallback="ARCO_TENANT_ID",
)
WORKSPACE_ID = _row(
    "workspace_id",
    str,
    None,
    "the only workspaces (of the tenant) whose envelopes are accepted, comma-separated",
    required="always",
    fallback="ARCO_WORKSPACE_ID",
)
CALLBACK_ADDRESS = _row(
    "callback_address",
    str,
    None,
    "the api's gRPC address (host:port, or ipv4:h:p1,h:p2 for replicas): callbacks and log "
    "uploads go to its TaskCallbackService over mutual TLS, one hop fewer than the gateway; "
    "unset: over HTTP to the api URL",
)
GRPC_ADDRESS = _row(
    "grpc_address", str, "127.0.0.1:0", "gRPC listen address host:port (port 0 = any; '' disables)"
)
HTTP_ADDRESS = _row(
    "http_address", str, "127.0.0.1:0", "HTTP listen address host:port (port 0 = any; '' disables)"
)
READY_FILE = _row(
    "ready_file",
    str,
    None,
    "write {pid, addresses} here (atomically) once listening",
    fallback="ARCO_READY_FILE",
)
CONCURRENCY = _row("concurrency", int, 4, "tasks executed at the same time")
WORKER_ID = _row("worker_id", str, None, "worker id sent with callbacks", default_doc="host:pid")
OUTPUT_DIR = _row("output_dir", str, ".arco/outputs", "root directory for asset outputs (Parquet)")
ACK_MODE = _row("ack_mode", str, "started", "answer a dispatch after 'started' or 'completed'")
HEARTBEAT_FLOOR_SEC = _row("heartbeat_floor_sec", float, 1.0, "shortest heartbeat interval")
HEARTBEAT_CEILING_SEC = _row(
    "heartbeat_ceiling_sec", float, 60.0, "longest heartbeat interval (timeout / 5 in between)"
)
SHUTDOWN_GRACE_SEC = _row(
    "shutdown_grace_sec", float, 30.0, "on SIGTERM, how long running tasks may finish"
)
CANCEL_GRACE_SEC = _row(
    "cancel_grace_sec", float, 10.0, "how long a cancelled asset may take to stop"
)
UPLOAD_LOGS = _row("upload_logs", bool, True, "upload captured task output")
LOG_LEVEL = _row("log_level", str, "INFO", "DEBUG, INFO, WARNING, ERROR")
LOG_FORMAT = _row("log_format", str, "json", "json or console")

# The rows that are plain ``--flag VALUE`` options (modules are positional, and upload_logs
# is the ``--no-upload-logs`` switch).
_OPTIONS = (
    API_URL,
    TENANT_ID,
    WORKSPACE_ID,
    DISPATCH_SECRET,
    CALLBACK_ADDRESS,
    GRPC_ADDRESS,
    HTTP_ADDRESS,
    READY_FILE,
    CONCURRENCY,
    WORKER_ID,
    OUTPUT_DIR,
    ACK_MODE,
    HEARTBEAT_FLOOR_SEC,
    HEARTBEAT_CEILING_SEC,
    SHUTDOWN_GRACE_SEC,
    CANCEL_GRACE_SEC,
    LOG_LEVEL,
    LOG_FORMAT,
)
# The process-wide rows the worker reads under their own names (posture and mutual TLS).
WORKER_SETTINGS = (MODULES, *_OPTIONS, UPLOAD_LOGS, ENVIRONMENT, *TLS_SETTINGS)


@dataclass(frozen=True)
class WorkerConfig:
    api_url: str = setting_field(API_URL, without_default=True)
    tenant_id: str = setting_field(TENANT_ID, without_default=True)
    workspace_id: str = setting_field(WORKSPACE_ID, without_default=True)
    dispatch_secret: str = setting_field(DISPATCH_SECRET, without_default=True)
    modules: tuple[str, ...] = setting_field(MODULES, without_default=True)
    callback_address: str | None = setting_field(CALLBACK_ADDRESS)
    grpc_address: str | None = setting_field(GRPC_ADDRESS)
    http_address: str | None = setting_field(HTTP_ADDRESS)
    ready_file: str | None = setting_field(READY_FILE)
    concurrency: int = setting_field(CONCURRENCY)
    worker_id: str = setting_field(WORKER_ID, default_factory=_default_worker_id)
    output_dir: str = setting_field(OUTPUT_DIR)
    # "started": answer a dispatch once `started` is acknowledged (execution continues in
    # the background); "completed": answer only after the completed callback.
    ack_mode: str = setting_field(ACK_MODE)
    heartbeat_floor_sec: float = setting_field(HEARTBEAT_FLOOR_SEC)
    heartbeat_ceiling_sec: float = setting_field(HEARTBEAT_CEILING_SEC)
    shutdown_grace_sec: float = setting_field(SHUTDOWN_GRACE_SEC)
    cancel_grace_sec: float = setting_field(CANCEL_GRACE_SEC)
    slot_wait_sec: float = 30.0
    completion_deadline_sec: float = 60.0
    recent_dispatch_limit: int = 1024
    upload_logs: bool = setting_field(UPLOAD_LOGS)
    log_level: str = setting_field(LOG_LEVEL)
    log_format: str = setting_field(LOG_FORMAT)
    # dev, staging or prod (ARCO_ENVIRONMENT, default prod): see arco_runtime.posture
    environment: str = setting_field(ENVIRONMENT)
    # Mutual TLS of the gRPC listener (ARCO_TLS_*); None is refused when gRPC is on.
    tls: TlsConfig | None = None

    def __post_init__(self) -> None:
        missing = [
            name
            for name in ("api_url", "tenant_id", "workspace_id", "dispatch_secret")
            if not str(getattr(self, name) or "").strip()
        ]
        if missing:
            raise ValueError(
                "worker configuration is missing: "
                + ", ".join(f"{name} ({ENV_PREFIX}{name.upper()})" for name in missing)
            )
        if not self.grpc_address and not self.http_address:
            raise ValueError("the worker needs a gRPC or an HTTP listen address")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.ack_mode not in ("started", "completed"):
            raise ValueError("ack_mode must be 'started' or 'completed'")
        if not 0 < self.heartbeat_floor_sec <= self.heartbeat_ceiling_sec:
            raise ValueError("need 0 < heartbeat_floor_sec <= heartbeat_ceiling_sec")
        check_environment(self.environment)
        if self.grpc_address and self.tls is None:
            raise ValueError(
                "the worker's gRPC listener needs ARCO_TLS_CERT, ARCO_TLS_KEY and ARCO_TLS_CA "
                "(or ARCO_TLS=off in dev on loopback)"
            )
        if self.callback_address and self.tls is None:
            raise ValueError(
                f"{CALLBACK_ADDRESS.name} needs the worker's mesh certificate (ARCO_TLS_CERT, "
                "ARCO_TLS_KEY, ARCO_TLS_CA; or ARCO_TLS=off in dev on loopback)"
            )
        check_binds(
            self.environment,
            self.tls or TlsConfig.plaintext(),
            [
                (GRPC_ADDRESS.name, self.grpc_address or ""),
                (HTTP_ADDRESS.name, self.http_address or ""),
            ],
        )
        check_secrets(self.environment, [(DISPATCH_SECRET, self.dispatch_secret)])

    def redacted(self) -> dict[str, Any]:
        return redacted(self)


_BOOL_TRUE = frozenset({"1", "true", "yes", "on"})


def build_parser(prog: str = "python -m arco_sdk.worker") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Run an Arco worker: serves gRPC arco.worker.v1.WorkerService/Dispatch and HTTP "
            "POST /dispatch, executes the assets of the given modules and reports back "
            f"through the task callbacks. Every option can also be set as {ENV_PREFIX}<NAME> "
            f"(e.g. {ENV_PREFIX}API_URL); {_fallbacks()} are used as fallbacks."
        ),
        epilog=epilog((ENVIRONMENT, *TLS_SETTINGS)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("modules", nargs="*", help=f"{describe(MODULES)} [{MODULES.name}]")
    for setting in _OPTIONS:
        name = field_name(setting)
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=setting.type,
            default=None,
            help=f"{_percent_safe(describe(setting))} [{setting.name}]",
        )
    parser.add_argument(
        "--no-upload-logs",
        dest="upload_logs",
        action="store_false",
        default=None,
        help=f"do not upload captured task output [{UPLOAD_LOGS.name}=false]",
    )
    return parser


def _fallbacks() -> str:
    names = [setting.fallback for setting in WORKER_SETTINGS if setting.fallback]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _percent_safe(text: str) -> str:
    return text.replace("%", "%%")  # argparse formats help strings with %


def config_from_args(
    args: argparse.Namespace | Mapping[str, Any], env: Mapping[str, str] | None = None
) -> WorkerConfig:
    """Flags > ARCO_WORKER_* env > (for the four shared settings) ARCO_* env > defaults."""
    environ = os.environ if env is None else env
    given = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    values: dict[str, Any] = {}
    for setting in (*_OPTIONS, UPLOAD_LOGS, MODULES):
        name, kind = field_name(setting), setting.type
        value = given.get(name)
        if value in (None, [], ()):
            raw = environ.get(setting.name)
            if raw is None and setting.fallback:
                raw = environ.get(setting.fallback)
            if raw is None:
                continue
            if kind is bool:
                value = raw.strip().lower() in _BOOL_TRUE
            elif kind is tuple:
                value = tuple(part.strip() for part in raw.split(",") if part.strip())
            elif kind in (int, float):
                try:
                    value = kind(raw)
                except ValueError:
                    raise ValueError(f"{setting.name}={raw!r} is not a number") from None
            else:
                value = raw
        if name == "modules" and isinstance(value, Sequence) and not isinstance(value, str):
            value = tuple(value)
        if name in ("grpc_address", "http_address") and value == "":
            value = None
        values[name] = value
    values.setdefault("modules", ())
    for required in ("api_url", "tenant_id", "workspace_id", "dispatch_secret"):
        values.setdefault(required, "")
    values["environment"] = ENVIRONMENT.read(environ)
    if values.get("grpc_address", GRPC_ADDRESS.default):
        values["tls"] = TlsConfig.from_env(environ)
    return WorkerConfig(**values)
