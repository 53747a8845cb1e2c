"""Worker configuration: flags override ``ARCO_WORKER_*`` environment variables, which
override the defaults below."""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["ENV_PREFIX", "WorkerConfig", "build_parser", "config_from_args"]

ENV_PREFIX = "ARCO_WORKER_"


def _default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class WorkerConfig:
    api_url: str
    tenant_id: str
    workspace_id: str
    dispatch_secret: str
    modules: tuple[str, ...]
    api_token: str | None = None
    grpc_address: str | None = "127.0.0.1:0"
    http_address: str | None = "127.0.0.1:0"
    ready_file: str | None = None
    concurrency: int = 4
    worker_id: str = field(default_factory=_default_worker_id)
    output_dir: str = ".arco/outputs"
    # "started": answer a dispatch once `started` is acknowledged (execution continues in
    # the background); "completed": answer only after the completed callback.
    ack_mode: str = "started"
    heartbeat_floor_sec: float = 1.0
    heartbeat_ceiling_sec: float = 60.0
    shutdown_grace_sec: float = 30.0
    cancel_grace_sec: float = 10.0
    slot_wait_sec: float = 30.0
    completion_deadline_sec: float = 60.0
    recent_dispatch_limit: int = 1024
    upload_logs: bool = True
    log_level: str = "INFO"
    log_format: str = "json"

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

    def redacted(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for secret in ("dispatch_secret", "api_token"):
            if out.get(secret):
                out[secret] = "***"
        return out


_BOOL_TRUE = frozenset({"1", "true", "yes", "on"})
# (flag/field name, type, help). Every field is also read from ARCO_WORKER_<NAME>.
_OPTIONS: tuple[tuple[str, type, str], ...] = (
    ("api_url", str, "gateway root the envelopes' callbackBaseUrl must equal"),
    ("api_token", str, "bearer token for log uploads (dev headers are sent otherwise)"),
    ("tenant_id", str, "the only tenant whose envelopes are accepted"),
    ("workspace_id", str, "the only workspace whose envelopes are accepted"),
    ("dispatch_secret", str, "shared secret senders present (X-Arco-Dispatch-Secret)"),
    ("grpc_address", str, "gRPC listen address host:port (port 0 = any; '' disables)"),
    ("http_address", str, "HTTP listen address host:port (port 0 = any; '' disables)"),
    ("ready_file", str, "write {pid, addresses} here (atomically) once listening"),
    ("concurrency", int, "tasks executed at the same time"),
    ("worker_id", str, "worker id sent with callbacks (default host:pid)"),
    ("output_dir", str, "root directory for asset outputs (Parquet)"),
    ("ack_mode", str, "answer a dispatch after 'started' (default) or 'completed'"),
    ("heartbeat_floor_sec", float, "shortest heartbeat interval"),
    ("shutdown_grace_sec", float, "on SIGTERM, how long running tasks may finish"),
    ("cancel_grace_sec", float, "how long a cancelled asset may take to stop"),
    ("log_level", str, "DEBUG, INFO, WARNING, ERROR"),
    ("log_format", str, "json or console"),
)


def build_parser(prog: str = "python -m arco_sdk.worker") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Run an Arco worker: serves gRPC arco.worker.v1.WorkerService/Dispatch and HTTP "
            "POST /dispatch, executes the assets of the given modules and reports back "
            f"through the task callbacks. Every option can also be set as {ENV_PREFIX}<NAME> "
            f"(e.g. {ENV_PREFIX}API_URL); ARCO_API_URL, ARCO_TOKEN, ARCO_TENANT_ID, "
            "ARCO_WORKSPACE_ID and ARCO_READY_FILE are used as fallbacks."
        ),
    )
    parser.add_argument(
        "modules",
        nargs="*",
        help=f"asset modules, packages or paths to load ({ENV_PREFIX}MODULES, comma-separated)",
    )
    for name, kind, help_text in _OPTIONS:
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=kind,
            default=None,
            help=f"{help_text} [{ENV_PREFIX}{name.upper()}]",
        )
    parser.add_argument(
        "--no-upload-logs",
        dest="upload_logs",
        action="store_false",
        default=None,
        help=f"do not upload captured task output [{ENV_PREFIX}UPLOAD_LOGS=false]",
    )
    return parser


def config_from_args(
    args: argparse.Namespace | Mapping[str, Any], env: Mapping[str, str] | None = None
) -> WorkerConfig:
    """Flags > ARCO_WORKER_* env > (for the four shared settings) ARCO_* env > defaults."""
    environ = os.environ if env is None else env
    given = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    fallbacks = {
        "api_url": "ARCO_API_URL",
        "api_token": "ARCO_TOKEN",
        "tenant_id": "ARCO_TENANT_ID",
        "workspace_id": "ARCO_WORKSPACE_ID",
        "ready_file": "ARCO_READY_FILE",
    }
    values: dict[str, Any] = {}
    for name, kind, _ in (*_OPTIONS, ("upload_logs", bool, ""), ("modules", tuple, "")):
        value = given.get(name)
        if value in (None, [], ()):
            raw = environ.get(ENV_PREFIX + name.upper())
            if raw is None and name in fallbacks:
                raw = environ.get(fallbacks[name])
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
                    raise ValueError(
                        f"{ENV_PREFIX}{name.upper()}={raw!r} is not a number"
                    ) from None
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
    return WorkerConfig(**values)
