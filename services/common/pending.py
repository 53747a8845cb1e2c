"""UNIMPLEMENTED answers for RPCs whose capability has not landed yet.

Never a fake success: the caller learns exactly which capability is missing.
"""

from __future__ import annotations

from typing import NoReturn

from arco_core.errors import Unimplemented


def not_implemented(rpc: str, missing: str) -> NoReturn:
    raise Unimplemented(f"{rpc} is not implemented yet: {missing}", reason="rpc_not_implemented")
