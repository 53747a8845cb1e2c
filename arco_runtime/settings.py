"""Settings declared once: one :class:`Setting` row per environment variable.

A row says everything about one variable: its name, type, default, whether it is secret,
its help text, bounds, and in which posture it is required. Everything else comes from
the rows: reading the value (:meth:`Setting.read`), the default of the frozen config
dataclass field (:func:`setting_field`), the redacted start-up log line (:func:`redacted`),
the ``--help`` epilog (:func:`epilog`) and the tables in docs/operations.md
(:func:`markdown_table`, written by ``scripts/gen_settings_docs.py``).

The rows that more than one kind of process reads (logging, ready file, shutdown grace,
environment posture, the forwarded-identity and dispatch secrets) are declared at the end of this
module; each package declares the rest next to the config dataclass that uses them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar, cast

__all__ = [
    "BROWSER_URL_BASE",
    "BROWSER_URL_SECRET",
    "DISPATCH_SECRET",
    "ENVIRONMENT",
    "ENVIRONMENTS",
    "IDENTITY_SECRET",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "READY_FILE",
    "REDACTED",
    "SHUTDOWN_GRACE_SEC",
    "ConfigError",
    "Setting",
    "contract",
    "contract_entry",
    "describe",
    "epilog",
    "flag",
    "integer",
    "markdown_table",
    "number",
    "read_log_format",
    "redacted",
    "setting_field",
    "text",
]

T = TypeVar("T")

REDACTED = "***"
_SETTING = "arco_setting"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class ConfigError(ValueError):
    """An invalid setting: the process refuses to start with one clear line."""


@dataclasses.dataclass(frozen=True, slots=True)
class Setting(Generic[T]):
    """One environment variable.

    ``required`` is empty for an optional setting, ``"always"``, or the posture in which the
    process refuses to start without it (``"outside dev"``); the check itself stays in the
    config's ``from_env``, which knows the posture. ``default_doc`` describes a default the
    process computes at start-up (``default`` is then only the fallback of :meth:`read`).
    ``fallback`` names another variable read when this one is unset (SDK worker only).
    """

    name: str
    type: type[Any]
    default: T
    help: str
    secret: bool = False
    required: str = ""
    minimum: int | float | None = None
    default_doc: str = ""
    fallback: str = ""

    def read(self, env: Mapping[str, str], *, default: T | None = None) -> T:
        """The value of this variable in ``env``; ``default`` overrides the row's default
        for a setting whose default depends on the process (a listen address)."""
        fallback = self.default if default is None else default
        if self.type is str:
            # A variable set to "" is "" (not the default): the caller decides what empty means.
            return cast(T, env.get(self.name, cast(str, fallback)).strip())
        raw = env.get(self.name, "").strip()
        if not raw:
            return fallback
        if self.type is bool:
            return cast(T, self._bool(raw.lower()))
        if self.type is int:
            return cast(T, self._bounded(self._number(int, raw, "an integer")))
        if self.type is float:
            return cast(T, self._bounded(self._number(float, raw, "a number")))
        raise TypeError(f"{self.name}: no parser for {self.type.__name__}")

    def _bool(self, raw: str) -> bool:
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise ConfigError(f"{self.name} must be a boolean (true/false), got {raw!r}")

    def _number(self, kind: Callable[[str], Any], raw: str, what: str) -> Any:
        try:
            return kind(raw)
        except ValueError:
            raise ConfigError(f"{self.name} must be {what}, got {raw!r}") from None

    def _bounded(self, value: Any) -> Any:
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"{self.name} must be >= {self.minimum}, got {value}")
        return value


def text(
    name: str,
    help: str,
    default: str = "",
    *,
    secret: bool = False,
    required: str = "",
    default_doc: str = "",
) -> Setting[str]:
    """A string setting; surrounding whitespace is stripped."""
    return Setting(
        name, str, default, help, secret=secret, required=required, default_doc=default_doc
    )


def integer(name: str, help: str, default: int, *, minimum: int = 0) -> Setting[int]:
    """An integer setting, at least ``minimum``; unset or empty means the default."""
    return Setting(name, int, default, help, minimum=minimum)


def number(name: str, help: str, default: float, *, minimum: float = 0.0) -> Setting[float]:
    """A float setting, at least ``minimum``; unset or empty means the default."""
    return Setting(name, float, default, help, minimum=minimum)


def flag(name: str, help: str, default: bool) -> Setting[bool]:
    """A boolean setting: 1/true/yes/on or 0/false/no/off, any case."""
    return Setting(name, bool, default, help)


def setting_field(
    setting: Setting[Any],
    *,
    without_default: bool = False,
    default_factory: Callable[[], Any] | None = None,
) -> Any:
    """A dataclass field tied to its row: its default is the row's (unless
    ``without_default`` or ``default_factory``), and :func:`redacted` masks it if the row is
    secret."""
    metadata = {_SETTING: setting}
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    if without_default:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=setting.default, metadata=metadata)


def redacted(config: Any) -> dict[str, Any]:
    """The config as a dict for the start-up log: the values of secret rows are masked
    (empty secrets stay visibly empty), nested config dataclasses are redacted too."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        setting = field.metadata.get(_SETTING)
        if setting is not None and setting.secret and value:
            value = REDACTED
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = redacted(value)
        out[field.name] = value
    return out


def default_text(setting: Setting[Any]) -> str:
    """The default as people write it ("" when there is none)."""
    if setting.default_doc:
        return setting.default_doc
    value = setting.default
    if value in (None, "", ()):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _notes(setting: Setting[Any], *, with_default: bool) -> list[str]:
    notes = []
    if with_default and (default := default_text(setting)):
        notes.append(f"default {default}")
    if setting.secret:
        notes.append("secret")
    if setting.required:
        notes.append("required" if setting.required == "always" else f"required {setting.required}")
    return notes


def describe(setting: Setting[Any]) -> str:
    """One line of help: the help text, then default, secrecy and when it is required."""
    notes = _notes(setting, with_default=True)
    return f"{setting.help} ({'; '.join(notes)})" if notes else setting.help


def _unique(settings: Iterable[Setting[Any]]) -> list[Setting[Any]]:
    seen: set[str] = set()
    out = []
    for setting in settings:
        if setting.name not in seen:
            seen.add(setting.name)
            out.append(setting)
    return out


def epilog(settings: Iterable[Setting[Any]]) -> str:
    """The ``--help`` epilog listing every variable of a process."""
    rows = _unique(settings)
    width = max([34, *(len(setting.name) + 1 for setting in rows)])
    return "environment:\n" + "\n".join(
        f"  {setting.name:<{width}} {describe(setting)}" for setting in rows
    )


_TYPE_NAMES: dict[type[Any], str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    tuple: "list",  # comma-separated
}


def contract_entry(setting: Setting[Any]) -> dict[str, Any]:
    """One row as the machine-readable environment contract states it (a secret's default
    is never written out)."""
    entry: dict[str, Any] = {
        "name": setting.name,
        "type": _TYPE_NAMES[setting.type],
        "default": None if setting.secret else (default_text(setting) or None),
        "secret": setting.secret,
        "required": setting.required or None,
        "description": setting.help,
    }
    if setting.minimum is not None:
        entry["minimum"] = setting.minimum
    if setting.fallback:
        entry["fallback"] = setting.fallback
    return entry


def contract(processes: Mapping[str, Iterable[Setting[Any]]]) -> dict[str, Any]:
    """The environment contract: every process and every variable it reads."""
    return {
        "format": 1,
        "processes": {
            name: [contract_entry(s) for s in sorted(_unique(rows), key=lambda s: s.name)]
            for name, rows in sorted(processes.items())
        },
    }


def markdown_table(settings: Iterable[Setting[Any]]) -> str:
    """A docs table of the rows: variable, default, meaning."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for setting in _unique(settings):
        default = default_text(setting)
        notes = _notes(setting, with_default=False)
        meaning = f"{setting.help} ({'; '.join(notes)})" if notes else setting.help
        cell = f"`{default}`" if default else "\N{EN DASH}"
        meaning = meaning.replace("|", "\\|")
        lines.append(f"| `{setting.name}` | {cell} | {meaning} |")
    return "\n".join(lines)


# -- rows every kind of process shares -------------------------------------------------------

ENVIRONMENTS = ("dev", "staging", "prod")

LOG_LEVEL = text("ARCO_LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR", "INFO")
LOG_FORMAT = text("ARCO_LOG_FORMAT", "json or console", "json")
READY_FILE = text(
    "ARCO_READY_FILE", "write the bound addresses here as JSON (atomically) once serving"
)
SHUTDOWN_GRACE_SEC = number(
    "ARCO_SHUTDOWN_GRACE_SEC", "seconds in-flight work gets to finish on SIGTERM", 5.0
)
ENVIRONMENT = text(
    "ARCO_ENVIRONMENT",
    "dev, staging or prod; the default is production posture. Dev must be asked for, binds "
    "loopback only and is the only posture that allows plaintext and missing or short secrets",
    "prod",
)
IDENTITY_SECRET = text(
    "ARCO_IDENTITY_SECRET",
    "HMAC key of the caller identity the gateway forwards to the api (the same in both)",
    secret=True,
    required="outside dev",
)

BROWSER_URL_SECRET = text(
    "ARCO_BROWSER_URL_SECRET",
    "HMAC key of the browser file URLs the api signs and the gateway serves for a local "
    "store (the same in both; without it a local store mints no URLs)",
    secret=True,
    required="outside dev, when the storage is local",
)
BROWSER_URL_BASE = text(
    "ARCO_BROWSER_URL_BASE", "public base URL of the gateway's /files route in signed URLs"
)

DISPATCH_SECRET = text(
    "ARCO_WORKER_DISPATCH_SECRET",
    "shared secret the dispatcher and sweeper present and workers require on every dispatch "
    "(X-Arco-Dispatch-Secret)",
    secret=True,
    required="by workers, and by senders unless ARCO_DISPATCH_ADAPTER=memory",
)


def read_log_format(env: Mapping[str, str]) -> str:
    """``ARCO_LOG_FORMAT``, refusing anything but json or console."""
    log_format = LOG_FORMAT.read(env)
    if log_format not in {"json", "console"}:
        raise ConfigError(f"ARCO_LOG_FORMAT must be json or console, got {log_format!r}")
    return log_format
