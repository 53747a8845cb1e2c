"""Mutual TLS between mesh processes: certificates, credentials, and the caller's role.

Every gRPC hop of the mesh is mutually authenticated. Each process holds a certificate
signed by the mesh CA that carries its role as a URI SAN ``spiffe://arco/<role>``; a
server requires a client certificate from the same CA and takes the caller's role from
the verified peer (:func:`peer_role`), never from metadata.

Certificates come from files (``ARCO_TLS_CERT``, ``ARCO_TLS_KEY``, ``ARCO_TLS_CA``), so a
deployment brings its own CA or cert-manager; :func:`mint_mesh` makes a CA and one
certificate per role for the local mesh and the tests, so the local path is the
production path. Servers re-read the files when they change (a rotation needs no
restart of a server; clients pick new files up when they reconnect after a restart).
Plaintext (``ARCO_TLS=off``) is for debugging on loopback in dev posture only.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import ipaddress
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from arco_runtime.settings import ConfigError, Setting, flag, text

SPIFFE_PREFIX = "spiffe://arco/"


class Role(enum.StrEnum):
    """Who a mesh process is; the authorization matrix grants RPCs to roles."""

    API = "api"
    COMPACTOR = "compactor"
    DISPATCHER = "dispatcher"
    SWEEPER = "sweeper"
    AUTOMATION = "automation"
    WORKER = "worker"
    GATEWAY = "gateway"
    EDGE = "edge"  # the Envoy front proxy: forwards public gRPC with the user's JWT
    OPERATOR = "operator"  # people and tools: `arco admin`, manual dispatch and sweeps

    @property
    def uri(self) -> str:
        return SPIFFE_PREFIX + self.value


TLS = flag(
    "ARCO_TLS",
    "mutual TLS on every gRPC hop (on/off); off (plaintext) only with ARCO_ENVIRONMENT=dev on a "
    "loopback bind",
    True,
)
TLS_CERT = text(
    "ARCO_TLS_CERT",
    "PEM certificate of this process, signed by the mesh CA, role in a URI SAN "
    "spiffe://arco/<role>",
    required="unless ARCO_TLS=off",
)
TLS_KEY = text("ARCO_TLS_KEY", "PEM private key of ARCO_TLS_CERT", required="unless ARCO_TLS=off")
TLS_CA = text(
    "ARCO_TLS_CA",
    "PEM bundle of the mesh CA certificates peers must chain to (several during a rotation)",
    required="unless ARCO_TLS=off",
)
TLS_SETTINGS: tuple[Setting[Any], ...] = (TLS, TLS_CERT, TLS_KEY, TLS_CA)


class TlsError(ConfigError):
    """A certificate file is missing, unreadable or does not fit the mesh."""


@dataclasses.dataclass(frozen=True)
class TlsFiles:
    """Where one process's certificate, key and CA bundle live."""

    cert: Path
    key: Path
    ca: Path

    def env(self) -> dict[str, str]:
        """The settings that make a process use these files."""
        return {
            TLS.name: "on",
            TLS_CERT.name: str(self.cert),
            TLS_KEY.name: str(self.key),
            TLS_CA.name: str(self.ca),
        }


@dataclasses.dataclass(frozen=True)
class TlsConfig:
    """The transport security of one process: mutual TLS from files, or plaintext."""

    enabled: bool = True
    files: TlsFiles | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TlsConfig:
        if not TLS.read(env):
            return cls(enabled=False)
        paths = {setting.name: setting.read(env) for setting in (TLS_CERT, TLS_KEY, TLS_CA)}
        missing = [name for name, value in paths.items() if not value]
        if missing:
            raise TlsError(
                f"{', '.join(missing)} required: every gRPC hop is mutual TLS "
                "(ARCO_TLS=off only for dev debugging on loopback)"
            )
        files = TlsFiles(
            Path(paths[TLS_CERT.name]), Path(paths[TLS_KEY.name]), Path(paths[TLS_CA.name])
        )
        config = cls(enabled=True, files=files)
        config.role()  # readable, and a mesh certificate
        return config

    @classmethod
    def plaintext(cls) -> TlsConfig:
        return cls(enabled=False)

    def role(self) -> Role | None:
        """The role this process's own certificate names (None in plaintext)."""
        if self.files is None:
            return None
        material = _read(self.files)
        role = role_of_pem(material.cert)
        if role is None:
            raise TlsError(
                f"{self.files.cert} carries no {SPIFFE_PREFIX}<role> URI SAN of a known role"
            )
        return role

    def describe(self) -> str:
        """For the start-up log line: the files, never their content."""
        if self.files is None:
            return "plaintext"
        return f"mtls cert={self.files.cert} ca={self.files.ca}"

    # -- credentials -------------------------------------------------------------------

    def server_credentials(self) -> grpc.ServerCredentials:
        """Server credentials requiring a client certificate from the mesh CA; they
        re-read the files whenever one changes (rotation without a server restart)."""
        files = self._files()
        initial = _read(files)
        loaded = {"stamp": _stamp(files)}

        def fetch() -> grpc.ServerCertificateConfiguration | None:
            stamp = _stamp(files)
            if stamp == loaded["stamp"]:
                return None
            try:
                material = _read(files)
            except TlsError:
                return None  # a rotation half-written: keep serving the previous files
            loaded["stamp"] = stamp
            return material.server_configuration()

        return grpc.dynamic_ssl_server_credentials(
            initial.server_configuration(),
            fetch,  # type: ignore[arg-type]  # grpc reads None as "unchanged"; the stub says no
            require_client_authentication=True,
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        material = _read(self._files())
        return grpc.ssl_channel_credentials(
            root_certificates=material.ca, private_key=material.key, certificate_chain=material.cert
        )

    def _files(self) -> TlsFiles:
        if self.files is None:
            raise TlsError("TLS is off: no credentials")
        return self.files


def add_port(server: grpc.aio.Server, address: str, tls: TlsConfig) -> int:
    """Bind ``address`` with mutual TLS (or plaintext when ``tls`` is off); the port."""
    if tls.enabled:
        return server.add_secure_port(address, tls.server_credentials())
    return server.add_insecure_port(address)


def aio_channel(
    address: str, tls: TlsConfig, options: Sequence[tuple[str, Any]] = ()
) -> grpc.aio.Channel:
    """An asyncio channel to a mesh peer, presenting this process's certificate."""
    options = _replica_options(address, options)
    if tls.enabled:
        return grpc.aio.secure_channel(address, tls.channel_credentials(), options=options)
    return grpc.aio.insecure_channel(address, options=options)


def sync_channel(
    address: str, tls: TlsConfig, options: Sequence[tuple[str, Any]] = ()
) -> grpc.Channel:
    """A blocking channel to a mesh peer (launchers and command-line tools)."""
    options = _replica_options(address, options)
    if tls.enabled:
        return grpc.secure_channel(address, tls.channel_credentials(), options=options)
    return grpc.insecure_channel(address, options=options)


def _replica_options(address: str, options: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Options for an address list of replicas (``ipv4:h:p1,h:p2``): calls are spread
    round-robin over the replicas that answer. gRPC's default authority for such a list
    is the whole list, which no certificate names, so when every replica shares one host
    that host is the name checked against each replica's certificate."""
    scheme, _, rest = address.partition(":")
    if scheme not in ("ipv4", "ipv6") or "," not in rest:
        return list(options)
    hosts = {entry.rsplit(":", 1)[0] for entry in rest.split(",")}
    extra: dict[str, Any] = {"grpc.lb_policy_name": "round_robin"}
    if len(hosts) == 1:
        extra["grpc.default_authority"] = hosts.pop().strip("[]")
    given = {key for key, _ in options}
    return [*options, *((k, v) for k, v in extra.items() if k not in given)]


# -- the verified peer -----------------------------------------------------------------


def peer_role(auth_context: Mapping[str, Iterable[bytes]]) -> Role | None:
    """The role in the verified client certificate of an RPC (``context.auth_context()``),
    or None when the call is plaintext or the certificate names no known role."""
    pems = list(auth_context.get("x509_pem_cert", ()))
    if len(pems) != 1:
        return None
    return role_of_pem(bytes(pems[0]))


@functools.lru_cache(maxsize=256)
def role_of_pem(pem: bytes) -> Role | None:
    """The one ``spiffe://arco/<role>`` URI SAN of a certificate (None if absent or several)."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return None
    roles = {
        uri.removeprefix(SPIFFE_PREFIX)
        for uri in sans.get_values_for_type(x509.UniformResourceIdentifier)
        if uri.startswith(SPIFFE_PREFIX)
    }
    if len(roles) != 1:
        return None
    try:
        return Role(roles.pop())
    except ValueError:
        return None


# -- files -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Material:
    cert: bytes
    key: bytes
    ca: bytes

    def server_configuration(self) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration(
            [(self.key, self.cert)], root_certificates=self.ca
        )


def _read(files: TlsFiles) -> _Material:
    contents = []
    for what, path in (
        ("ARCO_TLS_CERT", files.cert),
        ("ARCO_TLS_KEY", files.key),
        ("ARCO_TLS_CA", files.ca),
    ):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise TlsError(f"{what} {path} unreadable: {exc.strerror or exc}") from None
        if b"-----BEGIN " not in data:
            raise TlsError(f"{what} {path} is not PEM")
        contents.append(data)
    return _Material(*contents)


def _stamp(files: TlsFiles) -> tuple[float, ...]:
    stamps = []
    for path in (files.cert, files.key, files.ca):
        try:
            stamps.append(path.stat().st_mtime)
        except OSError:
            stamps.append(-1.0)
    return tuple(stamps)


# -- minting (the local mesh and tests; deployments bring their own) --------------------

_LOOPBACK_NAMES = (
    x509.DNSName("localhost"),
    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    x509.IPAddress(ipaddress.ip_address("::1")),
)


@dataclasses.dataclass(frozen=True)
class MeshCertificates:
    """A freshly minted mesh CA and the files of one certificate per role."""

    ca_cert: Path
    ca_key: Path
    files: Mapping[Role, TlsFiles]

    def for_role(self, role: Role | str) -> TlsFiles:
        return self.files[Role(role)]

    def config(self, role: Role | str) -> TlsConfig:
        return TlsConfig(enabled=True, files=self.for_role(role))


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def mint_ca(
    directory: Path, *, name: str = "arco mesh CA", days: int = 30
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed CA under ``directory`` (``ca.crt``, ``ca.key``)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = _new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (directory / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(directory / "ca.key", _key_pem(key))
    return cert, key


def mint_leaf(
    directory: Path,
    role: Role,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    *,
    hosts: Sequence[str] = (),
    days: int = 30,
    name: str | None = None,
) -> tuple[Path, Path]:
    """A certificate for ``role`` signed by ``ca``, valid as client and as server for
    loopback and ``hosts``; written as ``<name>.crt`` and ``<name>.key``."""
    ca_cert, ca_key = ca
    key = _new_key()
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(role.uri), *_LOOPBACK_NAMES]
    names.extend(x509.DNSName(host) for host in hosts)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"arco-{role.value}")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    stem = name or role.value
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(key_path, _key_pem(key))
    return cert_path, key_path


def mint_mesh(
    directory: Path, roles: Iterable[Role] = tuple(Role), *, hosts: Sequence[str] = ()
) -> MeshCertificates:
    """Mint a mesh CA and one certificate per role under ``directory``."""
    ca = mint_ca(directory)
    ca_path = directory / "ca.crt"
    files = {}
    for role in roles:
        cert, key = mint_leaf(directory, role, ca, hosts=hosts)
        files[role] = TlsFiles(cert, key, ca_path)
    return MeshCertificates(ca_path, directory / "ca.key", files)
