#!/usr/bin/env python
"""Write the settings tables of docs/operations.md and the environment contract
``deploy/contract.json`` from the ``Setting`` rows, and the authorization matrix from
:data:`arco_runtime.authz.MATRIX`.

Each table sits between ``<!-- settings:NAME -->`` and ``<!-- /settings:NAME -->`` (the
matrix between ``<!-- authz:matrix -->`` and ``<!-- /authz:matrix -->``); the text
outside the markers is left alone. The contract lists, per process, every variable it
reads (name, type, default, secret, when required, description), for deployment tools.
``--check`` exits 1 when the docs or the contract differ from the rows
(tests/unit/runtime/test_settings.py runs it in the suite).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "gen"), str(ROOT)]

from arco_runtime.authz import markdown_matrix  # noqa: E402
from arco_runtime.settings import Setting, contract, markdown_table  # noqa: E402

DOCS = (ROOT / "docs" / "operations.md",)
CONTRACT = ROOT / "deploy" / "contract.json"
MATRIX_MARKER = "authz:matrix"


def groups() -> dict[str, tuple[Setting[Any], ...]]:
    """Every documented table: its marker name and rows (each row in exactly one table)."""
    from arco_sdk.worker.config import WORKER_SETTINGS  # noqa: PLC0415
    from gateway.config import SERVICE_SETTINGS as GATEWAY  # noqa: PLC0415
    from services.api.config import SERVICE_SETTINGS as API  # noqa: PLC0415
    from services.automation.config import SERVICE_SETTINGS as AUTOMATION  # noqa: PLC0415
    from services.common.config import COMMON_SETTINGS  # noqa: PLC0415
    from services.common.dispatch import CLOUD_TASKS_SETTINGS  # noqa: PLC0415
    from services.common.sender_config import SENDER_SETTINGS  # noqa: PLC0415
    from services.compactor.config import SERVICE_SETTINGS as COMPACTOR  # noqa: PLC0415
    from services.dispatcher.config import SERVICE_SETTINGS as DISPATCHER  # noqa: PLC0415
    from services.sweeper.config import SERVICE_SETTINGS as SWEEPER  # noqa: PLC0415

    def own(rows: tuple[Setting[Any], ...], *shared: tuple[Setting[Any], ...]) -> tuple:
        return tuple(row for row in rows if not any(row in group for group in shared))

    return {
        "common": COMMON_SETTINGS,
        "api": API,
        "compactor": COMPACTOR,
        "dispatcher": own(DISPATCHER, SENDER_SETTINGS),
        "sweeper": own(SWEEPER, SENDER_SETTINGS),
        "automation": AUTOMATION,
        "sender": own(SENDER_SETTINGS, CLOUD_TASKS_SETTINGS),
        "cloud_tasks": CLOUD_TASKS_SETTINGS,
        "gateway": GATEWAY,
        "worker": WORKER_SETTINGS,
    }


def processes() -> dict[str, tuple[Setting[Any], ...]]:
    """Every process the mesh runs and the variables it reads (as its ``--help`` lists)."""
    from arco_sdk.worker.config import WORKER_SETTINGS  # noqa: PLC0415
    from gateway.config import SERVICE_SETTINGS as GATEWAY  # noqa: PLC0415
    from services.api.config import SERVICE_SETTINGS as API  # noqa: PLC0415
    from services.automation.config import SERVICE_SETTINGS as AUTOMATION  # noqa: PLC0415
    from services.common.config import COMMON_SETTINGS  # noqa: PLC0415
    from services.compactor.config import SERVICE_SETTINGS as COMPACTOR  # noqa: PLC0415
    from services.dispatcher.config import SERVICE_SETTINGS as DISPATCHER  # noqa: PLC0415
    from services.sweeper.config import SERVICE_SETTINGS as SWEEPER  # noqa: PLC0415

    return {
        "services.automation": (*COMMON_SETTINGS, *AUTOMATION),
        "services.api": (*COMMON_SETTINGS, *API),
        "services.compactor": (*COMMON_SETTINGS, *COMPACTOR),
        "services.dispatcher": (*COMMON_SETTINGS, *DISPATCHER),
        "services.sweeper": (*COMMON_SETTINGS, *SWEEPER),
        "gateway": GATEWAY,
        "arco_sdk.worker": WORKER_SETTINGS,
    }


def contract_text() -> str:
    return json.dumps(contract(processes()), indent=2, sort_keys=True) + "\n"


def render(text: str, tables: dict[str, tuple[Setting[Any], ...]]) -> str:
    """``text`` with every marked table replaced by the one its rows give."""
    for name, rows in tables.items():
        pattern = re.compile(
            rf"(<!-- settings:{name} -->\n).*?(<!-- /settings:{name} -->)", re.DOTALL
        )
        text = pattern.sub(
            lambda match, rows=rows: f"{match[1]}{markdown_table(rows)}\n{match[2]}", text
        )
    matrix = re.compile(rf"(<!-- {MATRIX_MARKER} -->\n).*?(<!-- /{MATRIX_MARKER} -->)", re.DOTALL)
    return matrix.sub(lambda match: f"{match[1]}{markdown_matrix()}\n{match[2]}", text)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    tables = groups()
    stale = []
    for path in DOCS:
        text = path.read_text()
        missing = [name for name in tables if f"<!-- settings:{name} -->" not in text]
        if f"<!-- {MATRIX_MARKER} -->" not in text:
            missing.append(MATRIX_MARKER)
        if missing and path.name == "operations.md":
            print(f"{path}: no markers for {', '.join(missing)}", file=sys.stderr)
            return 1
        new = render(text, tables)
        if new != text:
            stale.append(path)
            if not check:
                path.write_text(new)
    wanted = contract_text()
    if not CONTRACT.exists() or CONTRACT.read_text() != wanted:
        stale.append(CONTRACT)
        if not check:
            CONTRACT.parent.mkdir(exist_ok=True)
            CONTRACT.write_text(wanted)
    if check and stale:
        names = ", ".join(str(p.relative_to(ROOT)) for p in stale)
        print(
            f"{names}: settings tables, contract or matrix differ from the rows; run {__file__}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
