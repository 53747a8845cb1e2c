"""The tests' mesh CA: one certificate per role, minted once per test session.

Every service a test starts gets the certificate of its role, and test clients present
one (operator by default), so the suite runs the mesh as production does: mutual TLS on
every gRPC hop, the authorization matrix enforced.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc

from arco_runtime.tls import MeshCertificates, Role, TlsConfig, aio_channel, mint_mesh, sync_channel

# The role of the processes the tests start, by module.
MODULE_ROLES = {
    "services.api": Role.API,
    "services.compactor": Role.COMPACTOR,
    "services.dispatcher": Role.DISPATCHER,
    "services.sweeper": Role.SWEEPER,
    "services.automation": Role.AUTOMATION,
    "gateway": Role.GATEWAY,
    "arco_sdk.worker": Role.WORKER,
}


@functools.cache
def test_certs() -> MeshCertificates:
    directory = Path(tempfile.mkdtemp(prefix="arco-test-ca-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return mint_mesh(directory)


def tls_config(role: Role = Role.OPERATOR) -> TlsConfig:
    return test_certs().config(role)


def tls_env(role: Role) -> dict[str, str]:
    return test_certs().for_role(role).env()


def mesh_channel(
    address: str, role: Role = Role.OPERATOR, options: Sequence[tuple[str, Any]] = ()
) -> grpc.aio.Channel:
    """An asyncio channel to a test service, presenting ``role``'s certificate."""
    return aio_channel(address, tls_config(role), options)


def mesh_sync_channel(address: str, role: Role = Role.OPERATOR) -> grpc.Channel:
    return sync_channel(address, tls_config(role))
