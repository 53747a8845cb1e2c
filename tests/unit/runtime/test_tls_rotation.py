"""Rotating the mesh CA on a running server (docs/operations.md, "Rotating the CA").

A real grpc.aio server over mutual TLS, never restarted: it starts on CA1 files; the CA
bundle becomes CA1+CA2 and its certificate a CA2 leaf (clients of both CAs connect);
then CA1 leaves the bundle and a CA1 client is refused at the handshake.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from arco_runtime.tls import Role, TlsConfig, TlsFiles, add_port, mint_ca, mint_leaf

Ca = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def _write(path: Path, data: bytes) -> None:
    """Replace ``path`` and move its mtime forward (the server notices by mtime; a
    filesystem with coarse timestamps could otherwise hide a quick second write)."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_bytes(data)
    stamp = max(path.stat().st_mtime_ns, before + 1_000_000_000)
    os.utime(path, ns=(stamp, stamp))


def _leaf(directory: Path, role: Role, ca: Ca, name: str) -> tuple[bytes, bytes]:
    cert, key = mint_leaf(directory, role, ca, name=name)
    return cert.read_bytes(), key.read_bytes()


@pytest.fixture
def cas(tmp_path: Path) -> tuple[Ca, Ca]:
    return mint_ca(tmp_path / "ca1", name="ca one"), mint_ca(tmp_path / "ca2", name="ca two")


@pytest.fixture
async def server(tmp_path: Path, cas: tuple[Ca, Ca]) -> AsyncIterator[tuple[str, TlsFiles]]:
    ca1, _ = cas
    directory = tmp_path / "server"
    directory.mkdir()
    cert, key = mint_leaf(directory, Role.COMPACTOR, ca1, name="server")
    bundle = directory / "bundle.crt"
    _write(bundle, (tmp_path / "ca1" / "ca.crt").read_bytes())
    files = TlsFiles(cert, key, bundle)
    served = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, served)
    port = add_port(served, "127.0.0.1:0", TlsConfig(enabled=True, files=files))
    await served.start()
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    try:
        yield f"127.0.0.1:{port}", files
    finally:
        await served.stop(None)


async def _check(address: str, trust: bytes, leaf: tuple[bytes, bytes]) -> grpc.StatusCode:
    """One Health.Check on a fresh connection (its own handshake)."""
    cert, key = leaf
    credentials = grpc.ssl_channel_credentials(
        root_certificates=trust, private_key=key, certificate_chain=cert
    )
    options = [("grpc.use_local_subchannel_pool", 1)]
    async with grpc.aio.secure_channel(address, credentials, options=options) as channel:
        try:
            await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=10
            )
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


async def test_the_ca_rotates_without_a_server_restart(
    tmp_path: Path, cas: tuple[Ca, Ca], server: tuple[str, TlsFiles]
) -> None:
    address, files = server
    ca1, ca2 = cas
    ca1_pem = (tmp_path / "ca1" / "ca.crt").read_bytes()
    ca2_pem = (tmp_path / "ca2" / "ca.crt").read_bytes()
    clients = tmp_path / "clients"
    clients.mkdir()
    old_client = _leaf(clients, Role.OPERATOR, ca1, "old")
    new_client = _leaf(clients, Role.OPERATOR, ca2, "new")
    both = ca1_pem + ca2_pem

    assert await _check(address, ca1_pem, old_client) is grpc.StatusCode.OK
    # Before the rotation a CA2 client is refused (the server trusts CA1 only).
    assert await _check(address, both, new_client) is grpc.StatusCode.UNAVAILABLE

    # Step 1 and 2: the bundle trusts both CAs, and the server's own leaf is from CA2.
    _write(files.ca, both)
    cert, key = _leaf(tmp_path, Role.COMPACTOR, ca2, "server-ca2")
    _write(files.key, key)
    _write(files.cert, cert)
    assert await _check(address, ca2_pem, new_client) is grpc.StatusCode.OK
    assert await _check(address, both, old_client) is grpc.StatusCode.OK
    # The server now presents the CA2 leaf: a client trusting only CA1 refuses it.
    assert await _check(address, ca1_pem, old_client) is grpc.StatusCode.UNAVAILABLE

    # Step 3: CA1 leaves the bundle; its clients are refused, CA2 clients still connect.
    _write(files.ca, ca2_pem)
    assert await _check(address, both, old_client) is grpc.StatusCode.UNAVAILABLE
    assert await _check(address, ca2_pem, new_client) is grpc.StatusCode.OK
