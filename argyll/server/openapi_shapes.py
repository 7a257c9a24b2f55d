"""The vocabulary the OpenAPI document is written in: references, objects, maps, JSON
replies and request bodies, path parameters, and operations with their problem responses.

Every other ``openapi_*`` module builds with these, so each shape (a problem response
by reference, a JSON body) is written once.
"""

from __future__ import annotations

from typing import Any

from argyll.model.schema import NOT_DOTS, id_schema
from argyll.wire import JSON_CONTENT_TYPE

Schema = dict[str, Any]

COMPONENTS = "#/components/schemas/"
ID = id_schema()
SEGMENT = {"type": "string", "minLength": 1, **NOT_DOTS}
"""One path segment that is not an id (a receipt token)."""
TIME = {"type": "string", "format": "date-time"}
STRINGS = {"type": "array", "items": {"type": "string"}}
OBJECT = {"type": "object"}


def ref(name: str) -> Schema:
    return {"$ref": COMPONENTS + name}


def obj(required: list[str], /, **properties: Any) -> Schema:
    return {"type": "object", "required": required, "properties": properties}


def map_of(values: Schema) -> Schema:
    return {"type": "object", "additionalProperties": values}


def json_reply(schema: Schema, description: str = "OK") -> Schema:
    return {"description": description, "content": {JSON_CONTENT_TYPE: {"schema": schema}}}


ERRORS = {
    400: "Invalid request: the body, a parameter or the request made no sense",
    401: "No token, or one the server does not know (when tokens are configured)",
    403: "The token's scopes do not allow this call",
    404: "No such resource",
    409: "The request conflicts with what exists",
    413: "The request body is over the server's limit",
}
"""What each error status means: one shared problem response per status."""


def responses(ok: dict[int, Schema], *errors: int) -> Schema:
    """The replies of an operation: ``ok`` as given, each error status (and 500) by reference."""
    replies: Schema = {str(status): schema for status, schema in ok.items()}
    for status in errors:
        replies[str(status)] = {"$ref": f"#/components/responses/Problem{status}"}
    replies["500"] = {"$ref": "#/components/responses/Problem500"}
    return replies


def request_body(schema: Schema, description: str, *, required: bool = True) -> Schema:
    return {
        "required": required,
        "description": description,
        "content": {JSON_CONTENT_TYPE: {"schema": schema}},
    }


def path_param(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema or ID,
    }


def op(
    operation_id: str,
    summary: str,
    ok: dict[int, Schema],
    *errors: int,
    body: Schema | None = None,
    parameters: list[Schema] | None = None,
) -> Schema:
    operation: Schema = {
        "operationId": operation_id,
        "summary": summary,
        "responses": responses(ok, *errors),
    }
    if body is not None:
        operation["requestBody"] = body
    if parameters:
        operation["parameters"] = parameters
    return operation
