"""OpenAPI 3.1 for the whole REST surface, generated from the route table + descriptors.

Schemas follow the same rules as ``gateway.mappers.render`` (casing per family, enums
without their prefix, int64 as integers, optional fields not required), so the document
describes what the gateway actually sends. Served at ``/api/v1/openapi.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from gateway.mappers import orchestration
from gateway.mappers.query import ARROW_STREAM
from gateway.mappers.render import (
    JSON_VALUE_TYPES,
    TIMESTAMP,
    Casing,
    enum_values,
    field_name,
)
from gateway.routes import Auth, Content, RouteSpec

OPENAPI_PATH = "/api/v1/openapi.json"
API_ERROR = "ApiErrorBody"
CALLBACK_ERROR = "CallbackErrorResponse"

_INT_FORMATS = {
    FieldDescriptor.TYPE_INT32: ("int32", False),
    FieldDescriptor.TYPE_SINT32: ("int32", False),
    FieldDescriptor.TYPE_SFIXED32: ("int32", False),
    FieldDescriptor.TYPE_UINT32: ("int32", True),
    FieldDescriptor.TYPE_FIXED32: ("int32", True),
    FieldDescriptor.TYPE_INT64: ("int64", False),
    FieldDescriptor.TYPE_SINT64: ("int64", False),
    FieldDescriptor.TYPE_SFIXED64: ("int64", False),
    FieldDescriptor.TYPE_UINT64: ("int64", True),
    FieldDescriptor.TYPE_FIXED64: ("int64", True),
}

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No content",
    400: "Invalid request",
    401: "Missing or invalid credentials",
    403: "Forbidden",
    404: "Not found (or workspace not found)",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone: the task is terminal, stop working on it",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    429: "Rate limited (see Retry-After)",
    500: "Internal server error (redacted; details.errorId correlates with the logs)",
    501: "Not implemented yet",
    503: "The api is unavailable",
}

_ERROR_SCHEMAS: dict[str, Any] = {
    API_ERROR: {
        "type": "object",
        "description": "Error envelope of every family.",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "Stable upper-case error code."},
            "message": {"type": "string"},
            "requestId": {"type": "string", "description": "Also in the x-request-id header."},
            "details": {"description": "Reason, metadata, field violations or errorId."},
        },
    },
    CALLBACK_ERROR: {
        "type": "object",
        "description": "Error body of the task callbacks (4xx).",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "Stable reason, e.g. task_expired."},
            "message": {"type": "string"},
            "state": {"type": "string"},
            "expectedAttempt": {"type": "integer", "format": "int32", "minimum": 0},
            "receivedAttempt": {"type": "integer", "format": "int32", "minimum": 0},
            "expectedAttemptId": {"type": "string"},
            "receivedAttemptId": {"type": "string"},
        },
    },
}


class _Schemas:
    """Component schemas, one per (message, casing, dropped fields)."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = dict(_ERROR_SCHEMAS)
        self._names: dict[tuple[str, Casing, frozenset[str], bool], str] = {}

    def ref(
        self,
        message: Any,
        casing: Casing,
        drop: frozenset[str] = frozenset(),
        *,
        request: bool = False,
    ) -> dict[str, Any]:
        key = (message.full_name, casing, drop, request)
        name = self._names.get(key)
        if name is None:
            name = message.name
            if name in self.components:
                name = f"{message.name}_{casing.name.lower()}{'_in' if request else ''}"
            self._names[key] = name
            self.components[name] = {}  # reserve (recursive messages)
            self.components[name] = self._message(message, casing, drop, request=request)
        return {"$ref": f"#/components/schemas/{name}"}

    def _message(
        self, message: Descriptor, casing: Casing, drop: frozenset[str], *, request: bool
    ) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field in message.fields:
            if field.name in drop:
                continue
            name = field_name(field, casing)
            properties[name] = self._field(field, casing, request=request)
            always_present = field.is_repeated or not (
                field.has_presence or field.type == FieldDescriptor.TYPE_ENUM
            )
            if always_present and not request:
                required.append(name)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        return schema

    def _field(self, field: Any, casing: Casing, *, request: bool) -> dict[str, Any]:
        if field.is_repeated:
            entry = field.message_type
            if entry is not None and entry.GetOptions().map_entry:
                value = entry.fields_by_name["value"]
                return {
                    "type": "object",
                    "additionalProperties": self._single(value, casing, request=request),
                }
            return {"type": "array", "items": self._single(field, casing, request=request)}
        return self._single(field, casing, request=request)

    def _single(self, field: Any, casing: Casing, *, request: bool) -> dict[str, Any]:
        kind = field.type
        if kind == FieldDescriptor.TYPE_MESSAGE:
            full = field.message_type.full_name
            if full == TIMESTAMP:
                return {"type": "string", "format": "date-time"}
            if full in JSON_VALUE_TYPES:
                return {"type": "object"} if full.endswith("Struct") else {}
            return self.ref(field.message_type, casing, request=request)
        if kind == FieldDescriptor.TYPE_ENUM:
            return {"type": "string", "enum": enum_values(field.enum_type)}
        if kind == FieldDescriptor.TYPE_BOOL:
            return {"type": "boolean"}
        if kind in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
            return {"type": "number"}
        if kind == FieldDescriptor.TYPE_BYTES:
            return {"type": "string", "contentEncoding": "base64"}
        if kind in _INT_FORMATS:
            fmt, unsigned = _INT_FORMATS[kind]
            schema: dict[str, Any] = {"type": "integer", "format": fmt}
            if unsigned:
                schema["minimum"] = 0
            return schema
        return {"type": "string"}


def _error_response(status: int, spec: RouteSpec) -> dict[str, Any]:
    callback_shape = spec.auth is Auth.TASK and 400 <= status < 500 and status != 429
    schema = CALLBACK_ERROR if callback_shape else API_ERROR
    response: dict[str, Any] = {
        "description": _STATUS_TEXT.get(status, "Error"),
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if status == 429:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return response


def _success_response(status: int, spec: RouteSpec, schemas: _Schemas) -> dict[str, Any]:
    response: dict[str, Any] = {"description": _STATUS_TEXT.get(status, "OK")}
    if spec.content is Content.JSON:
        assert spec.view is not None, spec.operation_id
        view = spec.view
        target = view.message_descriptor(spec.response_type.DESCRIPTOR)
        response["content"] = {
            "application/json": {"schema": schemas.ref(target, view.casing, view.drop)}
        }
    elif spec.content is Content.BYTES:
        response["content"] = {
            ARROW_STREAM: {"schema": {"type": "string", "contentMediaType": ARROW_STREAM}},
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        }
        response["headers"] = {
            "x-arco-row-count": {"schema": {"type": "integer"}},
            "x-arco-truncated": {"schema": {"type": "boolean"}},
        }
    elif spec.content is Content.TEXT:
        response["content"] = {"text/plain": {"schema": {"type": "string"}}}
        response["headers"] = {
            orchestration.NEXT_CURSOR_HEADER: {
                "description": "cursor of the next page; absent on the last page",
                "schema": {"type": "string"},
            }
        }
    return response


def _parameters(spec: RouteSpec) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in spec.path_params
    ]
    for param in spec.query:
        schema: dict[str, Any] = {"type": "string"}
        if param.kind == "integer":
            schema = {"type": "integer", "minimum": 0}
        elif param.kind == "boolean":
            schema = {"type": "boolean"}
        elif param.kind == "enum":
            schema = {"type": "string", "enum": list(param.enum)}
        entry: dict[str, Any] = {"name": param.name, "in": "query", "schema": schema}
        if param.description:
            entry["description"] = param.description
        parameters.append(entry)
    if spec.idempotency_key:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": spec.idempotency_key_required,
                "schema": {"type": "string"},
                "description": "forwarded to the api as idempotency-key metadata",
            }
        )
    parameters.append(
        {
            "name": "X-Request-Id",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "kept (or minted) and echoed on the response",
        }
    )
    return parameters


def build_openapi(routes: Sequence[RouteSpec]) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for spec in routes:
        operation: dict[str, Any] = {
            "operationId": spec.operation_id,
            "summary": spec.summary,
            "tags": [spec.family.tag],
            "security": [{spec.auth.value: []}],
            "parameters": _parameters(spec),
            "x-grpc-method": spec.grpc_method,
        }
        if spec.body:
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": schemas.ref(
                            spec.request_type.DESCRIPTOR,
                            spec.family.casing,
                            spec.server_fields,
                            request=True,
                        )
                    }
                },
            }
        responses: dict[str, Any] = {}
        for status in spec.success:
            responses[str(status)] = _success_response(status, spec, schemas)
        for status in spec.errors:
            responses[str(status)] = _error_response(status, spec)
        operation["responses"] = responses
        paths.setdefault(spec.path, {})[spec.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Arco API",
            "version": "1.0.0",
            "description": (
                "The public /api/v1 REST surface of the Arco mesh gateway. Catalog, query "
                "and browser families are snake_case; orchestration, manifests and task "
                "callbacks are camelCase. Every response carries x-request-id."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {
                Auth.USER.value: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                Auth.TASK.value: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "task-scoped token from the dispatch envelope",
                },
            },
        },
        "tags": sorted(
            ({"name": tag} for tag in {spec.family.tag for spec in routes}),
            key=lambda t: t["name"],
        ),
    }
