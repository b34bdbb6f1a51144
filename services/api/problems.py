"""Errors as `application/problem+json` (RFC 9457), each naming the field at fault.

Every way a request can fail ends here: a malformed body or parameter, a
broken domain rule, a missing or weak credential. Nothing is recorded when a
request fails, because commands are checked before their events are saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from domain import errors

PROBLEM = "application/problem+json"

# How each broken rule maps onto HTTP: the rest are 422 (the input was wrong).
_STATUS: dict[type[errors.DomainError], int] = {
    errors.UnknownId: 404,
    errors.AlreadyExists: 409,
    errors.WrongPhase: 409,
    errors.GroupFull: 409,
    errors.NotAllowed: 403,
}


class ProblemError(Exception):
    """Raise in a route to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.field = field


def problem(
    status: int,
    title: str,
    detail: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://quickwins.dev/problems/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def status_of(error: errors.DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 422


def _field(loc: Sequence[Any]) -> str:
    # ("body", "choices", "x") -> "choices.x"; ("query", "after") -> "after"
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[-1] if loc else "request")


def install(app: FastAPI) -> None:
    """Answer every failure with problem+json."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        found = error.errors()
        first = found[0] if found else {"loc": (), "msg": "invalid request"}
        field = _field(first.get("loc", ()))
        errors_list = [
            {"field": _field(e.get("loc", ())), "message": e.get("msg", "")} for e in found
        ]
        return problem(
            422, "Invalid input", f"{field}: {first.get('msg', '')}", field, errors=errors_list
        )

    @app.exception_handler(ValidationError)
    async def invalid_value(request: Request, error: ValidationError) -> JSONResponse:
        # A value object built from the command refused it (e.g. programme terms).
        found = error.errors()
        field = _field(found[0]["loc"]) if found else "request"
        message = found[0]["msg"] if found else "invalid value"
        errors_list = [{"field": _field(e["loc"]), "message": e["msg"]} for e in found]
        return problem(422, "Invalid input", f"{field}: {message}", field, errors=errors_list)

    @app.exception_handler(errors.DomainError)
    async def broken_rule(request: Request, error: errors.DomainError) -> JSONResponse:
        return problem(
            status_of(error), error.code.replace("-", " ").capitalize(), error.message, error.field
        )

    @app.exception_handler(ProblemError)
    async def raised(request: Request, error: ProblemError) -> JSONResponse:
        return problem(error.status, error.title, error.detail, error.field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        title = {
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not found",
            405: "Method not allowed",
        }.get(error.status_code, "Error")
        return problem(
            error.status_code, title, str(error.detail), None, headers=dict(error.headers or {})
        )


class RefuseNul(BaseHTTPMiddleware):
    """NUL cannot be stored in PostgreSQL text: refuse it in the query or body up front,
    so no handler (or streamed export) meets it half-way through."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if "%00" in request.url.query or "%00" in request.url.path:
            return problem(422, "Invalid input", "the query contains a NUL character", "query")
        if request.method in ("POST", "PUT", "PATCH"):
            body = await request.body()
            form = request.headers.get("content-type", "").startswith("application/x-www-form")
            if b"\\u0000" in body or b"\x00" in body or (form and b"%00" in body):
                return problem(422, "Invalid input", "the body contains a NUL character", "body")
        return await call_next(request)
