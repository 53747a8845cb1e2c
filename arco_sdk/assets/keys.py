"""Asset keys: ``namespace.name``, each part an identifier."""

from __future__ import annotations

import re
from dataclasses import dataclass

from arco_sdk.errors import AssetDefinitionError

__all__ = ["NAME_PATTERN", "AssetKey"]

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True, order=True)
class AssetKey:
    """``namespace.name``; both parts match ``[a-z][a-z0-9_]*``. ``ns/name`` is accepted
    on input; the wire form is the dotted one."""

    namespace: str
    name: str

    def __post_init__(self) -> None:
        for part, label in ((self.namespace, "namespace"), (self.name, "name")):
            if not isinstance(part, str) or not NAME_PATTERN.fullmatch(part):
                raise AssetDefinitionError(
                    f"invalid asset key {label} {part!r}: must match [a-z][a-z0-9_]*"
                )

    @classmethod
    def parse(cls, text: str | AssetKey) -> AssetKey:
        if isinstance(text, AssetKey):
            return text
        if not isinstance(text, str) or text != text.strip() or not text:
            raise AssetDefinitionError(f"invalid asset key {text!r}: expected 'namespace.name'")
        sep = "/" if "/" in text else "."
        namespace, found, name = text.partition(sep)
        if not found:
            raise AssetDefinitionError(f"invalid asset key {text!r}: expected 'namespace.name'")
        return cls(namespace, name)

    def __str__(self) -> str:
        return f"{self.namespace}.{self.name}"

    def to_wire(self) -> dict[str, str]:
        return {"namespace": self.namespace, "name": self.name}
