"""``arco admin``: operator commands that talk to a compactor over the mesh.

They connect to the compactor of one domain (``--compactor`` or
``ARCO_ORCH_COMPACTOR_ADDRESS`` / ``ARCO_CATALOG_COMPACTOR_ADDRESS``) with mutual TLS,
presenting the operator certificate (``--tls-cert/--tls-key/--tls-ca`` or
``ARCO_TLS_CERT/KEY/CA``): the compactor serves Rebuild and VerifyProjection to the
operator role only.
"""

# Typer commands take their options as parameters; the framework calls them by keyword.
# ruff: noqa: PLR0917

from __future__ import annotations

import contextlib
import enum
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, NoReturn

import grpc
import typer
from arco.compactor.v1 import compactor_service_pb2 as pb
from arco.compactor.v1 import compactor_service_pb2_grpc as pb_grpc
from rich.console import Console
from rich.table import Table
from rich.text import Text

from arco_runtime.rpc_errors import parse_rpc_error
from arco_runtime.settings import ConfigError
from arco_runtime.tls import Role, TlsConfig, TlsError, sync_channel

__all__ = ["admin_app"]

DEFAULT_TIMEOUT_SEC = 600.0

admin_app = typer.Typer(
    name="admin",
    help="Operator tools: rebuild or verify a compactor's projection (operator certificate).",
    no_args_is_help=True,
)


class Domain(enum.StrEnum):
    ORCHESTRATION = "orchestration"
    CATALOG = "catalog"


# Where each domain's compactor listens unless --compactor says otherwise (the mesh rows).
_ADDRESS_ENV: Mapping[Domain, tuple[str, str]] = {
    Domain.ORCHESTRATION: ("ARCO_ORCH_COMPACTOR_ADDRESS", "127.0.0.1:50061"),
    Domain.CATALOG: ("ARCO_CATALOG_COMPACTOR_ADDRESS", "127.0.0.1:50062"),
}

DomainOption = Annotated[
    Domain, typer.Option("--domain", "-d", help="the compactor's domain", case_sensitive=False)
]
CompactorOption = Annotated[
    str | None,
    typer.Option(
        "--compactor",
        help="compactor gRPC host:port (default: ARCO_ORCH_COMPACTOR_ADDRESS or "
        "ARCO_CATALOG_COMPACTOR_ADDRESS, by domain)",
    ),
]
CertOption = Annotated[
    Path | None, typer.Option("--tls-cert", help="operator certificate (default: ARCO_TLS_CERT)")
]
KeyOption = Annotated[
    Path | None, typer.Option("--tls-key", help="its private key (default: ARCO_TLS_KEY)")
]
CaOption = Annotated[
    Path | None, typer.Option("--tls-ca", help="the mesh CA (default: ARCO_TLS_CA)")
]
TimeoutOption = Annotated[float, typer.Option("--timeout", help="seconds to wait for the answer")]


def _console() -> Console:
    # Keys and paths are printed as they are: no markup, no :emoji: codes.
    return Console(highlight=False, soft_wrap=True, markup=False, emoji=False)


def _fail(message: str) -> NoReturn:
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        Text(f"error: {message}", style="red")
    )
    raise typer.Exit(1)


def _tls(cert: Path | None, key: Path | None, ca: Path | None) -> TlsConfig:
    env = dict(os.environ)
    for name, value in (("ARCO_TLS_CERT", cert), ("ARCO_TLS_KEY", key), ("ARCO_TLS_CA", ca)):
        if value is not None:
            env[name] = str(value)
    try:
        tls = TlsConfig.from_env(env)
        role = tls.role()
    except (TlsError, ConfigError) as exc:
        _fail(str(exc))
    if tls.enabled and role is not Role.OPERATOR:
        _fail(
            f"the certificate names the {role.value if role else 'no'} role; the compactor "
            "serves these commands to the operator certificate only"
        )
    return tls


def _address(domain: Domain, compactor: str | None) -> str:
    if compactor:
        return compactor
    name, default = _ADDRESS_ENV[domain]
    return os.environ.get(name, "").strip() or default


@contextlib.contextmanager
def _compactor(address: str, tls: TlsConfig, call: str) -> Iterator[pb_grpc.CompactorServiceStub]:
    """A stub on a channel to ``address``; a failed RPC prints the server's error, exit 1."""
    with sync_channel(address, tls) as channel:
        try:
            yield pb_grpc.CompactorServiceStub(channel)
        except grpc.RpcError as exc:
            if not isinstance(exc, grpc.Call):
                _fail(f"{call} at {address}: {exc}")
            wire = parse_rpc_error(exc)
            reason = f" ({wire.reason})" if wire.reason else ""
            _fail(f"{call} at {address}: {wire.code.name}{reason}: {wire.message}")


@admin_app.command()
def rebuild(
    domain: DomainOption,
    partial: Annotated[
        list[str] | None,
        typer.Option(
            "--partial",
            help="replay only this ledger path (scope-relative, repeatable): the published "
            "projection then holds only these events",
        ),
    ] = None,
    compactor: CompactorOption = None,
    tls_cert: CertOption = None,
    tls_key: KeyOption = None,
    tls_ca: CaOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_SEC,
) -> None:
    """Replay the domain's whole ledger into a fresh projection, publish it as a new base.

    With --partial, only the named ledger paths are replayed (what they omit is dropped).
    """
    address = _address(domain, compactor)
    request = pb.RebuildRequest(event_paths=partial or [], partial=bool(partial))
    with _compactor(address, _tls(tls_cert, tls_key, tls_ca), "Rebuild") as stub:
        answer = stub.Rebuild(request, timeout=timeout)
    console = _console()
    kind = "whole ledger" if answer.whole else f"partial: {len(partial or [])} paths"
    console.print(
        f"rebuilt {domain.value} ({kind}): {answer.events_applied} events replayed "
        f"({answer.events_skipped} skipped) from {answer.paths_read} ledger objects, "
        f"published as version {answer.manifest_seq}"
    )
    table = Table(show_edge=False)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for rows in answer.tables:
        table.add_row(rows.table, str(rows.rows))
    console.print(table)


@admin_app.command()
def verify(
    domain: DomainOption,
    compactor: CompactorOption = None,
    tls_cert: CertOption = None,
    tls_key: KeyOption = None,
    tls_ca: CaOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_SEC,
) -> None:
    """Compare the published projection with a fresh whole replay (exit 1 if they differ).

    The replay runs in the compactor's memory: nothing is written.
    """
    address = _address(domain, compactor)
    tls = _tls(tls_cert, tls_key, tls_ca)
    with _compactor(address, tls, "VerifyProjection") as stub:
        answer = stub.VerifyProjection(pb.VerifyProjectionRequest(), timeout=timeout)
    console = _console()
    table = Table(show_edge=False)
    for column in ("table", "published rows", "replayed rows", ""):
        table.add_column(column, justify="right" if "rows" in column else "left")
    for diff in answer.tables:
        table.add_row(
            diff.table,
            str(diff.published_rows),
            str(diff.replayed_rows),
            "ok" if diff.matches else "DIFFERS",
        )
    console.print(
        f"{domain.value} version {answer.manifest_seq}: {answer.events_replayed} events replayed"
    )
    console.print(table)
    for diff in answer.tables:
        if not diff.matches:
            console.print(
                f"{diff.table}: {diff.only_published} rows only published, "
                f"{diff.only_replayed} only in the replay, {diff.differing} differing; "
                f"keys {', '.join(diff.sample_keys) or '-'}"
            )
    if answer.matches:
        console.print("ok: the published projection matches a fresh replay")
        return
    differing = [d.table for d in answer.tables if not d.matches]
    console.print(f"DIFFERENT: the published projection differs in {', '.join(differing)}")
    if answer.ledger_last_event_id > answer.published_last_event_id:
        console.print(
            f"the ledger holds events after the published watermark "
            f"({answer.published_last_event_id or 'none'} < {answer.ledger_last_event_id}): "
            "some of the difference may be events not compacted yet"
        )
    raise typer.Exit(1)
