"""What a route hands its mappers (``Inbound``) and what they hand back (``Reply``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from gateway.errors import bad_request
from gateway.mappers.render import View

JSON = "application/json"


@dataclasses.dataclass(frozen=True)
class Inbound:
    """The parts of an HTTP request a mapper may read."""

    path: Mapping[str, str]
    query: Mapping[str, Sequence[str]]
    body: Mapping[str, Any] | None
    headers: Mapping[str, str]

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclasses.dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None  # a JSON value, rendered when media_type is JSON
    content: bytes | None = None  # raw bytes otherwise
    media_type: str = JSON
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class QueryParam:
    """A query-string parameter and the request field it fills."""

    name: str
    field: str
    kind: str = "string"  # string | integer | boolean | enum
    description: str = ""
    enum: Mapping[str, str] = dataclasses.field(default_factory=dict)  # public -> proto

    def convert(self, raw: str) -> Any:
        if self.kind == "integer":
            try:
                value = int(raw)
            except ValueError:
                raise bad_request(f"{self.name} must be an integer") from None
            if value < 0:
                raise bad_request(f"{self.name} must be >= 0")
            return value
        if self.kind == "boolean":
            if raw.lower() not in {"true", "false"}:
                raise bad_request(f"{self.name} must be true or false")
            return raw.lower() == "true"
        if self.kind == "enum":
            if raw not in self.enum:
                raise bad_request(f"{self.name} must be one of: {', '.join(self.enum)}")
            return self.enum[raw]
        return raw


RequestMapper = Callable[[type[Message], Inbound, Sequence["QueryParam"]], Message]
ReplyMapper = Callable[[Message, Inbound], Reply]


def parse_into(message: Message, data: Mapping[str, Any]) -> Message:
    """Fill ``message`` from JSON data; either field spelling is accepted, unknown fields
    are ignored (as the reference does), type errors are 400."""
    try:
        json_format.ParseDict(dict(data), message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise bad_request(f"invalid request: {exc}") from None
    except AttributeError:
        # protobuf's parser fails this way on a null for a repeated message field
        # ({"assets": [{"checks": null}]}) instead of raising ParseError.
        raise bad_request("invalid request: null where a list is expected") from None
    return message


def build_request(
    request_type: type[Message],
    inbound: Inbound,
    query: Sequence[QueryParam] = (),
    *,
    body: Mapping[str, Any] | None = None,
) -> Message:
    """Body (as given, or ``body`` as already mapped) + query + path; the path wins."""
    data: dict[str, Any] = dict(inbound.body or {}) if body is None else dict(body)
    for param in query:
        raw = inbound.query_value(param.name)
        if raw is not None:
            data[param.field] = param.convert(raw)
    message = parse_into(request_type(), data)
    for name, value in inbound.path.items():
        setattr(message, name, value)
    return message


def default_request(
    request_type: type[Message], inbound: Inbound, query: Sequence[QueryParam]
) -> Message:
    """Body as given + the route's declared query parameters + path parameters."""
    return build_request(request_type, inbound, query)


def json_reply(view: View, status: int = 200) -> ReplyMapper:
    def mapper(response: Message, inbound: Inbound) -> Reply:
        return Reply(status, view.render(response))

    return mapper


def created_or_ok(view: View, flag: str = "created") -> ReplyMapper:
    """201 when ``response.<flag>`` is true (a new resource), 200 for a replay."""

    def mapper(response: Message, inbound: Inbound) -> Reply:
        return Reply(201 if getattr(response, flag) else 200, view.render(response))

    return mapper


def no_content(response: Message, inbound: Inbound) -> Reply:
    return Reply(204)
