"""Fail closed: the checks every process runs on its posture before it serves.

The default posture is production. Dev (``ARCO_ENVIRONMENT=dev``) must be asked for and
only binds loopback; plaintext (``ARCO_TLS=off``) additionally needs dev. Outside dev
every secret the process holds must be set and at least :data:`MIN_SECRET_BYTES` long.
Each refusal is a :class:`ConfigError`: one clear line, exit code 2.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

from arco_runtime.settings import ENVIRONMENTS, ConfigError, Setting
from arco_runtime.tls import TLS, TlsConfig

MIN_SECRET_BYTES = 32


def is_loopback(address: str) -> bool:
    """Whether ``host:port`` binds only the loopback interface."""
    host = address.rpartition(":")[0].strip("[]") if ":" in address else address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a DNS name or an empty host (every interface)


def check_environment(environment: str) -> str:
    if environment not in ENVIRONMENTS:
        raise ConfigError(
            f"ARCO_ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}"
        )
    return environment


def check_binds(environment: str, tls: TlsConfig, binds: Iterable[tuple[str, str]]) -> None:
    """Dev posture and plaintext stay on loopback; plaintext only in dev."""
    if not tls.enabled and environment != "dev":
        raise ConfigError(
            f"{TLS.name}=off (plaintext) is allowed only with ARCO_ENVIRONMENT=dev, "
            f"not {environment}"
        )
    for name, address in binds:
        if not address or is_loopback(address):
            continue
        if environment == "dev":
            raise ConfigError(
                f"ARCO_ENVIRONMENT=dev is refused on a non-loopback bind ({name}={address}); "
                "dev posture binds 127.0.0.1 only"
            )
        if not tls.enabled:
            raise ConfigError(
                f"{TLS.name}=off is refused on a non-loopback bind ({name}={address})"
            )


def check_secrets(environment: str, secrets: Sequence[tuple[Setting[Any], str]]) -> None:
    """Outside dev, each secret is set and at least 32 bytes (a guessable key is none)."""
    if environment == "dev":
        return
    missing = [setting.name for setting, value in secrets if not value]
    if missing:
        raise ConfigError(f"ARCO_ENVIRONMENT={environment} requires {', '.join(missing)}")
    short = [setting.name for setting, value in secrets if len(value.encode()) < MIN_SECRET_BYTES]
    if short:
        raise ConfigError(
            f"{', '.join(short)} must be at least {MIN_SECRET_BYTES} bytes outside dev"
        )
