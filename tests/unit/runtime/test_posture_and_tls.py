"""Fail-closed posture checks and the mesh certificate helpers (no servers here; the
servers over mutual TLS are exercised by tests/contract/test_authorization_matrix.py)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from arco_runtime.posture import MIN_SECRET_BYTES, check_binds, check_secrets, is_loopback
from arco_runtime.settings import IDENTITY_SECRET, ConfigError
from arco_runtime.tls import (
    Role,
    TlsConfig,
    TlsError,
    mint_ca,
    mint_mesh,
    role_of_pem,
)

PLAINTEXT = TlsConfig.plaintext()
MTLS = TlsConfig(enabled=True)


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1:0", True),
        ("127.0.0.2:50051", True),
        ("localhost:8080", True),
        ("[::1]:50051", True),
        ("0.0.0.0:50051", False),
        (":50051", False),
        ("[::]:50051", False),
        ("10.0.0.4:50051", False),
        ("arco-api:50051", False),
    ],
)
def test_loopback_binds_are_recognised(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def test_dev_posture_is_refused_on_a_non_loopback_bind() -> None:
    check_binds("dev", MTLS, [("ARCO_LISTEN_ADDRESS", "127.0.0.1:0")])
    with pytest.raises(ConfigError, match=r"dev is refused on a non-loopback bind \(ARCO_LISTEN"):
        check_binds("dev", MTLS, [("ARCO_LISTEN_ADDRESS", "0.0.0.0:50051")])


def test_plaintext_needs_dev_and_loopback() -> None:
    check_binds("dev", PLAINTEXT, [("ARCO_LISTEN_ADDRESS", "127.0.0.1:0")])
    with pytest.raises(ConfigError, match=r"ARCO_TLS=off .* only with ARCO_ENVIRONMENT=dev"):
        check_binds("prod", PLAINTEXT, [("ARCO_LISTEN_ADDRESS", "127.0.0.1:0")])
    with pytest.raises(ConfigError, match="non-loopback"):
        check_binds("dev", PLAINTEXT, [("ARCO_LISTEN_ADDRESS", "0.0.0.0:1")])
    # production binds anywhere, over mutual TLS
    check_binds("prod", MTLS, [("ARCO_LISTEN_ADDRESS", "0.0.0.0:50051")])


def test_secrets_outside_dev_are_present_and_long() -> None:
    check_secrets("dev", [(IDENTITY_SECRET, "")])
    with pytest.raises(ConfigError, match="requires ARCO_IDENTITY_SECRET"):
        check_secrets("prod", [(IDENTITY_SECRET, "")])
    with pytest.raises(ConfigError, match=f"at least {MIN_SECRET_BYTES} bytes"):
        check_secrets("staging", [(IDENTITY_SECRET, "x" * (MIN_SECRET_BYTES - 1))])
    check_secrets("prod", [(IDENTITY_SECRET, "x" * MIN_SECRET_BYTES)])


def test_minted_certificates_carry_their_role(tmp_path: Path) -> None:
    certs = mint_mesh(tmp_path, (Role.API, Role.WORKER))
    assert role_of_pem(certs.for_role(Role.API).cert.read_bytes()) is Role.API
    assert certs.config(Role.WORKER).role() is Role.WORKER
    assert (certs.for_role(Role.API).key.stat().st_mode & 0o777) == 0o600
    cert = x509.load_pem_x509_certificate(certs.for_role(Role.API).cert.read_bytes())
    assert cert.issuer == x509.load_pem_x509_certificate(certs.ca_cert.read_bytes()).subject


def _cert_with_uris(tmp_path: Path, *uris: str) -> bytes:
    ca_cert, ca_key = mint_ca(tmp_path)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "odd")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(u) for u in uris]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize(
    "uris",
    [
        ("spiffe://arco/root",),  # not a role
        ("spiffe://arco/api", "spiffe://arco/operator"),  # two roles: ambiguous
        ("spiffe://elsewhere/api",),  # another trust domain
        (),
    ],
)
def test_a_certificate_without_exactly_one_known_role_has_none(
    tmp_path: Path, uris: tuple[str, ...]
) -> None:
    assert role_of_pem(_cert_with_uris(tmp_path, *uris)) is None
    assert (
        role_of_pem(b"-----BEGIN CERTIFICATE-----\nnot a cert\n-----END CERTIFICATE-----") is None
    )


def test_tls_settings_fail_closed(tmp_path: Path) -> None:
    with pytest.raises(TlsError, match="ARCO_TLS_CERT, ARCO_TLS_KEY, ARCO_TLS_CA required"):
        TlsConfig.from_env({})
    assert TlsConfig.from_env({"ARCO_TLS": "off"}).enabled is False
    certs = mint_mesh(tmp_path, (Role.API,))
    files = certs.for_role(Role.API)
    assert TlsConfig.from_env(files.env()).role() is Role.API
    with pytest.raises(TlsError, match="unreadable"):
        TlsConfig.from_env({**files.env(), "ARCO_TLS_CA": str(tmp_path / "missing.crt")})
    junk = tmp_path / "junk.crt"
    junk.write_text("not pem")
    with pytest.raises(TlsError, match="is not PEM"):
        TlsConfig.from_env({**files.env(), "ARCO_TLS_CERT": str(junk)})
    # the CA itself names no role: a process cannot run on it
    with pytest.raises(TlsError, match="no spiffe://arco/<role> URI SAN"):
        TlsConfig.from_env({**files.env(), "ARCO_TLS_CERT": str(certs.ca_cert)})
