"""The OpenAPI document: every error answer documented as problem+json.

FastAPI documents 422 as its own validation shape; our handlers answer with
RFC 9457 problems instead, so the document says so (and lists the other error
statuses a route can give), letting clients and schema checkers rely on it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from .problems import PROBLEM


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An error, as `application/problem+json` (RFC 9457)."""

    type: str = Field(examples=["https://quickwins.dev/problems/invalid-input"])
    title: str = Field(examples=["Invalid input"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["text: the text is empty"])
    field: str | None = Field(default=None, description="the input at fault", examples=["text"])
    errors: list[FieldError] | None = Field(default=None, description="every invalid field")


ERRORS = {
    "400": "Bad request (an unusable header)",
    "401": "No token, or an unknown or revoked one",
    "403": "Your role or your token's scope does not allow this",
    "404": "No such workshop, idea, project, programme or initiative",
    "409": "The current state does not allow it (wrong phase, already done, group full)",
    "422": "Invalid input: the problem names the field",
    "503": "A server this needs (Temporal) is not configured",
}
_REF = {"$ref": "#/components/schemas/Problem"}


def install(api: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = _document(api)
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]


def _document(api: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=api.title, version=api.version, description=api.description, routes=api.routes
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas["FieldError"] = FieldError.model_json_schema()
    schemas["Problem"].pop("$defs", None)
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for path in document.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERRORS.items():
                responses[status] = {
                    "description": description,
                    "content": {PROBLEM: {"schema": _REF}},
                }
    return document
